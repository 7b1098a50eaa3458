"""Dashboard callbacks (helpers/app/dashboard.py) without a browser: every bad input gives one line and the next upload still
works; checks, DICOM metadata, abstain band, model tab, and the widget plumbing (upload -> cards, opacity slider)."""
from __future__ import annotations

import datetime as dt
import functools
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from helpers import formatting
from helpers import config

from helpers.app import cards, dashboard, input_checks, models_tab, registry, serve, upload


# ----------------------------------------------------------------------------------------- helpers
def enc(a: np.ndarray, fmt: str = "PNG", mode: str | None = None, **kw) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(a) if mode is None else Image.fromarray(a).convert(mode)
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def phantom(label: str = "glioma", seed: int = 3, size: int = 256) -> np.ndarray:
    from helpers.data.synthetic import make_phantom

    return make_phantom(label, seed=seed, size=size)[0]


@pytest.fixture(scope="module")
def predictor(tiny_model_json):
    return registry.get_predictor(Path(tiny_model_json).with_suffix(".keras"))


@pytest.fixture(scope="module")
def good_jpeg() -> bytes:
    return enc(phantom(), "JPEG", quality=90)


def assert_one_line_error(res, *words: str) -> None:
    assert res.error, f"expected an error, got {res.summary()}"
    assert "\n" not in res.error and "Traceback" not in res.error
    assert len(res.error) < 200
    for w in words:
        assert w in res.error.lower(), res.error


def assert_good(res) -> None:
    assert res.ok, res.error
    assert res.probs is not None and res.probs.shape == (len(config.CLASSES),)
    assert np.isclose(res.probs.sum(), 1.0, atol=1e-6)
    assert 0.0 <= res.p_tumour <= 1.0
    assert res.predicted in config.CLASSES
    assert res.prepared.dtype == np.uint8 and res.prepared.ndim == 2


