"""Voila dashboard (notebooks/dashboard.ipynb): every callback lives here, the notebook only lays widgets out.

Pure part (no widgets, unit-tested): ``process_upload(name, data, predictor) -> Result`` checks the size cap,
decodes with the same ``helpers.preprocess`` path as training, runs the input checks, predicts calibrated
probabilities and Grad-CAM. Widget part: ``build_dashboard() -> Dashboard`` (``.root`` is the page).
"""
from __future__ import annotations

import html
import io
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import config
from .preprocess import ImageError, decode, head_bbox, prepare

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads (lazily): keeps the kernel log short
log = logging.getLogger(__name__)

DISCLAIMER = "Research and teaching only — not for diagnosis."
MODEL_ENV = "BRAIN_MRI_MODEL"  # path of the .keras file the Predict tab starts with (tests point it at a tiny model)
DEFAULT_ABSTAIN = 0.9  # used when a model's JSON has no evaluated abstain threshold
ACCEPT = ".jpg,.jpeg,.png,.dcm,.dicom,image/*"
# One FileUpload selection travels as ONE websocket message (all files together, raw bytes). Tornado's default cap
# (10 MiB) would close the socket on a 15 MB file and leave a dead page; we raise it well above our own per-file
# cap so that an oversized file reaches process_upload and is refused there with a readable message.
WS_MAX_MESSAGE_BYTES = 8 * config.MAX_UPLOAD_BYTES
SMALL_SIDE = config.IMG_SIZE  # below this the model sees an upscaled image: worth a note

# Display palette (consistent across cards, charts and the Model tab).
C_ACCENT, C_TUMOUR, C_OK, C_WARN, C_ERR, C_MUTED = "#1f5f8b", "#b03a2e", "#1e8449", "#9a6700", "#b03a2e", "#5d6d7e"

# ----------------------------------------------------------------------------------------- input checks
# Thresholds measured on 800 leak-free TRAIN images of the Kaggle data (200 per class, seed 42; re-measure with
# measure_reference()) and checked on 400 leak-free TEST images and on photographs, noise and flat images.
CHECKS = {
    # Mean chroma (max-min of R,G,B; 0..255) over the non-black pixels of a <=128-px copy. Training max 0.3,
    # test max 6.0 (JPEG chroma noise of gray slices saved as RGB); colour photographs measured 47-89.
    "colour_max": 12.0,
    # OUT-OF-DISTRIBUTION, on the 128-px model input. An MRI slice cropped to the head keeps black air around an
    # elliptical head, so (a) some of the image is near-black and (b) the corners outside the inscribed circle are
    # near-black; (c) its intensity histogram is close to the training mean. Each limit sits just beyond the most
    # extreme of the 800 training images (0 of 800 flagged); on 400 leak-free test images 3 (0.75 %) are flagged.
    # Noise, flat images and full-frame pictures fail (a)/(b); a gray photo of a face can pass: the check is a
    # screen for obvious mistakes, not a guarantee.
    "dark_frac_min": 0.06,  # fraction of pixels < 16; training min 0.063, median 0.38
    "corner_dark_min": 0.45,  # fraction of corner pixels (outside radius 1.1) < 24; training min 0.49, median 1.0
    "hist_l1_max": 1.2,  # L1 distance of the 16-bin histogram to REF_HIST; training max 1.17, median 0.37
    # Fraction of the pixels OUTSIDE the head box brighter than half the head's 99th percentile: burnt-in text,
    # rulers, arrows. 95th percentile of training 0.013; above 0.02 (3.9 % of training images, almost all with
    # visible annotations or frames) we warn.
    "outside_bright_max": 0.02,
    # Fraction of the outer 2 % band of the image that is bright: frames and borders (a thick frame can make the
    # whole image one "head", leaving nothing outside the box). Training 99th percentile 0.19, max 1.0 (a framed
    # slice); above 0.25 flags 0.5 % of training images. With the rule above: 4.0 % flagged in all.
    "edge_bright_max": 0.25,
}
# Mean 16-bin intensity histogram of the training inputs (128-px prepared images), from measure_reference().
REF_HIST = [0.3583, 0.0554, 0.0732, 0.1203, 0.1325, 0.0879, 0.0515, 0.035, 0.0253, 0.0182, 0.0142, 0.0108,
            0.0072, 0.0043, 0.0027, 0.003]
_REF_SIZE = 128  # the checks are measured on 128-px inputs whatever the model's size
_yy, _xx = np.mgrid[0:_REF_SIZE, 0:_REF_SIZE]
_CORNERS = np.hypot((_yy - (_REF_SIZE - 1) / 2), (_xx - (_REF_SIZE - 1) / 2)) / (_REF_SIZE / 2) > 1.1


