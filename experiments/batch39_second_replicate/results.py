"""Batch 39's results.json and RESULTS.md from batches 35's, 37's and 39's views.csv.gz (and, for the shipped
model's block, batch 37's). Usage: python experiments/batch39_second_replicate/results.py"""
from helpers import config, records
from helpers.evaluation import views_on_merges as vm
from helpers.reporting import batch37

res = batch37.compute39()
records.write_json(res, vm.RESULTS39)
(vm.BATCH39 / "RESULTS.md").write_text(batch37.results39_markdown(res))
print(f"wrote {vm.RESULTS39.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
