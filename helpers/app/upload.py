"""One upload -> call path for the dashboard and `brain-mri predict`: size cap, decode and prepare (the same
helpers.data path as training), the input checks, calibrated probabilities, the call and Grad-CAM, as one ``Result``.

Pure (no widgets, unit-tested): ``process_upload(name, data, predictor) -> Result``; ``decide_call(result)`` is the
one place a result becomes "tumour", "no tumour", "uncertain" or "no verdict" (``Result.call``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .. import config
from ..data.gate import REF_SIZE
from ..data.prepare import decode_prepare, prepare
from ..errors import ImageError
from ..modeling import familiarity
from ..modeling.operating_point import uncertain_band  # noqa: F401 - the band decide_call reads, re-exported
from ..modeling.predictor import decide
from ..formatting import megabytes, threshold as fmt_threshold
from .input_checks import check_messages, image_features
from .registry import (DEFAULT_ABSTAIN, abstain_threshold, call_track_record, collection_track_record, keras_model,
                       model_gaps, screening_threshold)


# ----------------------------------------------------------------------------------------- one file
@dataclass
class Result:
    """Everything the page shows for one file; produced by process_upload without any widget."""

    name: str
    error: str | None = None  # one line; when set, nothing else is meaningful
    warnings: list[str] = field(default_factory=list)  # reliability concerns (input checks)
    notes: list[str] = field(default_factory=list)  # informative (middle frame, 16-bit rescaled, ...)
    model_gaps: list[str] = field(default_factory=list)  # what the model lacks (registry.model_gaps)
    format: str = ""
    mode: str = ""
    width: int = 0
    height: int = 0
    n_bytes: int = 0
    original: np.ndarray | None = None  # display copy (<= 320 px; in colour when the upload is)
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
    call_threshold: float = 0.5  # P(tumour) at or above it is a "tumour" call (screening threshold chosen on val)
    # logits around the call threshold that read "uncertain" (a batch-10 model's operating point); None: the band
    # comes from the abstain threshold, as before
    uncertain_margin: float | None = None
    track_record: str | None = None  # how often the model's call of this kind was wrong on the leak-free test
    heat: np.ndarray | None = None  # Grad-CAM (S, S) in [0, 1] of the call (P(tumour) or the predicted class)
    heat_of: str | None = None  # what the heat map explains, for its caption
    # Unlike every training collection (the model's feature-space distance above its validation quantile): the page
    # shows an "unfamiliar scan" warning and never a confident green "no tumour".
    unfamiliar: bool = False
    familiarity_score: float | None = None
    # False: the picture is not a brain MRI slice the model can read (a photo, a diagram, far outside the training
    # pictures): the page gives no class verdict and no P(tumour) at all, only the reason.
    verdict: bool = True
    # the warning behind "no verdict" or "unfamiliar scan" (the headline states it; the list beside leaves it out)
    reason: str | None = None
    true_label: str | None = None
    timings_ms: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def call(self) -> str:
        """"tumour", "no tumour", "uncertain" or "no verdict" (decide_call)."""
        return decide_call(self)[0]

    @property
    def call_reason(self) -> str:
        """One line: why the call is what it is (decide_call)."""
        return decide_call(self)[1]

    @property
    def type_uncertain(self) -> bool:
        """A tumour call whose tumour type is the unsure part (no class reaches the abstain threshold)."""
        return self.call == "tumour" and bool(self.abstain)

    def summary(self) -> str:
        if self.error:
            return f"{self.name}: error: {self.error}"
        return f"{self.name}: {self.call} ({self.call_reason})"


CALLS = ("tumour", "no tumour", "uncertain", "no verdict")


def decide_call(res: Result) -> tuple[str, str]:
    """(call, reason) of one result: the only place the dashboard's headline and `brain-mri predict` get their call.

    In order: no verdict (an error, no model, or the input checks rejected the picture), uncertain (an unfamiliar
    scan, or P(tumour) inside the uncertain band), else tumour / no tumour at the model's call threshold."""
    if res.error:
        return "no verdict", res.error
    if res.probs is None or res.p_tumour is None or not np.isfinite(res.p_tumour):
        return "no verdict", "no model loaded: input checks only"
    if not res.verdict:
        return "no verdict", res.reason or (res.warnings[0] if res.warnings else "the input checks rejected it")
    if res.unfamiliar:
        return "uncertain", res.reason or "unfamiliar scan: unlike the collections the model was trained on"
    p, ct = float(res.p_tumour), float(res.call_threshold)
    lo, hi = uncertain_band(res.abstain_threshold, ct, res.uncertain_margin)
    if lo < p < hi:
        src = ("too close to the call threshold: the band was chosen on collections held out in training"
               if res.uncertain_margin is not None else "from the abstain threshold chosen on validation")
        return "uncertain", f"P(tumour) {p:.3f} is inside the uncertain band {fmt_threshold(lo)}–{fmt_threshold(hi)} ({src})"
    if p >= ct:
        why = f"P(tumour) {p:.3f} ≥ {fmt_threshold(ct)}, the call threshold"
        if res.abstain:
            why += (f"; the tumour type is uncertain (highest class probability {res.confidence:.3f} < "
                    f"{fmt_threshold(res.abstain_threshold)})")
        return "tumour", why
    return "no tumour", f"P(tumour) {p:.3f} < {fmt_threshold(ct)}, the call threshold"


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


