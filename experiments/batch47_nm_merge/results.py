"""Batch 47's results.json and RESULTS.md from batches 37's and 46's views.csv.gz and batch 39's results.
Usage: python experiments/batch47_nm_merge/results.py"""
from helpers import config, records
from helpers.evaluation import intensity_net as inet
from helpers.reporting import batch44

res = inet.compute47()
records.write_json(res, inet.RESULTS47)
(inet.BATCH47 / "RESULTS.md").write_text(batch44.results47_markdown(res))
print(f"wrote {inet.RESULTS47.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
