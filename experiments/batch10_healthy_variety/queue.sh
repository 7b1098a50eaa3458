#!/usr/bin/env bash
# After runs.sh: the longer-schedule union model of the recipe the rule chooses (PLAN.md, amendment 2), then
# runs_bal.sh. Run from the repository root with BRAIN_MRI_DATA set.
set -uo pipefail
B=experiments/batch10_healthy_variety
while pgrep -f "$B/runs.sh" >/dev/null; do sleep 20; done
choice=$(.venv/bin/python -c "
from helpers.evaluation import healthy_variety as hv
c, note = hv.decide(hv.primary_scores(hv.loco10()))
print(c or 'he_bo_inv')")
echo "rule (he_sym vs he_bo_inv): $choice"
.venv/bin/brain-mri train-union --recipe "$choice" --epochs 40 --out-dir models --name brain_tumor_hv_long --shipped
bash $B/runs_bal.sh
