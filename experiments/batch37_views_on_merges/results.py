"""Batch 37's results.json and RESULTS.md from views.csv.gz (and, for the shipped model's block, batch 38's
four-seed estimate). Usage: python experiments/batch37_views_on_merges/results.py"""
from helpers import config, records
from helpers.evaluation import views_on_merges as vm
from helpers.reporting import batch37

res = batch37.compute37()
records.write_json(res, vm.RESULTS37)
(vm.BATCH37 / "RESULTS.md").write_text(batch37.results37_markdown(res))
print(f"wrote {vm.RESULTS37.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}; {res.get('ship', '')}")
