#!/usr/bin/env bash
# Batch 10's runs in the pre-registered order (PLAN.md). Run from the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch10_healthy_variety/runs.sh > experiments/batch10_healthy_variety/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch10_healthy_variety
CLI=.venv/bin/brain-mri
# the candidate's union model first (PLAN.md: it ships only if the rule chooses its recipe)
$CLI train-union --recipe he_bo_inv --epochs 15 --out-dir models --name brain_tumor_hv --shipped
for run in "he_bo_inv 42" "he_sym 42" "he_bo_inv 7" "he_sym 7"; do
  set -- $run
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    name="$1__${fold}"; [ "$2" != 42 ] && name="$1_s$2__${fold}"
    [ -f "$B/$name.json" ] && continue  # resumable
    $CLI train-union --recipe "$1" --fold "$fold" --seed "$2" --out-dir "$B" --name "$name" || echo "FAILED $name"
  done
done
