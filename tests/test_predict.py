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


def _cli(capsys, *argv) -> tuple[int, list[dict], str, str]:
    """Run `brain-mri predict ARGV` in-process: (exit code, CSV rows as dicts, stdout, stderr)."""
    import csv
    import io

    from helpers import cli

    code = cli.main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, list(csv.DictReader(io.StringIO(out))), out, err


def test_cli_predict(tiny_model_json, phantom_data, tmp_path, capsys):
    from helpers.app.predict import CSV_HEADER

    pydicom_data = pytest.importorskip("pydicom.data")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    good = [str(p) for p in _images(phantom_data, 2)]
    import pydicom

    ds = pydicom.dcmread(pydicom_data.get_testdata_file("MR_small.dcm"))
    a = ds.pixel_array
    ds.PixelData = np.random.default_rng(0).integers(0, int(a.max()) + 1, a.shape).astype(a.dtype).tobytes()
    dcm = tmp_path / "noise.dcm"  # a valid DICOM of noise
    ds.save_as(dcm, enforce_file_format=True)
    dcm = str(dcm)
    model = str(Path(tiny_model_json).with_suffix(".keras"))
    code, rows, out, err = _cli(capsys, *good, bad, dcm, "--model", model)
    assert code == 1
    assert out.splitlines()[0] == ",".join(CSV_HEADER)
    assert [r["path"] for r in rows] == [*good, dcm]  # the bad file only on stderr, every path echoed as given
    assert f"{bad}: error:" in err
    for r in rows[:2]:
        assert r["call"] in ("tumour", "no tumour", "uncertain") and r["reason"]
        assert r["prediction"] in config.CLASSES and all(len(r[c].split(".")[1]) == 4 for c in config.CLASSES)
        # the class named sits on the side of the call threshold (0.5 for a model without an evaluation)
        assert (r["prediction"] != "notumor") == (float(r["p_tumour"]) >= 0.5)
    # a DICOM of noise: the input gate refuses it: no verdict, no probabilities
    assert rows[2]["call"] == "no verdict" and rows[2]["p_tumour"] == "" and rows[2]["reason"]
    # the tiny model has no unfamiliar-scan check and was trained on phantoms: said once, on stderr
    assert "has no unfamiliar-scan check" in err
    assert _cli(capsys, *good, "--model", model)[0] == 0


def test_cli_predict_folders_recursive_and_missing_paths(tiny_model_json, phantom_data, tmp_path, capsys):
    pydicom_data = pytest.importorskip("pydicom.data")
    folder = tmp_path / "scans"
    (folder / "a" / "b").mkdir(parents=True)
    imgs = _images(phantom_data, 2)
    shutil.copy(imgs[0], folder / "one.jpg")
    shutil.copy(imgs[1], folder / "a" / "b" / "two.JPG")
    shutil.copy(pydicom_data.get_testdata_file("MR_small.dcm"), folder / "a" / "IM0001")  # DICOM without a suffix
    (folder / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()
    model = str(Path(tiny_model_json).with_suffix(".keras"))
    rel = os.path.relpath(folder)
    code, rows, _, err = _cli(capsys, rel, "missing/x.png", tmp_path / "empty", "--model", model)
    assert code == 1
    assert [r["path"] for r in rows] == [os.path.join(rel, p) for p in ("a/IM0001", "a/b/two.JPG", "one.jpg")]
    assert "missing/x.png: error: no such file or folder" in err  # echoed as given, not its basename
    assert f"{tmp_path / 'empty'}: error: no JPEG, PNG or DICOM files" in err


def test_cli_predict_prints_no_header_when_every_file_failed(tiny_model_json, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    code, rows, out, err = _cli(capsys, bad, tmp_path / "gone.jpg", "--model",
                                str(Path(tiny_model_json).with_suffix(".keras")))
    assert code == 1 and out == "" and err.count(": error:") == 2


def test_cli_predict_model_error_exit_2(tmp_path, capsys):
    code, _, out, err = _cli(capsys, "x.jpg", "--model", tmp_path / "none.keras")
    assert code == 2 and out == "" and "no model at" in err


def _real_slices(n: int = 40) -> list[Path]:
    """n real slices spread over the shared collections (Kaggle test folder, Br35H, Sartaj's Testing); [] without
    them. $BRAIN_MRI_DATA's parent holds the collections, else ../shared/datasets beside the checkout."""
    env = os.environ.get("BRAIN_MRI_DATA")
    base = Path(env).parent if env else config.PROJ_ROOT.parent / "shared" / "datasets"
    files = sorted(f for pattern in ("brain-tumor-mri/Testing/*/*.jpg", "br35h/*/*.jpg", "sartaj-testing/*/*.jpg")
                   for f in base.glob(pattern))
    return files[:: max(1, len(files) // n)][:n]


@pytest.mark.skipif(not config.DEFAULT_MODEL.is_file(), reason="no shipped model in models/")
def test_cli_and_dashboard_give_the_same_call(tmp_path, capsys):
    """The issue-22 check: `brain-mri predict` (shipped model) and process_upload(name, bytes) (the dashboard's
    path, shipped model by default) give the same call and reason for every file: real slices when the collections
    are here, a colour photo, which must leave without a verdict, and pydicom's MR_small.dcm (a 64-px crop of
    anatomy, not a whole brain slice), which must not get a confident call: the input gate (batch 32) reads it, the
    shipped model's unfamiliar-scan rule calls it uncertain."""
    from helpers.app.upload import process_upload

    pydicom_data = pytest.importorskip("pydicom.data")
    from PIL import Image

    yy, xx = np.mgrid[0:240, 0:320]
    photo = tmp_path / "gradient.jpg"
    Image.fromarray(np.dstack([xx * 255 // 319, yy * 255 // 239, np.full_like(xx, 90)]).astype(np.uint8)).save(photo)
    dcm = Path(pydicom_data.get_testdata_file("MR_small.dcm"))
    real = _real_slices()
    files = [*real, photo, dcm]
    code, rows, _, err = _cli(capsys, *files)
    assert code == 0, err
    by_path = {r["path"]: r for r in rows}
    assert list(by_path) == [str(f) for f in files]
    calls = {}
    for f in files:
        res = process_upload(f.name, f.read_bytes())
        assert res.ok, res.error
        assert (by_path[str(f)]["call"], by_path[str(f)]["reason"]) == (res.call, res.call_reason), f
        calls[f.name] = res.call
    assert calls[photo.name] == "no verdict" and calls[dcm.name] in ("no verdict", "uncertain")
    if not real:
        pytest.skip("no shared collections here: only the photo and MR_small.dcm were compared")
    assert len(real) == 40 and {c for f, c in calls.items()} - {"no verdict"}  # real slices get calls too


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
