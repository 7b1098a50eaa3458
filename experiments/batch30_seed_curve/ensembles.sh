#!/usr/bin/env bash
# Batch 30 (PLAN.md): the seed ensembles that need seeds 3 and 4, once runs.sh has trained them. From the repository
# root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch30_seed_curve/ensembles.sh > experiments/batch30_seed_curve/ensembles.log 2>&1 &
set -uo pipefail
b20=experiments/batch20_brain_only_ensemble; b24=experiments/batch24_seed_ensemble; b30=experiments/batch30_seed_curve
while pgrep -f "loco_runs.sh he_bo 40 experiments/batch30_seed_curve" > /dev/null; do sleep 30; done
.venv/bin/brain-mri loco-ensemble --name ens_bo2s_e40 --member "he_bo_e40@3=$b30" --member "he_bo_e40@4=$b30" \
  --out-dir $b30 --seed 3 || echo "FAILED ens_bo2s_e40 replicate 3 + 4"
.venv/bin/brain-mri loco-ensemble --name ens_bo4s_e40 --member "he_bo_e40@1=$b24" --member "he_bo_e40@2=$b24" \
  --member "he_bo_e40@3=$b30" --member "he_bo_e40@4=$b30" --out-dir $b30 --seed 1 || echo "FAILED ens_bo4s_e40 1+2+3+4"
.venv/bin/brain-mri loco-ensemble --name ens_bo6s_e40 --member "he_bo_e40@42=$b20" --member "he_bo_e40@7=$b20" \
  --member "he_bo_e40@1=$b24" --member "he_bo_e40@2=$b24" --member "he_bo_e40@3=$b30" --member "he_bo_e40@4=$b30" \
  --out-dir $b30 --seed 42 || echo "FAILED ens_bo6s_e40"
