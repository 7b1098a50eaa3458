"""Synthetic MRI-like axial phantoms: a deterministic, offline stand-in for the Kaggle data.

They exist so that tests, CI and a fresh checkout can run the whole pipeline (manifest, split, training,
report, dashboard) without downloading anything. They are NOT brain MRI: results on them say nothing
about real tumours. Each class has a lesion rule a small CNN can learn; image size and head size are
drawn independently of the class, so the size shortcut of the real data is absent here.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .. import config

SYNTH_VERSION = "synth-v1"
MARKER = "SYNTHETIC.txt"
MASK_DIR = "_masks"
_PREFIX = {"glioma": "gl", "meningioma": "me", "notumor": "no", "pituitary": "pi"}
_SPLITS = (("Training", "Tr"), ("Testing", "Te"))


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in ~[-1, 1]: a small random grid, smoothed and upsampled (fast at any size)."""
    h, w = shape
    gh, gw = max(2, int(round(cells * h / max(h, w)))), max(2, int(round(cells * w / max(h, w))))
    g = ndimage.gaussian_filter(rng.standard_normal((gh + 4, gw + 4)), 1.0)[2:-2, 2:-2]
    g = (g / max(float(np.abs(g).max()), 1e-6)).astype(np.float32)
    # Pillow's float resize is ~10x faster than ndimage.zoom at these sizes.
    return np.asarray(Image.fromarray(g, mode="F").resize((w, h), Image.Resampling.BILINEAR))


def _ellipse_r(yy, xx, cy, cx, ry, rx, theta=0.0):
    """Normalised elliptical radius (1 on the ellipse) of every pixel."""
    c, s = float(np.cos(theta)), float(np.sin(theta))  # python floats keep the arrays float32
    dx, dy = xx - cx, yy - cy
    u, v = c * dx + s * dy, -s * dx + c * dy
    return np.sqrt((u / rx) ** 2 + (v / ry) ** 2)


