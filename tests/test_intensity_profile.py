"""helpers.modeling.intensity_profile: layout-blind histogram features, the profile-only classifier and the ranking of a
model's missed tumours by how no-tumour-like their grey levels are."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import config
from helpers.modeling import intensity_profile as ip

CLS = list(config.CLASSES)


def _images(n: int, mean: float, seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.zeros((n, size, size), np.uint8)
    X[:, 4:-4, 4:-4] = np.clip(rng.normal(mean, 20, (n, size - 8, size - 8)), 11, 255).astype(np.uint8)
    return X


def test_features_are_normalised_histograms_blind_to_layout():
    X = _images(3, 120, 0)
    F = ip.features(X)
    assert F.shape == (3, 2 * ip.BINS) and F.dtype == np.float32
    assert np.allclose(F[:, :ip.BINS].sum(1), 1) and np.allclose(F[:, ip.BINS:].sum(1), 1)
    # mirrors and 90-degree rotations move pixels but keep both regions' histograms
    assert np.allclose(ip.features(X[:, :, ::-1]), F) and np.allclose(ip.features(np.rot90(X, axes=(1, 2)).copy()), F)
    # grey levels do change them
    assert not np.allclose(ip.features(_images(3, 200, 0)), F)
    # an all-dark image has no pixels to count: zeros, not NaN
    assert np.all(ip.features(np.zeros((1, 16, 16), np.uint8)) == 0)
    with pytest.raises(ValueError, match="uint8"):
        ip.features(np.zeros((2, 16, 16), np.float32))


def test_fit_predict_learns_grey_levels_and_fills_absent_classes():
    means = {0: 60, 1: 110, 2: 160, 3: 210}
    ytr = np.repeat([0, 1, 2], 60)  # class 3 absent from training
    Xtr = np.concatenate([_images(60, means[c], c) for c in (0, 1, 2)])
    Xte = np.concatenate([_images(5, means[c], 10 + c) for c in (0, 1, 2)])
    P = ip.fit_predict(ip.features(Xtr), ytr, ip.features(Xte))
    assert P.shape == (15, 4) and np.allclose(P.sum(1), 1) and np.all(P[:, 3] == 0)
    assert (P.argmax(1) == np.repeat([0, 1, 2], 5)).all()


def _pred_table(labels, p_tumour, key="leakfree_test"):
    no_t = CLS.index(config.NO_TUMOUR)
    rows = []
    for i, (lbl, pt) in enumerate(zip(labels, p_tumour)):
        probs = np.full(4, pt / 3)
        probs[no_t] = 1 - pt
        rows.append({"path": f"f{i}.jpg", "eval_split": key, "label": lbl, **dict(zip(CLS, probs)), "p_tumour": pt,
                     "prediction": CLS[int(probs.argmax())] if pt < 0.5 else lbl})
    return pd.DataFrame(rows)


def test_misses_concentrated_at_low_profile_are_found():
    n = 100
    labels = ["glioma"] * n + [config.NO_TUMOUR] * 20
    profile_p = np.r_[np.linspace(0.01, 0.99, n), np.full(20, 0.1)]
    model_p = np.r_[np.where(np.arange(n) < 3, 0.2, 0.95), np.full(20, 0.05)]  # misses: the 3 lowest profiles
    res = ip.misses_by_profile(_pred_table(labels, model_p), _pred_table(labels, profile_p))
    assert res["n_tumours"] == n and res["n_missed"] == 3 and res["missed_in_lowest"] == 3
    assert res["lowest_n"] == 10 and sum(s["tumours"] for s in res["strata"]) == n
    assert res["sensitivity_lowest"] == pytest.approx(0.7) and res["sensitivity_rest"] == 1.0
    assert res["auc_low_profile_for_misses"] == 1.0 and res["fisher_p_lowest_vs_rest"] < 0.01
    assert res["missed_rank_percentiles"] == [0.0, 1.0, 2.0]
    table = ip.strata_table(res)
    assert list(table["missed"]) == [3] + [0] * 9


def test_misses_spread_evenly_are_not_flagged():
    n = 100
    labels = ["meningioma"] * n
    profile_p = np.linspace(0.01, 0.99, n)
    model_p = np.where(np.arange(n) % 25 == 12, 0.2, 0.95)  # misses at ranks 12, 37, 62, 87
    res = ip.misses_by_profile(_pred_table(labels, model_p), _pred_table(labels, profile_p))
    assert res["n_missed"] == 4 and res["missed_in_lowest"] == 0
    assert 0.3 < res["auc_low_profile_for_misses"] < 0.7 and res["fisher_p_lowest_vs_rest"] == 1.0


def test_no_misses_and_no_tumours():
    res = ip.misses_by_profile(_pred_table(["glioma"] * 20, [0.9] * 20), _pred_table(["glioma"] * 20, [0.5] * 20))
    assert res["n_missed"] == 0 and res["auc_low_profile_for_misses"] is None
    assert ip.misses_by_profile(_pred_table(["notumor"] * 5, [0.1] * 5), _pred_table(["notumor"] * 5, [0.1] * 5)) == {}
    assert ip.strata_table({}).empty


def test_report_ranks_a_models_misses_and_states_the_finding(phantom_data, tmp_path, monkeypatch, session_cache):
    from helpers.evaluation import baselines as bl_mod
    from helpers.reporting import plots
    from helpers.reporting import context, findings, runs, tables

    monkeypatch.setattr(config, "cache_dir", lambda: session_cache)
    n = 100
    labels = ["glioma"] * n + [config.NO_TUMOUR] * 20
    profile_p = np.r_[np.linspace(0.01, 0.99, n), np.full(20, 0.1)]
    model_p = np.r_[np.where(np.arange(n) < 3, 0.2, 0.95), np.full(20, 0.05)]
    _pred_table(labels, model_p).to_csv(tmp_path / "brain_tumor_cnn.predictions.csv", index=False)
    _pred_table(labels, profile_p).to_csv(tmp_path / bl_mod.PROFILE_PREDICTIONS, index=False)
    ctx = context.RunContext(root=phantom_data, synthetic=True, smoke=False, out_dir=tmp_path, fig_dir=tmp_path,
                            model_dir=tmp_path)
    res, ranked = runs.profile_misses(ctx)
    assert res["n_missed"] == 3 and res["n_missed_groups"] == 3 and len(ranked) == n
    assert runs.profile_misses(ctx, "capstone_cnn") == ({}, None)  # no predictions: nothing to rank
    blk = lambda v: {"value": v, "ci": [v - 0.02, v + 0.02]}  # noqa: E731
    baselines = {"intensity_only": {"leakfree_test": {"accuracy": blk(0.781)}, "size512_subset": {"accuracy": blk(0.809)}},
                 "metadata_only": {"leakfree_test": {"accuracy": blk(0.706)}},
                 "majority_class": {"leakfree_test": {"accuracy": blk(0.288)}}}
    md = findings.profile_markdown(res, baselines)
    assert "78.1%" in md and "80.9%" in md and "70.6%" in md and "3 of 3 in the lowest tenth" in md
    assert "percentiles 0, 1, 2" in md
    table = tables.profile_table(ctx, {"brain_tumor_cnn": {}, "capstone_cnn": {}})
    assert list(table.index) == ["our model"] and table.iloc[0]["missed tumours"] == "3 of 100"
    # a model that saw leak-free test images in training is left out: its hits there are partly memory
    seen = {"evaluation": {"leakfree_test": {"n_in_training_split": 5}}}
    assert tables.profile_table(ctx, {"brain_tumor_cnn": seen}).empty
    images, titles = tables.lowest_profile_tumours(ctx, None)
    assert images == [] and titles == []
    plots.profile_misses(ranked)
    plots.close_all()
    h = {"data": {}, "models": {}, "profile_misses": {"brain_tumor_cnn": res},
         "baselines": {"intensity_only": {"leakfree_accuracy": 0.781, "size512_accuracy": 0.809},
                       "metadata_only": {"leakfree_accuracy": 0.706}}}
    text = findings.findings_markdown(h)
    assert "**The acquisition shortcut.**" in text and "78.1%" in text and "All 3 tumours our model misses" in text
    assert "70.0%" in text and "100.0%" in text  # sensitivity in the lowest tenth and elsewhere
    assert findings.profile_markdown({}, {}) == "_No intensity-profile baseline recorded._"
