#!/usr/bin/env bash
# Batch 49: measure each LOCO run as soon as its chain saves it (run.py skips runs already measured), then write
# results.json and RESULTS.md once all six are measured. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch49_domain_adversary/measure_as_saved.sh > experiments/batch49_domain_adversary/run.log 2>&1 &
set -uo pipefail
dir=experiments/batch49_domain_adversary
parts=data/processed/batch49_views
while true; do
  saved=$(ls $dir/he_bo_dann_e40_s*__*.json 2>/dev/null | grep -vc familiarity)
  measured=$(ls $parts/*.csv.gz 2>/dev/null | wc -l)
  if [ "$saved" -gt "$measured" ]; then
    date -u +"%H:%M measuring: $saved saved, $measured measured"
    .venv/bin/python $dir/run.py || echo "run.py FAILED"
  fi
  if [ -f $dir/views.csv.gz ]; then
    .venv/bin/python $dir/results.py || echo "results.py FAILED"
    break
  fi
  sleep 120
done
