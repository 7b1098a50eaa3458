"""Batch 32's results.json, RESULTS.md and, when a candidate ships, models/input_gate.json, from measurements.csv.
Usage: python experiments/batch32_input_gate/results.py"""
from helpers import config, records
from helpers.app import input_checks
from helpers.evaluation import input_gate as ig
from helpers.reporting import batch31

res = ig.compute()
records.write_json(res, ig.RESULTS32)
(ig.BATCH32 / "RESULTS.md").write_text(batch31.results32_markdown(res))
gate = ig.shipped_from_results()  # with batch 33's colour limit when it chose one
if gate:
    records.write_json(gate, input_checks.GATE_FILE)
print(f"wrote {ig.RESULTS32.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
