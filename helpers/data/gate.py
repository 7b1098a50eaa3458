"""The input gate's pixel features and limits: whether a picture looks enough like a brain MRI slice to be read at
all (app.input_checks applies it; experiments/batch32_input_gate/PLAN.md chose its form). One owner for the
features, so the study that fits the limits and the upload path that applies them cannot drift apart.

Features of a picture: `colour` (mean chroma of its non-black pixels, from the file's bytes), and on its 128-px
prepared image `dark_frac` (pixels < 16), `corner_dark` (corner pixels outside radius 1.1 that are < 24) and a
16-bin histogram h0..h15. A gate is a dict: {"kind": "current" | "extremes" | "knn", limits..., and for "knn" the
standardised reference rows}.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

REF_SIZE = 128  # the features are measured on 128-px prepared images whatever the model's size
BINS = 16
HIST = [f"h{k}" for k in range(BINS)]
KNN_FEATURES = [*HIST, "dark_frac", "corner_dark"]
KNN_K = 5
MARGIN = 0.01  # "just beyond" an extreme: 1% of the way from the median past it
_yy, _xx = np.mgrid[0:REF_SIZE, 0:REF_SIZE]
CORNERS = np.hypot((_yy - (REF_SIZE - 1) / 2), (_xx - (REF_SIZE - 1) / 2)) / (REF_SIZE / 2) > 1.1

# The gate fitted on 800 leak-free Kaggle training images (2026-11; app.input_checks.measure_reference re-derives it)
REF_HIST_KAGGLE = [0.356, 0.0555, 0.0734, 0.1208, 0.1331, 0.0883, 0.0516, 0.0351, 0.0254, 0.0183, 0.0143, 0.0109,
                   0.0073, 0.0044, 0.0028, 0.003]
CURRENT_GATE = {"kind": "current", "colour_max": 12.0, "dark_frac_min": 0.06, "corner_dark_min": 0.45,
                "hist_l1_max": 1.2, "ref_hist": REF_HIST_KAGGLE}


def colour_score(data: bytes | None) -> float:
    """Mean chroma (max-min over R,G,B; 0..255) of the non-background pixels of a small RGB copy; 0 for gray files
    (and for DICOM or anything Pillow cannot read: decode has judged it already). Measured on the bytes, because
    decoding already mixed the channels into gray."""
    if data is None:
        return 0.0
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode in ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
                return 0.0
            if im.format == "JPEG":
                im.draft("RGB", (128, 128))
            im.thumbnail((128, 128))
            rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    except Exception:  # noqa: BLE001
        return 0.0
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    fg = rgb.max(axis=2) > 24
    if fg.sum() < 16:
        return 0.0
    return float(chroma[fg].mean())


def intensity_hist(x: np.ndarray, bins: int = BINS) -> np.ndarray:
    h = np.bincount((np.asarray(x, np.uint8) >> (8 - int(np.log2(bins)))).ravel(), minlength=bins).astype(np.float64)
    return h / max(h.sum(), 1.0)


def gate_features(data: bytes | None, x128: np.ndarray) -> dict:
    """The gate's features of one picture: its file's bytes (colour) and its 128-px prepared image."""
    x = np.asarray(x128)
    return {"colour": colour_score(data), "dark_frac": float((x < 16).mean()),
            "corner_dark": float((x[CORNERS] < 24).mean()), **dict(zip(HIST, intensity_hist(x).tolist()))}


def _frame(feats) -> pd.DataFrame:
    return feats if isinstance(feats, pd.DataFrame) else pd.DataFrame([feats] if isinstance(feats, dict) else feats)


def hist_l1(feats, ref_hist) -> np.ndarray:
    f = _frame(feats)
    return np.abs(f[HIST].to_numpy(float) - np.asarray(ref_hist, float)).sum(axis=1)


def _beyond(v: np.ndarray, side: str) -> float:
    med = float(np.median(v))
    return float(v.max() + MARGIN * (v.max() - med)) if side == "max" else float(v.min() - MARGIN * (med - v.min()))


def _scale(gate: dict, f: pd.DataFrame) -> np.ndarray:
    return (f[KNN_FEATURES].to_numpy(float) - np.asarray(gate["mean"])) / np.asarray(gate["scale"])


def knn_mean_distance(ref: np.ndarray, q: np.ndarray, k: int = KNN_K, chunk: int = 2048) -> np.ndarray:
    """Mean Euclidean distance of each row of q to its k nearest rows of ref (both standardised already). Plain
    numpy: the upload path asks for one row, and a viewer kernel need not import scikit-learn for it."""
    ref, q = np.asarray(ref, float), np.asarray(q, float)
    out = np.empty(len(q))
    rr = (ref ** 2).sum(axis=1)
    for i in range(0, len(q), chunk):
        b = q[i:i + chunk]
        d2 = np.maximum((b ** 2).sum(axis=1)[:, None] + rr[None, :] - 2 * b @ ref.T, 0.0)
        out[i:i + chunk] = np.sqrt(np.partition(d2, k - 1, axis=1)[:, :k]).mean(axis=1)
    return out


def knn_distance(gate: dict, feats, chunk: int = 2048) -> np.ndarray:
    """Mean Euclidean distance to the KNN_K nearest reference rows of the gate (standardised features)."""
    return knn_mean_distance(gate["reference"], _scale(gate, _frame(feats)), KNN_K, chunk)


def fit_gate(train: pd.DataFrame, kind: str) -> dict:
    """A gate fitted on feature rows of real training slices (PLAN.md): "extremes" moves the current gate's four
    limits just beyond the rows' extremes; "knn" keeps the colour limit and replaces the other three by one
    distance to the nearest rows, its limit just beyond the largest leave-one-out distance among them."""
    from sklearn.neighbors import NearestNeighbors

    if kind not in ("extremes", "knn"):
        raise ValueError(f"unknown gate {kind!r}; known: extremes, knn")
    ref_hist = train[HIST].to_numpy(float).mean(axis=0)
    gate = {"kind": kind, "colour_max": _beyond(train["colour"].to_numpy(float), "max"), "n_train": int(len(train))}
    if kind == "extremes":
        return {**gate, "dark_frac_min": _beyond(train["dark_frac"].to_numpy(float), "min"),
                "corner_dark_min": _beyond(train["corner_dark"].to_numpy(float), "min"),
                "hist_l1_max": _beyond(hist_l1(train, ref_hist), "max"), "ref_hist": ref_hist.round(5).tolist()}
    F = train[KNN_FEATURES].to_numpy(float)
    mean, scale = F.mean(axis=0), F.std(axis=0) + 1e-6
    Z = np.round((F - mean) / scale, 4)
    Z = np.unique(Z, axis=0)  # copies of one picture would be each other's nearest neighbours
    d, _ = NearestNeighbors(n_neighbors=KNN_K + 1).fit(Z).kneighbors(Z)
    loo = d[:, 1:].mean(axis=1)
    return {**gate, "distance_max": _beyond(loo, "max"), "k": KNN_K, "mean": mean.round(6).tolist(),
            "scale": scale.round(6).tolist(), "reference": Z.tolist()}


def gate_parts(feats, gate: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per feature row: (coloured, unlike the real slices the gate was fitted on)."""
    f = _frame(feats)
    colour = f["colour"].to_numpy(float) > gate["colour_max"]
    if gate["kind"] == "knn":
        return colour, knn_distance(gate, f) > gate["distance_max"]
    return colour, ((f["dark_frac"].to_numpy(float) < gate["dark_frac_min"])
                    | (f["corner_dark"].to_numpy(float) < gate["corner_dark_min"])
                    | (hist_l1(f, gate["ref_hist"]) > gate["hist_l1_max"]))


def gate_rejects(feats, gate: dict) -> np.ndarray:
    """Per feature row: True when `gate` withholds the verdict (coloured, or unlike the real slices it was fitted on)."""
    colour, unlike = gate_parts(feats, gate)
    return colour | unlike
