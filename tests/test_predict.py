"""helpers.modeling.predictor: safe loading (sha256, class list, missing files), calibrated probabilities, files and CLI."""
from __future__ import annotations

import json
import os
import shutil
import types
from pathlib import Path

import numpy as np
import pytest

from helpers import config
from helpers.errors import ModelError
from helpers.modeling import predictor as predict
from helpers.data.prepare import prepare


@pytest.fixture(autouse=True)
def _session_cache(monkeypatch, session_cache):
    monkeypatch.setattr(config, "cache_dir", lambda: session_cache)


@pytest.fixture
def model_copy(tiny_model_json, tmp_path) -> Path:
    """A private copy of the tiny model (.keras + .json) that a test may tamper with; returns the .keras path."""
    src = Path(tiny_model_json)
    for suffix in (".keras", ".json"):
        shutil.copy2(src.with_suffix(suffix), tmp_path / f"tiny{suffix}")
    return tmp_path / "tiny.keras"


def _images(phantom_data, n=3):
    return sorted(Path(phantom_data).glob("Testing/*/*.jpg"))[:: max(1, 16 // n)][:n]


def test_missing_model_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelError) as e:
        predict.load_model(tmp_path / "nope.keras")
    msg = str(e.value)
    assert "no model at" in msg and "nope.keras" in msg and "brain-mri train" in msg
    assert f"models/{config.DEFAULT_MODEL_NAME}/model.keras" in msg and "\n" not in msg


def test_missing_record_is_refused(model_copy):
    model_copy.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="no model record"):
        predict.load_model(model_copy)


def test_sha256_mismatch_is_refused(model_copy):
    with open(model_copy, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError) as e:
        predict.load_model(model_copy)
    assert str(e.value).startswith("sha256 mismatch for tiny.keras: refusing to load")


def test_wrong_classes_are_refused(model_copy):
    j = model_copy.with_suffix(".json")
    meta = json.loads(j.read_text())
    meta["classes"] = list(reversed(meta["classes"]))
    j.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="classes"):
        predict.load_model(model_copy)


def test_predict_arrays_calibrated_and_cached(tiny_model_json, tiny_images):
    p = predict.load_model(Path(tiny_model_json).with_suffix(".keras"))
    assert predict.load_model(p.path) is p  # one load per kernel
    assert p.classes == config.CLASSES and p.img_size == 64 and p.temperature > 0
    X = np.stack([prepare(g, p.img_size) for g in tiny_images.values()])
    probs = p.predict_arrays(X)
    assert probs.shape == (4, 4)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(predict.p_tumour(probs), 1 - probs[:, config.CLASSES.index("notumor")])
    logits = p.logits_arrays(X)
    z = logits / p.temperature
    expect = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(probs, expect / expect.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.predict_one(X[0]), probs[0], atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        p.predict_arrays(np.zeros((2, 32, 32), np.uint8))


def test_flip_tta_is_the_mean_of_image_and_mirror_on_every_path(tiny_model_json, tiny_images):
    """TTA runs image and mirror as one batch, and one image through an XLA copy: both must equal the plain mean."""
    p = predict.load_model(Path(tiny_model_json).with_suffix(".keras"))
    tta = predict.Predictor(p.model, {**p.meta, "tta": "hflip"}, p.path)
    X = np.stack([prepare(g, p.img_size) for g in tiny_images.values()])
    expect = (p.logits_arrays(X) + p.logits_arrays(X[:, :, ::-1])) / 2
    np.testing.assert_allclose(tta.logits_arrays(X), expect, atol=1e-5)
    np.testing.assert_allclose(tta.logits_arrays(X[:1]), expect[:1], atol=1e-5)  # the XLA one-image path
    np.testing.assert_allclose(p.logits_arrays(X[1:2]), p.logits_arrays(X)[1:2], atol=1e-5)


def test_predict_source_dicom_and_explain(tiny_model_json):
    pydicom_data = pytest.importorskip("pydicom.data")
    dcm = pydicom_data.get_testdata_file("MR_small.dcm")
    p = predict.load_model(Path(tiny_model_json).with_suffix(".keras"))
    r = p.predict_source(dcm, explain=True)
    assert r["decoded"].format == "DICOM" and r["prediction"] in config.CLASSES
    assert abs(sum(r["probs"].values()) - 1) < 1e-6 and r["prepared"].shape == (64, 64)
    assert r["heat"].shape == (64, 64) and 0 <= r["heat"].min() and r["heat"].max() <= 1
    # the one-pass Grad-CAM path gives the same probabilities as the plain path
    np.testing.assert_allclose(list(r["probs"].values()), p.predict_one(r["prepared"]), atol=1e-5)


def test_predict_files_row_level_errors(tiny_model_json, phantom_data, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    good = _images(phantom_data, 2)
    rows = predict.predict_files([good[0], bad, good[1], tmp_path / "missing.png"],
                                 predict.load_model(Path(tiny_model_json).with_suffix(".keras")))
    assert [bool(r["error"]) for r in rows] == [False, True, False, True]
    assert rows[1]["probs"] is None and "not an image" in rows[1]["error"]
    assert rows[2]["prediction"] in config.CLASSES


def test_cli_predict(tiny_model_json, phantom_data, tmp_path, capsys):
    pydicom_data = pytest.importorskip("pydicom.data")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    good = [str(p) for p in _images(phantom_data, 2)]
    dcm = pydicom_data.get_testdata_file("MR_small.dcm")
    args = types.SimpleNamespace(images=[*good, str(bad), dcm], model=str(Path(tiny_model_json).with_suffix(".keras")))
    assert predict.cli_predict(args) == 1
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0] == "path,glioma,meningioma,notumor,pituitary,p_tumour,prediction,call,unfamiliar"
    assert len(lines) == 4  # header + 2 phantoms + DICOM; the bad file only on stderr
    last = lines[-1].split(",")
    assert lines[-1].startswith(dcm) and last[-3] in config.CLASSES
    # the class named agrees with the tumour call: never "notumor" beside P(tumour) >= 0.5
    assert (last[-2] == "tumour") == (float(last[-4]) >= 0.5) == (last[-3] != "notumor")
    assert all(len(v.split(".")[1]) == 4 for v in lines[1].split(",")[1:6])
    assert f"{bad}: error:" in err
    args.images = good
    assert predict.cli_predict(args) == 0
    capsys.readouterr()


def test_cli_predict_model_error_exit_2(tmp_path, capsys):
    args = types.SimpleNamespace(images=["x.jpg"], model=str(tmp_path / "none.keras"))
    assert predict.cli_predict(args) == 2
    assert "no model at" in capsys.readouterr().err


@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("BRAIN_MRI_DATA"), reason="needs $BRAIN_MRI_DATA")
@pytest.mark.skipif(not config.DEFAULT_MODEL.is_file(), reason="no shipped model in models/")
def test_shipped_model_predicts_a_real_image():
    root = Path(os.environ["BRAIN_MRI_DATA"])
    img = next(iter(sorted((root / "Testing" / "glioma").glob("*.jpg"))))
    p = predict.load_model()
    r = p.predict_source(img, explain=True)
    assert r["prediction"] in config.CLASSES and abs(sum(r["probs"].values()) - 1) < 1e-6
    assert r["heat"].shape == (p.img_size, p.img_size)


