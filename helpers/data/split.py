"""Leak-free split: pool Training+Testing, keep every twin group (helpers.data.audit) inside one split.

Groups are assigned whole, stratified by the group's majority label, to ~70/15/15 train/val/test with a fixed
seed. Groups that hold more than one label (the same picture filed under two classes) go to train: their
label is unreliable, and a test set must not grade a model on a coin flip.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config

SPLIT_COLUMNS = ["path", "label", "split", "group"]
FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
_SPLIT_VERSION = 1


def split_sha256(df: pd.DataFrame) -> str:
    """Hash of the split's content (columns path,label,split,group in path order): identifies it in model JSONs."""
    d = df[SPLIT_COLUMNS].sort_values("path")
    return hashlib.sha256(d.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def _majority_labels(rows: pd.DataFrame) -> pd.DataFrame:
    """Per group: size, majority label (ties -> alphabetical), whether labels conflict."""
    agg = rows.groupby("group")["label"].agg(
        size="size",
        label=lambda s: s.value_counts().sort_index(kind="stable").idxmax(),
        conflict=lambda s: s.nunique() > 1,
    )
    return agg.reset_index()


def make_leakfree_split(manifest: pd.DataFrame, groups, seed: int = config.SEED,
                        fractions: dict | None = None) -> pd.DataFrame:
    """DataFrame[path,label,split,group] of the readable files, sorted by path; unreadable files are left out
    (listed in .attrs["excluded"]).

    For each majority label, its groups are shuffled (seeded) and dealt greedily: a group goes to the split whose
    image count is furthest below its target, so per-class proportions land close to `fractions` even with
    groups of tens of files.
    """
    fr = fractions or FRACTIONS
    m = manifest.reset_index(drop=True)
    g = pd.Series(groups, index=m["path"]) if not isinstance(groups, pd.Series) else groups
    rows = pd.DataFrame({"path": m["path"], "label": m["label"], "group": g.reindex(m["path"]).to_numpy(),
                         "error": m["error"]})
    if rows["group"].isna().any():
        raise ValueError("group ids missing for some manifest paths")
    excluded = rows.loc[rows["error"] != "", ["path", "error"]]
    rows = rows[rows["error"] == ""].drop(columns="error")
    rows["group"] = rows["group"].astype("int64")

    gi = _majority_labels(rows)
    rng = np.random.default_rng(seed)
    assign: dict[int, str] = {int(x): "train" for x in gi.loc[gi["conflict"], "group"]}
    names = list(fr)
    for label in sorted(gi["label"].unique()):
        sub = gi[(gi["label"] == label) & ~gi["conflict"]]
        order = rng.permutation(len(sub))
        total = int(sub["size"].sum()) + int(gi.loc[gi["conflict"] & (gi["label"] == label), "size"].sum())
        target = {s: fr[s] * total for s in names}
        have = {s: 0.0 for s in names}
        have["train"] = float(gi.loc[gi["conflict"] & (gi["label"] == label), "size"].sum())
        for k in order:
            grp, size = int(sub["group"].iloc[k]), int(sub["size"].iloc[k])
            # the split with the largest remaining deficit (relative to its target) takes the group
            s = max(names, key=lambda n: (target[n] - have[n]) / max(target[n], 1e-9))
            assign[grp] = s
            have[s] += size
    rows["split"] = rows["group"].map(assign)
    out = rows[SPLIT_COLUMNS].sort_values("path", ignore_index=True)
    out.attrs["excluded"] = excluded.to_dict("records")
    return out


def official_split(manifest: pd.DataFrame, groups=None) -> pd.DataFrame:
    """The dataset's own Training->train / Testing->test split, same columns (group filled when given)."""
    m = manifest[manifest["error"] == ""].reset_index(drop=True)
    if groups is None:
        grp = np.full(len(m), -1, dtype=np.int64)
    else:
        g = pd.Series(groups, index=manifest["path"].to_numpy()) if not isinstance(groups, pd.Series) else groups
        grp = g.reindex(m["path"]).to_numpy().astype(np.int64)
    out = pd.DataFrame({"path": m["path"], "label": m["label"], "split": m["official_split"], "group": grp})
    return out[SPLIT_COLUMNS].sort_values("path", ignore_index=True)


def read_split_csv(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"path": str, "label": str, "split": str, "group": "int64"}, keep_default_na=False)
    missing = set(SPLIT_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    return df[SPLIT_COLUMNS]


def write_split_csv(df: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df[SPLIT_COLUMNS].sort_values("path").to_csv(path, index=False, lineterminator="\n")
    return path


def counts_table(df: pd.DataFrame) -> pd.DataFrame:
    """split x label image counts with totals (rows train/val/test)."""
    t = pd.crosstab(df["split"], df["label"], margins=True, margins_name="total")
    order = [s for s in ("train", "val", "test", "total") if s in t.index]
    return t.loc[order]


def compute_splits(data_dir: str | Path, seed: int = config.SEED, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(leakfree, official, info) computed from the data itself."""
    from . import audit as audit_mod
    from .layouts import build_manifest

    m = build_manifest(data_dir, progress=progress)
    c = audit_mod.compute(m, data_dir, progress=progress)
    groups = pd.Series(c["groups"], index=m["path"].to_numpy())
    lf = make_leakfree_split(m, groups, seed=seed)
    off = official_split(m, groups)
    info = {"layout": m.attrs.get("layout"), "excluded": lf.attrs.get("excluded", []),
            "manifest_key": m.attrs.get("key"), "summary": audit_mod.summarise(c)}
    return lf, off, info


def _committed_matches(csv: Path, root: Path) -> bool:
    """The committed CSV describes this folder iff it lists exactly the folder's image files."""
    from ..errors import DataError
    from .layouts import list_image_files

    if not csv.is_file() or (root / "SYNTHETIC.txt").exists():  # phantoms never use the real data's split
        return False
    try:
        files = {p for p, _, _ in list_image_files(root)}
    except DataError:
        return False
    df = read_split_csv(csv)
    return set(df["path"]) == files and len(df) == len(files)


def load_split(kind: str = "leakfree", data_dir: str | Path | None = None, allow_synthetic: bool = False,
               seed: int = config.SEED, progress: bool = False) -> pd.DataFrame:
    """The split table for `data_dir`: the committed CSV when it matches the folder (the real Kaggle data),
    otherwise computed from the folder and cached under config.cache_dir()."""
    from .layouts import build_manifest, resolve_data_dir

    if kind not in ("leakfree", "official"):
        raise ValueError(f"unknown split kind {kind!r}: use 'leakfree' or 'official'")
    root = resolve_data_dir(data_dir, allow_synthetic=allow_synthetic)
    committed = config.LEAKFREE_SPLIT if kind == "leakfree" else config.OFFICIAL_SPLIT
    if seed == config.SEED and _committed_matches(committed, root):
        df = read_split_csv(committed)
        df.attrs.update(source=str(committed), sha256=split_sha256(df))
        return df
    m = build_manifest(root, progress=progress)
    cache = config.cache_dir() / f"split-{kind}-{m.attrs['key']}-s{seed}-v{_SPLIT_VERSION}.csv"
    if cache.is_file():
        try:
            df = read_split_csv(cache)
            df.attrs.update(source=str(cache), sha256=split_sha256(df))
            return df
        except Exception:  # noqa: BLE001 - recompute a damaged cache
            pass
    lf, off, _ = compute_splits(root, seed=seed, progress=progress)
    df = lf if kind == "leakfree" else off
    try:
        write_split_csv(df, cache)
    except OSError:
        pass
    df.attrs.update(source="computed", sha256=split_sha256(df))
    return df


def cli_split(args) -> int:
    from ..errors import DataError
    from .layouts import resolve_data_dir

    try:
        root = resolve_data_dir(getattr(args, "data_dir", None))
        lf, off, info = compute_splits(root, seed=getattr(args, "seed", config.SEED), progress=True)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out_dir = Path(getattr(args, "out_dir", None) or config.SPLITS_DIR)
    p1 = write_split_csv(lf, out_dir / "leakfree.csv")
    p2 = write_split_csv(off, out_dir / "official.csv")
    s = info["summary"]
    rel = [os.path.relpath(x) if not os.path.relpath(x).startswith("..") else str(x) for x in (p1, p2)]
    print(f"wrote {rel[0]} ({len(lf):,} rows, split_sha256 {split_sha256(lf)[:12]}) and {rel[1]} ({len(off):,} rows)")
    print(f"{lf['group'].nunique():,} groups; {s['n_label_conflicts']} label-conflict groups "
          f"({sum(len(g) for g in s['label_conflicts'])} files) placed in train")
    if info["excluded"]:
        print(f"{len(info['excluded'])} unreadable files excluded:")
        for r in info["excluded"]:
            print(f"  {r['path']}: {r['error']}")
    else:
        print("unreadable files excluded: none")
    print("\nleak-free split (images, split x class):")
    print(counts_table(lf).to_string())
    g_counts = lf.groupby("split")["group"].nunique()
    print("groups per split: " + ", ".join(f"{k}={g_counts.get(k, 0):,}" for k in ("train", "val", "test")))
    print("\nofficial split (images, split x class):")
    print(counts_table(off).to_string())
    return 0


def train_val_rows(split, seed: int):
    """(train rows, val rows) of a split table. The official split has no validation part: a grouped tenth of its
    train rows (seeded) is held out. Training, calibration and evaluation all take val from here."""
    tr, va = split[split["split"] == "train"], split[split["split"] == "val"]
    if va.empty:
        groups = tr["group"].unique()
        held = set(np.random.default_rng(seed).choice(groups, size=max(1, len(groups) // 10), replace=False))
        va, tr = tr[tr["group"].isin(held)], tr[~tr["group"].isin(held)]
    return tr, va
