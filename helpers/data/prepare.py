"""Prepare a decoded slice for the models: crop to the head, pad to a square, resize.

One path for every consumer (training, evaluation, dashboard): ``preprocess(source, size)`` =
``prepare(decode(source, draft=2*size).gray, size)``. ``prepare`` crops to the head, pads to a square and
resizes, so neither the file's pixel size nor its black border reaches the model: in the Kaggle data the
image size alone nearly gives the class away (every glioma is 512x512).
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from .. import config
from ..errors import ImageError
from .decode import Decoded, Source, decode, rescale


# Bump whenever decode/crop/resize changes: it is part of the array-cache key.
PREPROCESS_VERSION = "prep-v3"

# --------------------------------------------------------------------------------------------- prepare
def _otsu(v: np.ndarray) -> float:
    hist = np.bincount(v.astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    p = hist / max(hist.sum(), 1)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    denom = omega * (1 - omega)
    with np.errstate(divide="ignore", invalid="ignore"):
        sb = np.where(denom > 0, (mu[-1] * omega - mu) ** 2 / denom, 0)
    return float(np.argmax(sb))


def _block_mean(g: np.ndarray, f: int) -> np.ndarray:
    hs, ws = g.shape[0] // f, g.shape[1] // f
    return g[: hs * f, : ws * f].reshape(hs, f, ws, f).mean(axis=(1, 3), dtype=np.float32)


# Binary morphology with the 4-neighbour cross and nothing outside the image, as scipy.ndimage's defaults, by
# shifted logical operations: the same masks (tested against ndimage) at a fraction of the cost on 2 cores,
# where head cropping dominates preprocessing time.
def _erode(m: np.ndarray) -> np.ndarray:
    out = m.copy()
    out[1:] &= m[:-1]
    out[:-1] &= m[1:]
    out[:, 1:] &= m[:, :-1]
    out[:, :-1] &= m[:, 1:]
    out[0] = out[-1] = False
    out[:, 0] = out[:, -1] = False
    return out


def _dilate(m: np.ndarray, iterations: int = 1) -> np.ndarray:
    for _ in range(iterations):
        out = m.copy()
        out[1:] |= m[:-1]
        out[:-1] |= m[1:]
        out[:, 1:] |= m[:, :-1]
        out[:, :-1] |= m[:, 1:]
        m = out
    return m


def _fill_holes(m: np.ndarray) -> np.ndarray:
    """Background components (4-connected) that do not touch the border are holes."""
    lab, n = ndimage.label(~m)
    if n == 0:
        return m.copy()
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    return m | ~np.isin(lab, edge[edge > 0]) & (lab > 0)


def _blob_box(small: np.ndarray, t: float) -> tuple[int, int, int, int] | None:
    """Box (top, bottom, left, right), in `small`'s pixels, of the head blob of `small > t`."""
    # Opening first drops 1-2 px lines (frames drawn round some images, which would otherwise enclose
    # everything); filling holes then joins the bright scalp ring to the brain across the dark skull.
    mask = _dilate(_erode(small > t))
    mask = _fill_holes(mask)
    lab, n = ndimage.label(mask)
    if n == 0:
        return None
    areas = np.bincount(lab.ravel())[1:]
    # The head is the largest blob. Other blobs count if big (a head cut in two by a dark band) or if
    # they hug the head (scalp fragments); far, small ones (letters, rulers, annotations) are dropped.
    main = areas.argmax() + 1
    near = np.unique(lab[_dilate(lab == main, iterations=3)])
    keep = [i + 1 for i, a in enumerate(areas)
            if a >= 0.2 * areas.max() or (i + 1 in near and a >= 0.002 * areas.max())]
    sel = np.isin(lab, keep)
    rows = np.flatnonzero(sel.any(axis=1))
    cols = np.flatnonzero(sel.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _threshold(small: np.ndarray) -> float | None:
    """Head/background threshold for a smoothed image, or None if it is blank or uniform."""
    lo, hi, peak = (float(v) for v in np.percentile(small, [1, 99, 99.9]))
    if peak - lo < 8:
        return None
    # "Bright tissue" level; the second term only matters for a small head in a huge black canvas,
    # where the 99th percentile of the whole image falls in the background.
    hi = max(hi, float(np.percentile(small[small > lo + 0.1 * (peak - lo)], 90)))
    # Background is near-black but JPEG noise, faint frames and burnt-in text are not: ignore anything
    # below ~10 % of the bright tissue level (Otsu is capped there so dim scalp on T2 is still found).
    return max(lo + 0.1 * (hi - lo), min(_otsu(np.clip(small, 0, 255)), lo + 0.25 * (hi - lo)))


def head_bbox(gray: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the head (bottom/right exclusive), or None for blank images.

    A ~128-px copy of the whole image finds the head and fixes the threshold; for larger images the
    edges are then placed on a ~256-px copy of the head's window (same threshold, light smoothing), so
    the crop barely depends on the file's resolution or border. 3 % margin on every side.
    """
    g = np.asarray(gray)
    h, w = g.shape
    f = max(1, max(h, w) // 128)
    if h // f < 4 or w // f < 4:
        return None
    small = ndimage.gaussian_filter(_block_mean(g, f), 1.0)
    t = _threshold(small)
    box = _blob_box(small, t) if t is not None else None
    if box is None:
        return None
    top, bottom = box[0] * f, (h if box[1] == h // f else box[1] * f)
    left, right = box[2] * f, (w if box[3] == w // f else box[3] * f)
    if f > 1:
        pad = 3 * f
        t0, b0, l0, r0 = max(0, top - pad), min(h, bottom + pad), max(0, left - pad), min(w, right + pad)
        sub = g[t0:b0, l0:r0]
        f2 = max(1, max(sub.shape) // 256)
        if f2 < f and min(sub.shape) // f2 >= 8:
            fine = ndimage.gaussian_filter(_block_mean(sub, f2), 1.0)
            box2 = _blob_box(fine, t)
            if box2 is not None:
                top, left = t0 + box2[0] * f2, l0 + box2[2] * f2
                bottom = b0 if box2[1] == sub.shape[0] // f2 else t0 + box2[1] * f2
                right = r0 if box2[3] == sub.shape[1] // f2 else l0 + box2[3] * f2
    m = int(round(0.03 * max(bottom - top, right - left)))
    return max(0, top - m), min(h, bottom + m), max(0, left - m), min(w, right + m)


def crop_head(gray: np.ndarray) -> np.ndarray:
    """Crop to the head's bounding box; blank/uniform images are returned unchanged."""
    g = np.asarray(gray)
    box = head_bbox(g)
    if box is None:
        return g
    t, b, l, r = box
    if (b - t) < 8 or (r - l) < 8:
        return g
    return g[t:b, l:r]


def pad_square(gray: np.ndarray) -> np.ndarray:
    """Centre the image on a black square canvas."""
    g = np.asarray(gray)
    h, w = g.shape
    s = max(h, w)
    if h == w:
        return g
    out = np.zeros((s, s), dtype=g.dtype)
    y, x = (s - h) // 2, (s - w) // 2
    out[y : y + h, x : x + w] = g
    return out


def prepare(gray: np.ndarray, size: int = config.IMG_SIZE) -> np.ndarray:
    """Crop to the head, pad to a square, resize to (size, size) uint8: the one model-input transform."""
    g = np.asarray(gray)
    if g.ndim != 2:
        raise ImageError(f"expected a 2-D grayscale array, got shape {g.shape}")
    if g.dtype != np.uint8:
        g = rescale(g, 0.0, 100.0) if g.dtype.kind == "f" or g.max(initial=0) > 255 else g.astype(np.uint8)
    sq = pad_square(crop_head(g))
    if sq.shape[0] == size:
        return np.ascontiguousarray(sq, dtype=np.uint8)
    # Pillow's BILINEAR widens its kernel when shrinking (area-like, anti-aliased).
    im = Image.fromarray(np.ascontiguousarray(sq, dtype=np.uint8), mode="L")
    return np.asarray(im.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def decode_prepare(source: Source, size: int = config.IMG_SIZE, *, name: str | None = None) -> tuple[Decoded, np.ndarray]:
    """(the decoded image, the model input): the one path from a file or its bytes to what a model sees, shared by
    training arrays, the predictor, `brain-mri predict` and the dashboard. Raises errors.ImageError."""
    dec = decode(source, name=name, draft=2 * size)
    return dec, prepare(dec.gray, size)


def preprocess(source: Source, size: int = config.IMG_SIZE, *, name: str | None = None) -> np.ndarray:
    """decode + prepare, exactly as the training arrays were made."""
    return decode_prepare(source, size, name=name)[1]


def preprocess_many(sources: Sequence[Source], size: int = config.IMG_SIZE, *, workers: int | None = None,
                    progress: bool = False) -> np.ndarray:
    """Preprocess many sources -> uint8 [N, size, size] (parallel for paths; raises on the first bad one)."""
    sources = list(sources)
    out = np.zeros((len(sources), size, size), np.uint8)
    if not sources:
        return out
    nw = n_workers(workers)
    all_paths = all(isinstance(s, (str, Path)) for s in sources)
    if nw <= 1 or len(sources) < 64 or not all_paths:
        for i, s in enumerate(_maybe_tqdm(sources, progress, "preprocess")):
            out[i] = _prep_one(s, size)
        return out
    chunk = 48
    starts = list(range(0, len(sources), chunk))
    with ProcessPoolExecutor(max_workers=nw, mp_context=mp_context()) as ex:
        futs = [ex.submit(_prep_chunk, [str(p) for p in sources[i : i + chunk]], size) for i in starts]
        for i, fut in zip(starts, _maybe_tqdm(futs, progress, "preprocess", total=len(sources), step=chunk)):
            arr = fut.result()
            out[i : i + len(arr)] = arr
    return out


def _prep_one(source: Source, size: int) -> np.ndarray:
    try:
        return preprocess(source, size)
    except ImageError as e:
        label = Path(source).name if isinstance(source, (str, Path)) else "<bytes>"
        raise ImageError(f"{label}: {e}") from None


def _prep_chunk(paths: list[str], size: int) -> np.ndarray:
    out = np.empty((len(paths), size, size), np.uint8)
    for i, p in enumerate(paths):
        out[i] = _prep_one(p, size)
    return out


def n_workers(workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    env = os.environ.get("BRAIN_MRI_WORKERS")
    if env:
        return max(1, int(env))
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        n = os.cpu_count() or 1
    return max(1, min(2, n))


def mp_context():
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    # fork is fastest, but forking a process that already runs TensorFlow's threads can deadlock.
    if "fork" in methods and "tensorflow" not in sys.modules:
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def _maybe_tqdm(it, progress: bool, desc: str, total: int | None = None, step: int = 1):
    if not progress:
        yield from it
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        yield from it
        return
    n = total if total is not None else (len(it) if hasattr(it, "__len__") else None)
    with tqdm(total=n, desc=desc, unit="img", leave=False) as bar:
        for x in it:
            yield x
            bar.update(step if total is not None else 1)