def _set_record(model_copy, **changes):
    j = model_copy.with_suffix(".json")
    meta = json.loads(j.read_text())
    meta.update(changes)
    j.write_text(json.dumps(meta))


def test_flip_tta_averages_the_image_and_its_mirror(model_copy, tiny_images):
    import keras

    _set_record(model_copy, tta="hflip")
    p = predict.load_model(model_copy)
    x = prepare(tiny_images["glioma"], p.img_size)
    raw = keras.models.load_model(model_copy, compile=False)
    want = (raw.predict(x[None, :, :, None].astype("float32"), verbose=0)
            + raw.predict(x[None, :, ::-1, None].astype("float32"), verbose=0)) / 2
    np.testing.assert_allclose(p.logits_arrays(x), want, atol=1e-4)
    # an asymmetric image: TTA must actually change the logits, or the test above proves nothing
    assert np.abs(raw.predict(x[None, :, :, None].astype("float32"), verbose=0) - want).max() > 1e-4
    r = p.predict_source(_png(tiny_images["glioma"], model_copy.parent), explain=True)
    np.testing.assert_allclose(list(r["probs"].values()), p.predict_one(r["prepared"]), atol=1e-5)
    assert r["heat"].shape == (p.img_size, p.img_size)


def _png(gray, folder):
    from PIL import Image

    path = folder / "glioma.png"
    Image.fromarray(gray).save(path)
    return path


def test_unknown_tta_is_refused(model_copy):
    _set_record(model_copy, tta="rot90")
    with pytest.raises(ModelError, match="rot90"):
        predict.load_model(model_copy)


def test_calibrate_keeps_tta_only_when_validation_supports_it(model_copy, phantom_data, tmp_path):
    from helpers.modeling.train import recalibrate

    _set_record(model_copy, evaluation={"stale": True}, temperature=9.0)
    meta = json.loads(recalibrate(model_copy, data_dir=phantom_data).read_text())
    v = meta["validation"]
    kept = meta["tta"] == "hflip"
    assert kept == (v["accuracy_hflip_tta"] >= v["accuracy_plain"] and v["nll_hflip_tta"] < v["nll_plain"])
    assert v["accuracy"] == (v["accuracy_hflip_tta"] if kept else v["accuracy_plain"])
    assert meta["temperature"] != 9.0 and "evaluation" not in meta  # the old evaluation no longer holds
    assert predict.load_model(model_copy).tta == meta["tta"]  # weights untouched: the sha256 still matches


def test_decide_names_the_class_of_the_tumour_call():
    # argmax would say notumor (0.42) while P(tumour) = 0.58: the call names the likeliest tumour type instead
    assert predict.decide(np.array([0.20, 0.18, 0.42, 0.20])) == "glioma"
    assert predict.decide(np.array([0.10, 0.10, 0.60, 0.20])) == "notumor"
    assert predict.decide(np.array([0.05, 0.05, 0.10, 0.80])) == "pituitary"
    assert predict.decide(np.array([0.20, 0.18, 0.42, 0.20]), threshold=0.6) == "notumor"
