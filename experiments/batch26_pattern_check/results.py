"""Batch 26's results.json and RESULTS.md from measurements.json.
Usage: python experiments/batch26_pattern_check/results.py"""
from helpers import config, records
from helpers.evaluation import pattern_study as ps

res = ps.compute()
records.write_json(res, ps.RESULTS26)
(ps.BATCH26 / "RESULTS.md").write_text(ps.markdown(res))
print(f"wrote {ps.RESULTS26.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
