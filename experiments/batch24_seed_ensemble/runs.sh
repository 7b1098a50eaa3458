#!/usr/bin/env bash
# Batch 24 (PLAN.md): he_bo at 40 epochs, seeds 1 and 2, the three folds (seeds 42 and 7 are batch 20's). From the
# repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch24_seed_ensemble/runs.sh > experiments/batch24_seed_ensemble/runs.log 2>&1 &
SEEDS="1 2" exec bash experiments/loco_runs.sh he_bo 40 experiments/batch24_seed_ensemble
