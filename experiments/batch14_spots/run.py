"""Batch 14 (PLAN.md): he_sym + he_bo_inv + he_sym_proc2 merged per fold and seed, scored like trained runs.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch14_spots/run.py"""
from __future__ import annotations

from pathlib import Path

from helpers import config
from helpers.data import union_split
from helpers.modeling import loco_ensemble

HERE = Path(__file__).resolve().parent
WHERE = {"he_sym": config.EXPERIMENTS_DIR / "batch10_healthy_variety",
         "he_bo_inv": config.EXPERIMENTS_DIR / "batch10_healthy_variety",
         "he_sym_proc2": config.EXPERIMENTS_DIR / "batch14_spots"}
FOLDS = ("br35h+ixi-t2+dwi", "sartaj+ms-flair-iran+niivue", "figshare+open-ms")


def run_name(recipe: str, fold: str, seed: int) -> str:
    return f"{recipe}__{fold}" if seed == config.SEED else f"{recipe}_s{seed}__{fold}"


def main() -> None:
    u = union_split.build()
    X = union_split.union_arrays(u)
    for seed in (config.SEED, 7):
        for fold in FOLDS:
            out = run_name("ens_he2p2", fold, seed)
            if (HERE / f"{out}.json").is_file():
                continue  # resumable
            paths = [WHERE[m] / f"{run_name(m, fold, seed)}.keras" for m in WHERE]
            f = loco_ensemble.score_fold(paths, "ens_he2p2", fold, seed, u, X, HERE, out,
                                         "python experiments/batch14_spots/run.py")
            print(f"{f.record.name}: written", flush=True)


if __name__ == "__main__":
    main()
