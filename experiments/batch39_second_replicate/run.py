"""Batch 39 (PLAN.md): each he_bo seed-3 and seed-4 LOCO run's logits per test-time view, measured as batches 35 and
37 do (test_time_views.measure), into views.csv.gz here. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch39_second_replicate/run.py"""
from helpers.evaluation import test_time_views as tv
from helpers.evaluation import views_on_merges as vm

if __name__ == "__main__":
    tv.measure_cached(vm.runs39(), "batch39_views", vm.VIEWS39)
