"""Training options against the acquisition shortcut: `reweight` (per-image weights from a histogram-only model),
`init_from` (start from a saved model's weights) and their CLI flags. Synthetic arrays only, seconds each."""
import json

import numpy as np
import pytest

from helpers import config
from helpers.modeling import train
from helpers.modeling.train import fit, profile_weights, resolve_config, save_inference_model
from helpers.records import sha256_file

pytestmark = pytest.mark.training  # every test here fits a model


def _banded(n_per_class=40, n_hard=4, size=32):
    """Images whose histogram is their class's (a checkerboard of two grey levels in two histogram bins of the
    class), except the first `n_hard` of each class, which carry the next class's histogram: the histograms give the
    class away for all but those. Returns (X, y, hard mask)."""
    checker = np.indices((size, size)).sum(0) % 2
    X, y, hard = [], [], []
    for c in range(len(config.CLASSES)):
        for i in range(n_per_class):
            band = (c + 1) % len(config.CLASSES) if i < n_hard else c
            X.append(32 + 48 * band + 16 * checker)
            y.append(c)
            hard.append(i < n_hard)
    return np.asarray(X, np.uint8), np.asarray(y), np.asarray(hard)


def _arrays(n=48, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (n, size, size), dtype=np.uint8), np.arange(n) % len(config.CLASSES)


def _cfg(**kw):
    return resolve_config({"arch": "tiny", "img_size": 32, "epochs": 1, "batch_size": 16, "time_budget_min": 0, **kw})


def test_profile_weights_favour_what_the_histograms_get_wrong():
    X, y, hard = _banded()
    w = profile_weights(X, y, seed=0)
    assert w.shape == (len(y),) and w.dtype == np.float32 and w.mean() == pytest.approx(1, abs=1e-5)
    assert w[hard].min() > 3 * w[~hard].max()  # out-of-fold: a hard image is scored by a model that never saw it
    assert w.max() / w.min() <= 1 / train.REWEIGHT_P_FLOOR + 1e-3  # the floor caps the spread (classes balanced)
    assert np.array_equal(w, profile_weights(X, y, seed=0))  # seeded


def test_profile_weights_include_class_balance_and_cope_with_a_rare_class():
    X, y, _ = _banded(n_hard=0)
    keep = (y != 3) | (np.arange(len(y)) % 40 < 3)  # 3 images of the last class: 3 folds instead of 5
    w = profile_weights(X[keep], y[keep], seed=1)
    yk = y[keep]
    assert np.isfinite(w).all() and w.mean() == pytest.approx(1, abs=1e-5)
    assert w[yk == 3].mean() > 5 * w[yk == 0].mean()  # the rare class keeps its balanced class weight


def test_reweight_feeds_per_sample_weights_and_nothing_else(monkeypatch):
    """With all-equal weights on balanced classes, reweighting trains exactly like class weights (same batches, same
    loss); other weights change the loss, so Keras does read the third element of the tf.data batches."""
    X, y = _arrays()
    plain = fit(_cfg(), X[:32], y[:32], X[32:], y[32:], verbose=0)[1]
    monkeypatch.setattr(train, "profile_weights", lambda X, y, seed: np.ones(len(y), np.float32))
    same = fit(_cfg(reweight="intensity_profile"), X[:32], y[:32], X[32:], y[32:], verbose=0)[1]
    assert same["loss"] == pytest.approx(plain["loss"], rel=1e-6)
    monkeypatch.setattr(train, "profile_weights", lambda X, y, seed: np.where(y == 0, 3.0, 1 / 3).astype(np.float32))
    other = fit(_cfg(reweight="intensity_profile"), X[:32], y[:32], X[32:], y[32:], verbose=0)[1]
    assert other["loss"] != pytest.approx(plain["loss"], rel=1e-3)
    with pytest.raises(ValueError, match="known: intensity_profile"):
        fit(_cfg(reweight="metadata"), X[:32], y[:32], X[32:], y[32:], verbose=0)


