"""Batch 22's results.json and RESULTS.md from candidates.csv; --apply refits the chosen rule on the shipped model
(the latest deciding batch's model, else the default one), writes it into the model's files and records its firing there.
Usage (repository root; --apply needs BRAIN_MRI_DATA): python experiments/batch22_warning_scores/results.py [--apply]"""
import sys

from helpers import config, records
from helpers.evaluation import warning_rule
from helpers.evaluation import warning_scores as ws
from helpers.reporting import batch21, shipped

res = batch21.compute22()
if "--apply" in sys.argv and res.get("choice"):
    name = shipped.shipped_model() or config.DEFAULT_MODEL_NAME  # the latest deciding batch's (21 shipped none)
    res = batch21.compute22(shipped=warning_rule.apply22(name, res["choice"]))
records.write_json(res, ws.RESULTS22)
(ws.BATCH22 / "RESULTS.md").write_text(batch21.results22_markdown(res))
print(f"wrote {ws.RESULTS22.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}; shipped: {res.get('shipped')}")