def colour_score(data: bytes) -> float:
    """Mean chroma (max-min over R,G,B; 0..255) of the non-background pixels of a small RGB copy; 0 for gray files.

    Measured on the bytes, not on Decoded.gray, because decoding already mixed the channels into gray.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode in ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
                return 0.0
            if im.format == "JPEG":
                im.draft("RGB", (128, 128))
            im.thumbnail((128, 128))
            rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    except Exception:  # DICOM or anything Pillow cannot read: decode() has judged it already
        return 0.0
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    fg = rgb.max(axis=2) > 24
    if fg.sum() < 16:
        return 0.0
    return float(chroma[fg].mean())


def intensity_hist(x: np.ndarray, bins: int = 16) -> np.ndarray:
    h = np.bincount((np.asarray(x, np.uint8) >> (8 - int(np.log2(bins)))).ravel(), minlength=bins).astype(np.float64)
    return h / max(h.sum(), 1.0)


def outside_bright_fraction(gray: np.ndarray) -> float:
    """Fraction of the pixels outside the head's bounding box that are bright (> half the head's 99th percentile).

    Burnt-in text, rulers, frames and a second image beside the head all land there; an MRI slice has black air.
    """
    g = np.asarray(gray)
    step = max(1, max(g.shape) // 256)  # 256-px view: fast, and text strokes survive
    box = head_bbox(g)
    if box is None:
        return 0.0
    t, b, l, r = box
    gs = g[::step, ::step]
    inside = np.zeros(gs.shape, bool)
    inside[t // step : -(-b // step), l // step : -(-r // step)] = True
    if inside.all():
        return 0.0
    level = max(48.0, 0.5 * float(np.percentile(gs[inside], 99)))
    return float((gs[~inside] > level).mean())


def edge_bright_fraction(gray: np.ndarray) -> float:
    """Fraction of the outer 2 % band (at least 2 px of a <=256-px view) brighter than half the 99th percentile."""
    g = np.asarray(gray)
    step = max(1, max(g.shape) // 256)
    gs = g[::step, ::step]
    b = max(2, int(round(0.02 * min(gs.shape))))
    if min(gs.shape) <= 2 * b:
        return 0.0
    band = np.ones(gs.shape, bool)
    band[b:-b, b:-b] = False
    level = max(48.0, 0.5 * float(np.percentile(gs, 99)))
    return float((gs[band] > level).mean())


def image_features(data: bytes | None, gray: np.ndarray, prepared128: np.ndarray | None = None) -> dict:
    """The numbers the input checks look at (what measure_reference() records for the training data).

    ``prepared128`` is ``prepare(gray, 128)`` (computed here if not given); ``data`` the file's bytes (colour).
    """
    x = prepare(gray, _REF_SIZE) if prepared128 is None or prepared128.shape != (_REF_SIZE, _REF_SIZE) else prepared128
    return {
        "colour": colour_score(data) if data is not None else 0.0,
        "dark_frac": float((x < 16).mean()),
        "corner_dark": float((x[_CORNERS] < 24).mean()),
        "hist_l1": float(np.abs(intensity_hist(x) - np.asarray(REF_HIST)).sum()),
        "outside_bright": outside_bright_fraction(gray),
        "edge_bright": edge_bright_fraction(gray),
    }


def check_messages(feat: dict, width: int, height: int) -> list[str]:
    """Warnings (one line each) for an input that does not look like the training data."""
    out = []
    if feat["colour"] > CHECKS["colour_max"]:
        out.append("colour image: MRI slices are grayscale, so this may not be an MRI (result unreliable)")
    if (feat["dark_frac"] < CHECKS["dark_frac_min"] or feat["corner_dark"] < CHECKS["corner_dark_min"]
            or feat["hist_l1"] > CHECKS["hist_l1_max"]):
        out.append("unlike the training MRI slices (no black background round a head, or unusual intensities): "
                   "out of distribution, result unreliable")
    if feat["outside_bright"] > CHECKS["outside_bright_max"] or feat["edge_bright"] > CHECKS["edge_bright_max"]:
        out.append("bright marks outside the head (text, ruler, frame or a second image?): crop the slice first")
    if min(width, height) < SMALL_SIDE:
        out.append(f"small image ({width}×{height}): upscaled to the model's input, fine detail is missing")
    return out


def measure_reference(data_dir=None, n_per_class: int = 200, split: str = "train", seed: int = config.SEED) -> dict:
    """Re-measure what CHECKS and REF_HIST are based on: feature quantiles over `n_per_class` images per class of
    the leak-free `split` (default train). Run it after a data change and copy the numbers above if they moved:
    ``python -c "from helpers import app; import json; print(json.dumps(app.measure_reference(), indent=1))"``
    (800 images take ~80 s on 2 cores.) Measured for the constants above: data as fetched in 2026-11,
    split_sha256 7b7ce437..., seed 42."""
    from .data import resolve_data_dir
    from .split import read_split_csv

    root = resolve_data_dir(data_dir)
    df = read_split_csv(config.LEAKFREE_SPLIT)
    df = df[df["split"] == split].groupby("label", group_keys=False).apply(
        lambda g: g.sample(min(len(g), n_per_class), random_state=seed))
    rows, hists = [], []
    for rel in df["path"]:
        data = (root / rel).read_bytes()
        dec = decode(data, name=rel, draft=2 * _REF_SIZE)
        x = prepare(dec.gray, _REF_SIZE)
        rows.append(image_features(data, dec.gray, x))
        hists.append(intensity_hist(x))
    ref = np.mean(hists, axis=0)
    feats = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    feats["hist_l1"] = np.abs(np.array(hists) - ref).sum(axis=1)  # against this sample's own mean
    q = (0.0, 0.005, 0.05, 0.5, 0.95, 0.995, 1.0)
    return {"n": len(rows), "split": split, "ref_hist": [round(float(v), 4) for v in ref],
            "quantiles": {k: {str(p): round(float(np.quantile(v, p)), 4) for p in q} for k, v in feats.items()}}


# ----------------------------------------------------------------------------------------- models
@dataclass
class ModelEntry:
    """One model found beside its JSON record (models/<name>.json with a keras_sha256)."""

    name: str
    keras_path: Path
    json_path: Path | None
    meta: dict

    @property
    def available(self) -> bool:
        return self.keras_path.is_file()


def default_model_path() -> Path:
    env = os.environ.get(MODEL_ENV)
    return Path(env).expanduser() if env else config.DEFAULT_MODEL


def discover_models(dirs: list[Path] | None = None) -> list[ModelEntry]:
    """Every model record (JSON with "keras_sha256") in models/ and in the folder of $BRAIN_MRI_MODEL."""
    if dirs is None:
        dirs = [default_model_path().parent, config.MODELS_DIR]
    seen, out = set(), []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for jp in sorted(d.glob("*.json")):
            try:
                meta = json.loads(jp.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(meta, dict) or "keras_sha256" not in meta:
                continue  # predictions, baselines, other records
            kp = (jp.parent / meta.get("keras_file", f"{jp.stem}.keras")).resolve()
            if kp in seen:
                continue
            seen.add(kp)
            out.append(ModelEntry(name=str(meta.get("name", jp.stem)), keras_path=kp, json_path=jp, meta=meta))
    return out


def abstain_threshold(meta: dict | None) -> tuple[float, str]:
    """The evaluated abstain threshold (max calibrated probability below it -> "uncertain"), else DEFAULT_ABSTAIN."""
    try:
        t = float(meta["evaluation"]["leakfree_test"]["abstain"]["threshold"])
        if 0.0 < t <= 1.0:
            return t, "set by the leak-free test evaluation"
    except (KeyError, TypeError, ValueError):
        pass
    return DEFAULT_ABSTAIN, "default: model not evaluated"


_PREDICTORS: dict[str, Any] = {}  # resolved .keras path -> Predictor: each model loads once per kernel


def _keras_model(predictor):
    for attr in ("model", "keras_model", "_model"):
        m = getattr(predictor, attr, None)
        if m is not None:
            return m
    return None


def warm_up(predictor) -> float:
    """One prediction and one Grad-CAM on a blank image, so the first real upload pays no tracing cost; seconds."""
    t0 = time.perf_counter()
    if hasattr(predictor, "warmup"):  # helpers.predict traces its compiled predict and Grad-CAM functions
        predictor.warmup()
        return time.perf_counter() - t0
    s = int(predictor.img_size)
    x = np.zeros((s, s), np.uint8)
    x[s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] = 128
    predictor.predict_arrays(x[None])
    model = _keras_model(predictor)
    if model is not None:
        try:
            from .explain import gradcam

            gradcam(model, x, 0)
        except Exception:  # noqa: BLE001 - Grad-CAM is optional; its failure shows on the card later
            log.warning("Grad-CAM warm-up failed", exc_info=True)
    return time.perf_counter() - t0


def get_predictor(path) -> Any:
    """The Predictor for a .keras file, loaded and warmed up once per kernel. Raises predict.ModelError & co."""
    key = str(Path(path).expanduser().resolve())
    if key not in _PREDICTORS:
        from .predict import load_model

        p = load_model(key)
        warm_up(p)
        _PREDICTORS[key] = p
    return _PREDICTORS[key]


def load_message(path, exc: BaseException) -> str:
    """One line for the page when a model cannot be used."""
    path = Path(path)
    rel = path.name if path.parent.resolve() != config.MODELS_DIR.resolve() else f"models/{path.name}"
    if isinstance(exc, ImportError):
        return f"prediction code unavailable ({exc}): the page shows input checks only"
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not path.is_file() and "not found" not in msg.lower() and "no model" not in msg.lower():
        msg = f"{rel} not found: {msg}"
    return msg


# ----------------------------------------------------------------------------------------- one file
@dataclass
class Result:
    """Everything the page shows for one file; produced by process_upload without any widget."""

    name: str
    error: str | None = None  # one line; when set, nothing else is meaningful
    warnings: list[str] = field(default_factory=list)  # reliability concerns (input checks)
    notes: list[str] = field(default_factory=list)  # informative (middle frame, 16-bit rescaled, ...)
    format: str = ""
    mode: str = ""
    width: int = 0
    height: int = 0
    n_bytes: int = 0
    original: np.ndarray | None = None  # display copy (<= 320 px)
    prepared: np.ndarray | None = None  # the model's input (S, S) uint8
    features: dict = field(default_factory=dict)
    dicom: list[tuple[str, str]] | None = None  # patient-free (label, value) rows
    model: str | None = None
    classes: list[str] = field(default_factory=list)
    probs: np.ndarray | None = None  # calibrated, sums to 1
    predicted: str | None = None
    confidence: float | None = None
    p_tumour: float | None = None
    abstain: bool = False
    abstain_threshold: float = DEFAULT_ABSTAIN
    heat: np.ndarray | None = None  # Grad-CAM (S, S) in [0, 1] for the predicted class
    true_label: str | None = None
    timings_ms: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.error:
            return f"{self.name}: error: {self.error}"
        if self.probs is None:
            return f"{self.name}: no prediction"
        verdict = "uncertain" if self.abstain else self.predicted
        return f"{self.name}: {verdict} (P(tumour) {self.p_tumour:.2f}, max p {self.confidence:.2f})"


# Patient-free DICOM attributes shown in the table (preprocess.decode already copies only non-identifying ones;
# this second whitelist decides what the page prints and how it is labelled).
DICOM_ROWS = (
    ("Modality", "Modality", ""), ("Manufacturer", "Manufacturer", ""), ("ManufacturerModelName", "Model", ""),
    ("MagneticFieldStrength", "Field strength", " T"), ("SeriesDescription", "Series", ""),
    ("SequenceName", "Sequence", ""), ("ScanningSequence", "Scanning sequence", ""),
    ("PixelSpacing", "Pixel spacing", " mm"), ("SliceThickness", "Slice thickness", " mm"),
    ("Rows", "Rows", ""), ("Columns", "Columns", ""), ("BitsStored", "Bits stored", ""),
    ("PhotometricInterpretation", "Photometric", ""), ("NumberOfFrames", "Frames", ""),
    ("ShownFrame", "Frame shown (0-based)", ""),
)


def dicom_rows(meta: dict | None) -> list[tuple[str, str]] | None:
    if not meta:
        return None
    rows = []
    for key, label, unit in DICOM_ROWS:
        v = meta.get(key)
        if v is None or v == "":
            continue
        if isinstance(v, (list, tuple)):
            v = " × ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
        elif isinstance(v, float):
            v = f"{v:g}"
        rows.append((label, f"{v}{unit}"))
    return rows


def _thumb(gray: np.ndarray, max_side: int = 320) -> np.ndarray:
    h, w = gray.shape
    if max(h, w) <= max_side:
        return gray
    k = max_side / max(h, w)
    im = Image.fromarray(gray).resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BILINEAR)
    return np.asarray(im)


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.0f} KB" if n < 1024 * 1024 else _mb(n)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def process_upload(name: str, data: bytes | bytearray | memoryview | None, predictor=None, *,
                   with_gradcam: bool = True, true_label: str | None = None,
                   threshold: float | None = None) -> Result:
    """Check, decode, prepare, predict and explain one file. Never raises: problems become ``Result.error``
    (one line) or ``Result.warnings``. ``predictor`` None -> input checks only.

    The size cap is checked before anything is decoded; decoding is ``preprocess.decode(..., draft=2*S)`` +
    ``prepare(gray, S)``, i.e. exactly ``preprocess.preprocess``, the transform the model was trained on.
    """
    t0 = time.perf_counter()
    res = Result(name=str(name or "upload"), true_label=true_label)
    n = len(data) if data is not None else 0
    res.n_bytes = n
    if n == 0:
        res.error = "empty file"
        return res
    if n > config.MAX_UPLOAD_BYTES:
        res.error = f"file too large ({_mb(n)}; the limit is {_mb(config.MAX_UPLOAD_BYTES)})"
        return res
    size = int(getattr(predictor, "img_size", None) or config.IMG_SIZE)
    data = bytes(data)
    try:
        dec = decode(data, name=res.name, draft=2 * size)
        x = prepare(dec.gray, size)
        x128 = x if size == _REF_SIZE else prepare(dec.gray, _REF_SIZE)
    except ImageError as e:
        res.error = str(e).splitlines()[0] if str(e) else "not a usable image"
        return res
    except MemoryError:
        res.error = "image too large to decode"
        return res
    except Exception as e:  # noqa: BLE001 - a decoder bug must not break the page: one line, logged
        log.warning("decode failed for %s", res.name, exc_info=True)
        res.error = f"could not read this file ({type(e).__name__})"
        return res
    t1 = time.perf_counter()
    res.format, res.mode, res.width, res.height = dec.format, dec.mode, int(dec.width), int(dec.height)
    res.original, res.prepared = _thumb(dec.gray), x
    res.dicom = dicom_rows(dec.dicom)
    try:
        res.features = image_features(None if dec.format == "DICOM" else data, dec.gray, x128)
        res.warnings = check_messages(res.features, res.width, res.height)
    except Exception:  # noqa: BLE001 - a failed check is not a failed prediction
        log.warning("input checks failed for %s", res.name, exc_info=True)
        res.notes.append("input checks could not run on this file")
    colour_flagged = any(w.startswith("colour image") for w in res.warnings)
    for w in dec.warnings:
        if w.startswith("colour image") and colour_flagged:
            continue
        res.notes.append(w)
    t2 = time.perf_counter()
    res.timings_ms["decode"] = round((t1 - t0) * 1000, 1)
    res.timings_ms["checks"] = round((t2 - t1) * 1000, 1)
    if predictor is None:
        res.timings_ms["total"] = round((time.perf_counter() - t0) * 1000, 1)
        return res
    try:
        probs = np.asarray(predictor.predict_arrays(x[None]), dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(probs)) or probs.sum() <= 0:
            raise ValueError("model returned invalid probabilities")
        probs = probs / probs.sum()
    except Exception as e:  # noqa: BLE001
        log.warning("prediction failed for %s", res.name, exc_info=True)
        res.error = f"prediction failed: {_one_line(e)}"
        return res
    t3 = time.perf_counter()
    classes = [str(c) for c in getattr(predictor, "classes", config.CLASSES)]
    res.model = str(getattr(predictor, "name", "model"))
    res.classes, res.probs = classes, probs
    idx = int(np.argmax(probs))
    res.predicted, res.confidence = classes[idx], float(probs[idx])
    # P(tumour) = 1 - P(notumor), as predict.p_tumour; computed by class name so the column order cannot matter
    res.p_tumour = float(1.0 - probs[classes.index(config.NO_TUMOUR)]) if config.NO_TUMOUR in classes else float("nan")
    res.abstain_threshold = threshold if threshold is not None else abstain_threshold(getattr(predictor, "meta", None))[0]
    res.abstain = res.confidence < res.abstain_threshold
    res.timings_ms["predict"] = round((t3 - t2) * 1000, 1)
    if with_gradcam:
        model = _keras_model(predictor)
        try:
            if model is None:
                raise RuntimeError("no Keras model exposed by the predictor")
            from .explain import gradcam

            heat = np.asarray(gradcam(model, x, idx), dtype=np.float32)
            res.heat = heat if heat.shape == x.shape else None
        except Exception as e:  # noqa: BLE001
            log.warning("Grad-CAM failed for %s", res.name, exc_info=True)
            res.notes.append(f"Grad-CAM unavailable ({type(e).__name__})")
        res.timings_ms["gradcam"] = round((time.perf_counter() - t3) * 1000, 1)
    res.timings_ms["total"] = round((time.perf_counter() - t0) * 1000, 1)
    return res


# ----------------------------------------------------------------------------------------- examples
@dataclass
class Example:
    title: str
    label: str  # true label, or "synthetic"
    load: Any  # () -> bytes
    name: str


def list_examples(n_per_class: int = 2, data_dir=None, seed: int = config.SEED) -> list[Example]:
    """A few leak-free TEST images per class with their true labels when the dataset is present (read through the
    committed split, so none of them was seen in training), else synthetic phantoms labelled "synthetic"."""
    try:
        from .data import resolve_data_dir
        from .split import read_split_csv
        from .synthetic import is_synthetic

        root = resolve_data_dir(data_dir)
        if not is_synthetic(root) and config.LEAKFREE_SPLIT.is_file():
            df = read_split_csv(config.LEAKFREE_SPLIT)
            test = df[df["split"] == "test"]
            out = []
            for label in config.CLASSES:
                rows = test[test["label"] == label]
                rows = rows.sample(min(len(rows), 4 * n_per_class), random_state=seed)
                k = 0
                for rel in rows["path"]:
                    p = root / rel
                    if k >= n_per_class or not p.is_file():
                        continue
                    k += 1
                    out.append(Example(title=f"{label} #{k} — leak-free test ({Path(rel).name})", label=label,
                                       load=p.read_bytes, name=Path(rel).name))
            if out:
                return out
    except Exception:  # noqa: BLE001 - no data / no split: fall back to phantoms
        log.info("no dataset examples; using synthetic phantoms", exc_info=True)
    out = []
    for label in config.CLASSES:
        for k in range(n_per_class):
            def load(label=label, k=k):
                from .synthetic import make_phantom

                return _png(make_phantom(label, seed=seed + 101 * k, size=256)[0])
            out.append(Example(title=f"synthetic phantom #{k + 1} ({label}-like drawing)", label="synthetic",
                               load=load, name=f"phantom-{label}-{k + 1}.png"))
    return out


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- page pieces
CSS = f"""
<style>
.bm-root {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1c2833;
  max-width: 1240px; }}
