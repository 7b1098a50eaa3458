"""One audit and one grouped split over the union of the collections, and the leave-one-source-out folds.

The union split (data/splits/union.csv: collection, path, label, split, group, source, sources) keeps the Kaggle
set's leak-free split as it is: twin groups are formed over the union with the project's split criterion, and a
group holding a leak-free test picture stays in test (unless it also holds leak-free train/val pictures: then the
majority of its Kaggle pictures decides, and `moved` counts the test pictures that left). Groups with no Kaggle
picture (most of Br35H yes/, part of sartaj-testing) are split ~70/15/15 by group, per label, seeded.

Version 2 (issue 21): groups also join every slice of one subject (healthy-extra's index.csv) and the neighbouring
slices of one scan (whole-image thumbnails above ADJACENT, which the 0.98 twin criterion misses: e.g. Te-gl_0086 /
Tr-gl_0520 at 0.975); the healthy-extra groups are split per source, at least one subject in val and one in test
wherever a source has three or more.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from . import collections as cx

TWIN = 0.975  # the project's split criterion: twin threshold 0.98 minus its 0.005 margin (data/audit.py)
# Patient-level linking: neighbouring slices of one scan reach 0.97-0.975 (whole-image thumbnails, zero-mean cosine
# under the 8 flips/rotations) where unrelated slices of the same plane and level stay below ~0.95.
ADJACENT = 0.96
HEALTHY_EXTRA_SOURCES = ("ixi-t2", "open-ms", "niivue", "ms-flair-iran", "dwi")
FOLDS = ("br35h", "sartaj", "figshare", *HEALTHY_EXTRA_SOURCES)  # sources a leave-one-out fold can hold out
UNION_SPLIT = config.SPLITS_DIR / "union.csv"
UNION_PLANES = config.SPLITS_DIR / "union_planes.csv"  # batch 27: every union slice's plane (collection, path, plane)
COLUMNS = ["collection", "path", "label", "split", "group", "source", "sources"]


@dataclass
class Union:
    table: pd.DataFrame  # one row per file: COLUMNS + md5, width, height, mode, old_split
    thumbs: np.ndarray  # (N, 2, 32, 32) float16: whole-image and head-crop thumbnails
    roots: dict[str, Path]
    moved: int  # leak-free test pictures that left test


def union_split(df: pd.DataFrame, groups: np.ndarray, old_split: pd.DataFrame, seed: int = config.SEED):
    """(split per row, number of old test pictures moved out of test)."""
    old = old_split.set_index("path")["split"]
    kag = (df["collection"] == "brain-tumor-mri").to_numpy()
    olds = pd.Series(np.where(kag, df["path"].map(old).astype(object).fillna("").to_numpy(), ""), index=df.index)
    split = pd.Series("", index=df.index, dtype=object)
    g = pd.Series(groups, index=df.index)
    for _, idx in g.groupby(g).groups.items():
        o = olds[idx]
        o = o[o != ""]
        if len(o):
            split[idx] = o.value_counts().index[0]
    rng = np.random.default_rng(seed)
    free = g[split == ""].unique()
    lab = df.groupby(g)["label"].first()[free]
    manifest = df.get("manifest_source", pd.Series("", index=df.index)).astype(str)
    msrc = manifest.groupby(g).first()[free]
    own = lab[msrc == ""]  # the v1 procedure, unchanged, for groups outside the manifest collections
    for lbl in sorted(own.unique()):
        _cut(np.array(sorted(own[own == lbl].index)), rng, split, g, at_least_one=False)
    rng2 = np.random.default_rng(seed + 1)  # a second stream: the v1 draws above stay what they were
    for src in sorted(set(msrc) - {""}):
        _cut(np.array(sorted(msrc[msrc == src].index)), rng2, split, g, at_least_one=True)
    moved = int(((olds == "test") & (split != "test")).sum())
    return split.to_numpy(), moved


def _cut(gs: np.ndarray, rng, split: pd.Series, g: pd.Series, at_least_one: bool) -> None:
    """Assign groups ~15% test, ~15% val, the rest train (at_least_one: one each when there are three or more)."""
    rng.shuffle(gs)
    n = len(gs)
    a, b = round(0.15 * n), round(0.30 * n)
    if at_least_one and n >= 3:
        a = max(a, 1)
        b = max(b, a + 1)
    for s, gg in {"test": gs[:a], "val": gs[a:b], "train": gs[b:]}.items():
        split[g.isin(gg).to_numpy()] = s


def build(roots: dict[str, Path] | None = None, progress: bool = False) -> Union:
    """The union table with groups, sources and the split. Needs the Kaggle set (its leak-free split anchors the
    rest); the other collections join when they are found. DataError-free: missing collections are just absent."""
    roots = roots or cx.available()
    df, thumbs = cx.union_table(roots, progress=progress)
    blank = np.nan_to_num(thumbs[:, 0].astype(np.float32)).max(axis=(1, 2)) <= 0  # all-black files: no slice to read
    if blank.any():
        df, thumbs = df[~blank].reset_index(drop=True), thumbs[~blank]
    groups = cx.link(df, thumbs, TWIN, adjacent=ADJACENT)
    src, sets = cx.infer_source(df, groups)
    df["group"], df["source"] = groups, src
    df["sources"] = df["group"].map(sets)
    old = pd.read_csv(config.LEAKFREE_SPLIT)
    df["split"], moved = union_split(df, groups, old)
    kag = df["collection"] == "brain-tumor-mri"
    df["old_split"] = df["path"].map(old.set_index("path")["split"]).where(kag, "").fillna("")
    return Union(df, thumbs, roots, moved)


def split_sha256(df: pd.DataFrame) -> str:
    body = df[COLUMNS].sort_values(["collection", "path"]).to_csv(index=False)
    return hashlib.sha256(body.encode()).hexdigest()


def write_union_csv(u: Union, path: Path = UNION_SPLIT) -> Path:
    extra = [c for c in ("plane", "sequence", "skull") if c in u.table]  # healthy-extra's looks, for the report
    out = u.table[COLUMNS + extra].sort_values(["collection", "path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    out.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def plane_tags(table: pd.DataFrame, path: Path | None = None) -> pd.Series:
    """Each row's plane (axial, coronal, sagittal) from `union_planes.csv`, aligned with `table`; a clear error when
    the file is missing or lacks a row (it is written by `experiments/batch27_plane_balance/planes.py`)."""
    from ..errors import DataError

    path = UNION_PLANES if path is None else path
    if not Path(path).is_file():
        raise DataError(f"{Path(path).name} is missing: `python experiments/batch27_plane_balance/planes.py` writes "
                        "every union slice's plane (needs the collections)")
    tags = pd.read_csv(path, keep_default_na=False).set_index(["collection", "path"])["plane"]
    keys = pd.MultiIndex.from_arrays([table["collection"], table["path"]])
    missing = ~keys.isin(tags.index)
    if missing.any():
        raise DataError(f"{Path(path).name} has no plane for {int(missing.sum())} union slices (e.g. "
                        f"{table['path'][missing].iloc[0]}): write it again")
    return pd.Series(tags.loc[keys].to_numpy(), index=table.index, name="plane")


_PLANE_COUNTS: dict = {}


def train_plane_counts(split_csv: Path | None = None, planes_csv: Path | None = None) -> dict | None:
    """{label: {plane: n}} over the union split's training rows (the committed union.csv and union_planes.csv, no
    data needed): what a model trained on the union saw in each plane, for the warnings that quote it. None when a
    file is missing. Read once per process."""
    split_csv, planes_csv = split_csv or UNION_SPLIT, planes_csv or UNION_PLANES
    key = (str(split_csv), str(planes_csv))
    if key not in _PLANE_COUNTS:
        if not (Path(split_csv).is_file() and Path(planes_csv).is_file()):
            return None
        t = pd.read_csv(split_csv, usecols=["collection", "path", "label", "split"], keep_default_na=False)
        t = t[t["split"] == "train"]
        pl = pd.read_csv(planes_csv, usecols=["collection", "path", "plane"], keep_default_na=False)
        m = t.merge(pl, on=["collection", "path"], how="inner")
        _PLANE_COUNTS[key] = {str(lab): {str(k): int(v) for k, v in g["plane"].value_counts().sort_index().items()}
                              for lab, g in m.groupby("label")}
    return _PLANE_COUNTS[key]


def fold_rows(df: pd.DataFrame, fold: str | None, collections: list[str] | None = None, admit: float = 0.0):
    """(train, val, test) rows. fold=S: test = every file whose twin group holds an S picture (whatever its split),
    train/val = the union split's train/val rows of the other groups. fold=None: the union split itself.
    `collections` restricts training and validation to those folders (the old recipe: the Kaggle set only).
    `admit` (batch 50): that share of the fold's first source's groups, per label, moves from test to training."""
    held = held_out(df, fold) if fold else pd.Series(False, index=df.index)
    admitted = admitted_rows(df, fold, admit) if fold and admit else pd.Series(False, index=df.index)
    use = ~held
    if collections:
        use &= df["collection"].isin(collections)
    tr = df[(use & (df["split"] == "train")) | admitted]
    va = df[use & (df["split"] == "val")]
    te = df[held & ~admitted] if fold else df[df["split"] == "test"]
    return tr, va, te


def admitted_rows(df: pd.DataFrame, fold: str, share: float, seed: int = 0) -> pd.Series:
    """Rows of a share of the twin groups that hold the fold's first source, drawn per label (a group's first
    label) with a fixed seed, so that every training seed admits the same groups and is scored on the same rest."""
    mine = held_out(df, fold_sources(fold)[0])
    labels = df[mine].groupby("group")["label"].first()
    tumour = labels != config.NO_TUMOUR
    rng = np.random.default_rng(seed)
    picked = []
    for lab in (True, False):
        groups = np.sort(labels.index[(tumour == lab).to_numpy()].to_numpy())
        picked += list(rng.choice(groups, int(round(share * len(groups))), replace=False))
    return mine & df["group"].isin(picked)


def fold_sources(fold: str) -> list[str]:
    """A fold may hold out several sources at once: "br35h+ixi-t2" holds out both."""
    parts = [f for f in str(fold).split("+") if f]
    unknown = [f for f in parts if f not in FOLDS]
    if unknown:
        raise ValueError(f"unknown fold source {unknown[0]!r}; known: {', '.join(FOLDS)}")
    return parts


def held_out(df: pd.DataFrame, fold: str) -> pd.Series:
    """Rows whose twin group holds a picture of any of the fold's sources (exact names, not substrings)."""
    want = set(fold_sources(fold))
    return df["sources"].astype(str).str.split("+").map(lambda s: bool(want.intersection(s)))


