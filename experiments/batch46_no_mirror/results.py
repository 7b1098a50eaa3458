"""Batch 46's results.json and RESULTS.md from this folder's and batch 37's views.csv.gz and batch 42's planes.
Usage: python experiments/batch46_no_mirror/results.py"""
from helpers import config, records
from helpers.evaluation import intensity_net as inet
from helpers.reporting import batch44

res = inet.compute46()
records.write_json(res, inet.RESULTS46)
(inet.BATCH46 / "RESULTS.md").write_text(batch44.results46_markdown(res))
print(f"wrote {inet.RESULTS46.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
