"""Batch 11 (PLAN.md): the logit-mean ensembles of batch 10's LOCO models, scored like trained runs.
Writes <name>.json, <name>.predictions.csv and <name>.familiarity.json per candidate, fold and seed beside this file.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch11_ensemble_transfer/run.py"""
from pathlib import Path

from helpers import config
from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble

HERE = Path(__file__).resolve().parent
B10 = config.EXPERIMENTS_DIR / "batch10_healthy_variety"
CANDIDATES = {"ens_he2": {"he_sym": B10, "he_bo_inv": B10},
              "ens_he3": {"he_sym": B10, "he_bo_inv": B10, "he_bo_inv_bal": B10}}

if __name__ == "__main__":
    loco_ensemble.score_candidates(CANDIDATES, FOLDS10, HERE, "python experiments/batch11_ensemble_transfer/run.py")
