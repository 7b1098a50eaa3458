#!/usr/bin/env bash
# Batch 28 (PLAN.md): the four-member ensembles per fold, from models the folds already hold (batches 20-27).
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch28_four_members/ensembles.sh > experiments/batch28_four_members/ensembles.log 2>&1 &
set -uo pipefail
b20=experiments/batch20_brain_only_ensemble; b21=experiments/batch21_style_and_flip; b23=experiments/batch23_wider
b24=experiments/batch24_seed_ensemble; b27=experiments/batch27_plane_balance; b28=experiments/batch28_four_members
.venv/bin/brain-mri loco-ensemble --name ens_bo4s_e40 --member "he_bo_e40@42=$b20" --member "he_bo_e40@7=$b20" \
  --member "he_bo_e40@1=$b24" --member "he_bo_e40@2=$b24" --out-dir $b28 --seed 42 || echo "FAILED ens_bo4s_e40"
for seed in 42 7; do
  .venv/bin/brain-mri loco-ensemble --name ens_mix4_e40 --member "he_bo_e40=$b20" --member "he_bo_ms_e40=$b21" \
    --member "he_bo_w24_e40=$b23" --member "he_bo_pb_e40=$b27" --out-dir $b28 --seed $seed \
    || echo "FAILED ens_mix4_e40 seed $seed"
done
