"""Batch 35 (PLAN.md): each retrained he_bo LOCO run's logits on its fold's validation, held-out and familiar test
rows, per test-time view, with batch 22's warning distance, written to views.csv.gz here (batch 36 reads it too).
Runs already measured are kept in the cache folder, so it can be started while later runs still train; views.csv.gz
is written once all six are measured. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch35_test_time_views/run.py"""
import pandas as pd

from helpers import config
from helpers.evaluation import test_time_views as tv

if __name__ == "__main__":
    parts = config.cache_dir() / "batch35_views"
    parts.mkdir(parents=True, exist_ok=True)
    todo = [p for p in tv.runs35() if p.is_file() and not (parts / f"{p.stem}.csv.gz").is_file()]
    for p in todo:
        tv.measure([p]).to_csv(parts / f"{p.stem}.csv.gz", index=False)
    done = [parts / f"{p.stem}.csv.gz" for p in tv.runs35()]
    if all(f.is_file() for f in done):
        views = pd.concat([pd.read_csv(f) for f in done], ignore_index=True)
        views.to_csv(tv.VIEWS35, index=False)
        print(f"wrote {tv.VIEWS35.name}: {len(views):,} rows", flush=True)
    else:
        print(f"{sum(f.is_file() for f in done)} of {len(done)} runs measured; run again when the others are saved")
