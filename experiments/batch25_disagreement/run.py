"""Batch 25 (PLAN.md): every candidate on batch 24's merged LOCO runs (replicates A and B), written to candidates.csv
in this folder; replicates already measured are kept (resumable). Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch25_disagreement/run.py"""
from pathlib import Path

import pandas as pd

from helpers.data import union_split
from helpers.evaluation import disagreement as dg
from helpers.evaluation import shipped_schedule as ss
from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble
from helpers.modeling.train_union import view_arrays

HERE = Path(__file__).resolve().parent
OUT = HERE / "candidates.csv"

if __name__ == "__main__":
    u = union_split.build()
    X = union_split.union_arrays(u)
    views = view_arrays(X)
    done = pd.read_csv(OUT) if OUT.is_file() else pd.DataFrame(columns=["seed", "fold"])
    for seed in ss.REPLICATES24:
        for fold in FOLDS10:
            rec = ss.BATCH24 / f"{loco_ensemble.run_name(ss.ENS2S_E40, fold, seed)}.json"
            if ((done["seed"] == seed) & (done["fold"] == fold)).any() or not rec.is_file():
                print(f"{rec.name}: {'kept' if rec.is_file() else 'not written yet'}", flush=True)
                continue
            done = pd.concat([done, pd.DataFrame(dg.measure_run(rec, u, X, views))], ignore_index=True)
            done.to_csv(OUT, index=False)
            print(f"{rec.name}: measured", flush=True)
