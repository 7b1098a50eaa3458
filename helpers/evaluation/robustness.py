"""Robustness to resolution: each test image downsampled to a smaller size, then prepared as usual, for the accuracy
curve over input sizes.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
import numpy as np
import pandas as pd


RESOLUTIONS = (64, 96, 128, 192)

# ------------------------------------------------------------------------------------------- robustness
def _robust_one(path: str, sizes: tuple[int, ...], img_size: int) -> np.ndarray:
    """Decode at full resolution, downsample (longest side = px, Pillow BILINEAR, antialiased), then prepare."""
    from PIL import Image

    from ..data.decode import decode
    from ..data.prepare import prepare

    g = decode(path).gray
    out = np.empty((len(sizes), img_size, img_size), np.uint8)
    for i, px in enumerate(sizes):
        h, w = g.shape
        s = px / max(h, w)
        small = g
        if s < 1:
            im = Image.fromarray(g).resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
            small = np.asarray(im)
        out[i] = prepare(small, img_size)
    return out


def _robust_chunk(paths: list[str], sizes: tuple[int, ...], img_size: int) -> np.ndarray:
    return np.stack([_robust_one(p, sizes, img_size) for p in paths])


def robustness_arrays(root: Path, df: pd.DataFrame, img_size: int, sizes=RESOLUTIONS,
                      progress: bool = True) -> np.ndarray:
    """[len(sizes), N, S, S] uint8: the rows of `df` downsampled to each size then prepared. Cached like
    load_arrays (same key plus the sizes)."""
    from concurrent.futures import ProcessPoolExecutor

    from ..data.prepare import mp_context, n_workers
    from ..data.arrays import arrays_cache_path

    sizes = tuple(int(s) for s in sizes)
    base = arrays_cache_path(root, df, img_size)
    cache = base.with_name(base.stem.replace("X_", "R_", 1) + "_" + "-".join(map(str, sizes)) + ".npy")
    if cache.exists():
        try:
            R = np.load(cache, allow_pickle=False)
            if R.shape == (len(sizes), len(df), img_size, img_size):
                return R
        except (OSError, ValueError):
            pass
    paths = [str(Path(root) / p) for p in df["path"]]
    R = np.empty((len(df), len(sizes), img_size, img_size), np.uint8)
    chunk = 32
    starts = list(range(0, len(paths), chunk))
    nw = n_workers(None)
    t0 = time.time()
    if nw > 1 and len(paths) >= 64:
        with ProcessPoolExecutor(max_workers=nw, mp_context=mp_context()) as ex:
            futs = [ex.submit(_robust_chunk, paths[i : i + chunk], sizes, img_size) for i in starts]
            for j, (i, f) in enumerate(zip(starts, futs)):
                R[i : i + chunk] = f.result()
                if progress and j % 8 == 0:
                    print(f"  robustness: {i + chunk}/{len(paths)} images ({time.time() - t0:.0f} s)", file=sys.stderr)
    else:
        for i in starts:
            R[i : i + chunk] = _robust_chunk(paths[i : i + chunk], sizes, img_size)
    R = np.ascontiguousarray(R.transpose(1, 0, 2, 3))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, R, allow_pickle=False)
        os.replace(tmp, cache)
    except OSError:
        pass
    return R
