#!/usr/bin/env bash
# Batch 21 (PLAN.md): 40-epoch LOCO runs of he_bo_ms (he_bo + MixStyle), seeds 42 and 7, the three folds.
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch21_style_and_flip/runs.sh > experiments/batch21_style_and_flip/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch21_style_and_flip
for seed in 42 7; do
  suffix=$([ "$seed" = 42 ] && echo "" || echo "_s$seed")
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    name="he_bo_ms_e40${suffix}__${fold}"
    [ -f "$B/$name.json" ] || .venv/bin/brain-mri train-union --recipe he_bo_ms --epochs 40 --fold "$fold" \
      --seed "$seed" --out-dir "$B" --name "$name" || echo "FAILED $name"
  done
done
