"""Batch 31 (experiments/batch31_calibration/PLAN.md): a binary recalibration of P(tumour) against the temperature.

Each candidate (BINARY_KINDS, beside the incumbent "temperature") is fitted per LOCO run on that
run's validation rows (batch 29's validation.csv) and scored by the ECE of P(tumour) on the run's held-out sources,
plain and brain-only view; and fitted on the shipped model's union validation rows (measured once by `measure_union`
into union_validation.csv) and scored by its union test ECE per collection. Everything else reads saved files.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..modeling import operating_point as op
from . import healthy_variety as hv
from . import threshold_study as ts

# Binary recalibration of P(tumour) = 1 - P(no tumour): P' = sigmoid(slope * logit(P) + intercept), fitted on
# validation rows with every collection weighted equally. "platt" fits slope and intercept; "anchored" fits the
# slope with the intercept set so that the call threshold maps to exactly 0.5. Monotone, so a call at threshold t is
# the same call at map(t). Neither lowered the held-out ECE (RESULTS.md): nothing outside this study uses them.
BINARY_KINDS = ("platt", "anchored")
P_CLIP = 1e-6


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), P_CLIP, 1 - P_CLIP)
    return np.log(p) - np.log1p(-p)


def binary_map(p, binary: dict | None):
    """P(tumour) through the recalibration `binary` ({slope, intercept}); None: unchanged."""
    if not binary:
        return p
    out = 1.0 / (1.0 + np.exp(-(float(binary["slope"]) * logit(p) + float(binary["intercept"]))))
    return float(out) if np.ndim(out) == 0 else out


def fit_binary(p: np.ndarray, tumour: np.ndarray, collections, kind: str, threshold: float) -> dict:
    """{kind, slope, intercept, threshold_before, threshold}: the map and the call threshold it carries."""
    from scipy.optimize import minimize, minimize_scalar

    if kind not in BINARY_KINDS:
        raise ValueError(f"unknown binary calibration {kind!r}; known: {', '.join(BINARY_KINDS)}")
    z, y = logit(p), np.asarray(tumour, float)
    w = op.collection_weights(collections)
    zt = float(logit(threshold))

    def nll(a, b):
        s = a * z + b  # binary log-likelihood in a numerically safe form
        return float(np.average(np.logaddexp(0.0, s) - y * s, weights=w))

    if kind == "platt":
        a, b = minimize(lambda v: nll(np.exp(v[0]), v[1]), x0=[0.0, 0.0], method="Nelder-Mead",
                        options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000}).x
        slope, intercept = float(np.exp(a)), float(b)
    else:
        la = minimize_scalar(lambda v: nll(np.exp(v), -np.exp(v) * zt), bounds=(np.log(0.02), np.log(50.0)),
                             method="bounded").x
        slope = float(np.exp(la))
        intercept = -slope * zt
    cal = {"kind": kind, "slope": slope, "intercept": intercept, "threshold_before": float(threshold)}
    cal["threshold"] = 0.5 if kind == "anchored" else float(binary_map(float(threshold), cal))
    return cal


BATCH31 = config.EXPERIMENTS_DIR / "batch31_calibration"
RESULTS31 = BATCH31 / "results.json"
UNION_VAL31 = BATCH31 / "union_validation.csv"
MODEL31 = "brain_tumor_hv_bo4"  # the model shipped when the batch was written
INCUMBENT31 = "temperature"
KINDS31 = (INCUMBENT31, *BINARY_KINDS)
GAIN31, WINS31, PREFER31 = 0.01, 5, 0.005  # PLAN.md: 1 point, 5 of 7 run sets; platt over anchored at 0.5 point


def _fit(kind: str, p, y, c, t: float) -> dict | None:
    return None if kind == INCUMBENT31 else fit_binary(p, y, c, kind, t)


def _threshold(cal: dict | None, t: float) -> float:
    return float(t) if cal is None else float(cal["threshold"])


def measure_union(name: str = MODEL31, u: union_split.Union | None = None, X=None) -> pd.DataFrame:
    """The shipped model's union validation rows: collection, tumour, P(tumour) at its recorded temperature."""
    import keras

    from ..modeling import architectures  # noqa: F401 - registers the custom layers
    from . import warning_scores as ws

    rec = records.read_json(config.MODELS_DIR / name / "record.json")
    u = union_split.build() if u is None else u
    X = union_split.union_arrays(u) if X is None else X
    _, va, _ = union_split.fold_rows(u.table, None)
    m = keras.saving.load_model(config.MODELS_DIR / name / rec["keras_file"], compile=False)
    z = ws.logits_and_features(m, X[u.table.index.get_indexer(va.index)])[0]
    return pd.DataFrame({"row": va.index.to_numpy(), "collection": va["collection"].to_numpy(),
                         "tumour": (va["label"] != config.NO_TUMOUR).to_numpy(),
                         "p_tumour": np.round(ws.p_tumour(z, float(rec["temperature"])), 6)})


