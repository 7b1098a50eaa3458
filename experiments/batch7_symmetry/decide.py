"""Batch 7's shipping rule (PLAN.md): the LOCO decision, then validation balanced accuracy (union validation
groups, call at P(tumour) >= 0.5 after temperature) of brain_tumor_xc_sym against brain_tumor_xc.
Usage: python experiments/batch7_symmetry/decide.py  (writes DECISION.md beside this file)"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from helpers import config, records
from helpers.data import union_split
from helpers.evaluation import cross_collection as xc
from helpers.modeling import architectures, train_union  # noqa: F401 - architectures registers the custom layers
from helpers.modeling.calibrate import probs_from_logits
from helpers.reporting.cross_collection import union_test_cells

HERE = Path(__file__).parent
RUNS = {"brain_tumor_xc (multi)": records.files(config.MODELS_DIR / "brain_tumor_xc"),
        "brain_tumor_xc_sym (multi_sym)": records.files(config.MODELS_DIR / "brain_tumor_xc_sym")}

keep, note = xc.symmetry_decision(xc.loco_frame(xc.read_batch(xc.BATCH4)), xc.loco_frame(xc.read_batch(xc.BATCH7)))
u = union_split.build()
X = union_split.union_arrays(u)
_, va, _ = union_split.fold_rows(u.table, None)
truth = (va["label"] != config.NO_TUMOUR).to_numpy()
rows = []
for label, f in RUNS.items():
    rec = records.read(f.record)
    if rec is None:
        continue
    model = keras.saving.load_model(f.weights, compile=False)
    P = probs_from_logits(train_union.logits_of(model, X[va.index]), rec["temperature"])
    call = 1 - P[:, config.CLASSES.index(config.NO_TUMOUR)] >= xc.CALL
    bal = (call[truth].mean() + (~call[~truth]).mean()) / 2
    rows.append((label, bal, rec))
lines = ["# Batch 7: decision (written by decide.py)", "", f"- LOCO: {note}.", ""]
if keep and len(rows) == 2:
    drop = (rows[0][1] - rows[1][1]) * 100
    ship = drop <= 2
    lines += ["| model | validation balanced accuracy | union test sensitivity | specificity | "
              "Kaggle leak-free 4-class accuracy |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {100 * bal:.1f}% | {union_test_cells(rec)} |" for label, bal, rec in rows]
    lines += ["", f"- Validation balanced accuracy {-drop:+.1f} points with the asymmetry channel: "
              + ("**ship `brain_tumor_xc_sym`**" if ship else "keep `brain_tumor_xc`")
              + " (rule: ship unless more than 2 points lower).", ""]
else:
    lines += ["- The asymmetry channel was not kept, or the union-trained candidate is missing: nothing to ship.", ""]
(HERE / "DECISION.md").write_text("\n".join(lines))
print("\n".join(lines))
