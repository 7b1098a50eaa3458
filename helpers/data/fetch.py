"""Download the collections and place them at data/raw/<collection>/: the Kaggle ones with kagglehub, healthy-extra
from the public GitHub repositories its manifest (data/manifests/healthy-extra.csv) names, at pinned commits.

`download` (Kaggle) and `github_raw` (GitHub) are the project's only network calls (tests replace them). Everything
else works on local folders.
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


# --- healthy-extra: tumour-free slices from public GitHub repositories at pinned commits -------------------------

HEALTHY_EXTRA = "healthy-extra"
HEALTHY_EXTRA_MANIFEST = config.DATA_DIR / "manifests" / "healthy-extra.csv"
GITHUB_RAW = "https://raw.githubusercontent.com"
TIMEOUT_S = 60


def github_raw(repo: str, commit: str, path: str, timeout: float = TIMEOUT_S) -> bytes:
    """The bytes of `path` in GitHub repository `repo` at `commit`: healthy-extra's only network call (tests replace
    it). Any failure -> DataError with one line."""
    import urllib.error
    import urllib.parse
    import urllib.request

    # Paths hold spaces and parentheses ("NonMS_Source3 (1).jpg"); quote everything but the separators.
    url = f"{GITHUB_RAW}/{repo}/{commit}/{urllib.parse.quote(path, safe='/')}"
    request = urllib.request.Request(url, headers={"User-Agent": "brain-mri-fetch"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        raise DataError(f"GitHub answered HTTP {e.code} for {url}") from None
    except (urllib.error.URLError, OSError) as e:  # URLError, timeouts, resets
        reason = str(getattr(e, "reason", None) or e) or type(e).__name__
        raise DataError(f"could not reach {GITHUB_RAW} (offline?): {reason}") from None


def read_manifest(path: str | Path | None = None) -> list[dict[str, str]]:
    """The rows of an index.csv-style manifest (by default the committed healthy-extra one), as dicts."""
    import csv

    path = Path(path or HEALTHY_EXTRA_MANIFEST)
    if not path.is_file():
        raise DataError(f"manifest {path.name} not found (it ships in the repository's data/manifests/)")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _cached(row: dict[str, str], downloads: Path) -> Path:
    """The downloaded file behind `row`, fetched once into `downloads` (kept, so a resumed run or another slice of
    the same volume never downloads it again)."""
    local = downloads / row["repo"] / row["commit"] / row["origin"]
    if not local.is_file():
        data = github_raw(row["repo"], row["commit"], row["origin"])
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(local.name + ".partial")
        tmp.write_bytes(data)
        tmp.replace(local)
    return local


def slice_from_name(path: str) -> tuple[str, int]:
    """(plane, index) from a slice's file name: `FLAIR_stripped_axial_037.jpg` -> ('axial', 37)."""
    *_, plane, index = Path(path).stem.rsplit("_", 2)
    if not index.isdigit():
        raise DataError(f"{path}: the file name does not end in _<plane>_<slice index>")
    return plane, int(index)


def _write_source(rows: list[dict[str, str]], dest: Path, downloads: Path) -> None:
    """Write the slices of one source that are not there yet (the first error stops it). Volumes are read once for
    all their slices."""
    from io import BytesIO

    from PIL import Image

    from . import nifti

    todo = [r for r in rows if not (dest / r["path"]).is_file()]
    volumes: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in todo:
        if row["origin"].endswith((".nii", ".nii.gz")):
            volumes.setdefault((row["repo"], row["commit"], row["origin"]), []).append(row)
            continue
        local = _cached(row, downloads)
        try:
            im = Image.open(BytesIO(local.read_bytes()))
            im.load()
        except OSError as e:  # PIL's "cannot identify image file", truncated files
            local.unlink()  # a bad download must not stay cached: the next run fetches it again
            raise DataError(f"{row['origin']}: not an image ({e})") from None
        nifti.write_jpeg(im, dest / row["path"])
    for slices in volumes.values():
        local = _cached(slices[0], downloads)
        try:
            volume = nifti.load(local)
        except DataError:
            local.unlink()
            raise
        for row in slices:
            plane, index = slice_from_name(row["path"])
            if plane != row["plane"]:
                raise DataError(f"{row['path']}: file name says {plane}, index.csv says {row['plane']}")
            nifti.write_jpeg(nifti.slice_of(volume, plane, index), dest / row["path"])


def fetch_healthy_extra(dest: str | Path | None = None, manifest: str | Path | None = None,
                        downloads: str | Path | None = None) -> tuple[Path, dict[str, str]]:
    """Make `dest` (data/raw/healthy-extra) hold the slices listed in `manifest`, laid out as its `path` column says,
    plus an index.csv for the files that are there. Resumable: files already there are kept and not downloaded.
    Returns (dest, {source: one-line error}) - a failing source stops at its first error; the others go on."""
    import csv

    dest = Path(dest or config.RAW_DIR / HEALTHY_EXTRA)
    downloads = Path(downloads or config.RAW_DIR / ".downloads")
    # The manifest names some paths twice (longitudinal open-ms slices whose names lack the sequence): the later
    # row's image is the one in the reference copy, so the later row wins here too.
    rows = list({r["path"]: r for r in read_manifest(manifest or HEALTHY_EXTRA_MANIFEST)}.values())
    by_source: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    failed = {}
    for source, source_rows in by_source.items():
        try:
            _write_source(source_rows, dest, downloads)
        except DataError as e:
            failed[source] = str(e).splitlines()[0]
    present = [r for r in rows if (dest / r["path"]).is_file()]
    if present:
        dest.mkdir(parents=True, exist_ok=True)
        tmp = dest / "index.csv.partial"
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(present)
        tmp.replace(dest / "index.csv")
    return dest, failed


def _cli_fetch_healthy_extra() -> int:
    """Fetch healthy-extra for `fetch --all`: one line per failing source; the number of failures."""
    try:
        root, failed = fetch_healthy_extra()
    except DataError as e:
        print(f"error: {HEALTHY_EXTRA}: {e}", file=sys.stderr)
        return 1
    for source, msg in failed.items():
        print(f"error: {HEALTHY_EXTRA}/{source}: {msg}", file=sys.stderr)
    n = len(read_manifest(root / "index.csv")) if (root / "index.csv").is_file() else 0
    if n:
        print(f"{HEALTHY_EXTRA} ready at data/raw/{root.name} ({n:,} images"
              + (f", {len(failed)} source(s) incomplete)" if failed else ")"))
    return len(failed)


def cli_fetch(args) -> int:
    if getattr(args, "all", False):
        from .collections import COLLECTIONS, list_collection

        failed = 0
        for name in COLLECTIONS:
            if name == HEALTHY_EXTRA:  # not on Kaggle: fetched from GitHub below
                continue
            try:
                root = fetch_collection(name)
                print(f"{name} ready at data/raw/{root.name} ({len(list_collection(name, root)):,} images)")
            except DataError as e:
                failed += 1
                print(f"error: {e}", file=sys.stderr)
        failed += _cli_fetch_healthy_extra()
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
