#!/usr/bin/env bash
# Batch 39 (PLAN.md): he_bo at 40 epochs, seeds 3 and 4, the three folds, one chain per seed; runs already saved are
# kept. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch39_second_replicate/runs_parallel.sh > experiments/batch39_second_replicate/runs_parallel.log 2>&1 &
exec bash experiments/loco_chains.sh he_bo 40 experiments/batch39_second_replicate 3 4
