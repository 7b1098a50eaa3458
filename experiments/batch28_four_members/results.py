"""Batch 28's results.json and RESULTS.md from the run records.
Usage: python experiments/batch28_four_members/results.py"""
from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch28

res = batch28.compute28()
records.write_json(res, ss.RESULTS28)
(ss.BATCH28 / "RESULTS.md").write_text(batch28.results28_markdown(res))
print(f"wrote {ss.RESULTS28.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
