"""Collections as a first-class idea: several public folders, each with its layout and label granularity,
read into one table with inferred provenance, twin groups across collections and a grouped split over the union.

Collections (see ../shared/datasets/README.md; users fetch them with kagglehub):
- brain-tumor-mri  Nickparvar's Kaggle set, Training|Testing/{glioma,meningioma,notumor,pituitary}, 4 classes
- br35h            Br35H, yes/ no/ (tumour / no tumour only) + annotations_all.json outlines on 801 yes/ files
- sartaj-testing   Sartaj's Testing folder, {glioma,meningioma,no,pituitary}_tumor/, 4 classes, noisy labels
- healthy-extra    tumour-free slices of five public sources (every plane, level and sequence, with and without skull),
                   listed by index.csv (source, subject, plane, sequence, skull, and the GitHub repo/commit/origin each
                   comes from: `brain-mri fetch --all` rebuilds the folder from those, not from Kaggle)

Provenance ("source"): where a picture was first published, which is what a leave-one-collection-out test must
hold out. The Kaggle set is a mix of three sources, renamed; we infer each file's source:
- figshare (Cheng et al. 2015): grayscale ("L" mode) 512x512 tumour slices; 1,426 + 708 + 930 match its counts;
- br35h: any picture whose twin group holds a Br35H file (all of Br35H no/ is in Kaggle's notumor);
- sartaj: the rest (RGB JPEG tumour slices; notumor slices not from Br35H) and the sartaj-testing folder;
- healthy-extra: each file's own source in index.csv (ixi-t2, open-ms, niivue, ms-flair-iran, dwi), each a fold.
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
    "healthy-extra": {
        "env": "HEALTHY_EXTRA_DATA", "handle": None, "manifest": "index.csv",
        "folders": {s: "notumor" for s in ("ixi-t2", "open-ms", "niivue", "ms-flair-iran", "dwi")},
        "granularity": "no tumour only (five sources, subject ids)",
    },
}
# Columns a manifest collection adds to the union table (empty for the others): who the slice belongs to and its look.
MANIFEST_COLUMNS = ("subject", "plane", "sequence", "skull")
HEALTHY_EXTRA_MANIFEST = config.DATA_DIR / "manifests" / "healthy-extra.csv"
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
    how = (f"with kagglehub ({spec['handle']})" if spec["handle"] else
           "from the public GitHub repositories at the commits listed in data/manifests/healthy-extra.csv")
    return f"collection {name} not found: `make data` fetches it {how}, or set {spec['env']} to a local copy"


def list_collection(name: str, root: Path) -> pd.DataFrame:
    if COLLECTIONS[name].get("manifest"):
        return list_manifest(name, root)
    rows = []
    for folder, label in COLLECTIONS[name]["folders"].items():
        d = root / folder
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if p.suffix.lower() in EXTS and not p.name.startswith("."):
                rows.append((name, f"{folder}/{p.name}", label))
    return pd.DataFrame(rows, columns=["collection", "path", "label"])


def list_manifest(name: str, root: Path) -> pd.DataFrame:
    """A collection listed by its manifest (index.csv): one row per file present, its source and subject kept."""
    m = pd.read_csv(root / COLLECTIONS[name]["manifest"], keep_default_na=False, dtype=str)
    # a path listed twice (open-ms longitudinal names lack the sequence) is one file: the last row describes it
    m = m.drop_duplicates("path", keep="last")
    m = m[[(root / p).is_file() for p in m["path"]]]
    folders = COLLECTIONS[name]["folders"]
    out = pd.DataFrame({"collection": name, "path": m["path"].to_numpy(),
                        "label": [folders.get(s, "notumor") for s in m["source"]],
                        "manifest_source": m["source"].to_numpy()})
    for c in MANIFEST_COLUMNS:
        out[c] = m[c].to_numpy() if c in m else ""
    return out.reset_index(drop=True)


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
    for c in ("manifest_source", *MANIFEST_COLUMNS):
        df[c] = df[c].fillna("") if c in df else ""
    full = [str(roots[c] / p) for c, p in zip(df["collection"], df["path"])]
    h = hashlib.sha256(b"union v2\n")  # v2: manifest columns (healthy-extra)
    for f in full:
        h.update(f"{f[-60:]}|{os.stat(f).st_size}\n".encode())
    cache = config.cache_dir() / f"union-{h.hexdigest()[:16]}"
    if (cache.with_suffix(".csv")).is_file() and cache.with_suffix(".npy").is_file():
        return (pd.read_csv(cache.with_suffix(".csv"), keep_default_na=False, dtype={"subject": str}),
                np.load(cache.with_suffix(".npy")))
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


def _pairs(thumbs: np.ndarray, which: int, threshold: float) -> pd.DataFrame:
    key = hashlib.sha256(np.ascontiguousarray(thumbs).tobytes()).hexdigest()[:16]
    cache = config.cache_dir() / f"union-pairs-{key}-{which}-{threshold:g}.csv"
    if cache.is_file():
        return pd.read_csv(cache)
    pairs = audit.near_pairs(thumbs[:, which].astype(np.float32), threshold)
    pairs.to_csv(cache, index=False)
    return pairs


def link(df: pd.DataFrame, thumbs: np.ndarray, threshold: float, adjacent: float | None = None) -> np.ndarray:
    """Group ids: components of md5 copies, 8-transform near twins (whole or head-crop thumbnails) above
    `threshold`, every slice of one subject (manifests) and, with `adjacent`, whole-image thumbnails above that lower
    cosine: the neighbouring slices of one scan (patient-level linking; the 0.98 twin criterion misses them)."""
    pairs = [_pairs(thumbs, 0, threshold), _pairs(thumbs, 1, threshold)]
    if adjacent is not None:
        pairs.append(_pairs(thumbs, 0, adjacent))
    pairs = pd.concat(pairs)
    md5 = df["md5"].to_numpy()
    first = pd.Series(np.arange(len(md5))).groupby(md5).transform("min").to_numpy()
    si, sj = subject_edges(df)
    ei = np.concatenate([first, pairs["i"].to_numpy(int), si])
    ej = np.concatenate([np.arange(len(md5)), pairs["j"].to_numpy(int), sj])
    return audit.components(len(df), ei, ej)


def subject_edges(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Edges joining every slice of one subject (a manifest's `subject` column, within one source): a patient's
    slices stay on one side of a split even when they look nothing alike (other plane, other sequence)."""
    if "subject" not in df:
        return np.zeros(0, int), np.zeros(0, int)
    key = df["manifest_source"].astype(str) + "/" + df["subject"].astype(str)
    has = (df["subject"].astype(str) != "").to_numpy()
    idx = pd.Series(np.arange(len(df))[has])
    first = idx.groupby(key[has].to_numpy()).transform("min").to_numpy()
    return first, idx.to_numpy()


def infer_source(df: pd.DataFrame, groups: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    """Per-file source and per-group set of sources (a '+'-joined string)."""
    src = np.where(df["collection"] == "br35h", "br35h",
                   np.where((df["collection"] == "brain-tumor-mri") & (df["label"] != "notumor")
                            & (df["mode"] == "L"), "figshare", "sartaj"))
    if "manifest_source" in df:  # a manifest names each file's source itself
        src = np.where(df["manifest_source"].astype(str) != "", df["manifest_source"].astype(str), src)
    g = pd.Series(groups)
    has_br = g.map(pd.Series(src == "br35h").groupby(groups).any())
    src = np.where(has_br.to_numpy(), "br35h", src)
    sets = pd.Series(src).groupby(groups).agg(lambda s: "+".join(sorted(set(s))))
    return src, sets
