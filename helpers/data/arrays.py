"""The array cache: prepared images of a split's rows as one uint8 array, cached as .npy under config.cache_dir().
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from .. import config
from ..errors import ImageError
from .prepare import PREPROCESS_VERSION, preprocess_many


# --------------------------------------------------------------------------------------------- arrays
def _cache_key(data_dir: Path, rel_paths: Iterable[str], size: int) -> str:
    h = hashlib.sha256()
    h.update(f"{PREPROCESS_VERSION}|{size}|".encode())
    for rel in rel_paths:
        st = (data_dir / rel).stat()
        h.update(f"{rel}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def arrays_cache_path(data_dir: Path | str, split_df, size: int = config.IMG_SIZE) -> Path:
    """Where load_arrays caches X for these rows (changes when any file, the size or the algorithm does)."""
    data_dir = Path(data_dir)
    key = _cache_key(data_dir, [str(p) for p in split_df["path"]], size)
    return config.cache_dir() / "arrays" / f"X_{size}px_{len(split_df)}_{key}.npy"


def load_arrays(data_dir, split_df, size: int = config.IMG_SIZE, progress: bool = True,
                workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Prepared images X uint8 [N, size, size] and labels y int64 [N], in split_df row order.

    ``split_df`` needs columns ``path`` (relative to data_dir) and ``label`` (canonical class name).
    X is cached as .npy under config.cache_dir(); the key covers paths, file sizes, mtimes, size and
    PREPROCESS_VERSION, so any change rebuilds it.
    """
    data_dir = Path(data_dir)
    unknown = sorted(set(split_df["label"]) - set(config.CLASSES))
    if unknown:
        raise ValueError(f"unknown labels {unknown}; expected {list(config.CLASSES)}")
    y = np.array([config.CLASSES.index(lbl) for lbl in split_df["label"]], dtype=np.int64)
    rel = [str(p) for p in split_df["path"]]
    try:
        cache = arrays_cache_path(data_dir, split_df, size)
    except FileNotFoundError as e:
        raise ImageError(f"file listed in the split is missing: {Path(e.filename).name}") from None
    if cache.exists():
        try:
            X = np.load(cache, allow_pickle=False)
            if X.shape == (len(rel), size, size) and X.dtype == np.uint8:
                return X, y
        except (OSError, ValueError):
            pass  # corrupt cache: rebuild below
    X = preprocess_many([data_dir / r for r in rel], size, workers=workers, progress=progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, X, allow_pickle=False)
    os.replace(tmp, cache)  # atomic: a concurrent reader never sees half a file
    _prune_cache(cache.parent, keep=40)
    return X, y


def _prune_cache(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("X_*.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        try:
            old.unlink()
        except OSError:
            pass


def load_train_val(cfg: dict, data_dir=None, progress: bool = True):
    """(X_train, y_train, X_val, y_val, split_df, root) from the cached arrays of the configured split."""
    from .layouts import resolve_data_dir
    from .split import load_split, train_val_rows

    root = resolve_data_dir(data_dir, allow_synthetic=False)
    split = load_split(cfg["split"], root)
    tr, va = train_val_rows(split, cfg["seed"])
    if cfg.get("max_train_images"):
        tr = tr.sample(n=min(len(tr), int(cfg["max_train_images"])), random_state=cfg["seed"])
    Xtr, ytr = load_arrays(root, tr, cfg["img_size"], progress=progress)
    Xva, yva = load_arrays(root, va, cfg["img_size"], progress=progress)
    return Xtr, ytr, Xva, yva, split, root
