#!/usr/bin/env bash
# Batch 14 (PLAN.md): the LOCO runs of he_sym_proc2, then the ensemble evaluations. From the repository root with
# BRAIN_MRI_DATA set:  nohup bash experiments/batch14_spots/runs.sh > experiments/batch14_spots/runs.log 2>&1 &
set -uo pipefail
B=experiments/batch14_spots
for seed in 42 7; do
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    name="he_sym_proc2__${fold}"; [ "$seed" != 42 ] && name="he_sym_proc2_s${seed}__${fold}"
    [ -f "$B/$name.json" ] && continue  # resumable
    .venv/bin/brain-mri train-union --recipe he_sym_proc2 --fold "$fold" --seed "$seed" --out-dir "$B" --name "$name" || echo "FAILED $name"
  done
done
.venv/bin/python $B/run.py
