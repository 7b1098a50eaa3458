"""Batch 42's results.json and RESULTS.md from planes.csv.gz and batches 35, 37 and 39's views.csv.gz (no data
needed). Usage: python experiments/batch42_plane_call/results.py"""
from helpers import config, records
from helpers.evaluation import plane_call as pc
from helpers.reporting import batch42

res = pc.compute()
records.write_json(res, pc.RESULTS42)
(pc.BATCH42 / "RESULTS.md").write_text(batch42.results42_markdown(res))
print(f"wrote {pc.RESULTS42.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
