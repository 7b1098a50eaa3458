"""The input gate (data.gate, chosen by experiments/batch32_input_gate/PLAN.md): its distance, the shipped file
re-derived from the committed measurements, and real slices the old limits refused."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.app import input_checks
from helpers.data import gate
from helpers.evaluation import input_gate as ig


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    h = rng.dirichlet(np.ones(gate.BINS), n)
    return pd.DataFrame({"colour": rng.random(n) * 5, "dark_frac": rng.random(n), "corner_dark": rng.random(n),
                         **{c: h[:, k] for k, c in enumerate(gate.HIST)}})


def test_knn_distance_is_scikit_learns_and_the_limit_sits_beyond_every_train_row():
    from sklearn.neighbors import NearestNeighbors

    train, query = _rows(400, 0), _rows(50, 1)
    g = gate.fit_gate(train, "knn")
    ref = np.asarray(g["reference"])
    z = (query[gate.KNN_FEATURES].to_numpy() - np.asarray(g["mean"])) / np.asarray(g["scale"])
    want = NearestNeighbors(n_neighbors=gate.KNN_K).fit(ref).kneighbors(z)[0].mean(axis=1)
    np.testing.assert_allclose(gate.knn_distance(g, query), want, rtol=1e-9, atol=1e-9)
    assert not gate.gate_rejects(train, g).any()  # no train row refused (its own row is one of its neighbours)
    far = query.copy()
    far[gate.HIST] = 0.0
    far["h0"] = 1.0
    far["dark_frac"] = far["corner_dark"] = 0.0
    assert gate.gate_rejects(far, g).all()
    assert gate.gate_rejects({**train.iloc[0].to_dict(), "colour": 60.0}, g).all()  # a colour photograph
    with pytest.raises(ValueError, match="unknown gate"):
        gate.fit_gate(train, "isolation")


def test_the_extremes_gate_moves_each_limit_just_beyond_the_train_rows():
    train = _rows(300, 2)
    g = gate.fit_gate(train, "extremes")
    assert g["dark_frac_min"] < train["dark_frac"].min() and g["colour_max"] > train["colour"].max()
    assert not gate.gate_rejects(train, g).any()


def test_the_shipped_gate_is_fitted_on_the_committed_union_train_rows():
    """models/input_gate.json is what batch 32's rule chose, fitted on measurements.csv's train rows again."""
    res = ig.results()
    shipped = input_checks.shipped_gate()
    assert res["choice"] == shipped["kind"] == "knn"
    m = pd.read_csv(ig.MEASURED32)
    again = gate.fit_gate(m[m["split"] == "train"], shipped["kind"])
    assert again["n_train"] == shipped["n_train"]
    assert again["distance_max"] == pytest.approx(shipped["distance_max"], rel=1e-9)
    assert np.allclose(again["reference"], shipped["reference"])
    # the colour limit: batch 33's midway one when it chose it, else the fitted one
    r33 = ig.results33()
    want = r33["midway"] if r33 and r33["choice"] == "midway" else again["colour_max"]
    assert shipped["colour_max"] == pytest.approx(want, rel=1e-9)
    from helpers import records

    assert records.canonical_json(records.read_json(input_checks.GATE_FILE)) == records.canonical_json(
        ig.shipped_from_results())


def test_the_shipped_gate_refuses_every_probe_the_old_one_refused():
    pr = ig.probe_features({**ig.probes(), **ig.colour_probes()})
    old = gate.gate_rejects(pr, gate.CURRENT_GATE)
    new = gate.gate_rejects(pr, input_checks.shipped_gate())
    assert old.sum() >= 13 and not (old & ~new).any(), pr["probe"][old & ~new].tolist()


@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("BRAIN_MRI_DATA"), reason="needs $BRAIN_MRI_DATA")
def test_measured_features_are_what_the_upload_path_computes_and_tight_crops_get_a_verdict():
    """Forty committed rows measured again through the dashboard's own path (process_upload's features), and two
    obvious tumours in tight crops (no black corners) that the old limits refused now get read."""
    from helpers.app import upload
    from helpers.data import collections as cx

    roots = cx.available()
    m = pd.read_csv(ig.MEASURED32)
    sample = m[m["collection"].isin(list(roots))].sample(40, random_state=0)
    for _, r in sample.iterrows():
        data = (Path(roots[r["collection"]]) / r["path"]).read_bytes()
        res = upload.process_upload(r["path"], data, predictor=None, with_gradcam=False)
        f = res.features
        for k in ("colour", "dark_frac", "corner_dark", *gate.HIST):
            assert f[k] == pytest.approx(r[k], abs=2e-5), (r["path"], k)
    tight = [("sartaj-testing", "pituitary_tumor/image(38).jpg"), ("br35h", "yes/y1406.jpg")]
    for c, p in tight:
        if c not in roots:
            continue
        row = m[(m["collection"] == c) & (m["path"] == p)].iloc[0]
        assert gate.gate_rejects(row.to_dict(), gate.CURRENT_GATE).all()  # the old limits refused it
        res = upload.process_upload(p, (Path(roots[c]) / p).read_bytes(), predictor=None, with_gradcam=False)
        assert not any(w.startswith("unlike the training MRI slices") for w in res.warnings), (p, res.warnings)
