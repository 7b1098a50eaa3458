"""Batch 38's results.json and RESULTS.md from batches 35's and 37's views.csv.gz.
Usage: python experiments/batch38_four_seed_views/results.py"""
from helpers import config, records
from helpers.evaluation import views_on_merges as vm
from helpers.reporting import batch37

res = vm.compute38()
records.write_json(res, vm.RESULTS38)
(vm.BATCH38 / "RESULTS.md").write_text(batch37.results38_markdown(res))
print(f"wrote {vm.RESULTS38.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
