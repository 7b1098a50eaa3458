"""helpers.evaluation.baselines: nearest class mean, metadata-only and intensity-profile baselines run on phantoms and write their JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.evaluation import baselines
from helpers import config


@pytest.fixture(autouse=True)
def _session_cache(monkeypatch, session_cache):
    monkeypatch.setattr(config, "cache_dir", lambda: session_cache)


def test_nearest_class_mean_on_separable_data():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (4, 16))
    ytr, yte = np.repeat(np.arange(4), 20), np.repeat(np.arange(4), 5)
    Xtr = centres[ytr] + 0.1 * rng.normal(size=(80, 16))
    Xte = centres[yte] + 0.1 * rng.normal(size=(20, 16))
    assert (baselines.nearest_class_mean(Xtr, ytr, Xte) == yte).all()
    assert (baselines.nearest_class_mean(Xtr, ytr, Xte, "cosine") == yte).all()
    keep = ytr != 3  # a class absent from training is never predicted
    assert 3 not in baselines.nearest_class_mean(Xtr[keep], ytr[keep], Xte)


def test_thumbnails_block_mean():
    X = np.zeros((2, 64, 64), np.uint8)
    X[1] = 255
    t = baselines.thumbnails(X, 32)
    assert t.shape == (2, 1024) and t[0].max() == 0 and np.allclose(t[1], 1.0)


def test_run_baselines_on_phantoms(phantom_data, tmp_path):
    out = tmp_path / "baselines.json"
    res = baselines.run_baselines(phantom_data, bootstrap=50, out=out, size=64)
    saved = json.loads(out.read_text())
    assert saved["synthetic"] is True and saved["version"] == baselines.VERSION  # stale versions get recomputed
    for name in ("nearest_class_mean", "metadata_only", "intensity_only", "majority_class"):
        for split in ("leakfree_test", "official_test"):
            block = res[name][split]
            assert 0 <= block["accuracy"]["value"] <= 1 and "ci" in block["macro_f1"], (name, split)
    assert res["majority_class"]["leakfree_test"]["class"] in config.CLASSES
    assert "metadata_only" in baselines.format_table(res) and "intensity_only" in baselines.format_table(res)
    # the profile baseline's per-image predictions, for ranking a model's misses
    import pandas as pd

    pred = pd.read_csv(tmp_path / baselines.PROFILE_PREDICTIONS)
    assert set(pred["eval_split"]) == {"leakfree_test", "official_test"}
    assert len(pred) == res["intensity_only"]["leakfree_test"]["n"] + res["intensity_only"]["official_test"]["n"]
    assert np.allclose(pred[list(config.CLASSES)].sum(axis=1), 1, atol=1e-4)
    assert np.allclose(pred["p_tumour"], 1 - pred[config.NO_TUMOUR], atol=1e-5)
