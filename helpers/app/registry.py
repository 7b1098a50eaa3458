"""Models the dashboard can use: records found in models/, the abstain threshold each was evaluated with, and
loading (once per kernel, warmed up) with a one-line reason when a model cannot be used."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import config, records
from ..formatting import shown_path, threshold
from ..modeling.predictor import screening_threshold, screening_threshold_source  # noqa: F401 - re-exported
from ..stats import wilson_ci

log = logging.getLogger(__name__)

MODEL_ENV = "BRAIN_MRI_MODEL"  # path of the .keras file the Predict tab starts with (tests point it at a tiny model)
DEFAULT_ABSTAIN = 0.9  # used when a model's JSON has no evaluated abstain threshold


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
        for f in records.find(d, experiments=False):
            try:
                meta = records.read_json(f.record)
            except (OSError, ValueError):
                continue
            if not isinstance(meta, dict) or "keras_sha256" not in meta:
                continue  # predictions, baselines, other records
            kp = f.weights.resolve()
            if kp in seen:
                continue
            seen.add(kp)
            out.append(ModelEntry(name=str(meta.get("name", f.name)), keras_path=kp, json_path=f.record, meta=meta))
    return out


def experiments_line() -> str:
    """One line for the Models tab: how many experiment records exist and where (they are not listed one by one)."""
    n = len(records.experiment_records())
    return (f"Experiments: {n} run records in {config.EXPERIMENTS_DIR.name}/ (one folder per batch, beside its plan; "
            f"the selection is explained in {config.EXPERIMENTS_DIR.name}/SELECTION.md). They are not loadable here.")


def missing_models_line(names: list[str]) -> str:
    """One line for records whose .keras file is not here (not loadable, so no card): their names and where the
    comparison of every recipe lives."""
    if not names:
        return ""
    return (f"{len(names)} more model record{'s' if len(names) != 1 else ''} without weights here "
            f"({', '.join(sorted(names))}): not loadable, so not listed; their results are in the model card's "
            "\"Recipes compared\" table (models/brain_tumor_cnn/MODEL_CARD.md).")


def abstain_threshold(meta: dict | None) -> tuple[float, str]:
    """The evaluated abstain threshold (max calibrated probability below it -> "uncertain"), else DEFAULT_ABSTAIN."""
    try:
        ab = meta["evaluation"]["leakfree_test"]["abstain"]
        t = float(ab["threshold"])
        if 0.0 < t <= 1.0:  # evaluate.py chooses it on the validation split, then reports it on the test split
            on = str(ab.get("selected_on") or "")
            split = "the leak-free validation split" if on in ("", "leakfree val") else f"the {on}idation split"
            return t, f"chosen on {split}"
    except (KeyError, TypeError, ValueError):
        pass
    return DEFAULT_ABSTAIN, "default: model not evaluated"


def call_track_record(meta: dict | None, called_tumour: bool) -> str | None:
    """One line: how often this model's call of the same kind ("tumour" / "no tumour" at the evaluated screening
    threshold) was wrong on the leak-free test, with a Wilson 95% CI; None without a real-data evaluation.

    A calibrated P(tumour) of 1% is an average over all scans; the missed tumours got such values too (notebook 04
    section 10), so the presenter sees the call's observed error rate beside the probability."""
    try:
        ev = meta["evaluation"]
        if ev.get("synthetic"):
            return None  # phantom numbers say nothing about real scans
        s = ev["leakfree_test"]["screening"]
        # the counts hold at the evaluation's own threshold, which may differ from a newer operating point
        thr, n_tum, n_no = float(s["threshold"]), int(s["n_tumour"]), int(s["n_no_tumour"])
        missed, alarms = int(s["n_missed"]), int(s["n_false_alarm"])
    except (KeyError, TypeError, ValueError):
        return None
    if called_tumour:
        k, n, call, truth, sign = alarms, n_tum - missed + alarms, "tumour", "had no tumour", "≥"
    else:
        k, n, call, truth, sign = missed, n_no - alarms + missed, "no tumour", "had a tumour", "<"
    if n <= 0:
        return None
    lo, hi = wilson_ci(k, n)
    return (f"track record: in the leak-free test, {k} of {n} scans this model called “{call}” "
            f"(P(tumour) {sign} {threshold(thr)}) {truth}: {100 * k / n:.1f}% "
            f"(95% CI {100 * lo:.1f}–{100 * hi:.1f}%)")


COLLECTION_NAMES = {"br35h": "Br35H", "brain-tumor-mri": "Kaggle", "sartaj-testing": "Sartaj"}


