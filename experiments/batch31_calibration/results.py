"""Batch 31's results.json and RESULTS.md from the run records, batch 29's validation.csv and union_validation.csv.
Usage: python experiments/batch31_calibration/results.py"""
from helpers import config, records
from helpers.evaluation import calibration_study as cs
from helpers.reporting import batch31

res = cs.compute()
records.write_json(res, cs.RESULTS31)
(cs.BATCH31 / "RESULTS.md").write_text(batch31.results31_markdown(res))
print(f"wrote {cs.RESULTS31.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
