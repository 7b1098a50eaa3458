"""Batch 29 (PLAN.md): the validation rows' P(tumour) of every run of the seven run sets, written to validation.csv
here (the runs saved only their held-out predictions). Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch29_operating_point/run.py"""
from helpers.evaluation import threshold_study as ts

if __name__ == "__main__":
    val = ts.measure()
    val.to_csv(ts.VALIDATION29, index=False)
    print(f"wrote {ts.VALIDATION29.name}: {len(val):,} rows", flush=True)
