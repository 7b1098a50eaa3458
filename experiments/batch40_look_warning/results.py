"""Batch 40's results.json and RESULTS.md from looks.csv.gz, cuts.json and batches 35, 37 and 39's views.csv.gz
(no data needed). Usage: python experiments/batch40_look_warning/results.py"""
from helpers import config, records
from helpers.evaluation import look_warning as lw
from helpers.reporting import batch40

res = lw.compute()
records.write_json(res, lw.RESULTS40)
(lw.BATCH40 / "RESULTS.md").write_text(batch40.results40_markdown(res))
print(f"wrote {lw.RESULTS40.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
