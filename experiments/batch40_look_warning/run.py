"""Batch 40 (PLAN.md): the look scores of every LOCO fold's validation, held-out (slice and brain-only view) and
familiar test rows, and of the union split's validation and test rows, into looks.csv.gz and cuts.json here.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch40_look_warning/run.py"""
from helpers import records
from helpers.evaluation import look_warning as lw

if __name__ == "__main__":
    looks, cuts = lw.measure()
    looks.to_csv(lw.LOOKS40, index=False)
    records.write_json(cuts, lw.CUTS40)
    print(f"wrote {lw.LOOKS40.name}: {len(looks):,} rows")
