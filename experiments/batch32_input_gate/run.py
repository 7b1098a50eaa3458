"""Batch 32 (PLAN.md): the gate's pixel features of every union file, written to measurements.csv here (no pixels).
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch32_input_gate/run.py"""
from helpers.evaluation import input_gate as ig

if __name__ == "__main__":
    m = ig.measure()
    m.to_csv(ig.MEASURED32, index=False)
    print(f"wrote {ig.MEASURED32.name}: {len(m):,} rows", flush=True)
