"""Batch 41's results.json and RESULTS.md from batches 35's, 37's and 39's views.csv.gz and the union members'
records. Usage: python experiments/batch41_six_seeds/results.py"""
from helpers import config, records
from helpers.evaluation import views_on_merges as vm
from helpers.reporting import batch37

res = batch37.compute41()
records.write_json(res, vm.RESULTS41)
(vm.BATCH41 / "RESULTS.md").write_text(batch37.results41_markdown(res))
print(f"wrote {vm.RESULTS41.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
