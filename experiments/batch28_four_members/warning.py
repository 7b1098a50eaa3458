"""Batch 28 (PLAN.md: "batch 22's warning procedure refitted on it"): where the shipped four-member ensemble's
warning is tested. Batch 22's rule ("dist": the (collection, class) cell distance beyond the validation quantile 0.98,
refitted per fold) on the chosen candidate's own LOCO runs, counted as batch 25 counted it (disagreement.measure_run);
written to warning.csv here. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch28_four_members/warning.py"""
from pathlib import Path

import pandas as pd

from helpers.data import union_split
from helpers.evaluation import disagreement as dg
from helpers.evaluation import shipped_schedule as ss
from helpers.evaluation.healthy_variety import FOLDS10
from helpers.modeling import loco_ensemble
from helpers.modeling.train_union import view_arrays
from helpers.reporting import batch28

OUT = Path(__file__).resolve().parent / "warning.csv"

if __name__ == "__main__":
    choice = (batch28.results28() or {}).get("choice")
    if choice not in ss.REPLICATES28:
        raise SystemExit(f"batch 28 chose {choice!r}, not a four-member candidate: nothing to test")
    u = union_split.build()
    X = union_split.union_arrays(u)
    views = view_arrays(X)
    rows = []
    for seed in ss.REPLICATES28[choice]:
        for fold in FOLDS10:
            rec = ss.BATCH28 / f"{loco_ensemble.run_name(choice, fold, seed)}.json"
            rows += [{**r, "recipe": choice} for r in dg.measure_run(rec, u, X, views, kinds=("dist",))]
            print(f"{rec.name}: measured", flush=True)
    pd.DataFrame(rows).to_csv(OUT, index=False)
    print(f"wrote {OUT.name}", flush=True)
