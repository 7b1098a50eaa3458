#!/usr/bin/env bash
# Batch 14 amendment 1: the union model of he_sym_proc2, trained beside the LOCO runs (PLAN.md).
set -uo pipefail
.venv/bin/brain-mri train-union --recipe he_sym_proc2 --epochs 40 --out-dir models --name brain_tumor_hv_proc2 --shipped
