"""Batch 35 (PLAN.md): each retrained he_bo LOCO run's logits on its fold's validation, held-out and familiar test
rows, per test-time view, with batch 22's warning distance, written to views.csv.gz here (batch 36 reads it too).
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch35_test_time_views/run.py"""
from helpers.evaluation import test_time_views as tv

if __name__ == "__main__":
    views = tv.measure()
    views.to_csv(tv.VIEWS35, index=False)
    print(f"wrote {tv.VIEWS35.name}: {len(views):,} rows", flush=True)
