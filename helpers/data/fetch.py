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


def find_dataset_root(path: str | Path, max_depth: int = 4) -> Path:
    """The folder inside `path` (or `path` itself) that holds a known layout (Training/Testing, yes/no)."""
    path = Path(path)
    queue = [(path, 0)]
    while queue:
        p, depth = queue.pop(0)  # breadth-first: the shallowest match wins
        try:
            detect_layout(p)
            return p
        except DataError:
            pass
        if depth < max_depth and p.is_dir():
            queue += [(c, depth + 1) for c in sorted(p.iterdir()) if c.is_dir() and not c.name.startswith((".", "_"))]
    raise DataError(f"no Training/Testing (or yes/no) folders found inside {path}")


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


def fetch_dataset(dest: str | Path = config.RAW_DIR / config.DATASET_NAME, handle: str = config.KAGGLE_HANDLE) -> Path:
    """Make `dest` hold the dataset (Training/ and Testing/). Idempotent: an existing complete copy is kept and
    nothing is downloaded. Network failure -> DataError with one line saying what to do instead."""
    dest = Path(dest)
    if dest.is_dir() and _complete(dest):
        return dest
    try:
        downloaded = download(handle)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - kagglehub raises many types when offline; the user needs one line
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"could not reach Kaggle (offline?): {msg} — set BRAIN_MRI_DATA to a local copy") from None
    src = find_dataset_root(downloaded)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, tmp, copy_function=_link_or_copy)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)  # a half-finished copy is never mistaken for the dataset
    return dest


def find_collection_root(path: str | Path, name: str, max_depth: int = 4) -> Path:
    """The folder inside a download that holds collection `name`'s class folders (for Sartaj's set: its Testing/)."""
    from .collections import COLLECTIONS

    folders = COLLECTIONS[name]["folders"]
    queue = [(Path(path), 0)]
    while queue:
        p, depth = queue.pop(0)
        if sum((p / f).is_dir() for f in folders) >= max(1, len(folders) - 1):
            return p
        if depth < max_depth and p.is_dir():
            queue += [(c, depth + 1) for c in sorted(p.iterdir()) if c.is_dir() and not c.name.startswith((".", "_"))]
    raise DataError(f"no {name} folders ({', '.join(sorted(folders)[:3])}, ...) found inside {Path(path).name}")


def fetch_collection(name: str, dest: str | Path | None = None) -> Path:
    """Make data/raw/<name> hold collection `name` (idempotent; one line on failure, as fetch_dataset)."""
    from .collections import COLLECTIONS, list_collection

    if name == config.DATASET_NAME:
        return fetch_dataset(dest or config.RAW_DIR / name)
    dest = Path(dest or config.RAW_DIR / name)
    if dest.is_dir() and len(list_collection(name, dest)):
        return dest
    handle = COLLECTIONS[name]["handle"]
    try:
        downloaded = download(handle)
    except Exception as e:  # noqa: BLE001 - kagglehub raises many types when offline; the user needs one line
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"could not fetch {name} from Kaggle (offline?): {msg} — set "
                        f"{COLLECTIONS[name]['env']} to a local copy") from None
    src = find_collection_root(downloaded, name)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, tmp, copy_function=_link_or_copy)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


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
