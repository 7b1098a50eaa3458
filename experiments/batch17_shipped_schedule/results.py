"""Batch 17's results.json and RESULTS.md from the run records. Usage: python experiments/batch17_shipped_schedule/results.py"""
from helpers import config, records
from helpers.evaluation import ensemble_transfer as et
from helpers.reporting import batch15

res = batch15.compute17()
records.write_json(res, et.RESULTS17)
(et.BATCH17 / "RESULTS.md").write_text(batch15.results17_markdown(res))
print(f"wrote {et.RESULTS17.relative_to(config.PROJ_ROOT).as_posix()}: folds done {res['folds_done']}")
