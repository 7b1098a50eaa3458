#!/usr/bin/env bash
# Batch 24 (PLAN.md): the two-seed ensembles of he_bo_e40 per fold, replicate A (seeds 42 + 7, batch 20's runs) at
# once, replicate B (seeds 1 + 2) once runs.sh has trained them. From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch24_seed_ensemble/ensembles.sh > experiments/batch24_seed_ensemble/ensembles.log 2>&1 &
set -uo pipefail
b20=experiments/batch20_brain_only_ensemble; b24=experiments/batch24_seed_ensemble
.venv/bin/brain-mri loco-ensemble --name ens_bo2s_e40 --member "he_bo_e40@42=$b20" --member "he_bo_e40@7=$b20" \
  --out-dir $b24 --seed 42 || echo "FAILED replicate A"
while pgrep -f "loco_runs.sh he_bo 40 experiments/batch24_seed_ensemble" > /dev/null; do sleep 30; done
.venv/bin/brain-mri loco-ensemble --name ens_bo2s_e40 --member "he_bo_e40@1=$b24" --member "he_bo_e40@2=$b24" \
  --out-dir $b24 --seed 1 || echo "FAILED replicate B"
