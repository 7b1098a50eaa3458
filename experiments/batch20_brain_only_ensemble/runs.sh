#!/usr/bin/env bash
# Batch 20 (PLAN.md): 40-epoch LOCO runs of he_bo, seeds 42 and 7, one fold at a time with its ensemble
# ens_hb_e40 (he_sym_e40 from batches 17 and 19). From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch20_brain_only_ensemble/runs.sh > experiments/batch20_brain_only_ensemble/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch20_brain_only_ensemble
for seed in 42 7; do
  suffix=$([ "$seed" = 42 ] && echo "" || echo "_s$seed")
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    name="he_bo_e40${suffix}__${fold}"
    [ -f "$B/$name.json" ] || .venv/bin/brain-mri train-union --recipe he_bo --epochs 40 --fold "$fold" \
      --seed "$seed" --out-dir "$B" --name "$name" || echo "FAILED $name"
    .venv/bin/python $B/run.py --fold "$fold" --seed "$seed"
  done
done
