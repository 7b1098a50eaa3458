"""Batch 15's results.json and RESULTS.md from the run records; with amendment 2's single model shipped, its warning
is written into it. Usage (BRAIN_MRI_DATA set): python experiments/batch15_schedule/results.py"""
from helpers import config, records
from helpers.evaluation import ensemble_transfer as et
from helpers.evaluation import warning_rule
from helpers.reporting import batch15

res = batch15.compute15()
c = (res.get("warning") or {}).get("choice")
if c:  # amendment 2: the rule goes into the shipped single model, then its union block is read again
    warning_rule.apply(res["shipped"], c["quantile"], c["margin"], batch=15)
    res = batch15.compute15()
records.write_json(res, et.RESULTS15)
(et.BATCH15 / "RESULTS.md").write_text(batch15.results15_markdown(res))
print(f"wrote {et.RESULTS15.relative_to(config.PROJ_ROOT).as_posix()}: {res['outcome']} ({res['decision']}); "
      f"{res['single_vs_ensemble']}" + (f"; warning quantile {c['quantile']:.2f}, margin {c['margin']:g}" if c else ""))
