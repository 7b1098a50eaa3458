"""Input screening for the dashboard: flags uploads that do not look like the training MRI slices (colour, no
black background round a head, burnt-in marks, small size), with the thresholds and how to re-measure them."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .. import config
from ..data.decode import decode
from ..data.prepare import head_bbox, prepare

SMALL_SIDE = config.IMG_SIZE  # below this the model sees an upscaled image: worth a note

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
REF_HIST = [0.356, 0.0555, 0.0734, 0.1208, 0.1331, 0.0883, 0.0516, 0.0351, 0.0254, 0.0183, 0.0143, 0.0109,
            0.0073, 0.0044, 0.0028, 0.003]
REF_SIZE = 128  # the checks are measured on 128-px inputs whatever the model's size
_yy, _xx = np.mgrid[0:REF_SIZE, 0:REF_SIZE]
_CORNERS = np.hypot((_yy - (REF_SIZE - 1) / 2), (_xx - (REF_SIZE - 1) / 2)) / (REF_SIZE / 2) > 1.1


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
    x = prepare(gray, REF_SIZE) if prepared128 is None or prepared128.shape != (REF_SIZE, REF_SIZE) else prepared128
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
    ``python -c "from helpers.app import input_checks as s; import json; print(json.dumps(s.measure_reference(), indent=1))"``
    (800 images take ~80 s on 2 cores.) Measured for the constants above: data as fetched in 2026-11,
    split_sha256 7b7ce437..., seed 42."""
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
        hists.append(intensity_hist(x))
    ref = np.mean(hists, axis=0)
    feats = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    feats["hist_l1"] = np.abs(np.array(hists) - ref).sum(axis=1)  # against this sample's own mean
    q = (0.0, 0.005, 0.05, 0.5, 0.95, 0.995, 1.0)
    return {"n": len(rows), "split": split, "ref_hist": [round(float(v), 4) for v in ref],
            "quantiles": {k: {str(p): round(float(np.quantile(v, p)), 4) for p in q} for k, v in feats.items()}}

