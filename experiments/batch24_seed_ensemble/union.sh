#!/usr/bin/env bash
# Batch 24 (PLAN.md, "What ships on a change"): he_bo's seed-7 union model, the second member of the two-seed
# ensemble, trained after the LOCO runs so that the session can ship it; it ships (inside brain_tumor_hv_bo2) only if
# the rule says so. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch24_seed_ensemble/union.sh > experiments/batch24_seed_ensemble/union.log 2>&1 &
set -uo pipefail
while pgrep -f "loco_runs.sh he_bo 40 experiments/batch24_seed_ensemble" > /dev/null; do sleep 30; done
[ -f models/brain_tumor_hv_bo40_s7/record.json ] || .venv/bin/brain-mri train-union --recipe he_bo --epochs 40 \
  --seed 7 --out-dir models --name brain_tumor_hv_bo40_s7 --shipped
