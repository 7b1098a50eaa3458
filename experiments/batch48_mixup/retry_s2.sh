#!/usr/bin/env bash
# Batch 48: seed 2's first fold failed at start (both chains wrote the union array cache under one temporary name;
# fixed in helpers/data/union_split.py). Once seed 2's chain has saved its other two folds, run the missing one.
set -uo pipefail
out=experiments/batch48_mixup
until [ -f "$out/he_bo_mix_e40_s2__sartaj+ms-flair-iran+niivue.json" ] && [ -f "$out/he_bo_mix_e40_s2__figshare+open-ms.json" ]; do
  sleep 60
done
SEEDS=2 bash experiments/loco_runs.sh he_bo_mix 40 "$out"
echo "retry_s2.sh done"
