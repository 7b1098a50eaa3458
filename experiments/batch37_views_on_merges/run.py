"""Batch 37 (PLAN.md): each he_bo seed-1 and seed-2 LOCO run's logits per test-time view, measured as batch 35's
run.py does (test_time_views.measure), into views.csv.gz here. Runs already measured are kept in the cache folder,
so it can start while later runs still train. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch37_views_on_merges/run.py"""
import pandas as pd

from helpers import config
from helpers.evaluation import test_time_views as tv
from helpers.evaluation import views_on_merges as vm

if __name__ == "__main__":
    parts = config.cache_dir() / "batch37_views"
    parts.mkdir(parents=True, exist_ok=True)
    for p in [p for p in vm.runs37() if p.is_file() and not (parts / f"{p.stem}.csv.gz").is_file()]:
        tv.measure([p]).to_csv(parts / f"{p.stem}.csv.gz", index=False)
    done = [parts / f"{p.stem}.csv.gz" for p in vm.runs37()]
    if all(f.is_file() for f in done):
        views = pd.concat([pd.read_csv(f) for f in done], ignore_index=True)
        views.to_csv(vm.VIEWS37, index=False)
        print(f"wrote {vm.VIEWS37.name}: {len(views):,} rows", flush=True)
    else:
        print(f"{sum(f.is_file() for f in done)} of {len(done)} runs measured; run again when the others are saved")
