#!/usr/bin/env bash
# Batch 46 (PLAN.md): he_bo_nm at 40 epochs, seeds 1 and 2, the three folds, one chain per seed; runs already saved are
# kept. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch46_no_mirror/runs_parallel.sh > experiments/batch46_no_mirror/runs_parallel.log 2>&1 &
exec bash experiments/loco_chains.sh he_bo_nm 40 experiments/batch46_no_mirror 1 2
