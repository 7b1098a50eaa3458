"""Voila dashboard (notebooks/dashboard.ipynb): every callback lives here, the notebook only lays widgets out.

Pure part (no widgets, unit-tested): ``process_upload(name, data, predictor) -> Result`` checks the size cap,
decodes with the same ``helpers.data.prepare`` path as training, runs the input checks, predicts calibrated
probabilities and Grad-CAM. Widget part: ``build_dashboard() -> Dashboard`` (``.root`` is the page).
Beside it: screening (input checks), model_registry (finding and loading models), model_tab, page_style.
"""
from __future__ import annotations

import io
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import config
from .registry import DEFAULT_ABSTAIN, experiments_line, ModelEntry, abstain_threshold, call_track_record, default_model_path, discover_models, get_predictor, keras_model, load_message, screening_threshold
from .models_tab import dig, model_card, model_summary_html
from ..reporting.page_style import AXIS, C_MUTED, C_OK, C_TUMOUR, CSS, LAYOUT_BASE, esc, pct, plot_output
from ..errors import ImageError
from ..data.decode import decode
from ..data.prepare import prepare
from .input_checks import REF_SIZE, check_messages, image_features
# Not used here; importable from helpers.app.dashboard for the tests (helpers.app.dashboard.CHECKS etc.).
from .input_checks import CHECKS, REF_HIST, measure_reference  # noqa: F401

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads (lazily): keeps the kernel log short
log = logging.getLogger(__name__)

DISCLAIMER = "Research and teaching only — not for diagnosis."
ACCEPT = ".jpg,.jpeg,.png,.dcm,.dicom,image/*"
# One FileUpload selection travels as ONE websocket message (all files together, raw bytes). Tornado's default cap
# (10 MiB) would close the socket on a 15 MB file and leave a dead page; we raise it well above our own per-file
# cap so that an oversized file reaches process_upload and is refused there with a readable message.
WS_MAX_MESSAGE_BYTES = 8 * config.MAX_UPLOAD_BYTES


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
    call_threshold: float = 0.5  # P(tumour) at or above it is a "tumour" call (screening threshold chosen on val)
    track_record: str | None = None  # how often the model's call of this kind was wrong on the leak-free test
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
    meta = getattr(predictor, "meta", None)
    res.call_threshold = screening_threshold(meta)
    res.track_record = call_track_record(meta, res.p_tumour >= res.call_threshold)
    res.timings_ms["predict"] = round((t3 - t2) * 1000, 1)
    try:  # plane and CT: where the training data says little (helpers.evaluation.scan_type, models/scan_type.json)
        from ..evaluation import scan_type

        res.warnings += scan_type.upload_warnings(scan_type.tag_one(x128), res.p_tumour >= res.call_threshold)
    except Exception:  # noqa: BLE001 - a failed tag is not a failed prediction
        log.warning("scan-type tag failed for %s", res.name, exc_info=True)
    t_tag = time.perf_counter()
    res.timings_ms["scan_type"] = round((t_tag - t3) * 1000, 1)
    t3 = t_tag
    if with_gradcam:
        model = keras_model(predictor)
        try:
            if model is None:
                raise RuntimeError("no Keras model exposed by the predictor")
            from ..modeling.explain import gradcam

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
        from ..data.layouts import resolve_data_dir
        from ..data.split import read_split_csv
        from ..data.synthetic import is_synthetic

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
                from ..data.synthetic import make_phantom

                return _png(make_phantom(label, seed=seed + 101 * k, size=256)[0])
            out.append(Example(title=f"synthetic phantom #{k + 1} ({label}-like drawing)", label="synthetic",
                               load=load, name=f"phantom-{label}-{k + 1}.png"))
    return out


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- Predict cards
def prob_figure(res: Result) -> dict:
    """Horizontal bars of the calibrated probabilities (plotly figure as a dict)."""
    colours = [C_OK if c == config.NO_TUMOUR else C_TUMOUR for c in res.classes]
    opac = [1.0 if c == res.predicted else 0.45 for c in res.classes]
    t = float(res.abstain_threshold)
    return {
        "data": [{"type": "bar", "orientation": "h", "x": [round(float(p), 6) for p in res.probs], "y": list(res.classes),
                  "marker": {"color": colours, "opacity": opac}, "text": [pct(p) for p in res.probs],
                  "textposition": "auto", "hoverinfo": "skip"}],
        "layout": {**LAYOUT_BASE, "height": 190, "width": 340, "margin": {"l": 10, "r": 26, "t": 20, "b": 26},
                   "xaxis": {**AXIS, "range": [0, 1], "tickformat": ".0%", "automargin": True},
                   "yaxis": {**AXIS, "autorange": "reversed", "automargin": True},
                   "shapes": [{"type": "line", "x0": t, "x1": t, "y0": 0, "y1": 1, "yref": "paper",
                               "line": {"dash": "dot", "color": C_MUTED, "width": 1.5}}],
                   "annotations": [{"x": t, "y": 1.0, "yref": "paper", "yanchor": "bottom", "showarrow": False,
                                    "text": f"abstain {t:.2f}", "font": {"size": 10, "color": C_MUTED}}]},
    }