def adjacent_leaks(u: "Union", threshold: float = ADJACENT) -> pd.DataFrame:
    """Test pictures with a train/val picture above `threshold` (whole-image thumbnails): must be empty."""
    from .audit import near_pairs

    pairs = near_pairs(u.thumbs[:, 0].astype(np.float32), threshold)
    sp = u.table["split"].to_numpy()
    i, j = pairs["i"].to_numpy(int), pairs["j"].to_numpy(int)
    bad = ((sp[i] == "test") & (sp[j] != "test")) | ((sp[j] == "test") & (sp[i] != "test"))
    return pairs[bad]


def union_arrays(u: Union, size: int = config.IMG_SIZE) -> np.ndarray:
    """Prepared images (N, size, size) uint8 in table order, cached under the cache folder by the files' md5s."""
    from .prepare import preprocess_many

    df = u.table
    key = hashlib.sha256(("\n".join(df["md5"]) + f"|{size}").encode()).hexdigest()[:16]
    cache = config.cache_dir() / f"union-X-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    X = preprocess_many([str(u.roots[c] / p) for c, p in zip(df["collection"], df["path"])], size)
    tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npy")  # per process: parallel chains build it at once
    np.save(tmp, X)
    tmp.replace(cache)
    return X


def cli_collections(args) -> int:
    """`brain-mri collections [--write]`: which collections are here, the union split's counts and sources."""
    import sys

    found = cx.available()
    for name in cx.COLLECTIONS:
        print(f"{name:16s} {'found' if name in found else cx.missing_message(name)}")
    if "brain-tumor-mri" not in found:
        print("error: the union split is anchored on the Kaggle set's leak-free split: set BRAIN_MRI_DATA",
              file=sys.stderr)
        return 1
    u = build(found, progress=True)
    t = u.table
    print(pd.crosstab([t["collection"], t["label"]], t["split"], margins=True).to_string())
    print(pd.crosstab(t["collection"], t["sources"]).to_string())
    print(f"leak-free test pictures moved out of test by the union grouping: {u.moved}")
    print(f"test pictures with a train/val neighbour above {ADJACENT} (adjacent slices): {len(adjacent_leaks(u))}")
    if getattr(args, "write", False):
        print(f"wrote {write_union_csv(u).relative_to(config.PROJ_ROOT).as_posix()}")
    return 0
