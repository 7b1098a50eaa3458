"""Batch 27 (PLAN.md): write data/splits/union_planes.csv, every union slice's plane (healthy-extra's index.csv,
else the scan-type tagger of chapter 02), which the he_bo_pb recipe's weights read. Usage (repository root,
BRAIN_MRI_DATA set): python experiments/batch27_plane_balance/planes.py"""
from helpers import config
from helpers.data import union_split
from helpers.evaluation import scan_type

if __name__ == "__main__":
    u = union_split.build()
    t = scan_type.union_planes(u.table, union_split.union_arrays(u))
    t.to_csv(union_split.UNION_PLANES, index=False)
    print(f"wrote {union_split.UNION_PLANES.relative_to(config.PROJ_ROOT).as_posix()}: "
          + ", ".join(f"{k} {v:,}" for k, v in t.groupby(["how", "plane"]).size().items()))
