#!/usr/bin/env bash
# Batch 19 (PLAN.md): 40-epoch LOCO runs of he_sym and he_bo_inv, seed 7, one fold at a time with its ensemble;
# seed 42's are batch 17's. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch19_ensemble_at_40/runs.sh > experiments/batch19_ensemble_at_40/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch19_ensemble_at_40
for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
  for recipe in he_sym he_bo_inv; do
    name="${recipe}_e40_s7__${fold}"
    [ -f "$B/$name.json" ] && continue  # resumable
    .venv/bin/brain-mri train-union --recipe "$recipe" --epochs 40 --fold "$fold" --seed 7 --out-dir "$B" \
      --name "$name" || echo "FAILED $name"
  done
  .venv/bin/python $B/run.py --fold "$fold"
done