def png_ihdr_patched(w: int, h: int) -> bytes:
    """A small valid PNG whose IHDR claims w x h (CRC fixed): a decompression bomb's header, nothing allocated."""
    data = bytearray(enc(np.zeros((32, 32), np.uint8)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", w, h)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def mr_small():
    import pydicom
    from pydicom.data import get_testdata_file

    return pydicom.dcmread(get_testdata_file("MR_small.dcm"))


def noise_dicom():
    """pydicom's MR_small with its pixels replaced by noise: a valid DICOM the input gate must refuse to read."""
    ds = mr_small()
    a = ds.pixel_array
    ds.PixelData = np.random.default_rng(0).integers(0, int(a.max()) + 1, a.shape).astype(a.dtype).tobytes()
    return ds


def dicom_bytes(ds) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- bad inputs
@functools.lru_cache(maxsize=1)
def bad_inputs() -> dict[str, tuple[str, bytes, tuple[str, ...]]]:
    j = enc(phantom(), "JPEG", quality=90)
    ds = mr_small()
    del ds.PixelData
    return {
        "empty": ("empty.jpg", b"", ("empty",)),
        "not an image": ("notes.png", b"hello, this is plain text and not an image\n" * 20, ("not an image",)),
        "truncated jpeg": ("cut.jpg", j[: len(j) // 3], ("truncated",)),
        "1x1": ("dot.png", enc(np.zeros((1, 1), np.uint8)), ("too small",)),
        "20000x20000 header": ("bomb.png", png_ihdr_patched(20000, 20000), ("too large",)),
        "above the cap": ("huge.png", b"\x89PNG" + b"\0" * config.MAX_UPLOAD_BYTES, ("too large", "limit")),
        "dicom without pixels": ("nopix.dcm", dicom_bytes(ds), ("no pixel data",)),
    }


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_bad_input_one_line_then_next_upload_works(case, predictor, good_jpeg):
    name, data, words = bad_inputs()[case]
    res = upload.process_upload(name, data, predictor)
    assert_one_line_error(res, *words)
    assert res.probs is None
    assert_good(upload.process_upload("next.jpg", good_jpeg, predictor))


def test_size_cap_checked_before_decoding(monkeypatch, predictor):
    def boom(*a, **k):
        raise AssertionError("decode must not run on an oversized upload")

    monkeypatch.setattr(upload, "decode_prepare", boom)
    res = upload.process_upload("big.dcm", b"\0" * (config.MAX_UPLOAD_BYTES + 1), predictor)
    assert_one_line_error(res, "too large")


def test_unexpected_decoder_exception_is_one_line(monkeypatch, predictor):
    monkeypatch.setattr(upload, "decode_prepare", lambda *a, **k: 1 / 0)
    res = upload.process_upload("x.png", b"abc", predictor)
    assert_one_line_error(res, "could not read")


# ----------------------------------------------------------------------------------------- odd but usable images
def odd_images() -> dict[str, tuple[str, bytes, str | None]]:
    g = phantom()
    rgba = np.dstack([g, g, g, np.full_like(g, 255)])
    return {
        "png named .jpg": ("scan.jpg", enc(g), "extension says .jpg but content is PNG"),
        "rgba": ("rgba.png", enc(rgba), None),
        "palette": ("pal.png", enc(g, mode="P"), None),
        "16-bit": ("deep.png", enc((g.astype(np.uint16) * 257)), "16-bit"),
        "cmyk": ("cmyk.jpg", enc(g, "JPEG", mode="CMYK"), None),
    }


@pytest.mark.parametrize("case", list(odd_images()))
def test_odd_modes_are_predicted(case, predictor):
    name, data, note = odd_images()[case]
    res = upload.process_upload(name, data, predictor)
    assert_good(res)
    if note:
        assert any(note in n for n in res.notes), res.notes
    assert res.heat is not None and res.heat.shape == res.prepared.shape
    assert 0.0 <= float(res.heat.min()) and float(res.heat.max()) <= 1.0


def test_clean_phantom_has_no_warnings(predictor, good_jpeg):
    res = upload.process_upload("phantom.jpg", good_jpeg, predictor)
    assert_good(res)
    assert res.warnings == [], res.warnings


# ----------------------------------------------------------------------------------------- input checks
def smooth_rgb(seed: int = 0, shape=(300, 400)) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    a = np.stack([ndimage.gaussian_filter(rng.standard_normal(shape), 20) for _ in range(3)], -1)
    return ((a - a.min()) / np.ptp(a) * 255).astype(np.uint8)


def test_colour_photograph_warns(predictor):
    res = upload.process_upload("holiday.jpg", enc(smooth_rgb(), "JPEG", quality=90), predictor)
    assert_good(res)  # still answered, but flagged
    assert any(w.startswith("colour image") for w in res.warnings), res.warnings
    assert not any(n.startswith("colour image") for n in res.notes)  # no duplicate of decode's own note


def test_colour_upload_keeps_a_colour_thumbnail_and_gets_no_verdict(predictor):
    res = upload.process_upload("holiday.jpg", enc(smooth_rgb(), "JPEG", quality=90), predictor)
    assert res.original.ndim == 3 and res.original.shape[2] == 3  # shown as uploaded; the model reads grey
    assert res.prepared.ndim == 2 and res.call == "no verdict" and res.call_reason.startswith("colour image")


def test_real_photograph_warns(predictor):
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        data = fh.read()
    res = upload.process_upload("portrait.jpg", data, predictor)
    assert_good(res)
    assert any(w.startswith("colour image") for w in res.warnings), res.warnings


@pytest.mark.parametrize("kind", ["noise", "flat"])
def test_out_of_distribution_warns(kind, predictor):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (256, 256), dtype=np.uint8) if kind == "noise" else np.full((256, 256), 128, np.uint8)
    res = upload.process_upload(f"{kind}.png", enc(a), predictor)
    assert res.ok
    assert any("out of distribution" in w for w in res.warnings), res.warnings


@pytest.mark.parametrize("kind", ["frame", "labels"])
def test_text_and_frame_outside_head_warn(kind, predictor):
    g = phantom(size=512).copy()
    if kind == "frame":
        g[:6], g[-6:], g[:, :6], g[:, -6:] = 255, 255, 255, 255
    else:
        im = Image.fromarray(g)
        d = ImageDraw.Draw(im)
        for x, y in ((4, 4), (4, 492), (380, 4)):
            d.rectangle((x, y, x + 120, y + 14), fill=255)  # burnt-in label boxes in the corners
        g = np.asarray(im)
    res = upload.process_upload(f"{kind}.png", enc(g), predictor)
    assert res.ok
    assert any("outside the head" in w for w in res.warnings), (res.warnings, res.features)


def test_small_image_warns(predictor):
    res = upload.process_upload("small.png", enc(phantom(size=64)), predictor)
    assert_good(res)
    assert any(w.startswith("small image") for w in res.warnings), res.warnings


@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("BRAIN_MRI_DATA"), reason="needs $BRAIN_MRI_DATA")
def test_check_thresholds_are_re_derived_from_the_training_images():
    """The Kaggle-fitted gate (the fallback, and batch 32's baseline) and the bright-marks limits must still follow
    from the data they were measured on (800 leak-free training images, seed 42): the reference histogram to 3
    decimals, and every limit just beyond the training extremes the comment beside it quotes."""
    from helpers.data import gate

    m = input_checks.measure_reference()
    assert m["n"] == 800
    assert np.allclose(m["ref_hist"], gate.REF_HIST_KAGGLE, atol=1e-3), (m["ref_hist"], gate.REF_HIST_KAGGLE)
    q, c, g = m["quantiles"], input_checks.CHECKS, gate.CURRENT_GATE
    assert q["colour"]["1.0"] <= g["colour_max"]
    assert q["dark_frac"]["0.0"] >= g["dark_frac_min"]  # no training image flagged
    assert q["corner_dark"]["0.0"] >= g["corner_dark_min"]
    assert q["hist_l1"]["1.0"] <= g["hist_l1_max"]
    assert q["outside_bright"]["0.95"] <= c["outside_bright_max"] < q["outside_bright"]["1.0"]
    assert q["edge_bright"]["0.5"] <= c["edge_bright_max"] < q["edge_bright"]["1.0"]


# ----------------------------------------------------------------------------------------- DICOM
def test_real_mr_dicom_shows_metadata_and_no_patient_fields(predictor):
    ds = mr_small()
    # distinctive identifying values, so a leak cannot hide behind a common word
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "ID-4242-XYZ", "19700101"
    ds.InstitutionName, ds.ReferringPhysicianName = "St Example Hospital", "Smith^Dr"
    res = upload.process_upload("MR_small.dcm", dicom_bytes(ds), predictor)
    assert_good(res)
    assert res.format == "DICOM"
    rows = dict(res.dicom)
    assert rows["Manufacturer"] == str(ds.Manufacturer)
    assert "Pixel spacing" in rows and "Slice thickness" in rows
    card_html = " ".join(w.value for w in _walk(cards.render_card(res)) if hasattr(w, "value") and isinstance(w.value, str))
    assert "DICOM acquisition" in card_html
    for attr in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "ReferringPhysicianName"):
        assert attr not in card_html
        for part in str(ds.get(attr)).split("^"):
            assert part not in card_html, f"{attr} value leaked into the page"
    assert not any(k.lower().startswith("patient") for k in rows)


def test_multiframe_dicom_uses_middle_frame(predictor):
    ds = mr_small()
    arr = ds.pixel_array
    frames = np.stack([np.zeros_like(arr), arr, np.zeros_like(arr)])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    res = upload.process_upload("cine.dcm", dicom_bytes(ds), predictor)
    assert_good(res)
    assert any("middle frame" in n for n in res.notes), res.notes
    rows = dict(res.dicom)
    assert rows["Frames"] == "3" and rows["Frame shown (0-based)"] == "1"
    assert res.original.max() > 0  # the middle (non-blank) frame was shown


# ----------------------------------------------------------------------------------------- abstain band
def test_abstain_threshold_from_evaluation_or_default():
    assert registry.abstain_threshold({}) == (registry.DEFAULT_ABSTAIN, "default: model not evaluated")
    meta = {"evaluation": {"leakfree_test": {"abstain": {"threshold": 0.8}}}}
    assert registry.abstain_threshold(meta)[0] == 0.8


def test_abstain_band(predictor, good_jpeg):
    low = upload.process_upload("a.jpg", good_jpeg, predictor, threshold=1.0)
    assert low.abstain
    html_ = cards.headline_html(low)
    assert "uncertain — refer to a radiologist" in html_
    high = upload.process_upload("a.jpg", good_jpeg, predictor, threshold=0.0)
    assert not high.abstain and "refer to a radiologist" not in cards.headline_html(high)


def test_abstaining_on_the_type_keeps_a_sure_tumour_call():
    """P(tumour) 98.5% split between glioma and meningioma: the call stays "tumour" and the card says the type is the
    unsure part; at P(tumour) 60% the call itself is "uncertain", with another reason (one box, one reason each)."""
    probs = np.array([0.701, 0.278, 0.015, 0.006])
    res = upload.Result(name="a.jpg", classes=list(config.CLASSES), probs=probs, predicted="glioma",
                        confidence=0.701, p_tumour=0.985, abstain=True, abstain_threshold=0.902)
    assert res.call == "tumour" and res.type_uncertain
    sure = cards.headline_html(res)
    assert "call: <b>tumour</b> (P(tumour) ≥ 0.5); the tumour type is uncertain" in sure and "leaning" not in sure
    assert "tumour type uncertain — refer to a radiologist" in sure and "highest class probability 0.701" in sure
    res.probs, res.p_tumour, res.confidence = np.array([0.35, 0.25, 0.40, 0.0]), 0.60, 0.40
    assert res.call == "uncertain" and not res.type_uncertain
    unsure = cards.headline_html(res)
    assert "call: <b>uncertain</b> — refer to a radiologist" in unsure and "type is uncertain" not in unsure
    assert "P(tumour) 0.600 is inside the uncertain band 0.098–0.902" in unsure and "leaning" not in unsure


def test_decide_call_in_order():
    """One function, four calls: no verdict before uncertain before the threshold; the band comes from the abstain
    threshold, the call from the model's call threshold."""
    def r(**kw):
        base = dict(classes=list(config.CLASSES), probs=np.array([0.1, 0.1, 0.7, 0.1]), predicted="glioma",
                    confidence=0.7, p_tumour=0.3, abstain_threshold=0.9, call_threshold=0.2)
        res = upload.Result(name="x.png")
        for k, v in {**base, **kw}.items():
            setattr(res, k, v)
        return res

    assert upload.Result(name="x", error="empty file").call == "no verdict"
    assert r(probs=None).call_reason == "no model loaded: input checks only"
    assert r(verdict=False, reason="colour image").call_reason == "colour image"
    assert r(verdict=False, unfamiliar=True).call == "no verdict"
    assert r(unfamiliar=True, p_tumour=0.99).call == "uncertain"
    assert r(p_tumour=0.3).call == "uncertain"  # 0.1 < 0.3 < 0.9
    assert r(p_tumour=0.95).call == "tumour" and r(p_tumour=0.05).call == "no tumour"
    assert r(p_tumour=0.05, call_threshold=0.04).call == "tumour"  # outside the band: the call threshold decides
    assert r(p_tumour=0.3, abstain_threshold=0.4).call == "tumour"  # a threshold below 0.5: no band at all
    assert set(upload.CALLS) == {"tumour", "no tumour", "uncertain", "no verdict"}


SCREENING = {"threshold": 0.5, "n_tumour": 753, "n_no_tumour": 304, "n_missed": 4, "n_false_alarm": 2}


def test_call_track_record_counts_the_calls_of_the_same_kind():
    meta = {"evaluation": {"synthetic": False, "leakfree_test": {"screening": SCREENING}}}
    neg = registry.call_track_record(meta, called_tumour=False)
    assert "4 of 306" in neg and "had a tumour" in neg and "1.3%" in neg  # 4 missed among 4 + (304 - 2)
    pos = registry.call_track_record(meta, called_tumour=True)
    assert "2 of 751" in pos and "had no tumour" in pos  # 2 false alarms among (753 - 4) + 2
    lo, hi = (float(v) for v in neg.split("95% CI ")[1].rstrip("%)").split("–"))
    assert 0.0 < lo < 1.3 < hi < 5.0
    assert registry.call_track_record({}, False) is None
    assert registry.call_track_record({"evaluation": {"synthetic": True, "leakfree_test": {"screening": SCREENING}}},
                                 False) is None


def test_collection_track_record_names_each_collections_error_rate():
    metrics = {"all": {"sensitivity": 0.9, "specificity": 0.8, "n_tumour": 30, "n_healthy": 20},
               "br35h": {"sensitivity": 0.816, "specificity": 0.796, "n_tumour": 250, "n_healthy": 230},
               "sartaj-testing": {"sensitivity": 0.75, "specificity": None, "n_tumour": 12, "n_healthy": 0}}
    neg = registry.collection_track_record({"metrics": metrics}, called_tumour=False)
    assert neg == ("per collection (held-out groups, call at P(tumour) ≥ 0.5), tumours called no tumour: "
                   "Br35H 18.4% of 250, Sartaj 25.0% of 12")
    pos = registry.collection_track_record({"metrics": metrics}, called_tumour=True)
    assert pos == ("per collection (held-out groups, call at P(tumour) ≥ 0.5), healthy slices called tumour: "
                   "Br35H 20.4% of 230")
    assert registry.collection_track_record({}, True) is None  # a model trained on the Kaggle set only


class _WithMeta:
    """The test predictor with another evaluation record (the tiny model's JSON has none)."""

    def __init__(self, inner, meta):
        self._inner, self.meta = inner, meta

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_upload_shows_the_track_record_of_its_call(predictor, good_jpeg, threshold):
    screening = {**SCREENING, "threshold": threshold if threshold else 1e-9}
    meta = {"evaluation": {"synthetic": False, "leakfree_test": {"screening": screening}}}
    # abstain threshold 0: no uncertain band, so the phantom gets a call (an uncertain one quotes no track record)
    res = upload.process_upload("a.jpg", good_jpeg, _WithMeta(predictor, meta), with_gradcam=False, threshold=0.0)
    assert_good(res)
    note = res.track_record
    assert note and note.startswith("track record")
    # threshold ~0: every scan is a "tumour" call; threshold 1 (clamped to 0.5 as invalid): depends on P(tumour)
    expect_tumour = res.p_tumour >= res.call_threshold
    assert ("“tumour”" in note) == expect_tumour and ("“no tumour”" in note) == (not expect_tumour)
    assert 'class="bm-note bm-track"' in cards.headline_html(res) and "per collection" not in note
    metrics = {"br35h": {"sensitivity": 0.5, "specificity": 0.25, "n_tumour": 10, "n_healthy": 8}}
    res = upload.process_upload("a.jpg", good_jpeg, _WithMeta(predictor, {**meta, "metrics": metrics}),
                                with_gradcam=False, threshold=0.0)
    assert res.track_record.startswith("track record") and ("Br35H 75.0% of 8" if expect_tumour
                                                            else "Br35H 50.0% of 10") in res.track_record
    plain = upload.process_upload("a.jpg", good_jpeg, predictor, with_gradcam=False)
    assert plain.track_record is None and "bm-track" not in cards.headline_html(plain)
    unsure = upload.process_upload("a.jpg", good_jpeg, _WithMeta(predictor, meta), with_gradcam=False, threshold=1.0)
    assert unsure.call == "uncertain" and unsure.track_record is None


def test_no_model_still_checks_inputs(good_jpeg):
    res = upload.process_upload("a.jpg", good_jpeg, None)
    assert res.ok and res.probs is None and res.prepared.shape == (config.IMG_SIZE, config.IMG_SIZE)


# ----------------------------------------------------------------------------------------- widgets
def _walk(w):
    yield w
    for c in getattr(w, "children", ()) or ():
        yield from _walk(c)


def _upload_value(*files: tuple[str, bytes]):
    now = dt.datetime.now(dt.timezone.utc)
    return tuple({"name": n, "type": "", "size": len(b), "content": memoryview(b), "last_modified": now}
                 for n, b in files)


@pytest.fixture
def ui_dash(predictor, tmp_path):
    return dashboard.Dashboard(model=predictor.path, examples=dashboard.list_examples(data_dir=tmp_path / "nothing"),
                               models=[])


def test_upload_several_files_one_bad(ui_dash, good_jpeg):
    dcm = dicom_bytes(noise_dicom())
    ui_dash.uploader.value = _upload_value(("a.jpg", good_jpeg), ("broken.png", b"nope"), ("mr.dcm", dcm))
    res = ui_dash.results
    assert [r.name for r in res] == ["a.jpg", "broken.png", "mr.dcm"]
    assert res[1].error and res[0].ok and res[2].ok
    assert len(ui_dash.cards.children) == 3
    assert "bm-card-error" in ui_dash.cards.children[1]._dom_classes
    html_ = " ".join(w.value for w in _walk(ui_dash.cards) if isinstance(getattr(w, "value", None), str))
    assert "broken.png: not an image" in html_
    assert "Traceback" not in html_
    # a DICOM of noise: read, but no verdict
    assert res[2].verdict is False and 'data-verdict="0"' in html_
    # probabilities reach the page for the slice with a verdict: a table with data-p per class summing to 1, and a
    # plotly bar chart
    ps = [float(x) for x in __import__("re").findall(r'data-p="([0-9.]+)"', html_)]
    assert len(ps) == len(config.CLASSES) and np.isclose(sum(ps), 1, atol=1e-4)
    plots = [w for w in _walk(ui_dash.cards) if "bm-plot" in getattr(w, "_dom_classes", ())]
    assert plots and "application/vnd.plotly.v1+json" in plots[0].outputs[0]["data"]
    # the next upload replaces the cards
    ui_dash.uploader.value = _upload_value(("b.jpg", good_jpeg))
    assert len(ui_dash.cards.children) == 1 and ui_dash.results[0].ok
    # the tiny model has no unfamiliar-scan check: every result card says so while it is selected
    assert "bm-model-gap" in " ".join(w.value for w in _walk(ui_dash.cards) if isinstance(getattr(w, "value", None), str))
    ui_dash.clear_btn.click()
    assert ui_dash.cards.children == () and ui_dash.uploader.value == () and ui_dash.results == []


def test_opacity_slider_reblends_without_recomputing(ui_dash, good_jpeg, monkeypatch):
    import ipywidgets as w

    ui_dash.run([("a.jpg", good_jpeg, None)])
    card = ui_dash.cards.children[0]
    cam = next(x for x in _walk(card) if "bm-gradcam" in getattr(x, "_dom_classes", ()))
    slider = next(x for x in _walk(card) if isinstance(x, w.FloatSlider))
    import helpers.modeling.explain as explain

    monkeypatch.setattr(explain, "gradcam", lambda *a, **k: pytest.fail("slider must not recompute Grad-CAM"))
    before = cam.value
    slider.value = 0.9
    assert cam.value != before
    slider.value = 0.0
    # alpha 0 = the plain model input
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(cam.value)).convert("L")), ui_dash.results[0].prepared)


