"""Batch 27's results.json and RESULTS.md from the run records.
Usage: python experiments/batch27_plane_balance/results.py"""
from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch24

res = batch24.compute27()
records.write_json(res, ss.RESULTS27)
(ss.BATCH27 / "RESULTS.md").write_text(batch24.results27_markdown(res))
print(f"wrote {ss.RESULTS27.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
