"""Download the collections with kagglehub and place them at data/raw/<collection>/.

`download` is the project's only network call (tests replace it). Everything else works on local folders.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .. import config
from ..errors import DataError
from .layouts import detect_layout, list_image_files


def download(handle: str = config.KAGGLE_HANDLE) -> Path:
    """kagglehub.dataset_download(handle): the folder of kagglehub's (cached) copy."""
    import kagglehub  # lazy: importing it is slow and only fetch needs it

    return Path(kagglehub.dataset_download(handle))


def _find(path: str | Path, holds, max_depth: int = 4) -> Path | None:
    """The shallowest folder inside `path` (or `path` itself) for which `holds(folder)` is true, breadth-first."""
    queue = [(Path(path), 0)]
    while queue:
        p, depth = queue.pop(0)
        if holds(p):
            return p
        if depth < max_depth and p.is_dir():
            queue += [(c, depth + 1) for c in sorted(p.iterdir()) if c.is_dir() and not c.name.startswith((".", "_"))]
    return None


def find_dataset_root(path: str | Path, max_depth: int = 4) -> Path:
    """The folder inside `path` (or `path` itself) that holds a known layout (Training/Testing, yes/no)."""
    def holds(p: Path) -> bool:
        try:
            detect_layout(p)
            return True
        except DataError:
            return False

    found = _find(path, holds, max_depth)
    if found is None:
        raise DataError(f"no Training/Testing (or yes/no) folders found inside {path}")
    return found


def _complete(dest: Path) -> bool:
    try:
        return len(list_image_files(dest)) > 0
    except DataError:
        return False


def _link_or_copy(src: str, dst: str) -> None:
    # Hard links cost no space when kagglehub's cache is on the same disk; copy otherwise.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _download(handle: str, what: str, env: str) -> Path:
    try:
        return download(handle)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - kagglehub raises many types when offline; the user needs one line
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"could not {what} (offline?): {msg} — set {env} to a local copy") from None


def _place(src: Path, dest: Path) -> Path:
    """Copy (hard-link where possible) `src` to `dest` through a .partial folder, so a half-finished copy is never
    mistaken for the data."""
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, tmp, copy_function=_link_or_copy)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def fetch_dataset(dest: str | Path = config.RAW_DIR / config.DATASET_NAME, handle: str = config.KAGGLE_HANDLE) -> Path:
    """Make `dest` hold the dataset (Training/ and Testing/). Idempotent: an existing complete copy is kept and
    nothing is downloaded. Network failure -> DataError with one line saying what to do instead."""
    dest = Path(dest)
    if dest.is_dir() and _complete(dest):
        return dest
    return _place(find_dataset_root(_download(handle, "reach Kaggle", "BRAIN_MRI_DATA")), dest)


def find_collection_root(path: str | Path, name: str, max_depth: int = 4) -> Path:
    """The folder inside a download that holds collection `name`'s class folders (for Sartaj's set: its Testing/)."""
    from .collections import COLLECTIONS

    folders = COLLECTIONS[name]["folders"]
    found = _find(path, lambda p: sum((p / f).is_dir() for f in folders) >= max(1, len(folders) - 1), max_depth)
    if found is None:
        raise DataError(f"no {name} folders ({', '.join(sorted(folders)[:3])}, ...) found inside {Path(path).name}")
    return found


def fetch_collection(name: str, dest: str | Path | None = None) -> Path:
    """Make data/raw/<name> hold collection `name` (idempotent; one line on failure, as fetch_dataset)."""
    from .collections import COLLECTIONS, list_collection

    if name == config.DATASET_NAME:
        return fetch_dataset(dest or config.RAW_DIR / name)
    dest = Path(dest or config.RAW_DIR / name)
    if dest.is_dir() and len(list_collection(name, dest)):
        return dest
    spec = COLLECTIONS[name]
    downloaded = _download(spec["handle"], f"fetch {name} from Kaggle", spec["env"])
    return _place(find_collection_root(downloaded, name), dest)


def cli_fetch(args) -> int:
    if getattr(args, "all", False):
        from .collections import COLLECTIONS, list_collection

        failed = 0
        for name in COLLECTIONS:
            try:
                root = fetch_collection(name)
                print(f"{name} ready at data/raw/{root.name} ({len(list_collection(name, root)):,} images)")
            except DataError as e:
                failed += 1
                print(f"error: {e}", file=sys.stderr)
        return 1 if failed else 0
    dest = Path(getattr(args, "dest", None) or config.RAW_DIR / config.DATASET_NAME)
    try:
        root = fetch_dataset(dest)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    n = len(list_image_files(root))
    print(f"dataset ready at {root} ({n:,} images, layout {detect_layout(root)})")
    return 0
