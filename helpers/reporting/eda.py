"""Data summaries for the exploratory analysis (notebook 02) and the background counts (notebook 01).

Everything here reads the manifest (helpers.data.layouts), the split tables (helpers.data.split), the audit's cached thumbnails
(helpers.data.audit) or prepared arrays (helpers.data.prepare): no TensorFlow, so the EDA notebook starts fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import config

SPLIT_ORDER = ("train", "val", "test")


def counts(df: pd.DataFrame, split_col: str = "split") -> pd.DataFrame:
    """split x class image counts with totals; works on a split table (column `split`) or a manifest
    (split_col="official_split", where Training -> train and Testing -> test)."""
    t = pd.crosstab(df[split_col], df["label"], margins=True, margins_name="total")
    t.index.name, t.columns.name = "split", "class"
    cols = [c for c in config.CLASSES if c in t.columns] + [c for c in t.columns if c not in config.CLASSES]
    rows = [s for s in (*SPLIT_ORDER, "none", "total") if s in t.index]
    return t.loc[rows, cols]


def class_shares(table: pd.DataFrame) -> pd.DataFrame:
    """Row-wise class shares of a counts() table (the 'total' column dropped), e.g. to check stratification."""
    t = table.drop(columns="total", errors="ignore")
    return t.div(t.sum(axis=1), axis=0).round(3)


def subsample(df: pd.DataFrame, n_per_class: int, seed: int = config.SEED, by: str | Sequence[str] = "label") -> pd.DataFrame:
    """At most `n_per_class` rows per value of `by` (seeded), in the original row order."""
    keys = [by] if isinstance(by, str) else list(by)
    picked = df.groupby(keys, group_keys=False).apply(
        lambda g: g.sample(n=min(len(g), n_per_class), random_state=seed), include_groups=False)
    return df.loc[sorted(picked.index)] if len(picked) else df.iloc[:0]


# ------------------------------------------------------------------------------------------------ raw images
def load_gray(root: str | Path, rel_path: str) -> np.ndarray:
    """The decoded grayscale image (H, W) uint8 of one dataset file, at its own resolution."""
    from ..data.decode import decode

    return decode(Path(root) / rel_path).gray


def sample_images(manifest: pd.DataFrame, root: str | Path, n_per_class: int = 6, seed: int = config.SEED
                  ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[str]]]:
    """({label: [raw grayscale images]}, {label: ['WxH mode' captions]}) for a seeded sample of readable files."""
    ok = manifest[manifest["error"] == ""]
    imgs: dict[str, list[np.ndarray]] = {}
    caps: dict[str, list[str]] = {}
    for lab in config.CLASSES:
        sub = ok[ok["label"] == lab]
        if sub.empty:
            continue
        rows = sub.sample(n=min(n_per_class, len(sub)), random_state=seed)
        imgs[lab] = [load_gray(root, p) for p in rows["path"]]
        caps[lab] = [f"{w}×{h} {m}" for w, h, m in zip(rows["width"], rows["height"], rows["mode"])]
    return imgs, caps


# ------------------------------------------------------------------------------------------------ prepared arrays
def mean_images(X: np.ndarray, y: np.ndarray, classes: Sequence[str] = config.CLASSES) -> dict[str, np.ndarray]:
    """Mean prepared image (float32, S x S) of each class present in y."""
    return {c: X[y == k].mean(axis=0, dtype=np.float64).astype(np.float32)
            for k, c in enumerate(classes) if (y == k).any()}


def mean_image_distances(means: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Mean absolute grey-level difference between every two class-mean images (a symmetric table)."""
    labs = list(means)
    d = [[float(np.abs(means[a].astype(float) - means[b]).mean()) for b in labs] for a in labs]
    return pd.DataFrame(d, index=labs, columns=labs).round(2)


