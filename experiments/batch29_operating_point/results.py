"""Batch 29's results.json and RESULTS.md from validation.csv and the run records.
Usage: python experiments/batch29_operating_point/results.py"""
from helpers import config, records
from helpers.evaluation import threshold_study as ts
from helpers.reporting import batch28

res = ts.compute()
records.write_json(res, ts.RESULTS29)
(ts.BATCH29 / "RESULTS.md").write_text(batch28.results29_markdown(res))
print(f"wrote {ts.RESULTS29.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
