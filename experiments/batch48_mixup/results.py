"""Batch 48's results.json and RESULTS.md from this folder's and batch 37's views.csv.gz and batch 42's planes.
Usage: python experiments/batch48_mixup/results.py"""
from helpers import config, records
from helpers.evaluation import intensity_net as inet
from helpers.reporting import batch44

b = inet.B48
res = b.compute()
records.write_json(res, b.results_path)
(b.path / "RESULTS.md").write_text(batch44.results48_markdown(res))
print(f"wrote {b.results_path.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
