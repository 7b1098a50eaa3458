#!/usr/bin/env bash
# Batch 41 (PLAN.md): he_bo's union models at seeds 3 and 4, the fifth and sixth members of brain_tumor_hv_bo6, one
# chain each (two use the 2-core CPU); reported whatever the rule says. From the repository root, BRAIN_MRI_DATA set:
#   nohup bash experiments/batch41_six_seeds/union.sh > experiments/batch41_six_seeds/union.log 2>&1 &
set -uo pipefail
for seed in 3 4; do
  ( [ -f models/brain_tumor_hv_bo40_s$seed/record.json ] || .venv/bin/brain-mri train-union --recipe he_bo \
      --epochs 40 --seed $seed --out-dir models --name brain_tumor_hv_bo40_s$seed --shipped \
      > experiments/batch41_six_seeds/union_s$seed.log 2>&1 || echo "FAILED seed $seed" ) &
done
wait
echo "union.sh done"
