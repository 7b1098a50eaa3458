"""Batch 14 (PLAN.md): he_sym + he_bo_inv + he_sym_proc2 merged per fold and seed, scored like trained runs.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch14_spots/run.py"""
from pathlib import Path

from helpers import config
from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble

HERE = Path(__file__).resolve().parent
B10 = config.EXPERIMENTS_DIR / "batch10_healthy_variety"
CANDIDATES = {"ens_he2p2": {"he_sym": B10, "he_bo_inv": B10, "he_sym_proc2": HERE}}

if __name__ == "__main__":
    loco_ensemble.score_candidates(CANDIDATES, FOLDS10, HERE, "python experiments/batch14_spots/run.py")