def make_phantom(label: str, seed: int, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One axial phantom: (uint8 image HxW, bool lesion mask HxW); deterministic in (label, seed, size).

    The head (geometry, texture, noise, contrast) depends on ``seed`` only, the lesion on (seed, label):
    the four classes drawn with the same seed are the same head with different lesions.
    """
    if label not in config.CLASSES:
        raise ValueError(f"unknown label {label!r}; expected one of {list(config.CLASSES)}")
    rng = np.random.default_rng([int(seed), 0])
    lrng = np.random.default_rng([int(seed), 1, config.CLASSES.index(label)])

    # ---- canvas and head geometry (class-independent)
    side, coin, aspect = int(rng.integers(192, 513)), rng.random(), rng.uniform(0.8, 1.25)
    if size is None:  # always drawn, so `size` changes only the canvas, not the rest of the head
        h, w = side, (int(round(side * aspect)) if coin < 0.35 else side)
    else:
        h = w = int(size)
    m = min(h, w)
    fill = rng.uniform(0.62, 0.92)  # head height / shorter side: varied black border
    ry = 0.5 * fill * m
    rx = ry * rng.uniform(0.76, 0.88)  # axial heads are taller than wide
    cy = h / 2 + rng.uniform(-0.04, 0.04) * m
    cx = w / 2 + rng.uniform(-0.04, 0.04) * m
    theta = rng.uniform(-0.12, 0.12)
    # Anatomy is drawn at <= 256 px and upsampled (as scanners interpolate): keeps 300 phantoms to seconds.
    k = min(1.0, 256 / max(h, w))
    hw, ww = max(8, round(h * k)), max(8, round(w * k))
    yy, xx = np.mgrid[0:hw, 0:ww].astype(np.float32)
    yy, xx = (yy + 0.5) / k - 0.5, (xx + 0.5) / k - 0.5  # full-resolution pixel coordinates
    c, s = float(np.cos(theta)), float(np.sin(theta))  # python floats keep the arrays float32
    # head-frame coordinates in units of the semi-axes: u right, v down; r = 1 on the scalp surface
    u = (c * (xx - cx) + s * (yy - cy)) / rx
    v = (-s * (xx - cx) + c * (yy - cy)) / ry
    r = np.sqrt(u * u + v * v)

    # ---- anatomy (T1-ish: fat bright, bone dark, CSF dark, white matter brighter than grey)
    brain_edge = 0.86
    tex = _smooth_noise(rng, (hw, ww), 24)
    gyri = _smooth_noise(rng, (hw, ww), 64)
    img = np.zeros((hw, ww), np.float32)
    img[r <= 1.0] = 0.85  # scalp fat
    img[r <= 0.95] = 0.08  # skull
    img[r <= 0.90] = 0.22  # CSF
    brain = r <= brain_edge
    cortex = np.clip((r - 0.55) / (brain_edge - 0.55), 0, 1)  # grey-matter ribbon towards the surface
    tissue = 0.62 + 0.05 * tex - 0.16 * cortex * (gyri > -0.1) - 0.05 * cortex
    img[brain] = tissue[brain]
    # lateral ventricles: two dark tilted ellipses beside the midline, plus a thin dark falx
    vsz = rng.uniform(0.75, 1.25)
    for side_sign in (-1, 1):
        rv = _ellipse_r(v, u, -0.08, side_sign * 0.13, 0.30 * vsz, 0.07 * vsz, side_sign * 0.3)
        img[rv <= 1] = 0.2
    img[(np.abs(u) < 0.012) & (r < 0.8) & (np.abs(v) > 0.3)] = 0.25

    # ---- lesion (class-dependent)
    mask = np.zeros((hw, ww), bool)
    if label == "glioma":  # intra-axial, irregular, heterogeneous, with a darker oedema rim
        ang = lrng.uniform(0, 2 * np.pi)
        rad = lrng.uniform(0.2, 0.5)
        lu, lv = rad * np.cos(ang), rad * np.sin(ang)
        R = lrng.uniform(0.13, 0.22)
        du, dv = u - lu, v - lv
        d, phi = np.sqrt(du * du + dv * dv), np.arctan2(dv, du)
        edge = np.ones_like(d)
        for harmonic in range(2, 6):  # lobulated margin
            edge += lrng.uniform(0.04, 0.12) * np.cos(harmonic * phi + lrng.uniform(0, 2 * np.pi))
        mass = d <= R * edge
        oedema = (d <= R * lrng.uniform(1.5, 1.9) * edge) & brain & ~mass
        het = _smooth_noise(lrng, (hw, ww), 40)
        img[oedema] = 0.34 + 0.04 * het[oedema]
        img[mass] = 0.72 + 0.14 * het[mass]
        nu, nv = lu + lrng.uniform(-0.3, 0.3) * R, lv + lrng.uniform(-0.3, 0.3) * R
        necrosis = mass & ((u - nu) ** 2 + (v - nv) ** 2 <= (R * lrng.uniform(0.2, 0.45)) ** 2)
        img[necrosis] = 0.3
        mask = mass & brain
    elif label == "meningioma":  # extra-axial: round, bright, homogeneous, abutting the skull
        ang = lrng.uniform(-np.pi, 0.15 * np.pi)  # convexity: anywhere but the skull base
        R = lrng.uniform(0.11, 0.2)
        rad = 0.9 - 0.75 * R  # centre just inside the inner table
        lu, lv = rad * np.cos(ang), rad * np.sin(ang)
        mask = ((u - lu) ** 2 + (v - lv) ** 2 <= R * R) & (r <= 0.9)
        img[mask] = 0.9 + 0.03 * tex[mask]
    elif label == "pituitary":  # small midline mass, lower centre (the sella at the skull base)
        lu = lrng.uniform(-0.03, 0.03)
        lv = lrng.uniform(0.55, 0.66)
        Ru, Rv = lrng.uniform(0.06, 0.1), lrng.uniform(0.07, 0.12)
        mask = (((u - lu) / Ru) ** 2 + ((v - lv) / Rv) ** 2 <= 1) & brain
        img[mask] = 0.84

    # ---- acquisition: blur, upsample, bias field, contrast, Rician-like noise
    img = ndimage.gaussian_filter(img, (0.6 + m / 512) * k)
    if (hw, ww) != (h, w):
        img = np.asarray(Image.fromarray(img, mode="F").resize((w, h), Image.Resampling.BICUBIC))
        mimg = Image.fromarray(mask.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR)
        mask = np.asarray(mimg) > 0.5
    img = img * (1 + 0.12 * _smooth_noise(rng, (h, w), 4))
    img = np.clip(img, 0, None) ** np.float32(rng.uniform(0.75, 1.35))
    sigma = np.float32(rng.uniform(0.01, 0.05))
    img = np.hypot(img + sigma * rng.standard_normal((h, w), np.float32), sigma * rng.standard_normal((h, w), np.float32))
    img *= np.float32(rng.uniform(0.8, 1.05) * 255)
    return np.clip(img, 0, 255).astype(np.uint8), mask


def _image_seed(seed: int, split: int, cls: int, i: int) -> int:
    return int(np.random.SeedSequence([int(seed), split, cls, i]).generate_state(1)[0])


def _params(n_per_class, seed) -> dict:
    return {"version": SYNTH_VERSION, "n_per_class": [int(n) for n in n_per_class], "seed": int(seed)}


def write_dataset(root, n_per_class: tuple[int, int] = (40, 10), seed: int = config.SEED) -> Path:
    """Write a Nickparvar-layout dataset of phantoms (Training|Testing/<class>/*.jpg, JPEG q90) under root.

    Lesion masks go to ``root/_masks/<same relative path>.png``; ``root/SYNTHETIC.txt`` marks the folder.
    """
    root = Path(root)
    for split_dir, _ in _SPLITS:
        if (root / split_dir).exists():
            shutil.rmtree(root / split_dir)
    if (root / MASK_DIR).exists():
        shutil.rmtree(root / MASK_DIR)
    for si, ((split_dir, pre), n) in enumerate(zip(_SPLITS, n_per_class)):
        for ci, label in enumerate(config.CLASSES):
            out = root / split_dir / label
            mout = root / MASK_DIR / split_dir / label
            out.mkdir(parents=True, exist_ok=True)
            mout.mkdir(parents=True, exist_ok=True)
            for i in range(int(n)):
                img, mask = make_phantom(label, _image_seed(seed, si, ci, i))
                name = f"{pre}-{_PREFIX[label]}_{i:04d}"
                Image.fromarray(img).save(out / f"{name}.jpg", quality=90)
                Image.fromarray(mask.astype(np.uint8) * 255).save(mout / f"{name}.png", optimize=False)
    (root / MARKER).write_text(
        "Synthetic demo data: computer-generated MRI-like phantoms, not brain MRI.\n"
        "Made by helpers/data/synthetic.py so the pipeline runs offline; results on it say nothing about real tumours.\n"
        f"params: {json.dumps(_params(n_per_class, seed), sort_keys=True)}\n",
        encoding="utf-8",
    )
    return root


def _marker_params(root: Path) -> dict | None:
    try:
        for line in (root / MARKER).read_text(encoding="utf-8").splitlines():
            if line.startswith("params: "):
                return json.loads(line[len("params: "):])
    except (OSError, ValueError):
        return None
    return None


def ensure_synthetic(root=None, n_per_class: tuple[int, int] = (60, 15), seed: int = config.SEED) -> Path:
    """The synthetic dataset at root (default data/synthetic/brain-tumor-mri), written only if absent or stale."""
    root = Path(root) if root is not None else config.SYNTHETIC_DIR / config.DATASET_NAME
    if _marker_params(root) == _params(n_per_class, seed):
        expected = sum(n_per_class) * len(config.CLASSES)
        if sum(1 for _ in root.glob("T*/*/*.jpg")) == expected:
            return root
    return write_dataset(root, n_per_class, seed)


def is_synthetic(data_dir) -> bool:
    """True if data_dir holds synthetic phantoms (the SYNTHETIC.txt marker)."""
    return (Path(data_dir) / MARKER).is_file()


def lesion_mask(data_dir, rel_path) -> np.ndarray | None:
    """The bool lesion mask saved for a synthetic image (rel_path as in the manifest), or None if there is none."""
    p = Path(data_dir) / MASK_DIR / Path(rel_path).with_suffix(".png")
    if not p.is_file():
        return None
    with Image.open(p) as im:
        return np.asarray(im.convert("L")) > 127
