"""Batch 19 (PLAN.md): he_sym_e40 + he_bo_inv_e40 merged per fold (seed 7), scored like trained runs.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch19_ensemble_at_40/run.py [--fold F]"""
import argparse
from pathlib import Path

from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble

HERE = Path(__file__).resolve().parent
CANDIDATES = {"ens_he2_e40": {"he_sym_e40": HERE, "he_bo_inv_e40": HERE}}

if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("--fold", action="append")
    folds = tuple(a.parse_args().fold or FOLDS10)
    loco_ensemble.score_candidates(CANDIDATES, folds, HERE, "python experiments/batch19_ensemble_at_40/run.py", (7,))
