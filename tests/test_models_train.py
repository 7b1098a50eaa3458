import json

import numpy as np
import pytest

from helpers import config
from helpers.modeling.calibrate import fit_temperature, probs_from_logits, reliability
from helpers.modeling.architectures import ARCHS, build_model
from helpers.modeling.train import resolve_config
from helpers.records import sha256_file

pytestmark = pytest.mark.training  # every test here fits a model


@pytest.mark.parametrize("arch", ARCHS)
def test_models_share_the_contract(arch):
    size = 64
    m = build_model(arch, size)
    assert m.input_shape == (None, size, size, 1)
    assert m.output_shape == (None, len(config.CLASSES))
    assert m.get_layer("last_conv") is not None and m.layers[-1].name == "logits"
    x = np.random.default_rng(0).integers(0, 255, (2, size, size, 1)).astype("float32")
    assert np.isfinite(np.asarray(m(x, training=False))).all()


def test_unknown_arch_is_named():
    with pytest.raises(ValueError, match="known: resnet_small"):
        build_model("vgg99")


def test_config_layers_defaults_and_overrides():
    cfg = resolve_config({"arch": "capstone_cnn", "epochs": None, "batch_size": 8})
    assert cfg["epochs"] == 10 and cfg["batch_size"] == 8 and cfg["name"] == "capstone_cnn"
    assert resolve_config({})["name"] == config.REPORT_MODEL_NAME


def test_training_writes_a_verifiable_record(tiny_model_json):
    meta = json.loads(tiny_model_json.read_text())
    kfile = tiny_model_json.with_suffix(".keras")
    assert meta["keras_sha256"] == sha256_file(kfile)
    assert meta["classes"] == list(config.CLASSES)
    assert meta["data"]["synthetic"] is True and meta["data"]["n_train"] > 0
    assert len(meta["history"]["loss"]) == meta["epochs_run"] >= 1
    assert meta["temperature"] > 0
    # saved for inference: no optimizer state in the weights file (it would triple the size)
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(kfile) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as h5:
        assert "optimizer" not in h5 and "layers" in h5
    # the recorded config reproduces the run's settings
    assert resolve_config(meta["config"])["arch"] == "tiny"


def test_temperature_recovers_a_known_scale():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(size=(4000, 4)) * 3
    y = np.array([rng.choice(4, p=p) for p in probs_from_logits(true_logits)])
    t = fit_temperature(true_logits * 2.5, y)  # over-confident by a factor 2.5
    assert 2.2 < t < 2.8


def test_ece_is_small_for_calibrated_and_large_for_overconfident():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5000, 4)) * 2
    p = probs_from_logits(logits)
    y = np.array([rng.choice(4, p=row) for row in p])
    assert reliability(p, y)["ece"] < 0.03
    assert reliability(probs_from_logits(logits * 4), y)["ece"] > 0.1


def test_ema_weights_are_the_ones_validated_and_kept():
    """With ema_momentum, training follows the same raw weights (same training loss as without EMA), but validation,
    the best-epoch choice and the returned model use the averaged weights."""
    import keras

    from helpers.modeling.train import fit

    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (96, 64, 64), dtype=np.uint8)
    y = np.arange(96) % len(config.CLASSES)
    base = {"arch": "tiny", "epochs": 4, "batch_size": 16, "patience": 10, "lr": 3e-2, "time_budget_min": 0}

    def run(**kw):
        cfg = resolve_config({**base, **kw})
        return cfg, *fit(cfg, X[:64], y[:64], X[64:], y[64:], verbose=0)[:2]

    _, _, plain = run()
    assert run()[2]["val_loss"] == plain["val_loss"]  # premise: a seeded run repeats exactly
    cfg, model, hist = run(ema_momentum=0.6)
    assert hist["loss"] == pytest.approx(plain["loss"], rel=1e-5)
    assert hist["val_loss"] != plain["val_loss"]  # validated on the average, not on the raw weights
    best = min(hist["val_loss"][int(cfg["epochs"] * cfg["early_stop_from"]):])
    Yva = keras.utils.to_categorical(y[64:], len(config.CLASSES))
    got = model.evaluate(X[64:, ..., None].astype("float32"), Yva, verbose=0, return_dict=True)["loss"]
    assert got == pytest.approx(best, rel=1e-4)


