"""Batch 21 (PLAN.md): batch 20's he_bo_e40 models merged with their mirror (flip test-time augmentation as one
model), per fold and seed, scored like trained runs.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch21_style_and_flip/run.py [--fold F] [--seed N]"""
import argparse
from pathlib import Path

from helpers import config
from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble

HERE = Path(__file__).resolve().parent
B20 = HERE.parent / "batch20_brain_only_ensemble"

if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("--fold", action="append")
    a.add_argument("--seed", type=int, action="append")
    args = a.parse_args()
    members = {"he_bo_e40": B20, "he_bo_e40" + loco_ensemble.MIRROR: B20}
    loco_ensemble.score_candidates({"he_bo_flip_e40": members}, tuple(args.fold or FOLDS10), HERE,
                                   "python experiments/batch21_style_and_flip/run.py",
                                   tuple(args.seed or (config.SEED, 7)))
