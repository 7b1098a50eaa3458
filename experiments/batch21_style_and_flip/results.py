"""Batch 21's results.json and RESULTS.md from the run records.
Usage: python experiments/batch21_style_and_flip/results.py"""
from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch21

res = batch21.compute21()
records.write_json(res, ss.RESULTS21)
(ss.BATCH21 / "RESULTS.md").write_text(batch21.results21_markdown(res))
print(f"wrote {ss.RESULTS21.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
