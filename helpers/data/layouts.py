"""Dataset discovery: folder layouts, canonical labels, and a cached per-file manifest.

The manifest is the one table every later step (audit, split, training) starts from. It records what each file
*is* (format read from its bytes, not its extension; size; md5) and whether it decodes, so that a corrupt or
renamed file becomes a row with `error` set instead of a crash three steps later.
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
import warnings
from pathlib import Path

import pandas as pd
from PIL import Image

from .. import config
from ..errors import DataError


# Folder name -> canonical label, per known layout. Labels of the 4-class layouts are config.CLASSES.
LAYOUTS: dict[str, dict] = {
    "nickparvar": {
        "splits": {"Training": "train", "Testing": "test"},
        "classes": {"glioma": "glioma", "meningioma": "meningioma", "notumor": "notumor", "pituitary": "pituitary"},
        "describe": "Training|Testing/{glioma,meningioma,notumor,pituitary}",
    },
    "sartaj": {
        "splits": {"Training": "train", "Testing": "test"},
        "classes": {"glioma_tumor": "glioma", "meningioma_tumor": "meningioma", "no_tumor": "notumor",
                    "pituitary_tumor": "pituitary"},
        "describe": "Training|Testing/{glioma_tumor,meningioma_tumor,no_tumor,pituitary_tumor}",
    },
    "binary": {
        "splits": None,  # no official split: every file is official_split "none"
        "classes": {"yes": "tumour", "no": "notumor"},
        "describe": "yes/ no/",
    },
}

# Every spelling we accept for a label, lower-cased -> canonical.
_LABEL_ALIASES = {
    "glioma": "glioma", "glioma_tumor": "glioma", "glioma_tumour": "glioma",
    "meningioma": "meningioma", "meningioma_tumor": "meningioma", "meningioma_tumour": "meningioma",
    "notumor": "notumor", "no_tumor": "notumor", "notumour": "notumor", "no_tumour": "notumor", "no": "notumor",
    "pituitary": "pituitary", "pituitary_tumor": "pituitary", "pituitary_tumour": "pituitary",
    "tumour": "tumour", "tumor": "tumour", "yes": "tumour",
}

# Extensions we treat as images; anything else (README, SYNTHETIC.txt, Thumbs.db) is not in the manifest.
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".dcm", ".dicom"}

MANIFEST_COLUMNS = ["path", "official_split", "label", "format", "width", "height", "mode", "bytes", "md5", "error"]
# Bump when the manifest's content or meaning changes: old caches are then ignored.
_MANIFEST_VERSION = 1


def canonical_label(name: str) -> str:
    """'no_tumor' -> 'notumor', 'Glioma_Tumor' -> 'glioma', 'yes' -> 'tumour'. Unknown -> DataError."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _LABEL_ALIASES:
        raise DataError(f"unknown label {name!r}: expected one of {sorted(set(_LABEL_ALIASES.values()))}")
    return _LABEL_ALIASES[key]


def _visible_dirs(p: Path) -> list[str]:
    if not p.is_dir():
        return []
    return sorted(c.name for c in p.iterdir() if c.is_dir() and not c.name.startswith(("_", ".")))


