"""Input screening for the dashboard: flags uploads that do not look like the training MRI slices (colour, grey
levels and background far from every training collection, burnt-in marks, small size), with the thresholds and how
to re-measure them."""
from __future__ import annotations

import numpy as np

from .. import config
from ..data import gate
from ..data.decode import decode
from ..data.gate import REF_SIZE
from ..data.prepare import head_bbox, prepare

SMALL_SIDE = config.IMG_SIZE  # below this the model sees an upscaled image: worth a note

# The gate that withholds a verdict (data.gate; chosen by experiments/batch32_input_gate/ and batch33_colour_limit/,
# written to models/input_gate.json by their results.py): a colour limit on the mean chroma of the non-black pixels
# (real slices of every collection reach 12.4, colour photographs measured 47-89: batch 33 set it midway) and, for
# "unlike the training MRI slices", the mean distance of the picture's 128-px histogram and near-black fractions to
# its 5 nearest union train slices of every collection, beyond the largest such distance among them. Noise, flat
# images, checkerboards and framed pictures fail it; a grey photograph or a ramp can pass: the check is a screen for
# obvious mistakes, not a guarantee (the network's unfamiliar-scan rule comes after it). What it costs in real
# slices, each source held out: the batches' RESULTS.md.
GATE_FILE = config.MODELS_DIR / "input_gate.json"
CHECKS = {
    # Fraction of the pixels OUTSIDE the head box brighter than half the head's 99th percentile: burnt-in text,
    # rulers, arrows. 95th percentile of training 0.013; above 0.02 (3.9 % of training images, almost all with
    # visible annotations or frames) we warn.
    "outside_bright_max": 0.02,
    # Fraction of the outer 2 % band of the image that is bright: frames and borders (a thick frame can make the
    # whole image one "head", leaving nothing outside the box). Training 99th percentile 0.19, max 1.0 (a framed
    # slice); above 0.25 flags 0.5 % of training images. With the rule above: 4.0 % flagged in all. (These two
    # only warn; measure_reference re-derives them on 800 leak-free Kaggle training images.)
    "edge_bright_max": 0.25,
}
_GATE: dict | None = None


def shipped_gate() -> dict:
    """The gate of models/input_gate.json (read once); the Kaggle-fitted gate when the file is missing."""
    global _GATE
    if _GATE is None:
        from .. import records

        g = records.read_json(GATE_FILE) or gate.CURRENT_GATE
        # the reference rows as one array, once: not a list of lists converted on every upload
        _GATE = {**g, **{k: np.asarray(g[k], np.float64) for k in ("reference", "mean", "scale") if k in g}}
    return _GATE


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
    """The numbers the input checks look at: the gate's (data.gate.gate_features) and the two bright-marks ones.

    ``prepared128`` is ``prepare(gray, 128)`` (computed here if not given); ``data`` the file's bytes (colour).
    """
    x = prepare(gray, REF_SIZE) if prepared128 is None or prepared128.shape != (REF_SIZE, REF_SIZE) else prepared128
    return {**gate.gate_features(data, x), "outside_bright": outside_bright_fraction(gray),
            "edge_bright": edge_bright_fraction(gray)}


def check_messages(feat: dict, width: int, height: int) -> list[str]:
    """Warnings (one line each) for an input that does not look like the training data."""
    out = []
    colour, unlike = (bool(v[0]) for v in gate.gate_parts(feat, shipped_gate()))
    if colour:
        out.append("colour image: MRI slices are grayscale, so this may not be an MRI (result unreliable)")
    if unlike:
        out.append("unlike the training MRI slices (grey levels and dark background far from every collection's): "
                   "out of distribution, result unreliable")
    if feat["outside_bright"] > CHECKS["outside_bright_max"] or feat["edge_bright"] > CHECKS["edge_bright_max"]:
        out.append("bright marks outside the head (text, ruler, frame or a second image?): crop the slice first")
    if min(width, height) < SMALL_SIDE:
        out.append(f"small image ({width}×{height}): upscaled to the model's input, fine detail is missing")
    return out


def measure_reference(data_dir=None, n_per_class: int = 200, split: str = "train", seed: int = config.SEED) -> dict:
    """Re-measure what the bright-marks limits (CHECKS) and the Kaggle-fitted gate (data.gate.CURRENT_GATE, the
    fallback and batch 32's baseline) are based on: feature quantiles over `n_per_class` images per class of the
    leak-free `split` (default train). Run it after a data change and copy the numbers if they moved:
    ``python -c "from helpers.app import input_checks as s; import json; print(json.dumps(s.measure_reference(), indent=1))"``
    (800 images take ~80 s on 2 cores.) Measured for the constants: data as fetched in 2026-11, split_sha256
    7b7ce437..., seed 42. The shipped gate is re-derived from the union instead (experiments/batch32_input_gate)."""
    from ..data.layouts import resolve_data_dir
    from ..data.split import read_split_csv

    root = resolve_data_dir(data_dir)
    df = read_split_csv(config.LEAKFREE_SPLIT)
    df = df[df["split"] == split].groupby("label", group_keys=False).apply(
        lambda g: g.sample(min(len(g), n_per_class), random_state=seed))
    rows, hists = [], []
    for rel in df["path"]:
        data = (root / rel).read_bytes()
        dec = decode(data, name=rel, draft=2 * REF_SIZE)
        x = prepare(dec.gray, REF_SIZE)
        rows.append(image_features(data, dec.gray, x))
        hists.append(gate.intensity_hist(x))
    ref = np.mean(hists, axis=0)
    feats = {k: np.array([r[k] for r in rows]) for k in rows[0] if k not in gate.HIST}
    feats["hist_l1"] = np.abs(np.array(hists) - ref).sum(axis=1)  # against this sample's own mean
    q = (0.0, 0.005, 0.05, 0.5, 0.95, 0.995, 1.0)
    return {"n": len(rows), "split": split, "ref_hist": [round(float(v), 4) for v in ref],
            "quantiles": {k: {str(p): round(float(np.quantile(v, p)), 4) for p in q} for k, v in feats.items()}}
