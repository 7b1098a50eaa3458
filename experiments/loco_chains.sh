#!/usr/bin/env bash
# experiments/loco_runs.sh for several seeds at once, one chain per seed (one training process keeps about one core
# busy, so two chains use the 2-core CPU); each chain logs to OUT_DIR/runs_s<seed>.log, runs already saved are kept.
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/loco_chains.sh RECIPE EPOCHS OUT_DIR SEED... > OUT_DIR/runs_parallel.log 2>&1 &
set -uo pipefail
recipe=${1:?recipe}; epochs=${2:?epochs}; out=${3:?out dir}; shift 3
for seed in "$@"; do
  SEEDS=$seed bash experiments/loco_runs.sh "$recipe" "$epochs" "$out" > "$out/runs_s$seed.log" 2>&1 &
done
wait
