#!/usr/bin/env bash
# Batch 30 (PLAN.md): he_bo at 40 epochs, seeds 3 and 4, the three folds. From the repository root with
# BRAIN_MRI_DATA set:
#   nohup bash experiments/batch30_seed_curve/runs.sh > experiments/batch30_seed_curve/runs.log 2>&1 &
SEEDS="3 4" exec bash experiments/loco_runs.sh he_bo 40 experiments/batch30_seed_curve
