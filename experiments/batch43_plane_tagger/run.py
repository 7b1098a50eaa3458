"""Batch 43 (PLAN.md): v1 and v2 of the plane tagger measured; results.json and RESULTS.md here.
Usage (repository root, BRAIN_MRI_DATA set, healthy-extra beside it): python experiments/batch43_plane_tagger/run.py"""
from helpers import config, records
from helpers.evaluation import plane_tagger as pt
from helpers.reporting import batch42

if __name__ == "__main__":
    res = pt.measure()
    records.write_json(res, pt.RESULTS43)
    (pt.BATCH43 / "RESULTS.md").write_text(batch42.results43_markdown(res))
    print(f"wrote {pt.RESULTS43.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
    pt.write_accuracy_elsewhere()  # the plane warning quotes it (the tagger itself is unchanged)
