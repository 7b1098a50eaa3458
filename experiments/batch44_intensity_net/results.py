"""Batch 44's results.json and RESULTS.md from this folder's and batch 37's views.csv.gz.
Usage: python experiments/batch44_intensity_net/results.py"""
from helpers import config, records
from helpers.evaluation import intensity_net as inet
from helpers.reporting import batch44

res = inet.compute44()
records.write_json(res, inet.RESULTS44)
(inet.BATCH44 / "RESULTS.md").write_text(batch44.results44_markdown(res))
print(f"wrote {inet.RESULTS44.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
