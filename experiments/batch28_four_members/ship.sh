#!/usr/bin/env bash
# Batch 28 (PLAN.md, "What ships on a change"): build brain_tumor_hv_bo4 from the four he_bo union seeds once
# union.sh has trained seeds 1 and 2, and run what a ship needs up to the code change of config.DEFAULT_MODEL_NAME.
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch28_four_members/ship.sh > experiments/batch28_four_members/ship.log 2>&1 &
set -euo pipefail
while pgrep -f "batch28_four_members/union.sh" > /dev/null; do sleep 30; done
B=.venv/bin/brain-mri; P=.venv/bin/python; b28=experiments/batch28_four_members
# seed 1's export was written by the code before each model kept its own Grad-CAM choice (its grid baked as 8x8)
$B export models/brain_tumor_hv_bo40_s1
$B ensemble-union models/brain_tumor_hv_bo40/model.keras models/brain_tumor_hv_bo40_s7/model.keras \
  models/brain_tumor_hv_bo40_s1/model.keras models/brain_tumor_hv_bo40_s2/model.keras \
  --name brain_tumor_hv_bo4 --recipe ens_bo4s_e40
$P $b28/results.py                                   # the ship gate: union validation within 2 points of bo2's
$P experiments/batch22_warning_scores/results.py --apply   # batch 22's warning refitted on what ships
$P $b28/warning.py                                   # ... and tested on the candidate's own LOCO runs
$P $b28/results.py                                   # the block now carries the warning and where it was tested
$B evaluate models/brain_tumor_hv_bo4
$P experiments/batch7_symmetry/gradcam_variants.py models/brain_tumor_hv_bo4
$B export models/brain_tumor_hv_bo4
echo "ship.sh done"
