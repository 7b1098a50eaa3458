"""Batch 15 (PLAN.md): he_sym_e20 + he_bo_inv_e20 merged per fold and seed, scored like trained runs.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch15_schedule/run.py [--seed N]"""
import argparse
from pathlib import Path

from helpers import config
from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble

HERE = Path(__file__).resolve().parent
CANDIDATES = {"ens_he2_e20": {"he_sym_e20": HERE, "he_bo_inv_e20": HERE}}

if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("--seed", type=int, action="append")
    seeds = tuple(a.parse_args().seed or (config.SEED, 7))
    loco_ensemble.score_candidates(CANDIDATES, FOLDS10, HERE, "python experiments/batch15_schedule/run.py", seeds)
