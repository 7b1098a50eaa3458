#!/usr/bin/env bash
# Batch 12's runs in the pre-registered order (PLAN.md). Run from the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch12_procedural_lesions/runs.sh > experiments/batch12_procedural_lesions/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch12_procedural_lesions
CLI=.venv/bin/brain-mri
for seed in 42 7; do
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    name="he_sym_proc__${fold}"; [ "$seed" != 42 ] && name="he_sym_proc_s${seed}__${fold}"
    [ -f "$B/$name.json" ] && continue  # resumable
    $CLI train-union --recipe he_sym_proc --fold "$fold" --seed "$seed" --out-dir "$B" --name "$name" || echo "FAILED $name"
  done
done
