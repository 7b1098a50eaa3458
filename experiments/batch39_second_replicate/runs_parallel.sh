#!/usr/bin/env bash
# Batch 39 (PLAN.md): he_bo at 40 epochs, seeds 3 and 4, the three folds, one chain per seed; runs already saved are
# kept. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch39_second_replicate/runs_parallel.sh > experiments/batch39_second_replicate/runs_parallel.log 2>&1 &
set -uo pipefail
out=experiments/batch39_second_replicate
for seed in 3 4; do
  SEEDS=$seed bash experiments/loco_runs.sh he_bo 40 "$out" > "$out/runs_s$seed.log" 2>&1 &
done
wait
