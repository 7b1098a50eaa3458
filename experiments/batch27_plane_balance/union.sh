#!/usr/bin/env bash
# Batch 27 (PLAN.md, "What ships on a change"): the union model a he_bo_pb win would ship, trained after this batch's
# LOCO runs so that the session can ship it; it ships only if the rule says so (else it is not committed). From the
# repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch27_plane_balance/union.sh > experiments/batch27_plane_balance/union.log 2>&1 &
set -uo pipefail
while pgrep -f "loco_runs.sh he_bo_pb 40 experiments/batch27_plane_balance" > /dev/null || \
      pgrep -f "batch27_plane_balance/runs.sh" > /dev/null; do sleep 30; done
[ -f models/brain_tumor_hv_pb40/record.json ] || .venv/bin/brain-mri train-union --recipe he_bo_pb --epochs 40 \
  --out-dir models --name brain_tumor_hv_pb40 --shipped
