"""Batch 20 (PLAN.md): he_sym_e40 (batches 17, 19) + he_bo_e40 merged per fold and seed, scored like trained runs.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch20_brain_only_ensemble/run.py [--fold F] [--seed N]"""
import argparse
from pathlib import Path

from helpers import config
from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble

HERE = Path(__file__).resolve().parent
EXP = HERE.parent
SYM = {config.SEED: EXP / "batch17_shipped_schedule", 7: EXP / "batch19_ensemble_at_40"}

if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("--fold", action="append")
    a.add_argument("--seed", type=int, action="append")
    args = a.parse_args()
    folds = tuple(args.fold or FOLDS10)
    for seed in args.seed or (config.SEED, 7):
        loco_ensemble.score_candidates({"ens_hb_e40": {"he_sym_e40": SYM[seed], "he_bo_e40": HERE}}, folds, HERE,
                                       "python experiments/batch20_brain_only_ensemble/run.py", (seed,))
