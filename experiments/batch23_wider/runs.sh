#!/usr/bin/env bash
# Batch 23 (PLAN.md): 40-epoch LOCO runs of he_bo_w24 (he_bo at width 24), seeds 42 and 7, the three folds, after
# batch 21's runs end (one training at a time on 2 cores); the loop is experiments/loco_runs.sh (its own copy of that
# loop ran; the run files are the same). From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch23_wider/runs.sh > experiments/batch23_wider/runs.log 2>&1 &
while pgrep -f "batch21_style_and_flip/runs.sh" > /dev/null; do sleep 30; done
exec bash experiments/loco_runs.sh he_bo_w24 40 experiments/batch23_wider
