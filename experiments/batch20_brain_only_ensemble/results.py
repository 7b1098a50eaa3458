"""Batch 20's results.json and RESULTS.md from the run records; --apply writes the warning it chose into the model it
ships. Usage: python experiments/batch20_brain_only_ensemble/results.py [--apply]"""
import sys

from helpers import config, records
from helpers.evaluation import shipped_schedule as ss
from helpers.reporting import batch19

res = batch19.compute20()
records.write_json(res, ss.RESULTS20)
(ss.BATCH20 / "RESULTS.md").write_text(batch19.results20_markdown(res))
print(f"wrote {ss.RESULTS20.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}")
if "--apply" in sys.argv:
    print(f"warning written into {res.get('shipped')}: {batch19.apply20(res)}")