def training_plane_counts(meta: dict | None) -> dict | None:
    """{label: {plane: n}} of the predicting model's own training rows when it was trained on the union split (the
    plane warning then quotes what this model saw); None (the tagger's Kaggle counts) otherwise."""
    if ((meta or {}).get("data") or {}).get("split") != "union":
        return None
    from ..data import union_split

    return union_split.train_plane_counts()


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

log = logging.getLogger(__name__)


def one_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def thumbnail(img: np.ndarray, max_side: int = 320) -> np.ndarray:
    """A display copy, grey (H, W) or colour (H, W, 3), no side above `max_side`."""
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    k = max_side / max(h, w)
    im = Image.fromarray(img).resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BILINEAR)
    return np.asarray(im)


def colour_thumbnail(data: bytes, max_side: int = 320) -> np.ndarray | None:
    """The uploaded picture in colour, for display only (the model reads the grey version); None if unreadable."""
    import io

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (2 * max_side, 2 * max_side))  # JPEG: decode at reduced size
            return thumbnail(np.asarray(im.convert("RGB")), max_side)
    except Exception:  # noqa: BLE001 - the grey thumbnail stays
        return None


SHIPPED = "shipped"  # process_upload's default predictor: the shipped model (config.DEFAULT_MODEL_NAME)


def shipped_predictor():
    """The shipped model, loaded once per process (the runtime's cache: ONNX when it has an export, as the dashboard
    and the CLI). Raises ModelError (one line)."""
    from ..modeling.runtime import load_model

    return load_model(config.DEFAULT_MODEL)


