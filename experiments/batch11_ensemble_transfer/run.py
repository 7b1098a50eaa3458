"""Batch 11 (PLAN.md): the logit-mean ensembles of batch 10's LOCO models, scored like trained runs.
Writes <name>.json, <name>.predictions.csv and <name>.familiarity.json per candidate, fold and seed beside this file.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch11_ensemble_transfer/run.py"""
from __future__ import annotations

from pathlib import Path

from helpers import config
from helpers.data import union_split
from helpers.modeling import loco_ensemble

HERE = Path(__file__).resolve().parent
B10 = config.EXPERIMENTS_DIR / "batch10_healthy_variety"
CANDIDATES = {"ens_he2": ("he_sym", "he_bo_inv"), "ens_he3": ("he_sym", "he_bo_inv", "he_bo_inv_bal")}
FOLDS = ("br35h+ixi-t2+dwi", "sartaj+ms-flair-iran+niivue", "figshare+open-ms")


def run_name(recipe: str, fold: str, seed: int) -> str:
    return f"{recipe}__{fold}" if seed == config.SEED else f"{recipe}_s{seed}__{fold}"


def main() -> None:
    u = union_split.build()
    X = union_split.union_arrays(u)
    for seed in (config.SEED, 7):
        for name, members in CANDIDATES.items():
            for fold in FOLDS:
                out = run_name(name, fold, seed)
                if (HERE / f"{out}.json").is_file():
                    continue  # resumable
                paths = [B10 / f"{run_name(m, fold, seed)}.keras" for m in members]
                f = loco_ensemble.score_fold(paths, name, fold, seed, u, X, HERE, out,
                                             "python experiments/batch11_ensemble_transfer/run.py")
                print(f"{f.record.name}: written", flush=True)


if __name__ == "__main__":
    main()
