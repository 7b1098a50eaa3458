"""Batch 13's results.json and RESULTS.md from the run records. Usage: python experiments/batch13_ensemble_proc/results.py"""
from helpers import config, records
from helpers.evaluation import ensemble_transfer as et
from helpers.reporting import batch12

res = batch12.compute13()
records.write_json(res, et.RESULTS13)
(et.BATCH13 / "RESULTS.md").write_text(batch12.results13_markdown(res))
print(f"wrote {et.RESULTS13.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