def test_examples_fallback_to_synthetic(ui_dash):
    assert ui_dash.examples and all(e.label == "synthetic" for e in ui_dash.examples)
    ui_dash.example_dd.value = 0
    r = ui_dash.results[0]
    assert r.ok and r.true_label == "synthetic"
    assert "synthetic phantom" in cards.headline_html(r)


def test_examples_from_leakfree_test_split(tmp_path):
    """With the real dataset, examples are leak-free TEST images with their labels (skipped without the data)."""
    from helpers.errors import DataError
    from helpers.data.layouts import resolve_data_dir

    try:
        root = resolve_data_dir(None)
    except DataError:
        pytest.skip("no dataset at $BRAIN_MRI_DATA / data/raw")
    from helpers.data.split import read_split_csv
    from helpers.data.synthetic import is_synthetic

    if is_synthetic(root):
        pytest.skip("dataset folder is synthetic")
    ex = dashboard.list_examples(n_per_class=1)
    test_paths = set(dashboard.held_out_test(read_split_csv(config.LEAKFREE_SPLIT))["path"].map(lambda p: Path(p).name))
    assert {e.label for e in ex} == set(config.CLASSES)
    assert all(e.name in test_paths and "never trained on" in e.title for e in ex)


def test_examples_are_held_out_by_both_splits(tmp_path):
    """An example must be a test image for every model here: test in the leak-free split and in the union split."""
    import pandas as pd

    lf = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"], "label": ["glioma"] * 3, "split": ["test", "test", "train"]})
    union = tmp_path / "union.csv"
    pd.DataFrame({"collection": [config.DATASET_NAME, config.DATASET_NAME, "br35h", config.DATASET_NAME],
                  "path": ["a.jpg", "b.jpg", "a.jpg", "c.jpg"], "split": ["test", "train", "test", "test"]}
                 ).to_csv(union, index=False)
    assert list(dashboard.held_out_test(lf, union)["path"]) == ["a.jpg"]
    assert list(dashboard.held_out_test(lf, tmp_path / "none.csv")["path"]) == ["a.jpg", "b.jpg"]


