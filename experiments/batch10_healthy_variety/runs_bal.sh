#!/usr/bin/env bash
# Batch 10's amended third recipe (PLAN.md), after runs.sh: he_bo_inv_bal, seeds 42 and 7, the three folds.
set -uo pipefail
B=experiments/batch10_healthy_variety
CLI=.venv/bin/brain-mri
for seed in 42 7; do
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    name="he_bo_inv_bal__${fold}"; [ "$seed" != 42 ] && name="he_bo_inv_bal_s${seed}__${fold}"
    [ -f "$B/$name.json" ] && continue
    $CLI train-union --recipe he_bo_inv_bal --fold "$fold" --seed "$seed" --out-dir "$B" --name "$name" || echo "FAILED $name"
  done
done