def test_early_stopping_watches_only_the_annealed_part_of_the_schedule():
    import keras

    from helpers.modeling.train import DEFAULTS, fit

    assert DEFAULTS["early_stop_from"] == 0.75 and resolve_config({"arch": "capstone_cnn"})["early_stop_from"] == 0.5
    rng = np.random.default_rng(1)
    X = rng.integers(0, 255, (96, 64, 64), dtype=np.uint8)
    y = np.arange(96) % len(config.CLASSES)
    cfg = resolve_config({"arch": "tiny", "epochs": 8, "batch_size": 16, "patience": 1, "lr": 3e-2,
                          "time_budget_min": 0, "early_stop_from": 0.75})
    model, hist, *_ = fit(cfg, X[:64], y[:64], X[64:], y[64:], verbose=0)
    # patience 1 could stop at epoch 2 if it watched from the start; from 3/4 on the earliest stop is the last epoch
    assert len(hist["loss"]) == 8
    Yva = keras.utils.to_categorical(y[64:], len(config.CLASSES))
    got = model.evaluate(X[64:, ..., None].astype("float32"), Yva, verbose=0, return_dict=True)["loss"]
    assert got == pytest.approx(min(hist["val_loss"][6:]), rel=1e-4)  # best of the watched epochs restored


def test_mixup_blends_images_and_labels_alike_and_keeps_each_label_dominant():
    import tensorflow as tf

    from helpers.modeling.train import _mixup

    tf.random.set_seed(0)
    n = 64
    x = tf.constant(np.arange(n, dtype="float32").reshape(n, 1, 1, 1) * np.ones((n, 3, 3, 1), "float32"))
    y = tf.one_hot(np.arange(n) % 4, 4)
    xm, ym = (t.numpy() for t in _mixup(tf, x, y, 0.4))
    assert np.allclose(ym.sum(1), 1) and (ym.argmax(1) == np.arange(n) % 4).all()
    lam = ym.max(1)
    assert (lam >= 0.5).all() and (lam < 0.999).any()  # some real blending happens
    # the pixel blend uses the same weights as the label blend: value = lam * own + (1 - lam) * partner
    partner = (xm[:, 0, 0, 0] - lam * np.arange(n)) / np.where(lam < 1, 1 - lam, 1)
    mixed = lam < 0.99
    assert np.allclose(partner[mixed], np.round(partner[mixed]), atol=1e-2)  # partners are whole image indices


def test_mixup_feeder_trains():
    """The mixup branch of the tf.data feeder runs end to end (float64 one-hot labels from to_categorical included)."""
    from helpers.modeling.train import fit

    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (48, 64, 64), dtype=np.uint8)
    y = np.arange(48) % len(config.CLASSES)
    cfg = resolve_config({"arch": "tiny", "epochs": 1, "batch_size": 16, "mixup_alpha": 0.4, "time_budget_min": 0})
    _, hist, _, _ = fit(cfg, X[:32], y[:32], X[32:], y[32:], verbose=0)
    assert np.isfinite(hist["loss"]).all()


def test_training_with_the_one_resampling_augmentation_on_tensorflow(tmp_path):
    """The shipped recipe's augmentation inside `fit` (tf.data batches of varying size, graph mode), then saved and
    reloaded for inference: what `brain-mri train --config models/brain_tumor_cnn/record.json` does on a CPU."""
    import keras

    from helpers.modeling.train import fit, save_inference_model

    rng = np.random.default_rng(2)
    X = rng.integers(0, 255, (70, 32, 32), dtype=np.uint8)  # 50 train images: batches of 16 and a last one of 2
    y = np.arange(70) % len(config.CLASSES)
    cfg = resolve_config({"arch": "resnet_small", "img_size": 32, "epochs": 2, "batch_size": 16, "time_budget_min": 0,
                          "model_kwargs": {"width": 4, "blocks": [1, 1], "stem_pool": False, "augment_layer": "affine"}})
    model, hist, *_ = fit(cfg, X[:50], y[:50], X[50:], y[50:], verbose=0)
    assert len(hist["loss"]) == 2 and np.isfinite(hist["loss"]).all()
    assert type(model.get_layer("augment")).__name__ == "RandomAffineAugment"
    path = save_inference_model(model, tmp_path / "aff.keras")
    again = keras.saving.load_model(path, safe_mode=True, compile=False)
    x = X[50:54, ..., None].astype("float32")
    np.testing.assert_allclose(np.asarray(again(x, training=False)), np.asarray(model(x, training=False)), atol=1e-5)
