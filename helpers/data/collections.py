"""Collections as a first-class idea: several public folders, each with its layout and label granularity,
read into one table with inferred provenance, twin groups across collections and a grouped split over the union.

Collections (see ../shared/datasets/README.md; users fetch them with kagglehub):
- brain-tumor-mri  Nickparvar's Kaggle set, Training|Testing/{glioma,meningioma,notumor,pituitary}, 4 classes
- br35h            Br35H, yes/ no/ (tumour / no tumour only) + annotations_all.json outlines on 801 yes/ files
- sartaj-testing   Sartaj's Testing folder, {glioma,meningioma,no,pituitary}_tumor/, 4 classes, noisy labels

Provenance ("source"): where a picture was first published, which is what a leave-one-collection-out test must
hold out. The Kaggle set is a mix of three sources, renamed; we infer each file's source:
- figshare (Cheng et al. 2015): grayscale ("L" mode) 512x512 tumour slices; 1,426 + 708 + 930 match its counts;
- br35h: any picture whose twin group holds a Br35H file (all of Br35H no/ is in Kaggle's notumor);
- sartaj: the rest (RGB JPEG tumour slices; notumor slices not from Br35H) and the sartaj-testing folder.
A twin group's sources are the union of its members' sources.
"""
from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .. import config
from . import audit

LABELS = (*config.CLASSES, "tumour")  # "tumour": a tumour of unknown type (Br35H yes/)

COLLECTIONS: dict[str, dict] = {
    "brain-tumor-mri": {
        "env": "BRAIN_MRI_DATA", "handle": "masoudnickparvar/brain-tumor-mri-dataset",
        "folders": {f"{s}/{c}": c for s in ("Training", "Testing") for c in config.CLASSES},
        "granularity": "4 classes",
    },
    "br35h": {
        "env": "BR35H_DATA", "handle": "ahmedhamada0/brain-tumor-detection",
        "folders": {"yes": "tumour", "no": "notumor"},
        "granularity": "tumour / no tumour",
    },
    "sartaj-testing": {
        "env": "SARTAJ_TESTING_DATA", "handle": "sartajbhuvaji/brain-tumor-classification-mri",
        "inside": "Testing",  # the Kaggle download holds Training/ (inside brain-tumor-mri) and Testing/
        "folders": {"glioma_tumor": "glioma", "meningioma_tumor": "meningioma", "no_tumor": "notumor",
                    "pituitary_tumor": "pituitary"},
        "granularity": "4 classes (noisy)",
    },
}
EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


def collection_root(name: str) -> Path | None:
    """The folder of a collection: its env var, else a sibling of $BRAIN_MRI_DATA named after it, else
    data/raw/<name>. None when it is nowhere (callers say so and skip)."""
    spec = COLLECTIONS[name]
    cands = []
    if os.environ.get(spec["env"]):
        cands.append(Path(os.environ[spec["env"]]))
    if os.environ.get("BRAIN_MRI_DATA"):
        cands.append(Path(os.environ["BRAIN_MRI_DATA"]).parent / name)
    cands.append(config.RAW_DIR / name)
    for c in cands:
        if c.is_dir() and any((c / f).is_dir() for f in spec["folders"]):
            return c
    return None


def available() -> dict[str, Path]:
    """{name: folder} of the collections found (see collection_root)."""
    return {n: r for n in COLLECTIONS if (r := collection_root(n)) is not None}


def missing_message(name: str) -> str:
    """One line saying how to get a collection that is not there."""
    spec = COLLECTIONS[name]
    return (f"collection {name} not found: `make data` fetches it with kagglehub ({spec['handle']}), or set "
            f"{spec['env']} to a local copy")


def list_collection(name: str, root: Path) -> pd.DataFrame:
    rows = []
    for folder, label in COLLECTIONS[name]["folders"].items():
        d = root / folder
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if p.suffix.lower() in EXTS and not p.name.startswith("."):
                rows.append((name, f"{folder}/{p.name}", label))
    return pd.DataFrame(rows, columns=["collection", "path", "label"])


