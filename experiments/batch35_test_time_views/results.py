"""Batch 35's results.json and RESULTS.md from views.csv.gz. Usage: python experiments/batch35_test_time_views/results.py"""
from helpers import config, records
from helpers.evaluation import test_time_views as tv
from helpers.reporting import batch35

res = batch35.compute35()
records.write_json(res, tv.RESULTS35)
(tv.BATCH35 / "RESULTS.md").write_text(batch35.results35_markdown(res))
print(f"wrote {tv.RESULTS35.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
