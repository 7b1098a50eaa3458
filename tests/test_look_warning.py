"""Batch 40: the look score (data.look) and its study (evaluation.look_warning)."""
import json

import numpy as np
import pytest

from helpers.data import gate, look
from helpers.evaluation import look_warning as lw


def _heads(n, rng, contrast=1.0, noise=0.0):
    """n prepared-looking slices: a bright disc on black, grey levels scaled by `contrast`, optional noise."""
    yy, xx = np.mgrid[0:128, 0:128]
    out = []
    for _ in range(n):
        r = rng.uniform(40, 55)
        disc = np.hypot(yy - 64 + rng.normal(0, 2), xx - 64 + rng.normal(0, 2)) < r
        im = np.where(disc, rng.uniform(80, 140) * contrast + rng.normal(0, 8 + noise, (128, 128)), 0)
        out.append(np.clip(im, 0, 255).astype(np.uint8))
    return np.stack(out)


def test_look_features_share_the_gates_own():
    rng = np.random.default_rng(0)
    X = _heads(3, rng)
    F = look.features(X)
    for i, x in enumerate(X):
        g = gate.gate_features(None, x)
        assert np.allclose([g[k] for k in gate.KNN_FEATURES], F.loc[i, gate.KNN_FEATURES].to_numpy(float))
    assert list(F.columns) == [*gate.KNN_FEATURES, *look.TEXTURE]


def test_knn_refactor_keeps_the_gates_distance():
    rng = np.random.default_rng(1)
    ref, q = rng.normal(size=(50, 3)), rng.normal(size=(7, 3))
    want = np.sort(np.linalg.norm(q[:, None] - ref[None], axis=2), axis=1)[:, :gate.KNN_K].mean(axis=1)
    assert np.allclose(gate.knn_mean_distance(ref, q), want)


@pytest.mark.parametrize("fs", list(look.FEATURE_SETS))
def test_a_new_acquisition_is_flagged_and_a_familiar_one_is_not(fs):
    rng = np.random.default_rng(2)
    tr, va, te = (look.features(_heads(n, rng)) for n in (200, 100, 100))
    new = look.features(_heads(100, rng, contrast=1.7, noise=20))
    rule = look.fit(tr, va, fs, quantiles=(0.95,))
    assert json.loads(json.dumps(rule)) == rule  # JSON, no pickle
    assert look.flagged(rule, te).mean() < 0.2
    assert look.flagged(rule, new).mean() > 0.8


def test_rule40_reads_only_candidates_under_the_firing_cap():
    rows = [{"candidate": "G@0.97", "feature_set": "G", "quantile": 0.97, "share": 0.5, "familiar_firing": 0.06},
            {"candidate": "G@0.99", "feature_set": "G", "quantile": 0.99, "share": 0.3, "familiar_firing": 0.04},
            {"candidate": "GT@0.99", "feature_set": "GT", "quantile": 0.99, "share": 0.3, "familiar_firing": 0.05},
            {"candidate": "GT@0.98", "feature_set": "GT", "quantile": 0.98, "share": 0.3, "familiar_firing": 0.03}]
    assert lw.choose(rows)["candidate"] == "G@0.99"  # ties on share: higher q, then G
    assert lw.choose(rows[:1]) is None


def test_batch40_results_are_what_the_saved_scores_give(same_results):
    saved = lw.results()
    if saved is None:
        pytest.skip("batch 40 is not measured yet (no results.json)")
    again = lw.compute()
    same_results(saved, again, ("replicates", "union_all", "cost_all", "decision", "chosen", "test"))
