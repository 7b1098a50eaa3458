"""Batch 31 (PLAN.md): the shipped model's union validation rows' P(tumour), written to union_validation.csv here
(its record kept only its test rows). Usage (repository root, BRAIN_MRI_DATA set):
python experiments/batch31_calibration/run.py"""
from helpers.evaluation import calibration_study as cs

if __name__ == "__main__":
    uval = cs.measure_union()
    uval.to_csv(cs.UNION_VAL31, index=False)
    print(f"wrote {cs.UNION_VAL31.name}: {len(uval):,} rows", flush=True)
