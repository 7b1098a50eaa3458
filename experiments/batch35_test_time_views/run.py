"""Batch 35 (PLAN.md): each retrained he_bo LOCO run's logits on its fold's validation, held-out and familiar test
rows, per test-time view, with batch 22's warning distance, written to views.csv.gz here (batch 36 reads it too).
Runs already measured are kept in the cache folder, so it can be started while later runs still train; views.csv.gz
is written once all six are measured. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch35_test_time_views/run.py"""
from helpers.evaluation import test_time_views as tv

if __name__ == "__main__":
    tv.measure_cached(tv.runs35(), "batch35_views", tv.VIEWS35)
