"""Brain-only (skull-stripped) views of prepared slices, and contrast inversion inside the head.

Research exports and many uploads are skull-stripped: black outside the brain, the brain filling the frame. No
collection of the union is brain-only except part of healthy-extra (all healthy), so a network can learn "brain-only
look => healthy". These views let training give that look to every label (augmentation) and let evaluation ask
how much a held-out fold's calls move when its skull is removed (the brain-only view of a LOCO fold).

Arrays are prepared slices (N, S, S) uint8, as data.prepare writes them.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage


def head_mask(x: np.ndarray) -> np.ndarray:
    """The head: pixels above a low threshold (a tenth of the 99th percentile), its largest component, holes
    filled (the dark ventricles and CSF belong to the head)."""
    x = np.asarray(x, np.float32)
    hi = np.percentile(x, 99)
    if hi <= 0:
        return np.zeros(x.shape, bool)
    m = ndimage.gaussian_filter(x, 1.0) > 0.1 * hi
    lab, n = ndimage.label(m)
    if n > 1:
        sizes = ndimage.sum(m, lab, index=np.arange(1, n + 1))
        m = lab == (1 + int(np.argmax(sizes)))
    return ndimage.binary_fill_holes(m)


def _zoom_to_box(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Crop to the mask's box, pad to a square (centred), resize back to the input size: the brain fills the frame
    as it does in a skull-stripped export."""
    s = x.shape[0]
    ys, xs = np.nonzero(m)
    if len(ys) < 16:
        return np.zeros_like(x)
    c = x[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    h, w = c.shape
    side = max(h, w)
    sq = np.zeros((side, side), np.uint8)
    sq[(side - h) // 2: (side - h) // 2 + h, (side - w) // 2: (side - w) // 2 + w] = c
    return np.asarray(Image.fromarray(sq).resize((s, s), Image.BILINEAR))


def brain_only(x: np.ndarray, erode_px: int = 8) -> np.ndarray:
    """One slice with everything outside the eroded head mask set to black, zoomed to the brain's box.
    `erode_px` at 128 px removes the skull and scalp (about 4-8 px thick there)."""
    m = head_mask(x)
    if erode_px > 0:
        m = ndimage.binary_erosion(m, iterations=int(erode_px))
    if m.sum() < 0.05 * m.size:  # a mask eroded to nothing (a tiny or empty slice): keep the slice as it is
        return np.asarray(x, np.uint8).copy()
    return _zoom_to_box(np.where(m, x, 0).astype(np.uint8), m)


def brain_only_many(X: np.ndarray, seed: int | None = None, erode: tuple[int, int] = (5, 11)) -> np.ndarray:
    """Brain-only views of a batch. seed None: the fixed erosion of 8 px (evaluation views); else one random
    erosion per slice in `erode` (training)."""
    rng = None if seed is None else np.random.default_rng(seed)
    out = np.empty_like(X)
    for k in range(len(X)):
        e = 8 if rng is None else int(rng.integers(erode[0], erode[1] + 1))
        out[k] = brain_only(X[k], e)
    return out


def head_masks(X: np.ndarray) -> np.ndarray:
    """(N, S, S) bool head masks of a batch."""
    return np.stack([head_mask(x) for x in X]) if len(X) else np.zeros(X.shape, bool)


def invert_inside(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Contrast inversion inside the head, black outside: T1-like grey levels become T2-like and back, so which
    tissue is bright stops being a cue of the collection."""
    return np.where(mask, 255 - np.asarray(x, np.int16), 0).astype(np.uint8)
