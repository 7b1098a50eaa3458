#!/bin/bash
# Train several recipes at once on one GPU with the same Keras code (JAX backend), from a `brain-mri bundle` file:
#   bash models/train_gpu.sh BUNDLE OUTDIR NAME=JSON_CONFIG ...
# Each NAME trains in its own process (`brain-mri train --bundle BUNDLE --config ...`); when it ends, its .keras, .json
# and log go into OUTDIR/NAME.tar (one file per run, so finished runs survive a cut-off call). Keras comes from .whl/
# where the machine lacks it. Back on the CPU: `brain-mri calibrate` and `brain-mri evaluate` each model with TensorFlow.
set -u
BUNDLE=$1; OUTDIR=$2; shift 2
[ -d .whl ] && { python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 3; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 KERAS_BACKEND=${KERAS_BACKEND:-jax}
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # several processes share the GPU
mkdir -p "$OUTDIR" /tmp/gpu_runs
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
for spec in "$@"; do
  name=${spec%%=*}
  mkdir -p /tmp/gpu_runs/$name
  echo "${spec#*=}" > /tmp/gpu_runs/$name.cfg.json
  ( timeout "${RUN_TIMEOUT_S:-540}" python3 -m helpers.cli train --bundle "$BUNDLE" --config /tmp/gpu_runs/$name.cfg.json \
        --out-dir /tmp/gpu_runs/$name > /tmp/gpu_runs/$name/train.log 2>&1 || echo "exit $?" >> /tmp/gpu_runs/$name/train.log
    tar -C /tmp/gpu_runs -cf "$OUTDIR/$name.tar" $name
    echo "$name: $(grep -E '^(saved|error|exit)|Epoch [0-9]+/' /tmp/gpu_runs/$name/train.log | tail -1)" ) &
done
wait
