#!/usr/bin/env bash
# Batch 37 (PLAN.md): he_bo at 40 epochs, seeds 1 and 2, the three folds, one chain per seed (one training process
# keeps about one core busy); runs already saved are kept. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch37_views_on_merges/runs_parallel.sh > experiments/batch37_views_on_merges/runs_parallel.log 2>&1 &
set -uo pipefail
out=experiments/batch37_views_on_merges
for seed in 1 2; do
  SEEDS=$seed bash experiments/loco_runs.sh he_bo 40 "$out" > "$out/runs_s$seed.log" 2>&1 &
done
wait