def headline_html(res: Result) -> str:
    """P(tumour) headline, predicted class, abstain band and the probability table (data-* attributes for tests)."""
    colour = C_TUMOUR if res.p_tumour >= res.call_threshold else C_OK
    parts = [f'<div class="bm-headline" data-p-tumour="{res.p_tumour:.6f}" data-predicted="{esc(res.predicted)}"'
             f' data-abstain="{int(res.abstain)}">',
             '<div class="bm-label">P(tumour)</div>',
             f'<div class="bm-big" style="color:{colour}">{pct(res.p_tumour)}</div>',
             f'<div>Most likely: <b>{esc(res.predicted)}</b> ({pct(res.confidence)})</div>']
    if res.abstain:
        parts.append(f'<div class="bm-abstain">uncertain — refer to a radiologist<br><span style="font-weight:400">'
                     f'highest calibrated probability {res.confidence:.2f} is below the abstain threshold '
                     f'{res.abstain_threshold:.3g}</span></div>')
    else:
        parts.append(f'<div class="bm-confident">above the abstain threshold ({res.confidence:.2f} ≥ '
                     f'{res.abstain_threshold:.3g})</div>')
    if res.track_record:  # right under the call it qualifies
        parts.append(f'<div class="bm-note bm-track">ℹ {esc(res.track_record)}</div>')
    if res.true_label:
        if res.true_label == "synthetic":
            parts.append('<div class="bm-note">True label: none (synthetic phantom, not an MRI)</div>')
        else:
            mark = "✓" if res.true_label == res.predicted else "✗"
            parts.append(f'<div class="bm-note">True label (leak-free test): <b>{esc(res.true_label)}</b> {mark}</div>')
    rows = "".join(f'<tr data-class="{esc(c)}" data-p="{p:.6f}"><td>{esc(c)}</td><td class="num">{pct(p)}</td></tr>'
                   for c, p in zip(res.classes, res.probs))
    parts.append(f'<details class="bm-details"><summary>exact values</summary>'
                 f'<table class="bm-table bm-probs" data-sum="{float(np.sum(res.probs)):.6f}">'
                 f'<tr><th>class</th><th>calibrated p</th></tr>{rows}</table></details></div>')
    return "".join(parts)


def messages_html(res: Result) -> str:
    out = [f'<div class="bm-warn">⚠ {esc(w)}</div>' for w in res.warnings]
    out += [f'<div class="bm-note">ℹ {esc(n)}</div>' for n in res.notes]
    return "".join(out)


