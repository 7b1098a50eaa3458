#!/usr/bin/env bash
# Batch 18 (PLAN.md): 20-epoch LOCO runs of he_bo. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch18_brain_only/runs.sh > experiments/batch18_brain_only/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch18_brain_only
for seed in 42 7; do
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    name="he_bo_e20__${fold}"; [ "$seed" != 42 ] && name="he_bo_e20_s${seed}__${fold}"
    [ -f "$B/$name.json" ] && continue  # resumable
    .venv/bin/brain-mri train-union --recipe he_bo --epochs 20 --fold "$fold" --seed "$seed" --out-dir "$B" \
      --name "$name" || echo "FAILED $name"
  done
done
