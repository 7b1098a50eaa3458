"""Batch 19's results.json and RESULTS.md from the run records. Usage: python experiments/batch19_ensemble_at_40/results.py"""
from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch19

res = batch19.compute19()
records.write_json(res, ss.RESULTS19)
(ss.BATCH19 / "RESULTS.md").write_text(batch19.results19_markdown(res))
print(f"wrote {ss.RESULTS19.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
