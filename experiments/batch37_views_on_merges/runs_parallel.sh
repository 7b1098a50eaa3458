#!/usr/bin/env bash
# Batch 37 (PLAN.md): he_bo at 40 epochs, seeds 1 and 2, the three folds, one chain per seed; runs already saved are
# kept. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch37_views_on_merges/runs_parallel.sh > experiments/batch37_views_on_merges/runs_parallel.log 2>&1 &
exec bash experiments/loco_chains.sh he_bo 40 experiments/batch37_views_on_merges 1 2
