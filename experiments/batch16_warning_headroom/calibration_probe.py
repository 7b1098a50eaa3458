"""Batch 16 (PLAN.md): would a binary Platt step on the shipped ensemble's P(tumour) bring per-collection ECE under
3%? Validation rows only, in-sample (an optimistic bound). Writes calibration_probe.json.
Usage (repository root, BRAIN_MRI_DATA set): python experiments/batch16_warning_headroom/calibration_probe.py"""
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logsumexp

from helpers import config, records
from helpers.data import union_split
from helpers.modeling import operating_point as op
from helpers.modeling.predictor import load_model

HERE = Path(__file__).resolve().parent

u = union_split.build()
X = union_split.union_arrays(u)
name = config.DEFAULT_MODEL_NAME
rec = records.read(config.MODELS_DIR, name)
_, va, _ = union_split.fold_rows(u.table, None, rec["config"].get("collections"))
p = load_model(config.MODELS_DIR / name / "model.keras")
z = p.logits_arrays(X[u.table.index.get_indexer(va.index)]).astype(float) / p.temperature
nt = config.CLASSES.index(config.NO_TUMOUR)
L = logsumexp(np.delete(z, nt, 1), 1) - z[:, nt]  # log-odds of tumour at the shipped temperature
y = (va["label"] != config.NO_TUMOUR).to_numpy()
coll = va["collection"].to_numpy()
w = op.collection_weights(coll)
ab = minimize(lambda v: np.average(np.logaddexp(0, -(2 * y - 1) * (v[0] * L + v[1])), weights=w), [1.0, 0.0]).x


def per(pp):
    return {c: op.ece(pp[coll == c], y[coll == c]) for c in np.unique(coll)}


out = {"model": name, "rows": "union validation", "n": int(len(y)), "platt": {"a": float(ab[0]), "b": float(ab[1])},
       "ece_temperature": per(expit(L)), "ece_platt_in_sample": per(expit(ab[0] * L + ab[1]))}
records.write_json(out, HERE / "calibration_probe.json")
for k in ("ece_temperature", "ece_platt_in_sample"):
    print(k, {c: f"{v:.1%}" for c, v in out[k].items()})
