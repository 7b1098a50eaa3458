"""Batch 25's results.json and RESULTS.md from candidates.csv.
Usage: python experiments/batch25_disagreement/results.py"""
from helpers import config, records
from helpers.evaluation import disagreement as dg
from helpers.reporting import batch24

res = batch24.compute25()
records.write_json(res, dg.RESULTS25)
(dg.BATCH25 / "RESULTS.md").write_text(batch24.results25_markdown(res))
print(f"wrote {dg.RESULTS25.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
