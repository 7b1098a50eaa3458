#!/usr/bin/env bash
# Batch 50's two runs, one chain per seed (the 2-core CPU), from the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch50_admitted_share/runs.sh [FOLD] > experiments/batch50_admitted_share/runs.log 2>&1 &
# FOLD defaults to the plan's br35h+ixi-t2+dwi; amendment 1 adds sartaj+ms-flair-iran+niivue.
set -uo pipefail
out=experiments/batch50_admitted_share
fold=${1:-"br35h+ixi-t2+dwi"}
tag=$([ "$fold" = "br35h+ixi-t2+dwi" ] && echo "" || echo "_${fold%%+*}")
for seed in 1 2; do
  run="he_bo_adm10_e40_s${seed}__${fold}"
  ( [ -f "$out/$run.json" ] || .venv/bin/brain-mri train-union --recipe he_bo_adm10 --epochs 40 --fold "$fold" \
      --seed "$seed" --out-dir "$out" --name "$run" || echo "FAILED $run" ) > "$out/runs${tag}_s$seed.log" 2>&1 &
done
wait
