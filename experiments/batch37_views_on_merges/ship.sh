#!/usr/bin/env bash
# Batch 37 (PLAN.md, rule 2): `plain` was chosen, so the shipped four networks read each slice once again
# (`brain_tumor_hv_bo4`, built by batch 28, evaluated, Grad-CAM chosen and exported then); its warning is refitted on
# it, it is evaluated again with it, and batch 37's block is written with batch 38's four-seed estimate.
# config.DEFAULT_MODEL_NAME is the code change; `make bench` (the rule's condition) runs after.
# From the repository root with BRAIN_MRI_DATA set:
#   nohup bash experiments/batch37_views_on_merges/ship.sh > experiments/batch37_views_on_merges/ship.log 2>&1 &
set -euo pipefail
B=.venv/bin/brain-mri; P=.venv/bin/python; b37=experiments/batch37_views_on_merges
$P experiments/batch38_four_seed_views/results.py         # the four-seed estimate the block quotes
$P $b37/results.py                                        # batch 37 names the model (shipped.DECIDERS)
$P experiments/batch22_warning_scores/results.py --apply  # batch 22's warning refitted on what ships
$P $b37/results.py                                        # the block now carries the warning
$B evaluate models/brain_tumor_hv_bo4
$B cross-collection
echo "ship.sh done"
