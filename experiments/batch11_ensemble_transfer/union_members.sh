#!/usr/bin/env bash
# Batch 11 (PLAN.md): the 40-epoch union member of he_bo_inv, trained before any number of the batch exists.
# Run from the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch11_ensemble_transfer/union_members.sh > experiments/batch11_ensemble_transfer/union_members.log 2>&1 &
set -uo pipefail
.venv/bin/brain-mri train-union --recipe he_bo_inv --epochs 40 --out-dir models --name brain_tumor_hv_bo_long --shipped
# then (batch 11's rule chose ens_he2): the merged union model
.venv/bin/brain-mri ensemble-union models/brain_tumor_hv_long/model.keras models/brain_tumor_hv_bo_long/model.keras --name brain_tumor_hv_ens --recipe ens_he2
