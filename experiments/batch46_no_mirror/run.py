"""Batch 46 (PLAN.md): each he_bo_nm LOCO run's logits per test-time view, measured as batches 35, 37 and 44 do
(test_time_views.measure), into views.csv.gz here. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch46_no_mirror/run.py"""
from helpers.evaluation import intensity_net as inet
from helpers.evaluation import test_time_views as tv

if __name__ == "__main__":
    tv.measure_cached(inet.runs46(), "batch46_views", inet.VIEWS46)
