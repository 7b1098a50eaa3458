#!/usr/bin/env bash
# One recipe's LOCO runs at a schedule, seeds 42 and 7, the three folds of batches 10-23, into a batch folder; runs
# already written are kept (resumable). Batches 19-23 each had a copy of this loop; later batches call it instead.
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/loco_runs.sh RECIPE EPOCHS OUT_DIR [NAME] > OUT_DIR/runs.log 2>&1 &
# NAME defaults to RECIPE_e<EPOCHS>; the run files are NAME__<fold> (seed 42) and NAME_s<seed>__<fold>. SEEDS (env,
# default "42 7") picks the seeds.
set -uo pipefail
recipe=${1:?recipe}; epochs=${2:?epochs}; out=${3:?out dir}; name=${4:-${recipe}_e${epochs}}
for seed in ${SEEDS:-42 7}; do
  suffix=$([ "$seed" = 42 ] && echo "" || echo "_s$seed")
  for fold in "br35h+ixi-t2+dwi" "sartaj+ms-flair-iran+niivue" "figshare+open-ms"; do
    run="${name}${suffix}__${fold}"
    [ -f "$out/$run.json" ] || .venv/bin/brain-mri train-union --recipe "$recipe" --epochs "$epochs" --fold "$fold" \
      --seed "$seed" --out-dir "$out" --name "$run" || echo "FAILED $run"
  done
done
