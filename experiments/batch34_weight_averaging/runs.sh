#!/usr/bin/env bash
# Batch 34 (PLAN.md): he_bo_swa at 40 epochs, seeds 42 and 7, the three folds. From the repository root with
# BRAIN_MRI_DATA set:
#   nohup bash experiments/batch34_weight_averaging/runs.sh > experiments/batch34_weight_averaging/runs.log 2>&1 &
SEEDS="42 7" exec bash experiments/loco_runs.sh he_bo_swa 40 experiments/batch34_weight_averaging
