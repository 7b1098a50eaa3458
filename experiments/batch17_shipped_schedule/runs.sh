#!/usr/bin/env bash
# Batch 17 (PLAN.md): 40-epoch LOCO runs of he_sym and he_bo_inv, seed 42, one fold at a time with its ensemble.
# From the repository root with BRAIN_MRI_DATA set, after batch 15's runs:
#   nohup bash experiments/batch17_shipped_schedule/runs.sh > experiments/batch17_shipped_schedule/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch17_shipped_schedule
for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
  for recipe in he_sym he_bo_inv; do
    name="${recipe}_e40__${fold}"
    [ -f "$B/$name.json" ] && continue  # resumable
    .venv/bin/brain-mri train-union --recipe "$recipe" --epochs 40 --fold "$fold" --seed 42 --out-dir "$B" \
      --name "$name" || echo "FAILED $name"
  done
  .venv/bin/python $B/run.py --fold "$fold"
done
