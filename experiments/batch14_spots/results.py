"""Batch 14's results.json and RESULTS.md from the run records. Usage: python experiments/batch14_spots/results.py"""
from helpers import config, records
from helpers.evaluation import ensemble_transfer as et
from helpers.reporting import batch12

res = batch12.compute14()
records.write_json(res, et.RESULTS14)
(et.BATCH14 / "RESULTS.md").write_text(batch12.results14_markdown(res))
print(f"wrote {et.RESULTS14.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
