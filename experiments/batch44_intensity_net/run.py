"""Batch 44 (PLAN.md): each he_bo_gin LOCO run's logits per test-time view, measured as batches 35 and 37 do
(test_time_views.measure), into views.csv.gz here. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch44_intensity_net/run.py"""
from helpers.evaluation import intensity_net as inet
from helpers.evaluation import test_time_views as tv

if __name__ == "__main__":
    tv.measure_cached(inet.runs44(), "batch44_views", inet.VIEWS44)
