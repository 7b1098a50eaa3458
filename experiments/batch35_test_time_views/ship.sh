#!/usr/bin/env bash
# Batch 35 (PLAN.md, rule): the qualifying view (flip2: the mirror) applied to the shipped four-seed ensemble, the
# same weights; threshold and temperature fitted again on union validation by `ensemble-union --tta hflip`
# (build.log), then what a ship needs up to the code change of config.DEFAULT_MODEL_NAME.
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch35_test_time_views/ship.sh > experiments/batch35_test_time_views/ship.log 2>&1 &
set -euo pipefail
B=.venv/bin/brain-mri; P=.venv/bin/python; b35=experiments/batch35_test_time_views
[ -f models/brain_tumor_hv_bo4f/record.json ] || $B ensemble-union models/brain_tumor_hv_bo40/model.keras \
  models/brain_tumor_hv_bo40_s7/model.keras models/brain_tumor_hv_bo40_s1/model.keras \
  models/brain_tumor_hv_bo40_s2/model.keras --name brain_tumor_hv_bo4f --recipe ens_bo4s_e40_flip --tta hflip
$P $b35/results.py                                         # batch 35 names it (shipped.DECIDERS)
$P experiments/batch22_warning_scores/results.py --apply   # batch 22's warning refitted on what ships
$P $b35/results.py                                         # the block now carries the warning
$B evaluate models/brain_tumor_hv_bo4f
$P experiments/batch7_symmetry/gradcam_variants.py models/brain_tumor_hv_bo4f
$B export models/brain_tumor_hv_bo4f
echo "ship.sh done"
