"""Batch 18's results.json and RESULTS.md from the run records. Usage: python experiments/batch18_brain_only/results.py"""
from helpers import config, records
from helpers.evaluation import ensemble_transfer as et
from helpers.reporting import batch15

res = batch15.compute18()
records.write_json(res, et.RESULTS18)
(et.BATCH18 / "RESULTS.md").write_text(batch15.results18_markdown(res))
print(f"wrote {et.RESULTS18.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
