"""Batch 30's results.json and RESULTS.md from the run records.
Usage: python experiments/batch30_seed_curve/results.py"""
from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch28

res = batch28.compute30()
records.write_json(res, ss.RESULTS30)
(ss.BATCH30 / "RESULTS.md").write_text(batch28.results30_markdown(res))
print(f"wrote {ss.RESULTS30.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
