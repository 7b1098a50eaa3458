"""Batch 36's results.json and RESULTS.md from batch 35's views.csv.gz. Usage: python experiments/batch36_warning_cost/results.py"""
from helpers import config, records
from helpers.evaluation import warning_cost as wc
from helpers.reporting import batch35

res = wc.compute()
records.write_json(res, wc.RESULTS36)
(wc.BATCH36 / "RESULTS.md").write_text(batch35.results36_markdown(res))
print(f"wrote {wc.RESULTS36.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