def intensity_histograms(X: np.ndarray, y: np.ndarray, bins: int = 64, min_level: int = 0,
                         classes: Sequence[str] = config.CLASSES) -> pd.DataFrame:
    """Per-class grey-level histograms ("pixel density" distributions) as a long table label, intensity, density.

    `min_level` > 0 drops near-black pixels first: background and border, whose amount varies with the scanner's
    field of view rather than with the tissue."""
    edges = np.linspace(0, 256, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    rows = []
    for k, c in enumerate(classes):
        v = X[y == k].ravel()
        v = v[v >= min_level]
        if v.size == 0:
            continue
        h, _ = np.histogram(v, bins=edges)
        rows.append(pd.DataFrame({"label": c, "intensity": centres, "density": h / h.sum()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["label", "intensity", "density"])


def image_stats(X: np.ndarray, y: np.ndarray, dark: int = 10, classes: Sequence[str] = config.CLASSES) -> pd.DataFrame:
    """One row per image: label, mean and std grey level, and the share of near-black pixels (< `dark`)."""
    flat = X.reshape(len(X), -1).astype(np.float32)
    return pd.DataFrame({
        "label": [classes[k] for k in y],
        "mean_intensity": flat.mean(axis=1),
        "std_intensity": flat.std(axis=1),
        "dark_fraction": (flat < dark).mean(axis=1),
    })


def raw_intensity_stats(manifest: pd.DataFrame, thumbs: np.ndarray) -> pd.DataFrame:
    """Per-file mean/std grey level of the *raw* image (borders included), from the audit's 32x32 whole-image
    thumbnails (helpers.data.audit.thumbnails, cached): no decoding needed even for 7,000 files."""
    import warnings

    flat = thumbs.reshape(len(thumbs), -1)
    with warnings.catch_warnings():  # unreadable files have all-NaN thumbnails: NaN stats, no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, std = np.nanmean(flat, axis=1), np.nanstd(flat, axis=1)
    return pd.DataFrame({"path": manifest["path"].to_numpy(), "label": manifest["label"].to_numpy(),
                         "mean_intensity": mean, "std_intensity": std})


def summarise_by_class(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Median (and IQR) per class of per-image columns, e.g. the output of image_stats."""
    g = df.groupby("label")
    out = {}
    for c in cols:
        out[f"{c} median"] = g[c].median()
        out[f"{c} IQR"] = g[c].quantile(0.75) - g[c].quantile(0.25)
    # float64 before rounding: a float32 41.733 prints as 41.733002
    return pd.DataFrame(out).reindex([c for c in config.CLASSES if c in set(df["label"])]).astype("float64").round(3)


# ------------------------------------------------------------------------------------------------ acquisition fingerprint
def _shares(s: pd.Series, top: int = 3) -> str:
    vc = s.value_counts(normalize=True)
    return ", ".join(f"{k} {v:.0%}" for k, v in vc.head(top).items())


def fingerprint_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Per class: how the files were stored rather than what they show — size, shape, colour mode, format and
    file size. If these differ by class, a model can score well by reading the scanner instead of the tumour."""
    m = manifest[manifest["error"] == ""].copy()
    m["size"] = m["width"].astype(str) + "×" + m["height"].astype(str)
    m["aspect"] = m["width"] / m["height"].clip(lower=1)
    g = m.groupby("label")
    t = pd.DataFrame({
        "files": g.size(),
        "distinct sizes": g["size"].nunique(),
        "most common size": g["size"].agg(lambda s: s.value_counts().index[0]),
        "frac_512x512": g.apply(lambda d: ((d["width"] == 512) & (d["height"] == 512)).mean(), include_groups=False),
        "median width": g["width"].median(),
        "median height": g["height"].median(),
        "frac non-square": g["aspect"].apply(lambda a: (np.abs(a - 1) > 0.01).mean()),
        "colour modes": g["mode"].agg(_shares),
        "formats": g["format"].agg(_shares),
        "median kB": g["bytes"].median() / 1024,
    })
    t = t.reindex([c for c in config.CLASSES if c in t.index])
    t.index.name = "class"
    return t.round({"frac_512x512": 3, "frac non-square": 3, "median kB": 1})


def size_distribution(manifest: pd.DataFrame, top: int = 8) -> pd.DataFrame:
    """The most common 'W×H' sizes with their count per class (the long tail summed as 'other')."""
    m = manifest[manifest["error"] == ""]
    size = m["width"].astype(str) + "×" + m["height"].astype(str)
    t = pd.crosstab(size, m["label"])
    t = t.loc[t.sum(axis=1).sort_values(ascending=False).index]
    if len(t) > top:
        t = pd.concat([t.iloc[:top], t.iloc[top:].sum().to_frame("other").T])
    t.index.name = "size"
    return t


def sizes_after(X: np.ndarray) -> pd.Series:
    """Distinct 'W×H' shapes of prepared arrays with counts (one value after preparation: IMG_SIZE square)."""
    return pd.Series([f"{X.shape[2]}×{X.shape[1]}"] * len(X)).value_counts()


def shortcut_demo(gray: np.ndarray, size: int = config.IMG_SIZE,
                  canvases: Sequence[tuple[int, float]] = ((512, 0.16), (230, 0.02))) -> dict:
    """The same picture stored two ways — different pixel size and black border — then prepared.

    Each canvas (side, border fraction) holds the head resized to side*(1-2*border) on a black square. Returns
    {"raw": [arrays], "prepared": [(size, size) arrays], "labels": [...], "mad_raw_thumb": mean |difference| of the
    raw images resized naively to `size`, "mad_prepared": same after helpers.preprocess.prepare}."""
    from PIL import Image

    from ..data.prepare import crop_head, prepare

    head = crop_head(np.asarray(gray, np.uint8))
    raw, labels = [], []
    for side, border in canvases:
        inner = max(8, int(round(side * (1 - 2 * border))))
        h, w = head.shape
        k = inner / max(h, w)
        im = Image.fromarray(head).resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BILINEAR)
        canvas = np.zeros((side, side), np.uint8)
        y0, x0 = (side - im.size[1]) // 2, (side - im.size[0]) // 2
        canvas[y0:y0 + im.size[1], x0:x0 + im.size[0]] = np.asarray(im)
        raw.append(canvas)
        labels.append(f"{side}×{side}, {border:.0%} border")
    naive = [np.asarray(Image.fromarray(r).resize((size, size), Image.Resampling.BILINEAR), np.float32) for r in raw]
    prepared = [prepare(r, size) for r in raw]
    return {"raw": raw, "prepared": prepared, "labels": labels,
            "mad_raw_thumb": float(np.abs(naive[0] - naive[1]).mean()),
            "mad_prepared": float(np.abs(prepared[0].astype(np.float32) - prepared[1]).mean())}


# ------------------------------------------------------------------------------------------------ leak audit
def leak_pair_images(audit_result: Mapping, root: str | Path, per_relation: int = 1, max_pairs: int = 6
                     ) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(image a, image b, caption) for example twin pairs from helpers.audit.audit(...)["pairs"], one per relation
    first (identical, mirror, flip, rotation, contrast ...), so the gallery shows every kind of copy."""
    by_rel: dict[str, list[Mapping]] = {}
    for p in audit_result.get("pairs", []):
        by_rel.setdefault(p["relation"], []).append(p)
    chosen: list[Mapping] = []
    for rel in sorted(by_rel):
        chosen.extend(by_rel[rel][:per_relation])
    out = []
    for p in chosen[:max_pairs]:
        a, b = load_gray(root, p["a"]), load_gray(root, p["b"])
        out.append((a, b, f"{p['relation']} (cos {p['cosine']:.3f})\n{Path(p['a']).name} | {Path(p['b']).name}"))
    return out


def conflict_images(audit_result: Mapping, manifest: pd.DataFrame, root: str | Path, max_groups: int = 4
                    ) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(image a, image b, caption) for label-conflict groups: the same picture filed under two classes."""
    lab = dict(zip(manifest["path"], manifest["label"]))
    out = []
    for group in audit_result.get("label_conflicts", [])[:max_groups]:
        a = group[0]
        b = next((p for p in group[1:] if lab.get(p) != lab.get(a)), group[-1])
        out.append((load_gray(root, a), load_gray(root, b),
                    f"{lab.get(a)} vs {lab.get(b)}\n{Path(a).name} | {Path(b).name}"))
    return out


def cross_split_twins(split_df: pd.DataFrame) -> int:
    """Test images whose twin group also has a train or val image (0 for a leak-free split table)."""
    seen = set(split_df.loc[split_df["split"] != "test", "group"])
    return int(split_df.loc[split_df["split"] == "test", "group"].isin(seen).sum())


def audit_headline(a: Mapping, leakfree: pd.DataFrame | None = None) -> pd.DataFrame:
    """The leak audit's key numbers as a two-column table (what, value); with the leak-free split table, also the
    check that none of its test images has a twin in train/val."""
    ex, nr = a["exact"], a["near"]
    rows = [
        ("image files", a["n_images"]),
        ("distinct pictures (twin groups)", a["n_groups"]),
        ("redundant exact copies (md5)", ex["n_duplicate_files"]),
        ("official-test files byte-identical to a training file", ex["test_in_train"]),
        ("twin pairs (cosine > 0.98 under 8 flips/rotations)", nr["n_pairs"]),
        ("official-test images with a training twin", f"{nr['test_with_train_twin']} of {nr['n_test']}"),
        ("largest twin group", nr["largest_group"]),
        ("label-conflict groups (same picture, two classes)", a["n_label_conflicts"]),
    ]
    if leakfree is not None:
        rows.append(("leak-free test images with a train/val twin", cross_split_twins(leakfree)))
    return pd.DataFrame(rows, columns=["what", "value"]).set_index("what")
