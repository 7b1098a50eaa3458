"""A compact, portable copy of one split's preprocessed train and val arrays, to train on another machine (a GPU box
that has no copy of the dataset) with the same Keras code: `brain-mri bundle OUT.npz`, then
`brain-mri train --bundle OUT.npz` there.

Images are JPEG-encoded (quality 92 by default: mean absolute error ~1.3 grey levels, far below the model's own
contrast/brightness augmentation) so that train+val at 128 px fit in ~30 MB; `--quality 0` stores them losslessly.
A bundle reproduces the images, so it is derived data: never commit it (data/processed/ is ignored).
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np

from .. import config

PARTS = ("train", "val")


def _encode(X: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    chunks, offsets = [], [0]
    for im in X:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=quality)
        chunks.append(np.frombuffer(buf.getvalue(), np.uint8))
        offsets.append(offsets[-1] + len(chunks[-1]))
    return np.concatenate(chunks), np.asarray(offsets, np.int64)


def _decode(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(io.BytesIO(data[a:b].tobytes())).convert("L"))
                     for a, b in zip(offsets[:-1], offsets[1:])])


def export(path: str | Path, split: str = "leakfree", img_size: int = config.IMG_SIZE, quality: int = 92,
           data_dir=None, seed: int = config.SEED) -> dict:
    """Write the bundle; returns its metadata (split hash, counts, encoding error)."""
    from .prepare import PREPROCESS_VERSION
    from .split import split_sha256
    from .synthetic import is_synthetic
    from .arrays import load_train_val

    cfg = {"split": split, "img_size": img_size, "seed": seed}
    Xtr, ytr, Xva, yva, split_df, root = load_train_val(cfg, data_dir)
    arrays: dict[str, np.ndarray] = {}
    meta = {"split": split, "split_sha256": split_sha256(split_df), "img_size": img_size,
            "preprocess_version": PREPROCESS_VERSION, "jpeg_quality": quality or None,
            "synthetic": bool(is_synthetic(root)), "classes": list(config.CLASSES)}
    for part, X, y in (("train", Xtr, ytr), ("val", Xva, yva)):
        arrays[f"{part}_y"] = y.astype(np.int8)
        meta[f"n_{part}"] = int(len(X))
        if quality:
            arrays[f"{part}_jpeg"], arrays[f"{part}_offsets"] = _encode(X, quality)
            back = _decode(arrays[f"{part}_jpeg"], arrays[f"{part}_offsets"])
            meta[f"{part}_mean_abs_error"] = round(float(np.abs(back.astype(np.int16) - X).mean()), 3)
        else:
            arrays[f"{part}_x"] = X
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # a file handle: np.savez would otherwise append ".npz" to any other suffix
        (np.savez if quality else np.savez_compressed)(fh, **arrays)
    meta["bytes"] = path.stat().st_size
    return meta


def load(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """(X_train, y_train, X_val, y_val, meta) from a bundle, images as uint8 (N, S, S)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        if meta.get("classes") != list(config.CLASSES):
            raise ValueError(f"{path}: bundle classes {meta.get('classes')} differ from {list(config.CLASSES)}")
        out = []
        for part in PARTS:
            X = _decode(z[f"{part}_jpeg"], z[f"{part}_offsets"]) if f"{part}_jpeg" in z else z[f"{part}_x"]
            out += [X, z[f"{part}_y"].astype(np.int64)]
    return (*out, meta)


def cli_bundle(args) -> int:
    from ..errors import DataError

    try:
        meta = export(args.out, split=args.split, img_size=args.img_size, quality=args.quality,
                      data_dir=args.data_dir)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    err = ", ".join(f"{p} {meta[f'{p}_mean_abs_error']}" for p in PARTS if f"{p}_mean_abs_error" in meta)
    print(f"wrote {args.out}: {meta['n_train']} train + {meta['n_val']} val images at {meta['img_size']} px, "
          f"{meta['bytes'] / 1e6:.1f} MB" + (f", JPEG q{args.quality} mean abs error {err} grey levels" if err else ""))
    return 0
