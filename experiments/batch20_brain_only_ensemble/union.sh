#!/usr/bin/env bash
# Batch 20 (PLAN.md, "What ships on a change"): the union models a he_bo win would ship, trained while the decision
# is computed so that the session can ship it; they ship only if the rule says so. From the repository
# root with BRAIN_MRI_DATA set.
set -uo pipefail
# started beside the LOCO runs (the session's CPU time would not fit them one after the other)
[ -f models/brain_tumor_hv_bo40/record.json ] || .venv/bin/brain-mri train-union --recipe he_bo --epochs 40 \
  --out-dir models --name brain_tumor_hv_bo40 --shipped
[ -f models/brain_tumor_hv_hb/record.json ] || .venv/bin/brain-mri ensemble-union models/brain_tumor_hv_long/model.keras \
  models/brain_tumor_hv_bo40/model.keras --name brain_tumor_hv_hb --recipe ens_hb