def collection_track_record(meta: dict | None, called_tumour: bool) -> str | None:
    """One line, for a model trained on several collections: the same kind of error per collection, on the held-out
    groups of the union split (its record's `metrics`, at its `call_threshold`, else 0.5). None for other models.

    The leak-free test is Kaggle pictures only; a presenter showing a Br35H-like slice needs that collection's rate."""
    per = {k: v for k, v in ((meta or {}).get("metrics") or {}).items() if k != "all" and isinstance(v, dict)}
    key, n_key, what = (("specificity", "n_healthy", "healthy slices called tumour") if called_tumour else
                        ("sensitivity", "n_tumour", "tumours called no tumour"))
    parts = [f"{COLLECTION_NAMES.get(c, c)} {100 * (1 - m[key]):.1f}% of {m[n_key]:,}"
             for c, m in per.items() if m.get(key) is not None and m.get(n_key)]
    if not parts:
        return None
    from ..modeling.predictor import CALL

    # the threshold the record's per-collection metrics were computed at: its own call threshold (batch 10 on), else 0.5
    t = (meta or {}).get("call_threshold") or CALL
    return f"per collection (held-out groups, call at P(tumour) ≥ {threshold(t)}), {what}: " + ", ".join(parts)


def training_collections(meta: dict | None) -> list[str] | None:
    """The collections a model trained on: from its union split's per-collection counts, the Kaggle set for the
    leak-free and official splits, None when the record does not say."""
    data = (meta or {}).get("data") or {}
    counts = data.get("train_counts")
    if isinstance(counts, dict) and counts:
        return sorted({str(k).split("/")[0] for k in counts})
    if data.get("split") in ("leakfree", "official") and not data.get("synthetic"):
        return [config.DATASET_NAME]
    return None


def model_gaps(meta: dict | None) -> list[str]:
    """What a model lacks that the shipped one has, one line each: shown on its Models card, on every result card
    while it is selected, and by `brain-mri predict`."""
    out = []
    if not (meta or {}).get("familiarity_file"):
        out.append("this model has no unfamiliar-scan check: a scan unlike its training pictures gets no "
                   "“unfamiliar scan” warning, only the pixel checks")
    cols = training_collections(meta)
    if cols is not None and len(cols) == 1:
        out.append(f"this model was trained on one collection ({COLLECTION_NAMES.get(cols[0], cols[0])}): on "
                   "scans from any other, expect far lower scores (report chapter 05)")
    return out


def keras_model(predictor):
    for attr in ("model", "keras_model", "_model"):
        m = getattr(predictor, attr, None)
        if m is not None:
            return m
    return None


def warm_up(predictor) -> float:
    """One prediction and one Grad-CAM on a blank image, so the first real upload pays no tracing cost; seconds."""
    t0 = time.perf_counter()
    call_track_record(getattr(predictor, "meta", None), True)  # builds the track-record line once now, not on the first upload
    if hasattr(predictor, "warmup"):  # helpers.modeling.predictor traces its compiled predict and Grad-CAM functions
        predictor.warmup()
        return time.perf_counter() - t0
    s = int(predictor.img_size)
    x = np.zeros((s, s), np.uint8)
    x[s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] = 128
    predictor.predict_arrays(x[None])
    model = keras_model(predictor)
    if model is not None:
        try:
            from ..modeling.explain import gradcam, gradcam_choice

            gradcam(model, x, 0, grid=gradcam_choice(predictor)[1])  # the grid uploads will use
        except Exception:  # noqa: BLE001 - Grad-CAM is optional; its failure shows on the card later
            log.warning("Grad-CAM warm-up failed", exc_info=True)
    return time.perf_counter() - t0


def get_predictor(path) -> Any:
    """The Predictor for a .keras file, warmed up once. The one cache is modeling.predictor.load_model's (per file
    and modification time): a model loads once per kernel. Raises errors.ModelError & co."""
    from ..modeling.runtime import load_model  # the ONNX export when the model has one: no TensorFlow in the kernel

    p = load_model(Path(path).expanduser().resolve())
    if getattr(p, "warm_up_s", None) is None:
        p.warm_up_s = warm_up(p)
    return p


def load_message(path, exc: BaseException) -> str:
    """One line for the page when a model cannot be used."""
    path = Path(path)
    rel = shown_path(path) if path.resolve().is_relative_to(config.MODELS_DIR.resolve()) else path.name
    if isinstance(exc, ImportError):
        return f"prediction code unavailable ({exc}): the page shows input checks only"
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not path.is_file() and "not found" not in msg.lower() and "no model" not in msg.lower():
        msg = f"{rel} not found: {msg}"
    return msg

