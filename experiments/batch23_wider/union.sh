#!/usr/bin/env bash
# Batch 23 (PLAN.md, "What ships on a change"): the union model a he_bo_w24 win would ship, trained beside the last
# LOCO run so that the session can ship it; it ships only if the rule says so (else it is not committed). From the
# repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch23_wider/union.sh > experiments/batch23_wider/union.log 2>&1 &
set -uo pipefail
[ -f models/brain_tumor_hv_w24/record.json ] || .venv/bin/brain-mri train-union --recipe he_bo_w24 --epochs 40 \
  --out-dir models --name brain_tumor_hv_w24 --shipped
