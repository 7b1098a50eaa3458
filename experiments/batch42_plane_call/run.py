"""Batch 42 (PLAN.md): the shipped tagger's plane of every union slice and of its brain-only view (the images the
LOCO models read), with healthy-extra's index.csv plane beside it, into planes.csv.gz here.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch42_plane_call/run.py"""
from helpers.evaluation import plane_call as pc

if __name__ == "__main__":
    t = pc.measure()
    t.to_csv(pc.PLANES42, index=False)
    print(f"wrote {pc.PLANES42.name}: {len(t):,} rows")