def _file_facts(path: str) -> tuple:
    data = Path(path).read_bytes()
    md5 = hashlib.md5(data).hexdigest()
    try:
        im = Image.open(io.BytesIO(data))
        w, h, mode = im.size[0], im.size[1], im.mode
        whole, crop = audit.thumbnails_from_bytes(data)
        return md5, w, h, mode, np.stack([whole, crop]).astype(np.float16), ""
    except Exception as e:  # noqa: BLE001 - a file that does not decode is kept as a row with its error
        return md5, 0, 0, "", np.full((2, audit.THUMB, audit.THUMB), np.nan, np.float16), str(e)[:80]


def union_table(roots: dict[str, Path] | None = None, progress: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """(table, thumbnails (N, 2, 32, 32)) over every collection found. Cached by file list + sizes."""
    roots = roots or available()
    frames = [list_collection(n, r) for n, r in roots.items()]
    if not frames:
        from ..errors import DataError

        raise DataError(missing_message("brain-tumor-mri"))
    df = pd.concat(frames, ignore_index=True)
    full = [str(roots[c] / p) for c, p in zip(df["collection"], df["path"])]
    h = hashlib.sha256(b"union v1\n")
    for f in full:
        h.update(f"{f[-60:]}|{os.stat(f).st_size}\n".encode())
    cache = config.cache_dir() / f"union-{h.hexdigest()[:16]}"
    if (cache.with_suffix(".csv")).is_file() and cache.with_suffix(".npy").is_file():
        return pd.read_csv(cache.with_suffix(".csv"), keep_default_na=False), np.load(cache.with_suffix(".npy"))
    from tqdm.auto import tqdm

    with ProcessPoolExecutor(max_workers=2) as ex:
        facts = list(tqdm(ex.map(_file_facts, full, chunksize=32), total=len(full), disable=not progress,
                          desc="facts"))
    df["md5"], df["width"], df["height"], df["mode"] = ([f[k] for f in facts] for k in range(4))
    df["error"] = [f[5] for f in facts]
    thumbs = np.stack([f[4] for f in facts])
    df.to_csv(cache.with_suffix(".csv"), index=False)
    np.save(cache.with_suffix(".npy"), thumbs)
    return df, thumbs


def link(df: pd.DataFrame, thumbs: np.ndarray, threshold: float) -> np.ndarray:
    """Group ids: components of md5 copies and 8-transform near twins (whole or head-crop thumbnails) above
    `threshold`. The project's twin criterion is 0.98 (split at 0.975); lower thresholds link adjacent slices."""
    th = thumbs.astype(np.float32)
    key = hashlib.sha256(np.ascontiguousarray(thumbs).tobytes()).hexdigest()[:16]
    cache = config.cache_dir() / f"union-pairs-{key}-{threshold:g}.csv"
    if cache.is_file():
        pairs = pd.read_csv(cache)
    else:
        pairs = pd.concat([audit.near_pairs(th[:, 0], threshold), audit.near_pairs(th[:, 1], threshold)])
        pairs.to_csv(cache, index=False)
    md5 = df["md5"].to_numpy()
    first = pd.Series(np.arange(len(md5))).groupby(md5).transform("min").to_numpy()
    ei = np.concatenate([first, pairs["i"].to_numpy(int)])
    ej = np.concatenate([np.arange(len(md5)), pairs["j"].to_numpy(int)])
    return audit.components(len(df), ei, ej)


def infer_source(df: pd.DataFrame, groups: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    """Per-file source and per-group set of sources (a '+'-joined string)."""
    src = np.where(df["collection"] == "br35h", "br35h",
                   np.where((df["collection"] == "brain-tumor-mri") & (df["label"] != "notumor")
                            & (df["mode"] == "L"), "figshare", "sartaj"))
    g = pd.Series(groups)
    has_br = g.map(pd.Series(src == "br35h").groupby(groups).any())
    src = np.where(has_br.to_numpy(), "br35h", src)
    sets = pd.Series(src).groupby(groups).agg(lambda s: "+".join(sorted(set(s))))
    return src, sets
