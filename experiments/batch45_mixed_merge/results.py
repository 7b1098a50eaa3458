"""Batch 45's results.json and RESULTS.md from batches 37's and 44's views.csv.gz and batch 39's results.
Usage: python experiments/batch45_mixed_merge/results.py"""
from helpers import config, records
from helpers.evaluation import intensity_net as inet
from helpers.reporting import batch44

res = inet.compute45()
records.write_json(res, inet.RESULTS45)
(inet.BATCH45 / "RESULTS.md").write_text(batch44.results45_markdown(res))
print(f"wrote {inet.RESULTS45.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
