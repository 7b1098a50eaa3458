#!/usr/bin/env bash
# Batch 34: the same six runs as runs.sh, in two chains so both CPU cores work (one training process keeps about one
# core busy). Started at 22:37 after runs.sh had begun seed 42's first fold (left to finish, then chain A goes on).
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch34_weight_averaging/runs_parallel.sh > experiments/batch34_weight_averaging/runs_parallel.log 2>&1 &
set -uo pipefail
out=experiments/batch34_weight_averaging
one() {  # seed fold
  local suffix; suffix=$([ "$1" = 42 ] && echo "" || echo "_s$1")
  local run="he_bo_swa_e40${suffix}__$2"
  [ -f "$out/$run.json" ] || .venv/bin/brain-mri train-union --recipe he_bo_swa --epochs 40 --fold "$2" --seed "$1" \
    --out-dir "$out" --name "$run" > "$out/$run.log" 2>&1 || echo "FAILED $run"
}
( while [ -n "${WAIT_PID:-}" ] && kill -0 "$WAIT_PID" 2>/dev/null; do sleep 10; done
  one 42 "sartaj+ms-flair-iran+niivue"; one 42 "figshare+open-ms" ) &
( one 7 "br35h+ixi-t2+dwi"; one 7 "sartaj+ms-flair-iran+niivue"; one 7 "figshare+open-ms" ) &
wait