def test_missing_model_renders_message(tmp_path, good_jpeg):
    ui = dashboard.build_dashboard(model=tmp_path / "absent.keras")
    assert "No model loaded" in ui.status.value and "absent.keras" in ui.status.value
    assert "Research and teaching only" in ui.banner.value
    res = ui.run([("a.jpg", good_jpeg, None)])
    assert res[0].ok and res[0].probs is None


def test_tampered_model_is_refused_in_page(tmp_path, tiny_model_json, good_jpeg):
    src = Path(tiny_model_json)
    (tmp_path / "t.keras").write_bytes(src.with_suffix(".keras").read_bytes() + b"x")
    meta = json.loads(src.read_text())
    meta["keras_file"] = "t.keras"
    (tmp_path / "t.json").write_text(json.dumps(meta))
    ui = dashboard.build_dashboard(model=tmp_path / "t.keras")
    assert "No model loaded" in ui.status.value and "sha256" in ui.status.value


# ----------------------------------------------------------------------------------------- Model tab
def fake_evaluation() -> dict:
    ci = lambda v: {"value": v, "ci": [v - 0.02, v + 0.02]}  # noqa: E731
    n = len(config.CLASSES)
    rel = {"ece": 0.03, "bins": [{"lo": i / 10, "hi": (i + 1) / 10, "n": 5 * i, "confidence": i / 10 + 0.05,
                                  "accuracy": i / 10} for i in range(10)]}
    block = {"n": 100, "accuracy": ci(0.9), "macro_f1": ci(0.88),
             "per_class": {c: {"precision": ci(0.9), "recall": ci(0.85), "f1": ci(0.87), "support": 25}
                           for c in config.CLASSES},
             "confusion": (np.eye(n, dtype=int) * 20 + 1).tolist(),
             "tumour": {"threshold": 0.5, "sensitivity": ci(0.95), "specificity": ci(0.9), "roc_auc": ci(0.97)},
             "calibration": {"ece_raw": 0.08, "ece_calibrated": 0.03, "reliability_raw": rel,
                             "reliability_calibrated": rel},
             "abstain": {"threshold": 0.85, "coverage": 0.8, "accuracy": 0.97}}
    return {"evaluated_at": "2026-01-01", "synthetic": False, "bootstrap": 1000, "leakfree_test": block,
            "official_test": {**block, "note": "leaky"}}


