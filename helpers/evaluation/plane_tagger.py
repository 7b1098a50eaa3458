"""Batch 43 (experiments/batch43_plane_tagger/PLAN.md): the plane tagger refitted with healthy-extra's known planes
(`v2`) against the shipped one (`v1`), on Kaggle's hold-out hand labels and leave one healthy-extra source out.
Needs the data (the Kaggle set and healthy-extra); the numbers go to the batch's results.json."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from . import scan_type as st

BATCH43 = config.EXPERIMENTS_DIR / "batch43_plane_tagger"
RESULTS43 = BATCH43 / "results.json"
HOLDOUT_SLACK43, GAIN43 = 0.02, 0.10  # PLAN.md: hold-out at most 2 points below v1, LOSO at least 10 points above


def healthy_extra_planes():
    """(rows, prepared images) of healthy-extra's union slices with a known plane (index.csv): columns source,
    split, plane."""
    from ..data import union_split

    u = union_split.build()
    tab = u.table
    he = tab[(tab["collection"] == "healthy-extra") & tab["plane"].isin(st.PLANES)]
    return he[["source", "split", "plane"]].reset_index(drop=True), union_split.union_arrays(u)[he.index.to_numpy()]


def _take(F: dict, k: np.ndarray) -> dict:
    return {name: v[k] for name, v in F.items()}


def _acc(pred, truth) -> dict:
    pred, truth = np.asarray(pred), np.asarray(truth)
    return {"n": int(len(truth)), "right": float((pred == truth).mean()) if len(truth) else None,
            "per_plane": {pl: {"n": int((truth == pl).sum()), "right": float((pred[truth == pl] == pl).mean())}
                          for pl in st.PLANES if (truth == pl).any()}}


def measure(data_dir=None) -> dict:
    from ..data.layouts import resolve_data_dir

    X, ordered = st.dataset_arrays(resolve_data_dir(data_dir))
    lab = st.attach_rows(st.read_labels(), ordered["path"])
    F = st.features(X)
    he, Xh = healthy_extra_planes()
    Fh = st.features(Xh)
    v1 = st.load_shipped()["typer"]
    y, train = he["plane"].to_numpy(), (he["split"] == "train").to_numpy()
    v2 = st.fit(F, lab, extra=(_take(Fh, train), y[train]))
    out = {"holdout": {"v1": st.holdout_check(v1, F, lab), "v2": st.holdout_check(v2, F, lab)}}
    v1_he = v1.tag(Xh, Fh)["plane"].to_numpy()
    loso_pred = np.empty(len(he), object)
    per_source = {}
    for src in sorted(he["source"].unique()):
        k = (he["source"] == src).to_numpy()
        t = st.fit(F, lab, extra=(_take(Fh, train & ~k), y[train & ~k]))
        loso_pred[k] = t.tag(Xh[k], _take(Fh, k))["plane"].to_numpy()
        per_source[src] = {"v1": _acc(v1_he[k], y[k]), "v2": _acc(loso_pred[k], y[k])}
    out["loso"] = {"v1": _acc(v1_he, y), "v2": _acc(loso_pred, y), "per_source": per_source}
    test = (he["split"] == "test").to_numpy()
    out["test"] = {"v1": _acc(v1_he[test], y[test]), "v2": _acc(v2.tag(Xh[test], _take(Fh, test))["plane"], y[test])}
    out["n_extra_train"] = int(train.sum())
    ok1 = out["holdout"]["v2"]["accuracy"] >= out["holdout"]["v1"]["accuracy"] - HOLDOUT_SLACK43 - 1e-12
    ok2 = out["loso"]["v2"]["right"] >= out["loso"]["v1"]["right"] + GAIN43 - 1e-12
    out["ships"] = bool(ok1 and ok2)
    h, lo = out["holdout"], out["loso"]
    out["decision"] = (
        f"Kaggle hold-out: v1 {h['v1']['accuracy']:.1%}, v2 {h['v2']['accuracy']:.1%} (at most 2 points below: "
        f"{'yes' if ok1 else 'no'}); healthy-extra, each source left out of v2's fit: v1 {lo['v1']['right']:.1%}, "
        f"v2 {lo['v2']['right']:.1%} of {lo['v1']['n']:,} slices (at least 10 points above: {'yes' if ok2 else 'no'})"
        + (": v2 ships" if out["ships"] else ": v1 stays"))
    return records.jsonable(out)


def results() -> dict | None:
    return records.read_json(RESULTS43)


def accuracy_elsewhere() -> dict:
    """{scan_type.ELSEWHERE: {right, n, on}}: how often the shipped tagger named healthy-extra's known planes
    (slices from collections it was not fitted on); {} before batch 43 measured it."""
    v1 = ((results() or {}).get("loso") or {}).get("v1")
    if not v1 or v1.get("right") is None:
        return {}
    return {st.ELSEWHERE: {"right": round(v1["right"], 4), "n": v1["n"],
                           "on": "healthy-extra's slices with a known plane (experiments/batch43_plane_tagger)"}}


def write_accuracy_elsewhere(path=st.SHIPPED):
    """Add accuracy_elsewhere() to the shipped tagger's file without refitting it (the tagger is unchanged)."""
    return records.write_json({**records.read_json(path), **accuracy_elsewhere()}, path, compact=True)
