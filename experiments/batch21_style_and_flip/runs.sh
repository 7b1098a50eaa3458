#!/usr/bin/env bash
# Batch 21 (PLAN.md): 40-epoch LOCO runs of he_bo_ms (he_bo + MixStyle), seeds 42 and 7, the three folds; the loop
# is experiments/loco_runs.sh (its own copy of that loop ran; the run files are the same). From the repository root
# with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch21_style_and_flip/runs.sh > experiments/batch21_style_and_flip/runs.log 2>&1 &
exec bash experiments/loco_runs.sh he_bo_ms 40 experiments/batch21_style_and_flip
