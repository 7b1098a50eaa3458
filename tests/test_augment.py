"""RandomAffineAugment: one resampling for flip/rotation/zoom/shift, the same result through TensorFlow's fused kernel
(what the CPU uses) and through the keras.ops gathers (what JAX and PyTorch use on a GPU)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from keras import ops

from helpers import config
from helpers.modeling.architectures import build_model
from helpers.modeling.augmentation import RandomAffineAugment, _affine_gather
from helpers.records import sha256_file


def _square(n=16, size=48):
    x = np.zeros((n, size, size, 1), "float32")
    x[:, 14:30, 8:24] = 1.0  # off-centre, so a mirror or a shift is visible
    return x


def _centroids(x):
    w = x[..., 0]
    yy, xx = np.mgrid[: x.shape[1], : x.shape[2]]
    m = w.sum(axis=(1, 2))
    return (w * xx).sum(axis=(1, 2)) / m, (w * yy).sum(axis=(1, 2)) / m, m


def test_fused_kernel_and_gathers_agree():
    rng = np.random.default_rng(0)
    n, size = 6, 40
    x = rng.random((n, size, size, 2)).astype("float32")
    th, s = rng.uniform(-0.5, 0.5, (n, 1)), rng.uniform(0.85, 1.15, (n, 1))
    sign = np.where(rng.random((n, 1)) < 0.5, -1.0, 1.0)
    tx, ty, c = rng.uniform(-3, 3, (n, 1)), rng.uniform(-3, 3, (n, 1)), (size - 1) / 2
    a0, a1, b0, b1 = sign * np.cos(th) / s, sign * np.sin(th) / s, -np.sin(th) / s, np.cos(th) / s
    a2, b2 = c - a0 * (c + tx) - a1 * (c + ty), c - b0 * (c + tx) - b1 * (c + ty)
    coeffs = [v.astype("float32") for v in (a0, a1, a2, b0, b1, b2)]
    z = np.zeros_like(coeffs[0])
    fused = np.asarray(ops.image.affine_transform(x, np.concatenate([*coeffs, z, z], axis=1),
                                                  interpolation="bilinear", fill_mode="constant"))
    gathered = np.asarray(_affine_gather(x, coeffs))
    assert np.abs(fused - gathered).max() < 1e-5
    assert np.abs(gathered - x).mean() > 0.05  # the transforms did move the images


def test_inactive_at_inference_and_identity_with_zero_ranges():
    x = _square()
    layer = RandomAffineAugment(seed=1)
    assert np.array_equal(np.asarray(layer(x, training=False)), x)
    still = RandomAffineAugment(0, 0, 0, flip=False, contrast=0, brightness=0, seed=1)
    assert np.abs(np.asarray(still(x, training=True)) - x).max() < 1e-6


def test_flip_only_mirrors_about_half_the_images():
    x = _square(64)
    y = np.asarray(RandomAffineAugment(0, 0, 0, flip=True, contrast=0, brightness=0, seed=3)(x, training=True))
    same = [np.allclose(a, b, atol=1e-6) for a, b in zip(y, x)]
    mirrored = [np.allclose(a, b[:, ::-1], atol=1e-6) for a, b in zip(y, x)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 16 <= sum(mirrored) <= 48


def test_shift_and_zoom_stay_within_their_ranges():
    x = _square(64)
    cx0, cy0, m0 = _centroids(x)
    shifted = np.asarray(RandomAffineAugment(0, 0.1, 0, flip=False, contrast=0, brightness=0, seed=4)(x, training=True))
    cx, cy, _ = _centroids(shifted)
    dx, dy = cx - cx0, cy - cy0
    assert np.abs(dx).max() <= 0.1 * 48 + 0.5 and np.abs(dy).max() <= 0.1 * 48 + 0.5
    assert np.abs(dx).max() > 1.5 and np.abs(dy).max() > 1.5  # it does shift
    zoomed = np.asarray(RandomAffineAugment(0, 0, 0.2, flip=False, contrast=0, brightness=0, seed=5)(x, training=True))
    area = _centroids(zoomed)[2] / m0
    assert area.min() >= 0.8**2 - 0.05 and area.max() <= 1.2**2 + 0.05 and area.max() - area.min() > 0.2


def test_photometric_changes_keep_the_unit_range():
    x = np.random.default_rng(6).random((8, 32, 32, 1)).astype("float32")
    y = np.asarray(RandomAffineAugment(0, 0, 0, flip=False, contrast=0.5, brightness=0.3, seed=6)(x, training=True))
    assert y.min() >= 0 and y.max() <= 1 and np.abs(y - x).mean() > 0.02


def test_unknown_augment_layer_is_named():
    with pytest.raises(ValueError, match="known: keras, affine"):
        build_model("resnet_small", 32, width=4, blocks=(1,), augment_layer="fancy")


def test_a_model_with_the_layer_loads_through_the_prediction_api(tmp_path):
    """Keras must know the custom class when it deserialises: `helpers.modeling.predictor` alone (as the CLI and the dashboard
    import it) has to register it, in a fresh interpreter."""
    model = build_model("resnet_small", 32, width=4, blocks=(1, 1), augment_layer="affine")
    kpath = tmp_path / "aff.keras"
    model.save(kpath)
    kpath.with_suffix(".json").write_text(json.dumps({"classes": list(config.CLASSES), "img_size": 32,
                                                      "keras_sha256": sha256_file(kpath), "temperature": 1.0}))
    code = ("import sys, numpy as np; from helpers.modeling.predictor import load_model; p = load_model(sys.argv[1]); "
            "print(type(p.model.get_layer('augment')).__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(kpath)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "RandomAffineAugment"


def test_gamma_is_identity_at_inference_and_off_by_default():
    x = np.random.default_rng(7).random((4, 32, 32, 1)).astype("float32")
    assert np.array_equal(np.asarray(RandomAffineAugment(seed=1, gamma=0.5)(x, training=False)), x)
    # a layer saved before gamma existed has no "gamma" in its config: it loads as gamma 0, drawing nothing extra,
    # so its seeded training outputs are those of an explicit gamma=0 layer, call after call
    old_cfg = {k: v for k, v in RandomAffineAugment(seed=2).get_config().items() if k != "gamma"}
    old, off = RandomAffineAugment.from_config(old_cfg), RandomAffineAugment(seed=2, gamma=0.0)
    assert old.gamma == 0
    for _ in range(2):
        assert np.array_equal(np.asarray(old(x, training=True)), np.asarray(off(x, training=True)))


def test_gamma_remaps_each_image_monotonically_after_the_other_steps():
    """Same seed with and without gamma: the same geometry, contrast and brightness, then out = plain ** g per
    image, with log g within +-gamma."""
    a = 0.4
    x = np.random.default_rng(8).random((16, 32, 32, 1)).astype("float32")
    plain = np.asarray(RandomAffineAugment(seed=9)(x, training=True))
    remapped = np.asarray(RandomAffineAugment(seed=9, gamma=a)(x, training=True))
    assert remapped.min() >= 0 and remapped.max() <= 1 and np.abs(remapped - plain).mean() > 0.01
    g = []
    for p, r in zip(plain, remapped):
        mid = (p > 0.05) & (p < 0.95)
        ratio = np.log(r[mid]) / np.log(p[mid])
        assert np.ptp(ratio) < 1e-3  # one exponent per image: a monotone remap of its grey levels
        g.append(ratio.mean())
    assert np.all(np.abs(np.log(g)) <= a + 1e-4) and np.ptp(np.log(g)) > a / 2


def test_gamma_round_trips_through_config_and_a_saved_model(tmp_path):
    import keras

    layer = RandomAffineAugment(seed=2, gamma=0.3)
    assert layer.get_config()["gamma"] == 0.3
    assert RandomAffineAugment.from_config(layer.get_config()).get_config() == layer.get_config()
    model = build_model("resnet_small", 32, width=4, blocks=(1,), augment_layer="affine", gamma=0.3)
    model.save(tmp_path / "g.keras")
    again = keras.saving.load_model(tmp_path / "g.keras", safe_mode=True, compile=False)
    assert again.get_layer("augment").gamma == 0.3


def test_gamma_needs_the_affine_layer_and_an_arch_that_has_it():
    with pytest.raises(ValueError, match="augment_layer='affine'"):
        build_model("resnet_small", 32, width=4, blocks=(1,), gamma=0.4)  # default: Keras' layers
    with pytest.raises(ValueError, match="'tiny' takes no option gamma"):
        build_model("tiny", 32, gamma=0.4)


def test_train_refuses_bad_options_before_touching_the_data(tmp_path):
    from helpers.modeling.train import train

    # the data folder does not exist: reaching data loading would raise a DataError instead
    with pytest.raises(ValueError, match="augment_layer='affine'.*--config models/brain_tumor_cnn/record.json"):
        train({"arch": "resnet_small", "model_kwargs": {"gamma": 0.4}}, data_dir=tmp_path / "none", out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_mixstyle_mixes_feature_statistics_in_training_only():
    """Batch 21's MixStyle: identity at inference; in training each slice keeps its own normalised map, and its
    channel statistics become a blend of its own and another slice's (so within-slice contrast is kept)."""
    from helpers.modeling.augmentation import MixStyle

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(8, 12, 12, 3)) * np.arange(1, 9)[:, None, None, None]
         + np.arange(8)[:, None, None, None]).astype("float32")
    layer = MixStyle(p=1.0, alpha=0.1, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    y = np.asarray(layer(x, training=True))
    assert np.abs(y - x).max() > 1e-2  # p = 1: statistics moved
    z = lambda a: (a - a.mean((1, 2), keepdims=True)) / a.std((1, 2), keepdims=True)  # noqa: E731
    np.testing.assert_allclose(z(y), z(x), atol=1e-3)  # the anatomy (normalised map) is the slice's own
    lo, hi = x.mean((1, 2)).min(0), x.mean((1, 2)).max(0)
    assert ((y.mean((1, 2)) >= lo - 1e-3) & (y.mean((1, 2)) <= hi + 1e-3)).all()  # blends stay within the batch
    np.testing.assert_array_equal(np.asarray(MixStyle(p=0.0)(x, training=True)), x)


def test_mixstyle_model_round_trips_and_only_asked_for(tmp_path):
    import keras

    m = build_model("resnet_small", 64, 4, width=8, augment_layer="affine", mixstyle=0.5)
    assert [la.name for la in m.layers if la.name.startswith("mixstyle")] == ["mixstyle1", "mixstyle2"]
    assert not any(la.name.startswith("mixstyle") for la in build_model("resnet_small", 64, 4, width=8).layers)
    m.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    x = np.random.default_rng(1).uniform(0, 255, (3, 64, 64, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(back(x)), np.asarray(m(x)), atol=1e-5)


def _heads(n=8, size=32):
    """Bright discs with a darker core: a head (inside) on black, two tissues whose order GIN may swap."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    x = np.where(r < 12, 180.0, 0.0) - np.where(r < 5, 100.0, 0.0)
    return np.repeat(x[None], n, 0).astype("float32"), np.repeat((r < 12)[None], n, 0)


def test_intensity_net_keeps_black_outside_and_the_unit_range():
    import tensorflow as tf

    from helpers.modeling.augmentation import random_intensity_net

    x, inside = _heads()
    tf.random.set_seed(0)
    y = random_intensity_net(tf.constant(x), tf.constant(inside), 1.0).numpy()
    assert y.shape == x.shape and np.isfinite(y).all()
    assert (y[~inside] == 0).all() and y.min() >= 0 and y.max() <= 255
    assert not np.allclose(y, x)  # every slice picked: changed (the blend weight is almost surely above 0)


def test_intensity_net_with_p_zero_is_the_identity():
    import tensorflow as tf

    from helpers.modeling.augmentation import random_intensity_net

    x, inside = _heads()
    assert np.array_equal(random_intensity_net(tf.constant(x), tf.constant(inside), 0.0).numpy(), x)


def test_intensity_net_draws_a_network_per_slice():
    import tensorflow as tf

    from helpers.modeling.augmentation import random_intensity_net

    x, inside = _heads(n=16)
    tf.random.set_seed(1)
    y = random_intensity_net(tf.constant(x), tf.constant(inside), 1.0).numpy()
    core = y[:, 16, 16] - y[:, 16, 5]  # the core minus the rim: its sign says which tissue is brighter
    assert len(np.unique(np.round(y[:, 16, 16], 3))) > 8  # not one network for the batch
    assert (core > 0).any() and (core < 0).any()  # both orders occur, as between sequences