def heldout(val: pd.DataFrame, runs: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ECE per run, kind, held-out source and view; each run's fitted maps)."""
    rows, fits = [], []
    vals = {k: g for k, g in val.groupby(["recipe", "seed", "fold"], sort=False)}
    for r in runs:
        key = ts._run_key(r)
        if key not in vals or r.get("pred") is None:
            continue
        g, t = vals[key], float(r["operating_point"]["threshold"])
        pv, yv, cv = g["p_tumour"].to_numpy(float), g["tumour"].to_numpy(bool), g["collection"].to_numpy()
        pred = r["pred"]
        for kind in KINDS31:
            cal = _fit(kind, pv, yv, cv, t)
            fits.append({"recipe": key[0], "seed": key[1], "fold": key[2], "kind": kind,
                         **({k: cal[k] for k in ("slope", "intercept", "threshold")} if cal else
                            {"slope": None, "intercept": None, "threshold": t})})
            for src in union_split.fold_sources(key[2]):
                s = pred[pred["source"] == src]
                y = (s["label"] != config.NO_TUMOUR).to_numpy()
                for view, (pcol, _) in hv.VIEWS.items():
                    if pcol not in s:
                        continue
                    p = s[pcol].to_numpy(float)
                    q = np.asarray(binary_map(p, cal), float)
                    moved = int(((p >= t) != (q >= _threshold(cal, t))).sum())
                    rows.append({"recipe": key[0], "seed": key[1], "fold": key[2], "kind": kind, "source": src,
                                 "view": view, "n": len(p), "ece": op.ece(q, y), "calls_moved": moved})
    return pd.DataFrame(rows), pd.DataFrame(fits)


def union_test(uval: pd.DataFrame, name: str = MODEL31) -> tuple[pd.DataFrame, dict]:
    """(ECE per kind and collection of the union test rows; the maps fitted on the union validation rows)."""
    rec = records.read_json(config.MODELS_DIR / name / "record.json")
    t = float(rec["operating_point"]["threshold"])
    te = pd.read_csv(config.MODELS_DIR / name / "union_predictions.csv")
    pv, yv, cv = uval["p_tumour"].to_numpy(float), uval["tumour"].to_numpy(bool), uval["collection"].to_numpy()
    rows, fits = [], {}
    for kind in KINDS31:
        cal = fits[kind] = _fit(kind, pv, yv, cv, t)
        for c, g in te.groupby("collection"):
            p = g["p_tumour"].to_numpy(float)
            y = (g["label"] != config.NO_TUMOUR).to_numpy()
            q = np.asarray(binary_map(p, cal), float)
            moved = int(((p >= t) != (q >= _threshold(cal, t))).sum())
            rows.append({"kind": kind, "collection": c, "n": len(p), "ece": op.ece(q, y), "calls_moved": moved})
    return pd.DataFrame(rows), fits


def decide(per: dict[str, dict[str, float]], union_mean: dict[str, float]) -> tuple[str, list[dict], str]:
    """PLAN.md: (kind, one row per candidate, note). per[kind][run set] = held-out ECE; union_mean[kind] = mean over
    collections of the union test ECE."""
    sets = list(per[INCUMBENT31])
    base = float(np.mean([per[INCUMBENT31][s] for s in sets]))
    rows = []
    for k in BINARY_KINDS:
        m = float(np.mean([per[k][s] for s in sets]))
        wins = sum(per[k][s] < per[INCUMBENT31][s] for s in sets)
        ok_union = union_mean[k] <= union_mean[INCUMBENT31] + 1e-12
        rows.append({"kind": k, "ece": m, "delta": m - base, "wins": int(wins), "of": len(sets),
                     "union_ece": union_mean[k], "qualifies": bool(base - m >= GAIN31 - 1e-12 and wins >= WINS31
                                                                   and ok_union)})
    head = (f"temperature: held-out ECE {base:.1%} (mean of {len(sets)} run sets), union test {union_mean[INCUMBENT31]:.1%}"
            " (mean of the collections)")
    parts = [f"{r['kind']}: {r['ece']:.1%} ({r['delta'] * 100:+.1f} points, below on {r['wins']} of {r['of']}), "
             f"union test {r['union_ece']:.1%}" + (" — qualifies" if r["qualifies"] else " — does not qualify")
             for r in rows]
    ok = {r["kind"]: r for r in rows if r["qualifies"]}
    if not ok:
        return INCUMBENT31, rows, f"{head}; " + "; ".join(parts) + ". None qualifies: the temperature stays"
    win = "anchored" if "anchored" in ok else "platt"
    if len(ok) == 2 and ok["anchored"]["ece"] - ok["platt"]["ece"] >= PREFER31 - 1e-12:
        win = "platt"
    return win, rows, f"{head}; " + "; ".join(parts) + f". `{win}` ships"


def compute(val: pd.DataFrame | None = None, uval: pd.DataFrame | None = None) -> dict:
    """Batch 31's results from batch 29's validation.csv, union_validation.csv and the run records."""
    if val is None:
        if not ts.VALIDATION29.is_file():
            return {"decision": "batch 29's validation.csv is not measured: no decision"}
        val = pd.read_csv(ts.VALIDATION29)
    if uval is None:
        if not UNION_VAL31.is_file():
            return {"decision": "union_validation.csv is not measured yet: no decision"}
        uval = pd.read_csv(UNION_VAL31)
    runs = ts.runs29()
    ece, fits = heldout(val, runs)
    per = {}
    for kind, g in ece.groupby("kind"):
        by_set = g.groupby(["recipe", "seed"])
        per[kind] = {f"{rc}@{sd}": float(x["ece"].mean()) for (rc, sd), x in by_set if len(x) == hv.N_NUMBERS}
    complete = set.intersection(*(set(v) for v in per.values()))
    per = {k: {s: per[k][s] for s in sorted(complete)} for k in KINDS31}
    ut, ufits = union_test(uval)
    union_mean = ut.groupby("kind")["ece"].mean().to_dict()
    kind, rows, note = decide(per, union_mean)
    return records.jsonable({
        "runs": len(runs), "run_sets": sorted(complete), "per_run_set": per, "rows": rows, "choice": kind,
        "decision": note, "heldout": ece.to_dict("records"), "fits": fits.to_dict("records"),
        "union_test": ut.to_dict("records"), "union_fits": ufits, "model": MODEL31,
        "calls_moved": {"heldout": int(ece["calls_moved"].sum()), "union_test": int(ut["calls_moved"].sum())}})


def results() -> dict | None:
    return records.read_json(RESULTS31)
