"""Batch 15's results.json and RESULTS.md from the run records. Usage: python experiments/batch15_schedule/results.py"""
from helpers import config, records
from helpers.evaluation import ensemble_transfer as et
from helpers.reporting import batch15

res = batch15.compute15()
records.write_json(res, et.RESULTS15)
(et.BATCH15 / "RESULTS.md").write_text(batch15.results15_markdown(res))
print(f"wrote {et.RESULTS15.relative_to(config.PROJ_ROOT).as_posix()}: {res['outcome']} ({res['decision']})")
