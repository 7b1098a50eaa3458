"""Batch 23's results.json and RESULTS.md from the run records.
Usage: python experiments/batch23_wider/results.py"""
from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch21

res = batch21.compute23()
records.write_json(res, ss.RESULTS23)
(ss.BATCH23 / "RESULTS.md").write_text(batch21.results23_markdown(res))
print(f"wrote {ss.RESULTS23.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