def process_upload(name: str, data: bytes | bytearray | memoryview | None, predictor=SHIPPED, *,
                   with_gradcam: bool = True, true_label: str | None = None,
                   threshold: float | None = None) -> Result:
    """Check, decode, prepare, predict and explain one file. Never raises: problems become ``Result.error``
    (one line) or ``Result.warnings``; ``Result.call`` is the call (decide_call). ``predictor``: the shipped model by
    default; None -> input checks only (the dashboard when no model could be loaded).

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
        res.error = f"file too large ({megabytes(n)}; the limit is {megabytes(config.MAX_UPLOAD_BYTES)})"
        return res
    if isinstance(predictor, str) and predictor == SHIPPED:
        try:
            predictor = shipped_predictor()
        except Exception as e:  # noqa: BLE001 - ModelError and what Keras raises: one line, as for a bad file
            res.error = f"the shipped model could not be loaded: {one_line(e)}"
            return res
    size = int(getattr(predictor, "img_size", None) or config.IMG_SIZE)
    data = bytes(data)
    try:
        dec, x = decode_prepare(data, size, name=res.name)
        x128 = x if size == REF_SIZE else prepare(dec.gray, REF_SIZE)
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
    res.original, res.prepared = thumbnail(dec.gray), x
    res.dicom = dicom_rows(dec.dicom)
    try:
        res.features = image_features(None if dec.format == "DICOM" else data, dec.gray, x128)
        res.warnings = check_messages(res.features, res.width, res.height)
    except Exception:  # noqa: BLE001 - a failed check is not a failed prediction
        log.warning("input checks failed for %s", res.name, exc_info=True)
        res.notes.append("input checks could not run on this file")
    colour_flagged = any(w.startswith("colour image") for w in res.warnings)
    if dec.format != "DICOM" and (colour_flagged or any(w.startswith("colour image") for w in dec.warnings)):
        if (rgb := colour_thumbnail(data)) is not None:
            res.original = rgb
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
    fam = None
    try:
        if hasattr(predictor, "predict_with_familiarity"):  # one forward pass for the call and the familiarity
            probs, fam = predictor.predict_with_familiarity(x[None])
        else:  # a predictor without the rule (tests' stand-ins)
            probs = predictor.predict_arrays(x[None])
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(probs)) or probs.sum() <= 0:
            raise ValueError("model returned invalid probabilities")
        probs = probs / probs.sum()
    except Exception as e:  # noqa: BLE001
        log.warning("prediction failed for %s", res.name, exc_info=True)
        res.error = f"prediction failed: {one_line(e)}"
        return res
    t3 = time.perf_counter()
    classes = [str(c) for c in getattr(predictor, "classes", config.CLASSES)]
    res.model = str(getattr(predictor, "name", "model"))
    res.classes, res.probs = classes, probs
    idx = int(np.argmax(probs))
    meta = getattr(predictor, "meta", None)
    res.model_gaps = model_gaps(meta)
    res.call_threshold = screening_threshold(meta)
    m = ((meta or {}).get("operating_point") or {}).get("uncertain_margin")
    res.uncertain_margin = float(m) if m is not None else None
    # the class named sits on the same side of the call threshold as the call (never "notumor" beside a tumour call)
    res.predicted, res.confidence = decide(probs, classes, res.call_threshold), float(probs[idx])
    # P(tumour) = 1 - P(notumor), as predict.p_tumour; computed by class name so the column order cannot matter
    res.p_tumour = float(1.0 - probs[classes.index(config.NO_TUMOUR)]) if config.NO_TUMOUR in classes else float("nan")
    res.abstain_threshold = threshold if threshold is not None else abstain_threshold(meta)[0]
    res.abstain = res.confidence < res.abstain_threshold
    res.timings_ms["predict"] = round((t3 - t2) * 1000, 1)
    if fam is not None:  # the unfamiliar-scan rule of the model's record (modeling.familiarity)
        res.familiarity_score, res.unfamiliar = float(fam[0][0]), bool(fam[1][0])
        rule = predictor.familiarity
        if res.unfamiliar:
            res.reason = familiarity.message(res.familiarity_score, rule)
            res.warnings.append(res.reason)
        res.verdict = not familiarity.beyond_reading(res.familiarity_score, rule)
    rejected = [w for w in res.warnings if w.startswith(("colour image", "unlike the training MRI slices"))]
    if rejected:
        # not a brain MRI slice like any we trained on: a colour picture, or one without the black background round
        # a head (a grey photo, a diagram). No class verdict, whatever the network says: it calls a portrait
        # "tumour" at 97%. The pixel checks alone decide, because the network's own familiarity rule differs from
        # model to model (brain_tumor_xc flagged a grey product photo, brain_tumor_xc_sym does not). What it costs in
        # real slices, each source held out: experiments/batch32_input_gate/RESULTS.md.
        res.verdict, res.reason = False, rejected[0]
    if not res.verdict:
        res.abstain = True
    try:  # plane and CT: where the training data says little (helpers.evaluation.scan_type, models/scan_type.json)
        from ..evaluation import scan_type

        res.warnings += scan_type.upload_warnings(scan_type.tag_one(x128), res.p_tumour >= res.call_threshold,
                                                  plane_counts=training_plane_counts(meta))
    except Exception:  # noqa: BLE001 - a failed tag is not a failed prediction
        log.warning("scan-type tag failed for %s", res.name, exc_info=True)
    if res.call in ("tumour", "no tumour"):  # an uncertain call or no verdict has no track record to quote
        res.track_record = call_track_record(meta, res.call == "tumour")
        per_collection = collection_track_record(meta, res.call == "tumour")
        if res.track_record and per_collection:
            res.track_record += f"; {per_collection}"
    t_tag = time.perf_counter()
    res.timings_ms["scan_type"] = round((t_tag - t3) * 1000, 1)
    t3 = t_tag
    if with_gradcam and res.verdict:  # no verdict: the card shows no map, so none is computed
        model = keras_model(predictor)
        try:
            if model is None:
                raise RuntimeError("no Keras model exposed by the predictor")
            from ..modeling import explain

            target, grid = explain.gradcam_choice(predictor)  # this model's own choice (its record)
            k, res.heat_of = explain.call_target(classes, classes.index(res.predicted), res.predicted, target)
            heat = np.asarray(explain.gradcam(model, x, k, grid=grid), dtype=np.float32)
            res.heat = heat if heat.shape == x.shape else None
        except Exception as e:  # noqa: BLE001
            log.warning("Grad-CAM failed for %s", res.name, exc_info=True)
            res.notes.append(f"Grad-CAM unavailable ({type(e).__name__})")
        res.timings_ms["gradcam"] = round((time.perf_counter() - t3) * 1000, 1)
    res.timings_ms["total"] = round((time.perf_counter() - t0) * 1000, 1)
    return res
