#!/usr/bin/env bash
# Batch 27 (PLAN.md): he_bo_pb at 40 epochs, seeds 42 and 7, the three folds, after batch 24's LOCO runs (one
# training at a time on 2 cores). data/splits/union_planes.csv must exist (planes.py). From the repository root with
# BRAIN_MRI_DATA set:
#   nohup bash experiments/batch27_plane_balance/runs.sh > experiments/batch27_plane_balance/runs.log 2>&1 &
while pgrep -f "loco_runs.sh he_bo 40 experiments/batch24_seed_ensemble" > /dev/null; do sleep 30; done
exec bash experiments/loco_runs.sh he_bo_pb 40 experiments/batch27_plane_balance