def test_reweight_trains_end_to_end_with_and_without_mixup():
    X, y, _ = _banded(n_per_class=12, n_hard=2)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order], y[order]
    for extra in ({}, {"mixup_alpha": 0.4}):
        _, hist, *_ = fit(_cfg(reweight="intensity_profile", **extra), X[:36], y[:36], X[36:], y[36:], verbose=0)
        assert len(hist["loss"]) == 1 and np.isfinite(hist["loss"]).all()


def test_old_records_resolve_to_no_reweight_and_no_init():
    cfg = resolve_config({"arch": "tiny", "epochs": 2})  # a record from before the options existed
    assert cfg["reweight"] is None and cfg["init_from"] is None


def _saved_tiny(tmp_path, name="start", **kw):
    X, y = _arrays(seed=1)
    model = fit(_cfg(**kw), X[:32], y[:32], X[32:], y[32:], verbose=0)[0]
    return save_inference_model(model, tmp_path / f"{name}.keras"), model


def test_init_from_starts_from_the_saved_weights(tmp_path):
    kpath, start = _saved_tiny(tmp_path)
    X, y = _arrays(seed=2)
    # lr 0: AdamW (decay included) moves nothing, so the trainable weights after one epoch are the ones it began with
    tuned = fit(_cfg(init_from=str(kpath), lr=0.0), X[:32], y[:32], X[32:], y[32:], verbose=0)[0]
    for a, b in zip(tuned.trainable_weights, start.trainable_weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    fresh = fit(_cfg(lr=0.0), X[:32], y[:32], X[32:], y[32:], verbose=0)[0]  # premise: a fresh start differs
    assert any(not np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(fresh.trainable_weights, start.trainable_weights))


def test_init_from_another_architecture_is_one_clear_error(tmp_path):
    kpath, _ = _saved_tiny(tmp_path)
    X, y = _arrays()
    other = _cfg(arch="resnet_small", init_from=str(kpath), model_kwargs={"width": 4, "blocks": [1]})
    with pytest.raises(ValueError, match=r"init_from start.keras does not fit the configured model") as e:
        fit(other, X[:32], y[:32], X[32:], y[32:], verbose=0)
    assert "\n" not in str(e.value)
    with pytest.raises(FileNotFoundError, match="init_from"):
        fit(_cfg(init_from=str(tmp_path / "missing.keras")), X[:32], y[:32], X[32:], y[32:], verbose=0)


def test_init_from_with_the_same_weights_but_other_layers_is_refused(tmp_path):
    """Stem pooling adds a layer without weights: the shapes agree, the networks do not."""
    from helpers.modeling.architectures import build_model

    kw = {"width": 4, "blocks": [1], "augment": 0}
    src = build_model("resnet_small", 32, **kw, stem_pool=True)
    kpath = save_inference_model(src, tmp_path / "pooled.keras")
    X, y = _arrays()
    cfg = _cfg(arch="resnet_small", init_from=str(kpath), model_kwargs={**kw, "stem_pool": False})
    assert [w.shape for w in build_model("resnet_small", 32, **kw, stem_pool=False).weights] == \
        [w.shape for w in src.weights]  # premise
    with pytest.raises(ValueError, match=r"init_from pooled.keras does not fit .*layer #\d+: MaxPooling2D"):
        fit(cfg, X[:32], y[:32], X[32:], y[32:], verbose=0)


def test_train_records_the_init_file_hash(tmp_path):
    """train() from a bundle (no dataset): the record names the init file and its sha256, taken before training."""
    kpath, _ = _saved_tiny(tmp_path)
    X, y = _arrays(n=40, seed=3)
    meta = {"split": "leakfree", "split_sha256": "test", "img_size": 32, "synthetic": True,
            "classes": list(config.CLASSES)}
    bundle = tmp_path / "b.npz"
    with open(bundle, "wb") as fh:
        np.savez(fh, train_x=X[:28], train_y=y[:28].astype(np.int8), val_x=X[28:], val_y=y[28:].astype(np.int8),
                 meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    # the run overwrites the file it starts from: the hash must be of the starting weights
    digest = sha256_file(kpath)
    jpath = train.train({"arch": "tiny", "img_size": 32, "epochs": 1, "batch_size": 16, "name": "start",
                         "init_from": str(kpath), "time_budget_min": 0}, out_dir=tmp_path, verbose=0, bundle=bundle)
    rec = json.loads(jpath.read_text())
    assert rec["init_from"] == {"path": "start.keras", "sha256": digest}  # outside the repo: the name only
    assert rec["config"]["init_from"] == str(kpath) and sha256_file(kpath) != digest
    assert train._shown_path(config.PROJ_ROOT / "models" / "x.keras") == "models/x.keras"


def test_cli_flags_reach_the_config(tmp_path, monkeypatch):
    from helpers.cli import _parser

    seen = {}
    monkeypatch.setattr(train, "train", lambda overrides, **kw: seen.update(resolve_config(overrides)))
    recorded = tmp_path / "rec.json"
    recorded.write_text(json.dumps({"config": {"arch": "resnet_small", "reweight": "intensity_profile",
                                               "model_kwargs": {"width": 8, "augment_layer": "affine"}}}))

    def run(*argv):
        seen.clear()
        assert train.cli_train(_parser().parse_args(["train", *argv])) == 0
        return dict(seen)

    cfg = run("--reweight", "intensity_profile", "--gamma", "0.4", "--init-from", "models/x.keras")
    assert (cfg["reweight"], cfg["model_kwargs"], cfg["init_from"]) == ("intensity_profile", {"gamma": 0.4},
                                                                       "models/x.keras")
    cfg = run("--config", str(recorded), "--gamma", "0.3")
    assert cfg["model_kwargs"] == {"width": 8, "augment_layer": "affine", "gamma": 0.3}
    assert cfg["reweight"] == "intensity_profile"  # kept from the recorded config
    cfg = run("--config", str(recorded), "--gamma", "0", "--reweight", "none")
    assert cfg["model_kwargs"] == {"width": 8, "augment_layer": "affine"} and cfg["reweight"] is None
    assert run()["model_kwargs"] == {} and run()["reweight"] is None  # no flags: the defaults, as before


def test_init_from_a_record_made_before_the_model_folders_finds_the_shipped_weights():
    # ft_control / ft_debias record init_from "models/brain_tumor_cnn.keras"; the weights now sit in its folder
    from helpers.modeling.train import init_path

    assert init_path("models/brain_tumor_cnn.keras") == config.IN_DATASET_MODEL
    with pytest.raises(FileNotFoundError, match="init_from"):
        init_path("models/no_such_model.keras")


def test_weight_averaging_recipe_keeps_a_learning_rate_floor_and_asks_for_the_moving_average():
    """Batch 34's he_bo_swa: the cosine schedule stops at 10% of the peak and the optimizer keeps an EMA of the
    weights; he_bo's config (and so its records) carries neither key."""
    from helpers.modeling import train_union
    from helpers.modeling.train import lr_schedule

    cfg = train_union.config_for("he_bo_swa", epochs=4)
    assert cfg["lr_floor"] == 0.1 and cfg["ema"] == 0.999
    assert "lr_floor" not in train_union.config_for("he_bo") and "ema" not in train_union.config_for("he_bo")
    sched = lr_schedule({**cfg, "batch_size": 10}, 100)  # 10 steps an epoch, 1 of warm-up
    assert float(sched(40)) == pytest.approx(0.1 * cfg["lr"], rel=1e-3)
    assert float(lr_schedule({**train_union.config_for("he_bo", epochs=4), "batch_size": 10}, 100)(40)) < 1e-6