def dicom_html(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
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
    return (f'<div class="bm-card-title">{esc(res.name)}</div>'
            f'<div class="bm-meta">{esc(" · ".join(meta))}</div>')


def render_card(res: Result, alpha: float = 0.45):
    """The widget for one Result: a one-line error, or images + headline + chart (+ DICOM table)."""
    import ipywidgets as w

    head = w.HTML(card_title_html(res))
    if res.error:
        card = w.VBox([head, w.HTML(f'<div class="bm-error" data-error="1">✖ {esc(res.name)}: '
                                    f'{esc(res.error)}</div>')])
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
            from ..modeling.explain import overlay

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
            cols.append(column(cam, slider, caption(f"Grad-CAM for “{esc(res.predicted)}”: where the network looked")))
        except Exception:  # noqa: BLE001
            log.warning("overlay failed", exc_info=True)
    right = [w.HTML(messages_html(res))] if (res.warnings or res.notes) else []
    if res.probs is not None:
        right.append(w.HTML(headline_html(res)))
        right.append(plot_output(prob_figure(res), 190))
    else:
        right.append(w.HTML('<div class="bm-note">No prediction: no model is loaded (see the status line above).</div>'))
    body = [w.HBox(cols + [w.VBox(right, layout=w.Layout(width="350px", margin="0 0 0 8px"))],
                   layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))]
    if res.dicom:
        body.append(w.HTML(dicom_html(res.dicom)))
    card = w.VBox([head] + body)
    card.add_class("bm-card")
    return card


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

        self.banner = w.HTML(f'<div class="bm-banner" data-disclaimer="1">⚠ {esc(DISCLAIMER)} Outputs are a research '
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
        self.hint = w.HTML(f'<div class="bm-note">{esc(limits)}</div>')
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
            cards = [w.HTML(f'<div class="bm-warn">No model records in {esc(config.MODELS_DIR.name)}/: train one with '
                            '<code>brain-mri train</code> (or <code>make train</code>), then '
                            '<code>brain-mri evaluate</code>.</div>')]
        models_tab = w.VBox([w.HTML('<div class="bm-h2">Models</div><div class="bm-note">Metrics are on the leak-free '
                                    'test split (no near-duplicate of a test image in training), with 95 % bootstrap '
                                    'confidence intervals; the official Kaggle test split is shown for comparison '
                                    'only (it leaks). Models are read from models/; uploading a model through the '
                                    'browser is not possible.</div>'), self.model_dd] + cards
                            + [w.HTML(f'<div class="bm-note">{experiments_line()}</div>')])
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
            from ..data.synthetic import make_phantom

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
                                 f'{esc(msg)}.{hint} Uploads still get the input checks.</div>')
            self._mark_in_use()
            return False
        self.predictor, self.model_path = p, path
        self.threshold, self.threshold_src = abstain_threshold(getattr(p, "meta", None))
        meta = getattr(p, "meta", {}) or {}
        extra = ""
        if dig(meta, "data", "synthetic"):
            extra = (' <span class="bm-badge" style="background:#fef9e7;color:#6e4c00">trained on synthetic phantoms: '
                     'its outputs on real MRI mean nothing</span>')
        temp = getattr(p, "temperature", None)
        self.status.value = (f'<div class="bm-status" data-model="{esc(getattr(p, "name", path.stem))}">Model '
                             f'<b>{esc(getattr(p, "name", path.stem))}</b> ({esc(meta.get("arch", "?"))}, '
                             f'{esc(getattr(p, "img_size", "?"))} px'
                             + (f", temperature {float(temp):.2f}" if isinstance(temp, (int, float)) else "")
                             + f') · abstain below {self.threshold:.3g} ({esc(self.threshold_src)}) · '
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
            root = w.VBox([w.HTML(CSS), w.HTML(f'<div class="bm-banner">⚠ {esc(DISCLAIMER)}</div>'),
                           w.HTML('<div class="bm-status bm-bad">The dashboard could not start: '
                                  f'{esc(_one_line(e))}</div>')])
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
