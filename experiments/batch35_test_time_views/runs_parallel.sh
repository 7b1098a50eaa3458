#!/usr/bin/env bash
# Batch 35 (PLAN.md): he_bo at 40 epochs, seeds 42 and 7, the three folds, in two chains (one training process keeps
# about one core busy). The member models are kept (gitignored) for the test-time views of run.py.
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch35_test_time_views/runs_parallel.sh > experiments/batch35_test_time_views/runs_parallel.log 2>&1 &
set -uo pipefail
out=experiments/batch35_test_time_views
one() {  # seed fold
  local suffix; suffix=$([ "$1" = 42 ] && echo "" || echo "_s$1")
  local run="he_bo_e40${suffix}__$2"
  [ -f "$out/$run.json" ] || .venv/bin/brain-mri train-union --recipe he_bo --epochs 40 --fold "$2" --seed "$1" \
    --out-dir "$out" --name "$run" > "$out/$run.log" 2>&1 || echo "FAILED $run"
}
( one 42 "br35h+ixi-t2+dwi"; one 42 "sartaj+ms-flair-iran+niivue"; one 42 "figshare+open-ms" ) &
( one 7 "br35h+ixi-t2+dwi"; one 7 "sartaj+ms-flair-iran+niivue"; one 7 "figshare+open-ms" ) &
wait
