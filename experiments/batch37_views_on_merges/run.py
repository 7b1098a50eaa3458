"""Batch 37 (PLAN.md): each he_bo seed-1 and seed-2 LOCO run's logits per test-time view, measured as batch 35's
run.py does (test_time_views.measure), into views.csv.gz here. Runs already measured are kept in the cache folder,
so it can start while later runs still train. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch37_views_on_merges/run.py"""
from helpers.evaluation import test_time_views as tv
from helpers.evaluation import views_on_merges as vm

if __name__ == "__main__":
    tv.measure_cached(vm.runs37(), "batch37_views", vm.VIEWS37)
