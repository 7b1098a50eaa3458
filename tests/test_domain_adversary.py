"""Batch 49's class-conditional domain adversary: the reversal, the loss within a label's block, the targets, and a
fit that trains through the adversary but returns the plain classifier."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import config
from helpers.data import brain_only
from helpers.data.synthetic import make_phantom
from helpers.modeling import domain_adversary as da
from helpers.modeling import partial_labels as pl
from helpers.modeling import train_union


def test_gradient_reversal_is_identity_forward_and_negates_the_gradient():
    import tensorflow as tf

    layer = da.GradientReversal()
    layer.build((None, 3))
    layer.strength.assign(0.7)
    x = tf.constant([[1.0, -2.0, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        s = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-6)
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), [[-0.7, -1.4, -2.1]], rtol=1e-6)


def test_conditional_loss_is_the_cross_entropy_inside_the_label_block():
    from scipy.special import logsumexp

    n = 3
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 2 * n)).astype(np.float32)
    t = np.array([0, 2, 3, 5], np.int32)  # healthy source 0, healthy 2, tumour 0, tumour 2
    got = np.asarray(da.conditional_loss(n)(t.astype(np.float32), logits))
    block = t // n
    want = [logsumexp(logits[i, block[i] * n:(block[i] + 1) * n]) - logits[i, t[i]] for i in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # the other block's logits do not matter
    moved = logits.copy()
    moved[0, n:] += 50
    assert np.asarray(da.conditional_loss(n)(t, moved))[0] == pytest.approx(got[0], rel=1e-5)


def test_targets_put_each_label_in_its_block_and_name_an_unknown_source():
    fr = pd.DataFrame({"label": ["notumor", "glioma", "tumour", "notumor"],
                       "source": ["open-ms", "figshare", "br35h", "br35h"]})
    n = len(da.DOMAINS)
    assert da.targets(fr).tolist() == [da.DOMAINS.index("open-ms"), n + da.DOMAINS.index("figshare"),
                                       n + da.DOMAINS.index("br35h"), da.DOMAINS.index("br35h")]
    with pytest.raises(ValueError, match="unknown source 'elsewhere'"):
        da.targets(pd.DataFrame({"label": ["notumor"], "source": ["elsewhere"]}))


def test_strength_follows_ganins_schedule():
    s = [da.strength_at(p, 1.0) for p in np.linspace(0, 1, 11)]
    assert s[0] == 0 and all(b > a for a, b in zip(s, s[1:])) and s[-1] == pytest.approx(0.9999, abs=1e-3)
    assert da.strength_at(0.5, 0.4) == pytest.approx(0.4 * (2 / (1 + np.exp(-5)) - 1))


def _tiny():
    cfg = train_union.config_for("he_bo_dann", None, epochs=2, batch_size=8, width=4)
    cfg["img_size"] = 32
    X = np.stack([make_phantom(config.CLASSES[k % 4], k, 32)[0] for k in range(16)]).astype(np.uint8)
    lab = ["glioma", "notumor", "tumour", "meningioma"] * 4
    bo = brain_only.brain_only_many(X, seed=0)
    looks = (bo, brain_only.head_masks(X), brain_only.head_masks(bo), np.full(16, 0.5, np.float32))
    t = da.targets(pd.DataFrame({"label": lab, "source": ["figshare", "open-ms", "br35h", "sartaj"] * 4}))
    return cfg, X, lab, looks, t


def test_fit_trains_through_the_adversary_and_returns_the_plain_classifier():
    cfg, X, lab, looks, t = _tiny()
    model, hist, _, _ = train_union.fit(cfg, X, pl.label_masks(lab), np.ones(16, np.float32), X[:4],
                                        pl.label_masks(lab[:4]), verbose=0, looks=looks, domains=(t, t[:4]))
    assert np.isfinite(hist["loss"]).all() and np.isfinite(hist["domain_loss"]).all()
    assert len(model.outputs) == 1 and model.outputs[0].shape[-1] == len(config.CLASSES)
    assert not any(layer.name.startswith("domain") for layer in model.layers)
    with pytest.raises(ValueError, match="dann needs"):
        train_union.fit(cfg, X, pl.label_masks(lab), np.ones(16, np.float32), X[:4], pl.label_masks(lab[:4]),
                        verbose=0, looks=looks)


def test_chance_loss_is_the_mean_entropy_of_sources_within_each_label():
    fr = pd.DataFrame({"label": ["glioma", "tumour", "notumor", "notumor", "notumor", "notumor"],
                       "source": ["figshare", "br35h", "open-ms", "open-ms", "open-ms", "open-ms"]})
    assert da.chance_loss(fr) == pytest.approx((np.log(2) + 0.0) / 2)