/* The banner sticks to the top of Voila's scroller (#rendered_cells): every box between them must not clip. */
.jp-OutputArea:has(.bm-root), .jp-OutputArea-child:has(.bm-root), .jp-OutputArea-output:has(.bm-root),
.bm-root {{ overflow: visible !important; }}
.bm-sticky {{ position: sticky !important; top: -12px; z-index: 20; background: white; padding-top: 12px; }}
.bm-banner {{ box-shadow: 0 2px 4px rgba(0,0,0,.08); background: #fdf2e9; border: 1px solid #e59866;
  border-left: 6px solid {C_ERR}; color: #78281f; padding: 8px 14px; font-weight: 600; border-radius: 4px; }}
.bm-title h1 {{ font-size: 1.55em; margin: 10px 0 0; color: {C_ACCENT}; }}
.bm-sub {{ color: {C_MUTED}; margin: 2px 0 6px; }}
.bm-status {{ padding: 6px 10px; border-radius: 4px; background: #eaf2f8; border-left: 4px solid {C_ACCENT}; }}
.bm-status.bm-bad {{ background: #fdedec; border-left-color: {C_ERR}; color: #78281f; }}
.bm-card {{ border: 1px solid #d5d8dc; border-radius: 8px; padding: 8px 14px 12px; margin: 8px 0;
  background: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.06); }}
.bm-card-title {{ font-weight: 600; font-size: 1.1em; color: #1c2833; }}
.bm-meta, .bm-note, .bm-caption {{ color: {C_MUTED}; font-size: .88em; }}
.bm-caption {{ text-align: center; }}
.bm-error {{ color: #78281f; background: #fdedec; border-left: 4px solid {C_ERR}; padding: 6px 10px; border-radius: 4px; }}
.bm-warn {{ color: #6e4c00; background: #fef9e7; border-left: 4px solid #d4ac0d; padding: 4px 10px; margin: 3px 0; }}
.bm-headline .bm-big {{ font-size: 2.6em; font-weight: 700; line-height: 1.1; }}
.bm-headline .bm-label {{ color: {C_MUTED}; text-transform: uppercase; letter-spacing: .05em; font-size: .8em; }}
.bm-abstain {{ background: #fef9e7; border: 1px solid #d4ac0d; color: #6e4c00; padding: 6px 10px; border-radius: 4px;
  font-weight: 600; margin: 6px 0; }}
.bm-confident {{ color: {C_MUTED}; font-size: .9em; margin: 4px 0; }}
table.bm-table {{ border-collapse: collapse; font-size: .92em; margin: 4px 0; }}
table.bm-table td, table.bm-table th {{ padding: 2px 10px 2px 0; text-align: left; }}
table.bm-table th {{ color: {C_MUTED}; font-weight: 600; border-bottom: 1px solid #d5d8dc; }}
table.bm-table td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
table.bm-kv td:first-child {{ color: {C_MUTED}; font-weight: 600; padding-right: 14px; }}
.bm-details summary {{ cursor: pointer; color: {C_MUTED}; font-size: .88em; }}
.bm-h2 {{ font-size: 1.15em; font-weight: 600; color: {C_ACCENT}; margin: 10px 0 4px; }}
.bm-badge {{ display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .8em; font-weight: 600;
  background: #eaf2f8; color: {C_ACCENT}; margin-left: 6px; }}
</style>
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


_LAYOUT_BASE = {"paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"size": 12, "color": "#1c2833"},
                "showlegend": False}
_AXIS = {"gridcolor": "#eaeded", "zerolinecolor": "#d5d8dc", "linecolor": "#d5d8dc"}


def _plot_output(spec: dict, height: int) -> Any:
    """An Output widget holding a plotly figure spec as its mime bundle (drawn by the jupyterlab-plotly extension).

    Figures are plain dicts, not plotly.graph_objects: validating a graph_objects figure with a template costs
    0.3-2 s on this CPU, the dict costs nothing and plotly.js draws the same thing. Set directly as the Output's
    outputs: no IPython display machinery, so it also works in unit tests.
    """
    import ipywidgets as w

    spec = {**spec, "config": {"displayModeBar": False, "responsive": False}}
    width = spec.get("layout", {}).get("width")
    out = w.Output(layout=w.Layout(height=f"{height + 10}px", overflow="hidden",
                                   width=f"{int(width) + 10}px" if width else None))
    out.add_class("bm-plot")
    out.outputs = ({"output_type": "display_data", "metadata": {},
                    "data": {"application/vnd.plotly.v1+json": spec, "text/plain": "<plotly figure>"}},)
    return out


def prob_figure(res: Result) -> dict:
    """Horizontal bars of the calibrated probabilities (plotly figure as a dict)."""
    colours = [C_OK if c == config.NO_TUMOUR else C_TUMOUR for c in res.classes]
    opac = [1.0 if c == res.predicted else 0.45 for c in res.classes]
    t = float(res.abstain_threshold)
    return {
        "data": [{"type": "bar", "orientation": "h", "x": [round(float(p), 6) for p in res.probs], "y": list(res.classes),
                  "marker": {"color": colours, "opacity": opac}, "text": [_pct(p) for p in res.probs],
                  "textposition": "auto", "hoverinfo": "skip"}],
        "layout": {**_LAYOUT_BASE, "height": 190, "width": 340, "margin": {"l": 10, "r": 26, "t": 20, "b": 26},
                   "xaxis": {**_AXIS, "range": [0, 1], "tickformat": ".0%", "automargin": True},
                   "yaxis": {**_AXIS, "autorange": "reversed", "automargin": True},
                   "shapes": [{"type": "line", "x0": t, "x1": t, "y0": 0, "y1": 1, "yref": "paper",
                               "line": {"dash": "dot", "color": C_MUTED, "width": 1.5}}],
                   "annotations": [{"x": t, "y": 1.0, "yref": "paper", "yanchor": "bottom", "showarrow": False,
                                    "text": f"abstain {t:.2f}", "font": {"size": 10, "color": C_MUTED}}]},
    }


def headline_html(res: Result) -> str:
    """P(tumour) headline, predicted class, abstain band and the probability table (data-* attributes for tests)."""
    colour = C_TUMOUR if res.p_tumour >= 0.5 else C_OK
    parts = [f'<div class="bm-headline" data-p-tumour="{res.p_tumour:.6f}" data-predicted="{_e(res.predicted)}"'
             f' data-abstain="{int(res.abstain)}">',
             '<div class="bm-label">P(tumour)</div>',
             f'<div class="bm-big" style="color:{colour}">{_pct(res.p_tumour)}</div>',
             f'<div>Most likely: <b>{_e(res.predicted)}</b> ({_pct(res.confidence)})</div>']
    if res.abstain:
        parts.append(f'<div class="bm-abstain">uncertain — refer to a radiologist<br><span style="font-weight:400">'
                     f'highest calibrated probability {res.confidence:.2f} is below the abstain threshold '
                     f'{res.abstain_threshold:.2f}</span></div>')
    else:
        parts.append(f'<div class="bm-confident">above the abstain threshold ({res.confidence:.2f} ≥ '
                     f'{res.abstain_threshold:.2f})</div>')
    if res.true_label:
        if res.true_label == "synthetic":
            parts.append('<div class="bm-note">True label: none (synthetic phantom, not an MRI)</div>')
        else:
            mark = "✓" if res.true_label == res.predicted else "✗"
            parts.append(f'<div class="bm-note">True label (leak-free test): <b>{_e(res.true_label)}</b> {mark}</div>')
    rows = "".join(f'<tr data-class="{_e(c)}" data-p="{p:.6f}"><td>{_e(c)}</td><td class="num">{_pct(p)}</td></tr>'
                   for c, p in zip(res.classes, res.probs))
    parts.append(f'<details class="bm-details"><summary>exact values</summary>'
                 f'<table class="bm-table bm-probs" data-sum="{float(np.sum(res.probs)):.6f}">'
                 f'<tr><th>class</th><th>calibrated p</th></tr>{rows}</table></details></div>')
    return "".join(parts)


def messages_html(res: Result) -> str:
    out = [f'<div class="bm-warn">⚠ {_e(w)}</div>' for w in res.warnings]
    out += [f'<div class="bm-note">ℹ {_e(n)}</div>' for n in res.notes]
    return "".join(out)


def dicom_html(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return (f'<div class="bm-h2" style="font-size:1em">DICOM acquisition (no patient data shown)</div>'
            f'<table class="bm-table bm-kv bm-dicom">{body}</table>')


def card_title_html(res: Result) -> str:
    meta = []
    if res.format:
        meta.append(f"{res.format} · {res.mode} · {res.width}×{res.height}")
    if res.n_bytes:
        meta.append(_size(res.n_bytes))
    if res.timings_ms.get("total") is not None:
        meta.append(f"{res.timings_ms['total']:.0f} ms")
    if res.model:
        meta.append(f"model {res.model}")
    return (f'<div class="bm-card-title">{_e(res.name)}</div>'
            f'<div class="bm-meta">{_e(" · ".join(meta))}</div>')


def render_card(res: Result, alpha: float = 0.45):
    """The widget for one Result: a one-line error, or images + headline + chart (+ DICOM table)."""
    import ipywidgets as w

    head = w.HTML(card_title_html(res))
    if res.error:
        card = w.VBox([head, w.HTML(f'<div class="bm-error" data-error="1">✖ {_e(res.name)}: {_e(res.error)}</div>')])
        card.add_class("bm-card")
        card.add_class("bm-card-error")
        return card
    img_w = "200px"
    col = w.Layout(width=img_w, margin="0 8px 0 0")

    def column(*kids):
        return w.VBox(list(kids), layout=col)

    def caption(text):
        return w.HTML(f'<div class="bm-caption">{text}</div>', layout=w.Layout(width=img_w))

    cols = [column(w.Image(value=_png(res.original), format="png", layout=w.Layout(width=img_w)),
                   caption(f"uploaded ({res.width}×{res.height})")),
            column(w.Image(value=_png(res.prepared), format="png", layout=w.Layout(width=img_w)),
                   caption(f"model input ({res.prepared.shape[1]}×{res.prepared.shape[0]}): head crop, square, resized"))]
    if res.heat is not None:
        try:
            from .explain import overlay

            cam = w.Image(value=_png(overlay(res.prepared, res.heat, alpha)), format="png", layout=w.Layout(width=img_w))
            cam.add_class("bm-gradcam")
            slider = w.FloatSlider(value=alpha, min=0.0, max=1.0, step=0.05, description="opacity",
                                   readout_format=".2f", continuous_update=True,
                                   layout=w.Layout(width=img_w), style={"description_width": "50px"})

            def reblend(change, res=res, cam=cam):  # re-blend the stored heat map: no model call
                try:
                    cam.value = _png(overlay(res.prepared, res.heat, float(change["new"])))
                except Exception:  # noqa: BLE001
                    log.warning("re-blend failed", exc_info=True)

            slider.observe(reblend, names="value")
            cols.append(column(cam, slider, caption(f"Grad-CAM for “{_e(res.predicted)}”: where the network looked")))
        except Exception:  # noqa: BLE001
            log.warning("overlay failed", exc_info=True)
    right = [w.HTML(messages_html(res))] if (res.warnings or res.notes) else []
    if res.probs is not None:
        right.append(w.HTML(headline_html(res)))
        right.append(_plot_output(prob_figure(res), 190))
    else:
        right.append(w.HTML('<div class="bm-note">No prediction: no model is loaded (see the status line above).</div>'))
    body = [w.HBox(cols + [w.VBox(right, layout=w.Layout(width="350px", margin="0 0 0 8px"))],
                   layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))]
    if res.dicom:
        body.append(w.HTML(dicom_html(res.dicom)))
    card = w.VBox([head] + body)
    card.add_class("bm-card")
    return card


# ----------------------------------------------------------------------------------------- Model tab
def _get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _fmt_ci(block, digits: int = 3) -> str:
    """{"value", "ci": [lo, hi]} -> '0.912 [0.893–0.930]'; a bare number -> '0.912'; missing -> '—'."""
    if block is None:
        return "—"
    if isinstance(block, (int, float)):
        return f"{block:.{digits}f}"
    v, ci = block.get("value"), block.get("ci")
    if v is None:
        return "—"
    s = f"{float(v):.{digits}f}"
    if ci and len(ci) == 2 and all(c is not None for c in ci):
        s += f" [{float(ci[0]):.{digits}f}–{float(ci[1]):.{digits}f}]"
    return s


def model_summary_html(m: ModelEntry, in_use: bool = False) -> str:
    meta = m.meta
    data = meta.get("data", {}) or {}
    ev = meta.get("evaluation")
    badge = '<span class="bm-badge">in use</span>' if in_use else ""
    missing = ("" if m.available else
               f' <span class="bm-badge" style="background:#fdedec;color:{C_ERR}">.keras missing</span>')
    synth = (f' <span class="bm-badge" style="background:#fef9e7;color:{C_WARN}">trained on synthetic phantoms</span>'
             if data.get("synthetic") else "")
    rows = [
        ("Architecture", f"{meta.get('arch', '?')} · "
         + (f"{meta['params']:,} parameters · " if isinstance(meta.get("params"), int) else "")
         + f"{meta.get('img_size', '?')} px input"),
        ("Trained", f"{meta.get('trained_at', '?')} · {meta.get('epochs_run', '?')} epochs · "
                    f"{meta.get('train_wall_s', '?')} s · {meta.get('train_images_per_s', '?')} img/s"),
        ("Data", f"split {data.get('split', '?')} (sha256 {str(data.get('split_sha256', '?'))[:12]}) · "
                 f"{data.get('n_train', '?')} train / {data.get('n_val', '?')} val images"),
        ("Calibration", (f"temperature {float(meta['temperature']):.3f}" if isinstance(meta.get("temperature"), (int, float))
                         else "temperature ?")
         + (" · flip test-time augmentation (chosen on validation)" if meta.get("tta") == "hflip" else "")),
        ("Weights", f"{m.keras_path.name} (sha256 {str(meta.get('keras_sha256', '?'))[:12]})"),
    ]
    if meta.get("versions"):
        v = meta["versions"]
        rows.append(("Software", ", ".join(f"{k} {v[k]}" for k in ("keras", "tensorflow", "jax", "torch", "device",
                                                                    "python") if k in v)))
    out = [f'<div class="bm-card-title">{_e(m.name)}{badge}{missing}{synth}</div>',
           '<table class="bm-table bm-kv">'
           + "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"]
    if not ev:
        out.append(f'<div class="bm-warn" data-not-evaluated="1">not evaluated yet: run '
                   f'<code>brain-mri evaluate models/{_e(m.keras_path.name)}</code></div>')
        return "".join(out)
    lf, off = ev.get("leakfree_test") or {}, ev.get("official_test") or {}
    metric_rows = [
        ("Accuracy", _get(lf, "accuracy"), _get(off, "accuracy")),
        ("Macro F1", _get(lf, "macro_f1"), _get(off, "macro_f1")),
        ("Tumour sensitivity", _get(lf, "tumour", "sensitivity"), _get(off, "tumour", "sensitivity")),
        ("Tumour specificity", _get(lf, "tumour", "specificity"), _get(off, "tumour", "specificity")),
        ("Tumour ROC AUC", _get(lf, "tumour", "roc_auc"), _get(off, "tumour", "roc_auc")),
        ("ECE (calibrated)", _get(lf, "calibration", "ece_calibrated"), _get(off, "calibration", "ece_calibrated")),
    ]
    thr, thr_src = abstain_threshold(meta)
    ab = _get(lf, "abstain") or {}
    out.append(f'<div class="bm-h2" style="font-size:1em">Evaluation ({_e(ev.get("evaluated_at", "?"))}; '
               f'95 % bootstrap CIs, {ev.get("bootstrap", "?")} resamples)</div>')
    out.append('<table class="bm-table bm-metrics"><tr><th>metric</th>'
               f'<th>leak-free test (n={_e(lf.get("n", "?"))})</th>'
               f'<th>official test (n={_e(off.get("n", "?"))}; leaky, for comparison)</th></tr>'
               + "".join(f"<tr><td>{_e(k)}</td><td class='num'>{_e(_fmt_ci(a))}</td>"
                         f"<td class='num'>{_e(_fmt_ci(b))}</td></tr>" for k, a, b in metric_rows) + "</table>")
    per = lf.get("per_class") or {}
    if per:
        out.append('<table class="bm-table"><tr><th>class (leak-free test)</th><th>precision</th><th>recall</th>'
                   '<th>F1</th><th>support</th></tr>'
                   + "".join(f"<tr><td>{_e(c)}</td><td class='num'>{_e(_fmt_ci(_get(per, c, 'precision')))}</td>"
                             f"<td class='num'>{_e(_fmt_ci(_get(per, c, 'recall')))}</td>"
                             f"<td class='num'>{_e(_fmt_ci(_get(per, c, 'f1')))}</td>"
                             f"<td class='num'>{_e(_get(per, c, 'support', default='?'))}</td></tr>"
                             for c in per) + "</table>")
    cov = ab.get("coverage")
    acc = ab.get("accuracy")
    out.append(f'<div class="bm-note">Abstain threshold {thr:.2f} ({_e(thr_src)})'
               + (f": answers {100 * float(cov):.0f} % of the leak-free test images"
                  if isinstance(cov, (int, float)) else "")
               + (f" with accuracy {float(acc):.3f}" if isinstance(acc, (int, float)) else "") + ".</div>")
    if ev.get("synthetic"):
        out.append('<div class="bm-warn">evaluated on synthetic phantoms: these numbers say nothing about MRI</div>')
    return "".join(out)


def confusion_figure(conf, classes) -> dict:
    """Row-normalised confusion heat map with counts (plotly dict)."""
    z = np.asarray(conf, dtype=float)
    rows = z.sum(axis=1, keepdims=True)
    frac = np.divide(z, rows, out=np.zeros_like(z), where=rows > 0)
    text = [[f"{int(z[i, j])}<br>{100 * frac[i, j]:.0f}%" for j in range(z.shape[1])] for i in range(z.shape[0])]
    return {
        "data": [{"type": "heatmap", "z": frac.round(4).tolist(), "x": list(classes), "y": list(classes), "text": text,
                  "texttemplate": "%{text}", "zmin": 0, "zmax": 1, "showscale": False,
                  # explicit light-to-dark blues (plotly.js's named "Blues" runs dark-to-light)
                  "colorscale": [[0.0, "#f4f8fb"], [0.5, "#7fb0d6"], [1.0, "#1f5f8b"]],
                  "hoverinfo": "skip"}],
        "layout": {**_LAYOUT_BASE, "title": {"text": "Confusion, leak-free test (row %)", "font": {"size": 13}},
                   "height": 330, "width": 390, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
                   "xaxis": {"title": {"text": "predicted"}, "automargin": True},
                   "yaxis": {"title": {"text": "true"}, "autorange": "reversed", "automargin": True}},
    }


def reliability_figure(cal: dict) -> dict:
    """Reliability diagram (accuracy vs confidence per bin, raw and calibrated; marker size ~ sqrt(count))."""
    traces = [{"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "lines", "name": "perfect",
               "line": {"dash": "dot", "color": C_MUTED}, "hoverinfo": "skip"}]
    for key, name, colour in (("reliability_raw", "raw", "#aab7b8"), ("reliability_calibrated", "calibrated", C_ACCENT)):
        bins = [b for b in (_get(cal, key, "bins") or []) if b.get("n")]
        if not bins:
            continue
        top = max(b["n"] for b in bins)
        ece = _get(cal, key, "ece")
        traces.append({"type": "scatter", "mode": "lines+markers", "line": {"color": colour},
                       "x": [float(b["confidence"]) for b in bins], "y": [float(b["accuracy"]) for b in bins],
                       "marker": {"size": [round(4 + 14 * float(np.sqrt(b["n"] / top)), 1) for b in bins]},
                       "name": f"{name} (ECE {ece:.3f})" if isinstance(ece, (int, float)) else name})
    return {
        "data": traces,
        "layout": {**_LAYOUT_BASE, "showlegend": True,
                   "title": {"text": "Reliability, leak-free test", "font": {"size": 13}},
                   "height": 330, "width": 390, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
                   "xaxis": {**_AXIS, "title": {"text": "confidence"}, "range": [0, 1], "automargin": True},
                   "yaxis": {**_AXIS, "title": {"text": "accuracy"}, "range": [0, 1.02], "automargin": True},
                   "legend": {"x": 0.02, "y": 0.98, "font": {"size": 10}}},
    }


def model_card(m: ModelEntry, in_use: bool = False):
    import ipywidgets as w

    summary = w.HTML(model_summary_html(m, in_use))
    kids = [summary]
    lf = _get(m.meta, "evaluation", "leakfree_test") or {}
    figs = []
    try:
        if lf.get("confusion"):
            figs.append(_plot_output(confusion_figure(lf["confusion"], m.meta.get("classes", config.CLASSES)), 330))
        if lf.get("calibration"):
            figs.append(_plot_output(reliability_figure(lf["calibration"]), 330))
    except Exception:  # noqa: BLE001 - a malformed evaluation block must not hide the rest of the card
        log.warning("model figures failed for %s", m.name, exc_info=True)
        kids.append(w.HTML('<div class="bm-warn">evaluation figures could not be drawn (malformed record)</div>'))
    if figs:
        kids.append(w.HBox(figs, layout=w.Layout(flex_flow="row wrap")))
    card = w.VBox(kids)
    card.add_class("bm-card")
    return card, summary


# ----------------------------------------------------------------------------------------- the dashboard
class Dashboard:
    """The page: banner, title, status, and tabs Predict / Models. ``root`` is what the notebook displays."""

    MAX_CARDS = 24

    def __init__(self, model: str | Path | None = None, examples: list[Example] | None = None,
                 models: list[ModelEntry] | None = None):
        import ipywidgets as w

        self.predictor = None
        self.model_path: Path | None = None
        self.threshold, self.threshold_src = DEFAULT_ABSTAIN, "default"
        self.results: list[Result] = []
        self._last_inputs: list[tuple[str, Any, str | None]] = []
        start = Path(model).expanduser() if model else default_model_path()
        self.models = models if models is not None else discover_models([start.parent, config.MODELS_DIR])
        self.examples = examples if examples is not None else list_examples()

        self.banner = w.HTML(f'<div class="bm-banner" data-disclaimer="1">⚠ {_e(DISCLAIMER)} Outputs are a research '
                             'model\'s guesses on single 2-D slices; they must not inform any clinical decision.</div>')
        self.banner.add_class("bm-sticky")  # stays in view while scrolling (CSS above)
        self.title = w.HTML('<div class="bm-title"><h1>Brain-tumour MRI slice classifier</h1>'
                            '<div class="bm-sub">glioma · meningioma · pituitary tumour · no tumour — calibrated '
                            'probabilities, an abstain band and Grad-CAM, from a model trained on a leak-free split '
                            'of the Kaggle brain-tumour MRI dataset.</div></div>')
        self.status = w.HTML()
        self.uploader = w.FileUpload(accept=ACCEPT, multiple=True, description="Upload", button_style="primary",
                                     icon="upload", layout=w.Layout(width="150px"))
        synthetic_examples = bool(self.examples) and all(e.label == "synthetic" for e in self.examples)
        self.example_dd = w.Dropdown(options=[("— choose an example —", -1)]
                                     + [(e.title, i) for i, e in enumerate(self.examples)],
                                     value=-1, description="or example", layout=w.Layout(width="470px"),
                                     style={"description_width": "75px"})
        self.clear_btn = w.Button(description="Clear", icon="times", layout=w.Layout(width="90px"))
        limits = (f"JPEG, PNG or DICOM, one 2-D slice each, up to {_mb(config.MAX_UPLOAD_BYTES)} per file "
                  f"({_mb(WS_MAX_MESSAGE_BYTES)} per selection); several files at once give one card each.")
        if synthetic_examples:
            limits += " No dataset found: the examples are synthetic phantoms (not MRI)."
        self.hint = w.HTML(f'<div class="bm-note">{_e(limits)}</div>')
        self.busy = w.HTML()
        self.cards = w.VBox()
        predict_tab = w.VBox([w.HBox([self.uploader, self.example_dd, self.clear_btn],
                                     layout=w.Layout(align_items="center", flex_flow="row wrap")),
                              self.hint, self.busy, self.cards])

        choices = [(f"{m.name} ({m.meta.get('arch', '?')}, {str(m.meta.get('trained_at', '?'))[:10]})", str(m.keras_path))
                   for m in self.models if m.available]
        self.model_dd = w.Dropdown(options=choices or [("(no model file found)", "")], description="Predict with",
                                   layout=w.Layout(width="520px"), style={"description_width": "90px"})
        self._model_summaries: list[tuple[ModelEntry, Any]] = []
        cards = []
        for m in self.models:
            card, summary = model_card(m)
            cards.append(card)
            self._model_summaries.append((m, summary))
        if not cards:
            cards = [w.HTML(f'<div class="bm-warn">No model records in {_e(config.MODELS_DIR.name)}/: train one with '
                            '<code>brain-mri train</code> (or <code>make train</code>), then '
                            '<code>brain-mri evaluate</code>.</div>')]
        models_tab = w.VBox([w.HTML('<div class="bm-h2">Models</div><div class="bm-note">Metrics are on the leak-free '
                                    'test split (no near-duplicate of a test image in training), with 95 % bootstrap '
                                    'confidence intervals; the official Kaggle test split is shown for comparison '
                                    'only (it leaks). Models are read from models/; uploading a model through the '
                                    'browser is not possible.</div>'), self.model_dd] + cards)
        self.tabs = w.Tab(children=[predict_tab, models_tab], titles=("Predict", "Models"))
        self.root = w.VBox([w.HTML(CSS), self.banner, self.title, self.status, self.tabs])
        self.root.add_class("bm-root")

        self.uploader.observe(self._on_upload, names="value")
        self.example_dd.observe(self._on_example, names="value")
        self.clear_btn.on_click(lambda _b: self.clear())

        self.select_model(start)
        if choices and str(start.resolve()) in [c[1] for c in choices]:
            self.model_dd.value = str(start.resolve())
        self.model_dd.observe(self._on_model, names="value")
        self._warm_render()

    def _warm_render(self) -> None:
        """Process and render one phantom off-page: the first real upload then pays no first-call costs
        (PNG encoder, widget classes, JSON of the figure), only its own ~0.1-0.2 s."""
        try:
            from .synthetic import make_phantom

            res = process_upload("warm-up.png", _png(make_phantom("glioma", seed=1, size=192)[0]), self.predictor,
                                 threshold=self.threshold)
            _close_tree(render_card(res))
        except Exception:  # noqa: BLE001 - warm-up is an optimisation only
            log.warning("render warm-up failed", exc_info=True)

    # -- model
    def select_model(self, path) -> bool:
        """Use the model at `path` for predictions (loaded once per kernel). False + a page message if it fails."""
        path = Path(path)
        t0 = time.perf_counter()
        try:
            with _quiet():
                p = get_predictor(path)
        except Exception as e:  # noqa: BLE001 - ModelError, missing file, broken file: one line in the page
            log.warning("model load failed: %s", path, exc_info=True)
            self.predictor, self.model_path = None, path
            self.threshold, self.threshold_src = DEFAULT_ABSTAIN, "default"
            msg = load_message(path, e)
            hint = "" if "brain-mri train" in msg else " Train one with <code>brain-mri train</code>."
            self.status.value = (f'<div class="bm-status bm-bad" data-model-error="1"><b>No model loaded</b> — '
                                 f'{_e(msg)}.{hint} Uploads still get the input checks.</div>')
            self._mark_in_use()
            return False
        self.predictor, self.model_path = p, path
        self.threshold, self.threshold_src = abstain_threshold(getattr(p, "meta", None))
        meta = getattr(p, "meta", {}) or {}
        extra = ""
        if _get(meta, "data", "synthetic"):
            extra = (' <span class="bm-badge" style="background:#fef9e7;color:#6e4c00">trained on synthetic phantoms: '
                     'its outputs on real MRI mean nothing</span>')
        temp = getattr(p, "temperature", None)
        self.status.value = (f'<div class="bm-status" data-model="{_e(getattr(p, "name", path.stem))}">Model '
                             f'<b>{_e(getattr(p, "name", path.stem))}</b> ({_e(meta.get("arch", "?"))}, '
                             f'{_e(getattr(p, "img_size", "?"))} px'
                             + (f", temperature {float(temp):.2f}" if isinstance(temp, (int, float)) else "")
                             + f') · abstain below {self.threshold:.2f} ({_e(self.threshold_src)}) · '
                             f'ready in {time.perf_counter() - t0:.1f} s{extra}</div>')
        self._mark_in_use()
        return True

    def _mark_in_use(self):
        for m, summary in self._model_summaries:
            try:
                in_use = self.model_path is not None and self.predictor is not None and \
                    m.keras_path == Path(self.model_path).expanduser().resolve()
                summary.value = model_summary_html(m, in_use)
            except Exception:  # noqa: BLE001
                log.warning("model summary failed", exc_info=True)

    def _on_model(self, change):
        if change["new"]:
            self.select_model(change["new"])
            if self._last_inputs:
                self.run(self._last_inputs)

    # -- inputs
    def run(self, items: list[tuple[str, Any, str | None]]) -> list[Result]:
        """Process (name, bytes, true_label) items and show one card each; returns the Results."""
        t0 = time.perf_counter()
        self._last_inputs = list(items)
        shown = items[: self.MAX_CARDS]
        self.busy.value = f'<div class="bm-note">processing {len(shown)} file(s)…</div>'
        results, cards = [], []
        for name, data, label in shown:
            try:
                res = process_upload(name, data, self.predictor, true_label=label, threshold=self.threshold)
            except Exception as e:  # noqa: BLE001 - process_upload should not raise; belt and braces
                log.warning("process_upload raised", exc_info=True)
                res = Result(name=str(name), error=f"unexpected error: {_one_line(e)}")
            results.append(res)
            try:
                cards.append(render_card(res))
            except Exception as e:  # noqa: BLE001
                log.warning("render failed", exc_info=True)
                cards.append(render_card(Result(name=res.name, error=f"could not display the result: {_one_line(e)}")))
        old = self.cards.children
        self.cards.children = cards
        for c in old:  # free the old cards' comms (and their image bytes in the kernel)
            _close_tree(c)
        self.results = results
        dt = time.perf_counter() - t0
        more = f"; only the first {self.MAX_CARDS} of {len(items)} files are shown" if len(items) > len(shown) else ""
        n_err = sum(1 for r in results if r.error)
        self.busy.value = (f'<div class="bm-note" data-done="{len(results)}">{len(results)} file(s) in {dt:.2f} s'
                           + (f", {n_err} could not be used" if n_err else "") + f"{more}</div>")
        return results

    def _on_upload(self, change):
        files = change["new"] or ()
        if not files:
            return
        items = []
        for f in files:
            try:
                items.append((str(f["name"]), f["content"], None))
            except Exception:  # noqa: BLE001 - malformed entry from the front end
                items.append(("upload", b"", None))
        self.example_dd.value = -1
        self.run(items)

    def _on_example(self, change):
        i = change["new"]
        if i is None or i < 0:
            return
        ex = self.examples[i]
        try:
            data = ex.load()
        except Exception as e:  # noqa: BLE001
            data = b""
            log.warning("example %s unreadable: %s", ex.name, e)
        self.run([(ex.name, data, ex.label)])

    def clear(self):
        old = self.cards.children
        self.cards.children = ()
        for c in old:
            _close_tree(c)
        self.results, self._last_inputs = [], []
        self.busy.value = ""
        self.example_dd.value = -1

    @property
    def layout(self):
        return self.root


def _close_tree(widget) -> None:
    """Close a widget and its descendants (frees their comms); never Widget.close_all, which closes every widget."""
    for child in getattr(widget, "children", ()) or ():
        _close_tree(child)
    try:
        widget.close()
    except Exception:  # noqa: BLE001
        pass


class _quiet:
    """Silence Python warnings and stray prints while TensorFlow/Keras load: they would land in the page."""

    def __enter__(self):
        import contextlib
        import warnings

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        self._buf = io.StringIO()
        self._stack.enter_context(contextlib.redirect_stdout(self._buf))
        self._stack.enter_context(contextlib.redirect_stderr(self._buf))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        if self._buf.getvalue().strip():
            log.info("suppressed output: %s", self._buf.getvalue()[-2000:])
        return False


def preload() -> float:
    """Import TensorFlow/Keras (and the widget stack) now, in a cell of its own: under Voila every cell has its own
    timeout, and the import is the slowest part of the start (10 s idle, minutes on a busy CPU). Never raises."""
    t0 = time.perf_counter()
    try:
        with _quiet():
            import ipywidgets  # noqa: F401
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
    except Exception:  # noqa: BLE001 - build_dashboard reports the real problem in the page
        log.warning("preload failed", exc_info=True)
    return time.perf_counter() - t0


def build_dashboard(model: str | Path | None = None):
    """The dashboard object (``.root`` is the page). Never raises: a failure becomes a page with the reason."""
    try:
        with _quiet():
            return Dashboard(model=model)
    except Exception as e:  # noqa: BLE001
        import ipywidgets as w

        log.exception("dashboard failed to build")

        class _Broken:
            root = w.VBox([w.HTML(CSS), w.HTML(f'<div class="bm-banner">⚠ {_e(DISCLAIMER)}</div>'),
                           w.HTML('<div class="bm-status bm-bad">The dashboard could not start: '
                                  f'{_e(_one_line(e))}</div>')])
            layout = root

        return _Broken()


# ----------------------------------------------------------------------------------------- serving
CELL_TIMEOUT_ENV = "BRAIN_MRI_VOILA_TIMEOUT"  # seconds per notebook cell; tests on a CPU shared with training raise it


def voila_argv(port: int, ip: str = "127.0.0.1", notebook: str | Path | None = None) -> list[str]:
    """Voila's command line for the dashboard (the websocket cap is passed separately: see serve())."""
    nb = Path(notebook) if notebook else config.NOTEBOOKS_DIR / "dashboard.ipynb"
    timeout = int(os.environ.get(CELL_TIMEOUT_ENV) or 120)  # TensorFlow's import alone is ~10 s on an idle CPU
    return [str(nb), "--no-browser", f"--port={int(port)}", "--Voila.port_retries=0", f"--Voila.ip={ip}",
            "--template=lab", "--strip_sources=True", f"--VoilaExecutor.timeout={timeout}",
            "--VoilaConfiguration.show_tracebacks=False",
            # a kernel per page view; kernels of closed pages (or of plain HTTP GETs) go after 15 idle minutes
            "--MappingKernelManager.cull_idle_timeout=900", "--MappingKernelManager.cull_interval=60"]


def serve(port: int = 8866, ip: str = "127.0.0.1", notebook=None) -> int:
    """Run Voila in this process until Ctrl-C / SIGTERM (kernels are shut down on exit).

    Front-end code execution: Voila's kernel manager only forwards comm_* / kernel_info / shutdown messages from
    the browser, so an execute_request sent over the kernel websocket is dropped (tests/test_voila.py checks it).
    """
    from voila.app import Voila

    if ip not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {ip} without a token: anyone who can reach it can use the dashboard",
              file=sys.stderr)
    print(f"Brain-tumour MRI dashboard on http://{'localhost' if ip == '127.0.0.1' else ip}:{port}/ "
          "(first page load takes ~20 s: TensorFlow and the model load; Ctrl-C stops)", flush=True)
    Voila.launch_instance(argv=voila_argv(port, ip, notebook),
                          tornado_settings={"websocket_max_message_size": WS_MAX_MESSAGE_BYTES})
    return 0


def cli_dashboard(args) -> int:
    nb = config.NOTEBOOKS_DIR / "dashboard.ipynb"
    if not nb.is_file():
        print(f"error: {nb.name} not found in {config.NOTEBOOKS_DIR.name}/", file=sys.stderr)
        return 1
    return serve(port=int(getattr(args, "port", 8866)), ip=str(getattr(args, "ip", "127.0.0.1") or "127.0.0.1"))
