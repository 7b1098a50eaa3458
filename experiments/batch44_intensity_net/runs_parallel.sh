#!/usr/bin/env bash
# Batch 44 (PLAN.md): he_bo_gin at 40 epochs, seeds 1 and 2, the three folds, one chain per seed; runs already saved are
# kept. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch44_intensity_net/runs_parallel.sh > experiments/batch44_intensity_net/runs_parallel.log 2>&1 &
exec bash experiments/loco_chains.sh he_bo_gin 40 experiments/batch44_intensity_net 1 2
