"""Batch 24's results.json and RESULTS.md from the run records.
Usage: python experiments/batch24_seed_ensemble/results.py"""
from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch24

res = batch24.compute24()
records.write_json(res, ss.RESULTS24)
(ss.BATCH24 / "RESULTS.md").write_text(batch24.results24_markdown(res))
print(f"wrote {ss.RESULTS24.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
