#!/usr/bin/env bash
# Batch 23 (PLAN.md): 40-epoch LOCO runs of he_bo_w24 (he_bo at width 24), seeds 42 and 7, the three folds; waits
# for batch 21's runs to end (one training at a time on 2 cores). From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch23_wider/runs.sh > experiments/batch23_wider/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch23_wider
while pgrep -f "batch21_style_and_flip/runs.sh" > /dev/null; do sleep 30; done
for seed in 42 7; do
  suffix=$([ "$seed" = 42 ] && echo "" || echo "_s$seed")
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    name="he_bo_w24_e40${suffix}__${fold}"
    [ -f "$B/$name.json" ] || .venv/bin/brain-mri train-union --recipe he_bo_w24 --epochs 40 --fold "$fold" \
      --seed "$seed" --out-dir "$B" --name "$name" || echo "FAILED $name"
  done
done
