"""Batch 6's rule (PLAN.md): validation partial-label NLL after temperature scaling, 15 vs 30 epochs.
Usage: python experiments/batch6_schedule/decide.py  (writes DECISION.md beside this file)"""
from __future__ import annotations

from pathlib import Path

import keras

from helpers import config, records
from helpers.data import union_split
from helpers.modeling import architectures, partial_labels, train_union  # noqa: F401 - architectures registers layers
from helpers.reporting.cross_collection import union_test_cells

HERE = Path(__file__).parent
RUNS = {"15 epochs (models/brain_tumor_xc)": records.files(config.MODELS_DIR / "brain_tumor_xc"),
        "30 epochs (multi_e30__union)": records.files(HERE, "multi_e30__union")}

u = union_split.build()
X = union_split.union_arrays(u)
_, va, _ = union_split.fold_rows(u.table, None)
M = partial_labels.label_masks(va["label"])
rows = []
for label, f in RUNS.items():
    rec = records.read(f.record)
    model = keras.saving.load_model(f.weights, compile=False)
    nll = partial_labels.partial_nll(train_union.logits_of(model, X[va.index]), M, rec["temperature"])
    rows.append((label, nll, rec))
gain = rows[0][1] - rows[1][1]
ship = gain >= 0.01
lines = ["# Batch 6: decision (written by decide.py)", "",
         "| run | validation NLL (partial labels, after temperature) | union test sensitivity | specificity | "
         "Kaggle leak-free 4-class accuracy |", "|---|---|---|---|---|"]
lines += [f"| {label} | {nll:.4f} | {union_test_cells(rec)} |" for label, nll, rec in rows]
lines += ["", f"NLL lower by {gain:.4f} with 30 epochs: {'ship the 30-epoch model' if ship else 'keep the 15-epoch model'}"
          " (rule: lower by >= 0.01).", ""]
(HERE / "DECISION.md").write_text("\n".join(lines))
print("\n".join(lines))
