#!/usr/bin/env bash
# Batch 28 (PLAN.md, "What ships on a change"): he_bo's union models at seeds 1 and 2, the third and fourth members
# of brain_tumor_hv_bo4, trained while the folds are scored so that the session can ship; they ship only if the rule
# picks ens_bo4s_e40, and are reported either way. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch28_four_members/union.sh > experiments/batch28_four_members/union.log 2>&1 &
set -uo pipefail
for seed in 1 2; do
  [ -f models/brain_tumor_hv_bo40_s$seed/record.json ] || .venv/bin/brain-mri train-union --recipe he_bo \
    --epochs 40 --seed $seed --out-dir models --name brain_tumor_hv_bo40_s$seed --shipped || echo "FAILED seed $seed"
done
