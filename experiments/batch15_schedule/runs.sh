#!/usr/bin/env bash
# Batch 15 (PLAN.md): 20-epoch LOCO runs of he_sym and he_bo_inv, then the ensemble evaluations. From the
# repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch15_schedule/runs.sh > experiments/batch15_schedule/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch15_schedule
for seed in 42 7; do
  for recipe in he_sym he_bo_inv; do
    for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
      name="${recipe}_e20__${fold}"; [ "$seed" != 42 ] && name="${recipe}_e20_s${seed}__${fold}"
      [ -f "$B/$name.json" ] && continue  # resumable
      .venv/bin/brain-mri train-union --recipe "$recipe" --epochs 20 --fold "$fold" --seed "$seed" --out-dir "$B" \
        --name "$name" || echo "FAILED $name"
    done
  done
  .venv/bin/python $B/run.py --seed "$seed"
done
