"""Batch 22 (PLAN.md): both warning scores on every he_bo_e40 LOCO run of batch 20 (the shipped recipe), written to
candidates.csv in this folder. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch22_warning_scores/run.py"""
from pathlib import Path

import pandas as pd

from helpers.data import union_split
from helpers.evaluation import warning_scores as ws
from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble
from helpers.modeling.train_union import view_arrays

HERE = Path(__file__).resolve().parent
B20 = HERE.parent / "batch20_brain_only_ensemble"

if __name__ == "__main__":
    u = union_split.build()
    X = union_split.union_arrays(u)
    views = view_arrays(X)
    rows = []
    for seed in (42, 7):
        for fold in FOLDS10:
            rec = B20 / f"{loco_ensemble.run_name('he_bo_e40', fold, seed)}.json"
            rows += ws.measure_run(rec, u, X, views)
            print(f"{rec.name}: measured", flush=True)
    pd.DataFrame(rows).to_csv(HERE / "candidates.csv", index=False)
