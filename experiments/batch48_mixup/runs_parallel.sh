#!/usr/bin/env bash
# Batch 48 (PLAN.md): he_bo_mix at 40 epochs, seeds 1 and 2, the three folds, one chain per seed; runs already saved
# are kept. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch48_mixup/runs_parallel.sh > experiments/batch48_mixup/runs_parallel.log 2>&1 &
exec bash experiments/loco_chains.sh he_bo_mix 40 experiments/batch48_mixup 1 2
