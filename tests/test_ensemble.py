"""helpers.modeling.ensemble: the merged model's logits are exactly the members' mean, it saves, loads (sha256-checked),
calibrates and explains like any model, and members that cannot be averaged exactly are refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import config
from helpers.modeling import ensemble

pytestmark = pytest.mark.training  # every test here fits a model


@pytest.fixture(autouse=True)
def _session_cache(monkeypatch, session_cache):
    monkeypatch.setattr(config, "cache_dir", lambda: session_cache)


@pytest.fixture(scope="module")
def two_members(tiny_model_json, phantom_data, tmp_path_factory):
    from helpers.modeling.train import train

    out = Path(tiny_model_json).parent
    second = train({"arch": "tiny", "epochs": 2, "name": "tiny_seed7", "seed": 7}, data_dir=phantom_data,
                   out_dir=out, verbose=0)
    return [Path(tiny_model_json).with_suffix(".keras"), Path(second).with_suffix(".keras")]


def test_merged_logits_are_the_mean_of_the_members(two_members):
    import keras

    members = [keras.models.load_model(p) for p in two_members]
    merged = ensemble.merge(members, name="pair")
    x = np.random.default_rng(0).uniform(0, 255, (5, 64, 64, 1)).astype("float32")
    want = np.mean([np.asarray(m(x, training=False)) for m in members], 0)
    np.testing.assert_allclose(np.asarray(merged(x, training=False)), want, atol=1e-4)
    # weights really come from both members: dropping one changes the answer
    assert not np.allclose(np.asarray(members[0](x, training=False)), want, atol=1e-3)


def test_merged_features_are_the_members_features_side_by_side(two_members):
    """Batch 25 reads the merge's features and logits off one pass per member: this is why that is exact."""
    import keras

    from helpers.evaluation import warning_scores as ws
    from helpers.modeling import familiarity

    members = [keras.models.load_model(p) for p in two_members]
    merged = ensemble.merge(members, name="pair")
    x = np.random.default_rng(1).uniform(0, 255, (4, 64, 64)).astype("float32")
    each = [ws.logits_and_features(m, x) for m in members]
    np.testing.assert_allclose(familiarity.features(merged, x), np.concatenate([F for _, F in each], 1), atol=1e-4)
    np.testing.assert_allclose(ws.logits_and_features(merged, x)[0], np.mean([L for L, _ in each], 0), atol=1e-4)


def test_a_model_merged_with_its_mirror_is_flip_test_time_augmentation(two_members, tmp_path):
    """Batch 21: merge([m, m], mirrored=[False, True]) gives the mean logits of the slice and its mirror, saves and
    loads, and keeps Grad-CAM's maps in image coordinates (the mirrored member's maps are mirrored back)."""
    import keras

    m = keras.models.load_model(two_members[0])
    merged = ensemble.merge([m, m], name="flip", mirrored=[False, True])
    x = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 1)).astype("float32")
    want = (np.asarray(m(x, training=False)) + np.asarray(m(x[:, :, ::-1], training=False))) / 2
    np.testing.assert_allclose(np.asarray(merged(x, training=False)), want, atol=1e-4)
    assert not np.allclose(np.asarray(m(x, training=False)), want, atol=1e-3)  # the mirror really counts
    merged.save(tmp_path / "flip.keras")
    back = keras.saving.load_model(tmp_path / "flip.keras", compile=False)
    np.testing.assert_allclose(np.asarray(back(x, training=False)), want, atol=1e-4)
    # the mirrored member's maps are the model's maps of the mirrored slice, mirrored back into image coordinates
    maps = np.asarray(keras.Model(back.inputs, back.get_layer("last_conv").output)(x))
    own = keras.Model(m.inputs, ensemble._feature_tensor(m))
    half = maps.shape[-1] // 2
    np.testing.assert_allclose(maps[..., :half], np.asarray(own(x)), atol=1e-4)
    np.testing.assert_allclose(maps[..., half:], np.asarray(own(x[:, :, ::-1]))[:, :, ::-1], atol=1e-4)
    with pytest.raises(ValueError, match="mirrored names 1 members"):
        ensemble.merge([m, m], mirrored=[True])


def test_build_writes_a_loadable_calibrated_record(two_members, phantom_data, tmp_path):
    from helpers.modeling.explain import gradcam_and_logits
    from helpers.modeling.predictor import load_model
    from helpers.records import sha256_file

    jpath = ensemble.build(two_members, "pair", out_dir=tmp_path, data_dir=phantom_data)
    meta = json.loads(jpath.read_text())
    assert meta["arch"] == "ensemble" and [m["name"] for m in meta["members"]] == ["tiny", "tiny_seed7"]
    assert meta["keras_sha256"] == sha256_file(tmp_path / "pair.keras")
    for m, p in zip(meta["members"], two_members):
        assert m["keras_sha256"] == sha256_file(p)
    assert meta["temperature"] > 0 and meta["validation"]["n"] > 0
    pred = load_model(tmp_path / "pair.keras")  # safe_mode load and sha256 check
    x = np.random.default_rng(1).uniform(0, 255, (64, 64)).astype("float32")
    probs = pred.predict_one(x)
    assert probs.shape == (len(config.CLASSES),) and probs.sum() == pytest.approx(1, abs=1e-5)
    heat, _ = gradcam_and_logits(pred.model, x)  # "last_conv" is the members' concatenated maps
    assert heat.shape == (64, 64) and np.isfinite(heat).all()


def test_members_from_different_splits_are_refused(two_members, phantom_data, tmp_path):
    for p in two_members:
        for suffix in (".keras", ".json"):
            shutil.copy2(p.with_suffix(suffix), tmp_path / f"{p.stem}{suffix}")
    j = tmp_path / f"{two_members[1].stem}.json"
    meta = json.loads(j.read_text())
    meta["data"]["split_sha256"] = "0" * 64
    j.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="another split"):
        ensemble.build([tmp_path / f"{p.stem}.keras" for p in two_members], "bad", out_dir=tmp_path,
                       data_dir=phantom_data)


def test_a_head_that_is_not_linear_after_pooling_is_refused():
    from helpers.modeling.architectures import build_model

    with pytest.raises(ValueError, match="global average pooling"):
        ensemble.merge([build_model("capstone_cnn", 64), build_model("capstone_cnn", 64)])
    with pytest.raises(ValueError, match="at least two"):
        ensemble.merge([build_model("tiny", 64)])


def test_cli_reports_a_bad_member_in_one_line(tmp_path, capsys):
    from helpers.cli import main

    assert main(["ensemble", str(tmp_path / "missing.keras"), str(tmp_path / "missing2.keras"), "--name", "x",
                 "--out-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
