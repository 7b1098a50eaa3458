"""Batch 34's results.json and RESULTS.md from the run records. Usage: python experiments/batch34_weight_averaging/results.py"""
from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch31

res = batch31.compute34()
records.write_json(res, ss.RESULTS34)
(ss.BATCH34 / "RESULTS.md").write_text(batch31.results34_markdown(res))
print(f"wrote {ss.RESULTS34.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