def detect_layout(root: str | Path) -> str:
    """Name of the layout of `root`: "nickparvar", "sartaj" or "binary". Unknown -> DataError naming the known ones."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"no dataset folder at {root}")
    top = _visible_dirs(root)
    for name, spec in LAYOUTS.items():
        if spec["splits"] is None:
            found = set(top)
            # The binary layout is recognised only when *all* its class folders are there (a lone "no/" is ambiguous).
            if found and set(spec["classes"]) <= found and not (found & set(LAYOUTS["nickparvar"]["splits"])):
                return name
            continue
        split_dirs = [s for s in spec["splits"] if s in top]
        if not split_dirs:
            continue
        classes = {c for s in split_dirs for c in _visible_dirs(root / s)}
        if classes and classes <= set(spec["classes"]):
            return name
    known = "; ".join(f"{k}: {v['describe']}" for k, v in LAYOUTS.items())
    raise DataError(f"unrecognised dataset layout at {root} (folders: {', '.join(top) or 'none'}); known layouts: {known}")


def resolve_data_dir(data_dir: str | Path | None = None, allow_synthetic: bool = False) -> Path:
    """The dataset folder: `data_dir`, else config.data_root(). Missing -> synthetic phantoms if allowed, else DataError."""
    root = Path(data_dir).expanduser() if data_dir else config.data_root()
    if root.is_dir():
        return root
    # Fall back to phantoms only when nobody named a dataset: a mistyped path must not silently become a demo.
    named = bool(data_dir) or bool(os.environ.get("BRAIN_MRI_DATA"))
    if allow_synthetic and not named:
        from . import synthetic  # lazy: only needed when there is no real data

        return Path(synthetic.ensure_synthetic())
    raise DataError(f"no dataset at {root}: run `make data` (downloads with kagglehub) or set BRAIN_MRI_DATA to a local copy")


def list_image_files(root: str | Path, layout: str | None = None) -> list[tuple[str, str, str]]:
    """(relative posix path, official_split, label) for every image file, sorted by path. Warns on empty class folders."""
    root = Path(root)
    layout = layout or detect_layout(root)
    spec = LAYOUTS[layout]
    out: list[tuple[str, str, str]] = []
    split_dirs = [(s, tag) for s, tag in spec["splits"].items() if (root / s).is_dir()] if spec["splits"] else [("", "none")]
    for split_name, tag in split_dirs:
        base = root / split_name if split_name else root
        for cls_dir, label in spec["classes"].items():
            d = base / cls_dir
            if not d.is_dir():
                if split_name:  # a class missing from one split is worth a note but not an error
                    warnings.warn(f"{layout} layout: no folder {d.relative_to(root).as_posix()}/", stacklevel=2)
                continue
            n0 = len(out)
            for dirpath, dirnames, filenames in os.walk(d):
                # Folders starting with "_" or "." hold side files (synthetic masks, checkpoints), never samples.
                dirnames[:] = [x for x in dirnames if not x.startswith(("_", "."))]
                for f in filenames:
                    if f.startswith(".") or Path(f).suffix.lower() not in IMAGE_EXTS:
                        continue
                    rel = Path(dirpath, f).relative_to(root).as_posix()
                    out.append((rel, tag, label))
            if len(out) == n0:
                warnings.warn(f"empty class folder {d.relative_to(root).as_posix()}/ (no images)", stacklevel=2)
    out.sort(key=lambda t: t[0])
    return out


def _fingerprint(root: Path, files: list[tuple[str, str, str]]) -> str:
    """Cache key: data root path + every file's (path, size, mtime). Any added, removed or touched file changes it."""
    h = hashlib.sha256(f"v{_MANIFEST_VERSION}\n{root.resolve()}\n".encode())
    for rel, tag, label in files:
        st = (root / rel).stat()
        h.update(f"{rel}\t{tag}\t{label}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def inspect_bytes(data: bytes) -> dict:
    """format/width/height/mode/error for one file's bytes. Decodes at reduced scale to catch truncation cheaply."""
    rec = {"format": "", "width": 0, "height": 0, "mode": "", "error": ""}
    if not data:
        rec["error"] = "empty file"
        return rec
    if len(data) > 132 and data[128:132] == b"DICM":
        rec["format"] = "DICOM"  # Pillow cannot read DICOM; helpers.preprocess.decode does
        return rec
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        rec["error"] = f"too large: {e}"
        return rec
    except Exception as e:  # noqa: BLE001 - any reason Pillow refuses is recorded, never raised
        rec["error"] = f"not an image (unrecognised format): {type(e).__name__}"
        return rec
    rec.update(format=im.format or "", width=im.size[0], height=im.size[1], mode=im.mode)
    # The header alone gives the size: refuse bombs before decoding a single pixel.
    if im.size[0] * im.size[1] > config.MAX_IMAGE_PIXELS:
        rec["error"] = f"too large: {im.size[0]}x{im.size[1]} pixels exceeds {config.MAX_IMAGE_PIXELS:,}"
        return rec
    try:
        # draft() makes JPEG decode at 1/8 scale (~0.5 ms) yet still reads the whole stream, so truncation shows.
        im.draft("L", (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
        im.load()
    except Exception as e:  # noqa: BLE001
        rec["error"] = f"cannot decode ({type(e).__name__}: {e})"
    return rec


def _manifest_cache_path(key: str) -> Path:
    return config.cache_dir() / f"manifest-{key}.csv"


def read_manifest_csv(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"path": str, "official_split": str, "label": str, "format": str, "mode": str,
                                  "md5": str, "error": str}, keep_default_na=False)
    for c in ("width", "height", "bytes"):
        df[c] = df[c].astype("int64")
    return df[MANIFEST_COLUMNS]


def build_manifest(root: str | Path, progress: bool = True, use_cache: bool = True) -> pd.DataFrame:
    """One row per image file (sorted by path). Never aborts on a bad file: the row gets `error` set.

    Cached as CSV under config.cache_dir() keyed by the root path and every file's size and mtime, so the
    (read-only) data folder is never written to and a changed file triggers a rebuild.
    """
    root = Path(root)
    layout = detect_layout(root)
    files = list_image_files(root, layout)
    if not files:
        raise DataError(f"no image files under {root} ({layout} layout, all class folders empty)")
    key = _fingerprint(root, files)
    cache = _manifest_cache_path(key)
    if use_cache and cache.is_file():
        try:
            df = read_manifest_csv(cache)
            if len(df) == len(files):
                df.attrs.update(layout=layout, root=str(root), key=key, cached=True)
                return df
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, not trusted
            pass

    from tqdm.auto import tqdm

    rows = []
    for rel, tag, label in tqdm(files, desc="manifest", unit="file", disable=not progress, file=sys.stderr):
        try:
            data = (root / rel).read_bytes()
        except OSError as e:
            rows.append({"path": rel, "official_split": tag, "label": label, "format": "", "width": 0, "height": 0,
                         "mode": "", "bytes": 0, "md5": "", "error": f"cannot read: {e.strerror or e}"})
            continue
        rec = inspect_bytes(data)
        rows.append({"path": rel, "official_split": tag, "label": label, "format": rec["format"],
                     "width": rec["width"], "height": rec["height"], "mode": rec["mode"], "bytes": len(data),
                     "md5": hashlib.md5(data).hexdigest(), "error": rec["error"]})
    df = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    for c in ("width", "height", "bytes"):
        df[c] = df[c].astype("int64")
    if use_cache:
        try:
            tmp = cache.with_suffix(".tmp")
            df.to_csv(tmp, index=False)
            tmp.replace(cache)  # atomic: a concurrent reader never sees half a file
        except OSError as e:
            warnings.warn(f"could not cache the manifest at {cache}: {e}", stacklevel=2)
    df.attrs.update(layout=layout, root=str(root), key=key, cached=False)
    bad = df[df["error"] != ""]
    if len(bad) and progress:
        print(manifest_summary(df), file=sys.stderr)
    return df


def manifest_summary(df: pd.DataFrame, max_listed: int = 20) -> str:
    """Human summary: counts per split/label/format and every unreadable file (up to `max_listed`)."""
    lines = [f"{len(df):,} image files"]
    lines.append("per split: " + ", ".join(f"{k}={v:,}" for k, v in df["official_split"].value_counts().sort_index().items()))
    lines.append("per label: " + ", ".join(f"{k}={v:,}" for k, v in df["label"].value_counts().sort_index().items()))
    lines.append("formats (from content): " + ", ".join(f"{k or '?'}={v:,}" for k, v in df["format"].value_counts().items()))
    ext = df["path"].str.rsplit(".", n=1).str[-1].str.lower().map({"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG"})
    mism = df[(df["format"] != "") & ext.notna() & (ext != df["format"])]
    if len(mism):
        lines.append(f"{len(mism)} files whose extension lies about their format: " + ", ".join(mism["path"].head(10)))
    bad = df[df["error"] != ""]
    lines.append(f"{len(bad)} unreadable files" + (":" if len(bad) else ""))
    for _, r in bad.head(max_listed).iterrows():
        lines.append(f"  {r['path']}: {r['error']}")
    if len(bad) > max_listed:
        lines.append(f"  ... and {len(bad) - max_listed} more")
    return "\n".join(lines)
