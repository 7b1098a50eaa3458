"""Batch 49 (PLAN.md): each LOCO run's logits per test-time view, measured as batches 35, 37, 44 and 46
(test_time_views.measure), into views.csv.gz here. Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch49_domain_adversary/run.py"""
from helpers.evaluation import intensity_net as inet
from helpers.evaluation import test_time_views as tv

if __name__ == "__main__":
    tv.measure_cached(inet.B49.runs(), "batch49_views", inet.B49.views)