def test_model_tab_with_and_without_evaluation(tmp_path, tiny_model_json):
    src = Path(tiny_model_json)
    meta = json.loads(src.read_text())
    (tmp_path / "plain.json").write_text(json.dumps({**meta, "name": "plain", "keras_file": "plain.keras"}))
    (tmp_path / "plain.keras").write_bytes(b"")
    (tmp_path / "evald.json").write_text(json.dumps({**meta, "name": "evald", "keras_file": "evald.keras",
                                                     "evaluation": fake_evaluation()}))
    (tmp_path / "evald.keras").write_bytes(b"")
    (tmp_path / "plain.predictions.json").write_text("{}")  # not a model record
    (tmp_path / "baselines.json").write_text(json.dumps({"nearest_class_mean": {}}))
    models = registry.discover_models([tmp_path])
    assert sorted(m.name for m in models) == ["evald", "plain"]
    by = {m.name: m for m in models}
    plain = models_tab.model_summary_html(by["plain"])
    assert "not evaluated yet: run <code>brain-mri evaluate models/plain.keras</code>" in plain
    ev = models_tab.model_summary_html(by["evald"], in_use=True)
    assert "90.0% (95% CI 88.0–92.0)" in ev and "in use" in ev and "leaky" in ev
    assert formatting.fmt_metric("roc_auc", {"value": 0.97, "ci": [0.95, 0.99]}) in ev  # the house style: the README prints the same string
    assert "Abstain threshold 0.85 (chosen on the leak-free validation split)" in ev
    card, _ = models_tab.model_card(by["evald"])
    plots = [w for w in _walk(card) if "bm-plot" in getattr(w, "_dom_classes", ())]
    kinds = [p.outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"][0]["type"] for p in plots]
    assert kinds == ["heatmap", "scatter"]
    json.dumps([p.outputs[0]["data"] for p in plots])  # serialisable for the front end


def test_model_selector_switches_predictor(tmp_path, tiny_model_json, good_jpeg):
    src = Path(tiny_model_json)
    for name in ("m1", "m2"):
        (tmp_path / f"{name}.keras").write_bytes(src.with_suffix(".keras").read_bytes())
        meta = json.loads(src.read_text())
        (tmp_path / f"{name}.json").write_text(json.dumps({**meta, "name": name, "keras_file": f"{name}.keras"}))
    ui = dashboard.Dashboard(model=tmp_path / "m1.keras", examples=[], models=registry.discover_models([tmp_path]))
    ui.run([("a.jpg", good_jpeg, None)])
    assert ui.results[0].model == "m1"
    ui.model_dd.value = str((tmp_path / "m2.keras").resolve())
    assert ui.predictor.name == "m2" and ui.results[0].model == "m2"  # last inputs re-run with the new model
    assert registry.get_predictor(tmp_path / "m2.keras") is ui.predictor  # cached: loaded once per kernel


# ----------------------------------------------------------------------------------------- notebook and server options
def test_notebook_is_layout_only():
    nb = json.loads((config.NOTEBOOKS_DIR / "dashboard.ipynb").read_text())
    code = [("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "parameters" in nb["cells"][0]["metadata"].get("tags", [])
    assert code[-1].strip() == "ui.root"
    assert not any("def " in c or "lambda" in c for c in code)
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def test_voila_options():
    argv = serve.voila_argv(8899)
    assert "--Voila.ip=127.0.0.1" in argv and "--port=8899" in argv and "--no-browser" in argv
    assert f"--template={serve.TEMPLATE}" in argv and "--strip_sources=True" in argv
    assert (serve.TEMPLATE_ROOT / "voila" / "templates" / serve.TEMPLATE / "index.html.j2").is_file()
    assert any(a.startswith("--VoilaExecutor.timeout=") for a in argv)
    assert serve.WS_MAX_MESSAGE_BYTES > 2 * config.MAX_UPLOAD_BYTES  # a refused file must reach our check


def test_cli_dashboard_wires_voila(monkeypatch):
    import argparse

    from voila.app import Voila

    seen = {}
    monkeypatch.setattr(Voila, "launch_instance", classmethod(lambda cls, argv=None, **kw: seen.update(argv=argv, **kw)))
    assert serve.cli_dashboard(argparse.Namespace(port=8123, ip="127.0.0.1")) == 0
    assert "--port=8123" in seen["argv"]
    assert seen["tornado_settings"]["websocket_max_message_size"] == serve.WS_MAX_MESSAGE_BYTES


def test_gradcam_caption_names_what_the_map_explains(predictor, good_jpeg):
    res = upload.process_upload("a.jpg", good_jpeg, predictor)
    assert res.heat is not None
    from helpers.modeling import explain

    # the model's own choice (its record's): P(tumour) or the tumour type of a tumour call, else the class
    want = ("P(tumour)" if explain.gradcam_choice(predictor)[0] == "p_tumour" and res.predicted in config.TUMOUR_CLASSES
            else res.predicted)
    assert res.heat_of == want
    html_ = " ".join(x.value for x in _walk(cards.render_card(res)) if isinstance(getattr(x, "value", None), str))
    assert f"Grad-CAM for “{want}”" in html_


def test_the_headline_reason_is_not_repeated_in_the_list():
    """A picture with no verdict (or an unfamiliar one) shows its reason once, in the headline; the other warnings
    stay in the list below."""
    warnings = ["bright marks outside the head (text, ruler, frame or a second image?): crop the slice first",
                "unlike the training MRI slices (grey levels and dark background far from every collection's): "
                "out of distribution, result unreliable"]
    res = upload.Result(name="pack.png", classes=list(config.CLASSES), probs=np.full(4, 0.25), predicted="glioma",
                        confidence=0.25, p_tumour=0.75, abstain=True, verdict=False, warnings=list(warnings),
                        reason=warnings[1])
    assert cards.headline_reason(res) == warnings[1]
    page = cards.headline_html(res) + cards.messages_html(res)
    assert page.count("unlike the training MRI slices") == 1 and page.count("bright marks") == 1
    res.verdict, res.unfamiliar = True, True
    res.warnings = warnings[:1] + ["unfamiliar scan: this slice is unlike the training collections"]
    res.reason = res.warnings[1]
    page = cards.headline_html(res) + cards.messages_html(res)
    assert page.count("unfamiliar scan: this slice") == 1 and "bright marks" in cards.messages_html(res)


def test_call_threshold_prefers_the_records_operating_point():
    ev = {"evaluation": {"leakfree_test": {"screening": {"threshold": 0.116}}}}
    assert registry.screening_threshold(ev) == 0.116
    assert registry.screening_threshold_source(ev) == "chosen on the leak-free validation split"
    op = {**ev, "operating_point": {"threshold": 0.3, "chosen_on": "union validation, collections weighted equally"}}
    assert registry.screening_threshold(op) == 0.3
    assert registry.screening_threshold_source(op) == "chosen on union validation, collections weighted equally"
    assert registry.screening_threshold({**ev, "operating_point": {"threshold": 1.5}}) == 0.116  # invalid: ignored
    assert registry.screening_threshold({}) == 0.5
    assert registry.screening_threshold_source({}).startswith("default")


def test_model_gaps_name_what_a_model_lacks():
    kaggle_only = {"data": {"split": "leakfree"}}
    gaps = registry.model_gaps(kaggle_only)
    assert len(gaps) == 2 and "no unfamiliar-scan check" in gaps[0] and "one collection (Kaggle)" in gaps[1]
    union = {"familiarity_file": "familiarity.json", "data": {"train_counts": {"br35h/notumor": 1, "brain-tumor-mri/glioma": 2}}}
    assert registry.model_gaps(union) == []
    res = upload.Result(name="x", model="old", model_gaps=gaps)
    html_ = cards.messages_html(res)
    assert html_.count("bm-model-gap") == 2 and "old: has no unfamiliar-scan check" in html_
