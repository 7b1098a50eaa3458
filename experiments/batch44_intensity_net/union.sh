#!/usr/bin/env bash
# Batch 44 (PLAN.md, rule 2): only if he_bo_gin qualifies. Its union models at seeds 42, 7, 1 and 2 (40 epochs), the
# members of brain_tumor_hv_gin4, two chains (the 2-core CPU), models already saved kept. From the repository root,
# BRAIN_MRI_DATA set:
#   nohup bash experiments/batch44_intensity_net/union.sh > experiments/batch44_intensity_net/union.log 2>&1 &
set -uo pipefail
chain() {
  for seed in "$@"; do
    [ -f models/brain_tumor_hv_gin40_s$seed/record.json ] || .venv/bin/brain-mri train-union --recipe he_bo_gin \
      --epochs 40 --seed $seed --out-dir models --name brain_tumor_hv_gin40_s$seed --shipped \
      > experiments/batch44_intensity_net/union_s$seed.log 2>&1 || echo "FAILED seed $seed"
  done
}
chain 42 7 &
chain 1 2 &
wait
echo "union.sh done"
