"""Batch 33's results.json, RESULTS.md and models/input_gate.json's colour limit, from batch 32's measurements.csv.
Usage: python experiments/batch33_colour_limit/results.py"""
from helpers import config, records
from helpers.app import input_checks
from helpers.evaluation import input_gate as ig
from helpers.reporting import batch31

res = ig.compute33()
records.write_json(res, ig.RESULTS33)
(ig.BATCH33 / "RESULTS.md").write_text(batch31.results33_markdown(res))
gate = ig.shipped_from_results()
if gate:
    records.write_json(gate, input_checks.GATE_FILE)
print(f"wrote {ig.RESULTS33.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
