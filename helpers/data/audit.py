"""Leak audit: exact copies (md5) and near-copies under the 8 flips/rotations of the square and contrast changes.

Twin criterion (the project's minimum): two images are twins when the cosine similarity of their zero-mean
32x32 grayscale thumbnails exceeds 0.98 under any of the 8 dihedral transforms. Zero-mean cosine is invariant
to linear brightness/contrast changes, so re-contrasted copies are caught by the identity transform.
Groups are the connected components of (exact ∪ near) edges; a group never straddles a split.

Two additions, both of which only add edges: the split groups at cosine > THRESHOLD - MARGIN (see MARGIN), and
the same test is run on thumbnails of the head's bounding box (copies re-cropped or padded differently).
The audit's headline numbers (near.*) are those of the bare criterion; split_groups.* are the split's.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .. import config

THUMB = 32
THRESHOLD = 0.98
# The split groups at THRESHOLD - MARGIN: 0.98 sits inside a continuum (adjacent slices of one scan reach 0.979),
# so a thumbnail computed slightly differently (resampling, JPEG decoder) could otherwise lift a cross-split
# pair over 0.98. Extra edges are allowed by the criterion, never fewer.
MARGIN = 0.005
_THUMB_VERSION = 5

# The 8 symmetries of the square as functions on an (..., H, W) array. Names say what was done to the *second* image.
TRANSFORMS: dict[str, callable] = {
    "identity": lambda a: a,
    "mirror_lr": lambda a: a[..., :, ::-1],
    "flip_ud": lambda a: a[..., ::-1, :],
    "rot180": lambda a: a[..., ::-1, ::-1],
    "transpose": lambda a: np.swapaxes(a, -1, -2),
    "rot90": lambda a: np.swapaxes(a, -1, -2)[..., ::-1, :],  # counter-clockwise, as np.rot90
    "rot270": lambda a: np.swapaxes(a, -1, -2)[..., :, ::-1],
    "anti_transpose": lambda a: np.swapaxes(a, -1, -2)[..., ::-1, ::-1],
}


# ----------------------------------------------------------------------------------------------- thumbnails
def _to_gray(im: Image.Image) -> Image.Image:
    """8-bit grayscale Pillow image (luma for colour; alpha composited on black; 16-bit/float rescaled)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float32)
        lo, hi = np.percentile(a, [0.5, 99.5])
        return Image.fromarray(np.clip((a - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "P", "PA"):
        im = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, (0, 0, 0, 255)), im)  # MRI backgrounds are black
    return im.convert("L")


def head_box(g: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) bounding box of the head: pixels of a lightly blurred image above 10% of its maximum."""
    from PIL import ImageFilter

    b = np.asarray(Image.fromarray(np.clip(g, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1)), dtype=np.float32)
    ys, xs = np.nonzero(b > max(float(b.max()) * 0.1, 10.0))
    if len(ys) < 16:  # blank or nearly blank: keep the whole frame
        return 0, g.shape[0], 0, g.shape[1]
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def thumbnails_from_bytes(data: bytes, size: int = THUMB) -> tuple[np.ndarray, np.ndarray]:
    """Two (size, size) float32 grayscale thumbnails (0..255 levels): of the whole image, and of the head's
    bounding box. The second catches copies that were re-cropped or padded differently (borders shift the first).

    Full-resolution decode + exact area averaging (BOX): JPEG's reduced-scale "draft" decoding is faster but
    shifts the thumbnails of heavily sharpened copies by a few hundredths of cosine, enough to miss twins.
    """
    im = Image.open(io.BytesIO(data))
    if im.size[0] * im.size[1] > config.MAX_IMAGE_PIXELS:
        raise ValueError("image too large")
    gray = _to_gray(im)
    whole = np.asarray(gray.resize((size, size), Image.BOX), dtype=np.float32)
    # Find the head on a ~128 px copy (fast), then crop the full-resolution image.
    f = max(1, min(gray.size) // (size * 4))
    y0, y1, x0, x1 = head_box(np.asarray(gray.reduce(f) if f > 1 else gray))
    box = (x0 * f, y0 * f, min(x1 * f, gray.size[0]), min(y1 * f, gray.size[1]))
    crop = gray.crop(box) if box[2] > box[0] and box[3] > box[1] else gray
    return whole, np.asarray(crop.resize((size, size), Image.BOX), dtype=np.float32)


def normalise(thumbs: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-norm rows (N, size*size): dot products are then cosine similarities."""
    x = thumbs.reshape(len(thumbs), int(np.prod(thumbs.shape[1:]))).astype(np.float32)
    x = x - x.mean(axis=1, keepdims=True)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-6)


def _thumb_key(manifest: pd.DataFrame) -> str:
    h = hashlib.sha256(f"thumb v{_THUMB_VERSION} {THUMB}\n".encode())
    h.update("\n".join(manifest["md5"].astype(str)).encode())
    return h.hexdigest()[:20]


def thumbnails(manifest: pd.DataFrame, root: str | Path | None = None, progress: bool = True,
               which: str = "whole") -> np.ndarray:
    """Raw thumbnails (N, 32, 32) float32 in manifest row order; NaN rows for files with an error.

    which="whole" (the criterion's thumbnail), "crop" (head bounding box) or "both" -> (N, 2, 32, 32).
    Cached as .npy under config.cache_dir() keyed by the files' md5s (content, not names or paths).
    """
    both = _all_thumbnails(manifest, root, progress)
    return {"whole": both[:, 0], "crop": both[:, 1], "both": both}[which]


def _all_thumbnails(manifest: pd.DataFrame, root, progress: bool) -> np.ndarray:
    root = Path(root or manifest.attrs.get("root", "."))
    cache = config.cache_dir() / f"thumbs-{_thumb_key(manifest)}.npy"
    if cache.is_file():
        try:
            arr = np.load(cache)
            if arr.shape == (len(manifest), 2, THUMB, THUMB):
                return arr.astype(np.float32)
        except Exception:  # noqa: BLE001 - rebuild a damaged cache
            pass
    from tqdm.auto import tqdm

    out = np.full((len(manifest), 2, THUMB, THUMB), np.nan, dtype=np.float32)
    for i, (rel, err) in enumerate(tqdm(list(zip(manifest["path"], manifest["error"])), desc="thumbnails",
                                        unit="file", disable=not progress, file=sys.stderr)):
        if err:
            continue
        try:
            out[i] = np.stack(thumbnails_from_bytes((root / rel).read_bytes()))
        except Exception:  # noqa: BLE001 - stays NaN: the file is then only grouped by md5
            pass
    try:
        tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npy")  # per process, as arrays.py
        np.save(tmp, out.astype(np.float16))  # exact: thumbnails hold whole grey levels 0..255 (or NaN)
        tmp.replace(cache)
    except OSError:
        pass
    return out


# ----------------------------------------------------------------------------------------------- similarity
def near_pairs(thumbs: np.ndarray, threshold: float = THRESHOLD, block: int = 1024) -> pd.DataFrame:
    """All pairs i<j whose best cosine over the 8 transforms is > threshold.

    Returns columns i, j, sim, transform (the transform of j that matched best). Blocked matrix products keep
    memory at block x N floats. Since the 8 transforms form a group, (i, g j) for i<j covers (j, g' i) too.
    """
    valid = ~np.isnan(thumbs).any(axis=(1, 2))
    idx = np.flatnonzero(valid)
    n = len(idx)
    base = normalise(thumbs[idx])
    names = list(TRANSFORMS)
    imgs = thumbs[idx]
    transformed = [normalise(np.ascontiguousarray(TRANSFORMS[t](imgs))) for t in names]
    best: dict[tuple[int, int], tuple[float, int]] = {}
    for s in range(0, n, block):
        a = base[s:s + block]
        for k, tb in enumerate(transformed):
            sim = a @ tb[s:].T  # only columns >= s: the upper triangle
            ii, jj = np.nonzero(sim > threshold)
            keep = (ii + s) < (jj + s)
            for i, j, v in zip(ii[keep] + s, jj[keep] + s, sim[ii[keep], jj[keep]]):
                key = (int(i), int(j))
                if key not in best or v > best[key][0]:
                    best[key] = (float(v), k)
    rows = [(int(idx[i]), int(idx[j]), v, names[k]) for (i, j), (v, k) in best.items()]
    return pd.DataFrame(rows, columns=["i", "j", "sim", "transform"]).sort_values(["i", "j"], ignore_index=True)


def max_cross_similarity(a: np.ndarray, b: np.ndarray, block: int = 1024) -> np.ndarray:
    """For each raw thumbnail in `a`, its best cosine to any thumbnail in `b` under the 8 transforms.

    Independent of the grouping code: used by tests to check that no test image has a train/val twin.
    """
    na = normalise(a)
    out = np.full(len(a), -1.0, dtype=np.float32)
    for t in TRANSFORMS.values():
        nb = normalise(np.ascontiguousarray(t(b)))
        for s in range(0, len(na), block):
            out[s:s + block] = np.maximum(out[s:s + block], (na[s:s + block] @ nb.T).max(axis=1))
    return out


def _relation(tr: str, ta: np.ndarray, tb: np.ndarray, same_md5: bool) -> str:
    """Name the relation of a twin pair. A changed mean/spread of grey levels marks a re-contrasted copy."""
    if same_md5:
        return "identical"
    if tr != "identity":
        return tr
    ma, mb = float(np.mean(ta)), float(np.mean(tb))
    sa, sb = float(np.std(ta)), float(np.std(tb))
    if abs(ma - mb) > 4 or abs(sa - sb) > 0.05 * max(sa, sb, 1.0):
        return "contrast"
    return "near_identical"  # same picture re-saved or resized


# ----------------------------------------------------------------------------------------------- grouping
def components(n: int, edges_i: np.ndarray, edges_j: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(len(edges_i), dtype=np.int8), (edges_i, edges_j)), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    # Renumber by first appearance in path order so that ids are stable and readable.
    _, first = np.unique(lab, return_index=True)
    order = np.argsort(np.argsort(first))
    return order[lab]


def _exact_edges(manifest: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    md5 = manifest["md5"].to_numpy()
    ok = md5 != ""
    first = pd.Series(np.arange(len(md5))[ok]).groupby(md5[ok]).transform("min").to_numpy()
    i = np.arange(len(md5))[ok]
    return first, i


def _manifest_of(manifest_or_root, progress: bool) -> pd.DataFrame:
    if isinstance(manifest_or_root, pd.DataFrame):
        return manifest_or_root
    from .layouts import build_manifest

    return build_manifest(manifest_or_root, progress=progress)


def compute(manifest_or_root, root=None, threshold: float = THRESHOLD, margin: float = MARGIN,
            progress: bool = True) -> dict:
    """Everything the audit needs, un-summarised.

    Returns manifest, root, thumbs (whole-image), pairs (all pairs with cosine > threshold - margin),
    groups_strict (components under the criterion: md5 or cosine > threshold) and groups (components with the
    margin: what the split uses, so that a re-implementation of the thumbnails cannot find a cross-split twin).
    """
    m = _manifest_of(manifest_or_root, progress).reset_index(drop=True)
    root = Path(root or m.attrs.get("root", "."))
    both = thumbnails(m, root, progress=progress, which="both")
    th = both[:, 0]
    low = threshold - margin
    cache = config.cache_dir() / f"pairs-v1-{_thumb_key(m)}-{low:g}.csv"
    pairs = None
    if cache.is_file():
        try:
            pairs = pd.read_csv(cache, dtype={"i": "int64", "j": "int64", "sim": "float64", "transform": str, "via": str})
        except Exception:  # noqa: BLE001 - recompute a damaged cache
            pairs = None
    if pairs is None:
        # The criterion (whole-image thumbnails) is the minimum; head-cropped thumbnails only add edges.
        pw = near_pairs(th, low).assign(via="whole")
        pc = near_pairs(both[:, 1], low).assign(via="crop")
        pairs = (pd.concat([pw, pc], ignore_index=True).sort_values(["i", "j", "via"], ascending=[True, True, False])
                 .drop_duplicates(["i", "j"], keep="first").reset_index(drop=True))
        try:
            tmp = cache.with_suffix(".tmp")
            pairs.to_csv(tmp, index=False)
            tmp.replace(cache)
        except OSError:
            pass
    ei, ej = _exact_edges(m)
    strict = pairs[pairs["sim"] > threshold]
    groups = components(len(m), np.concatenate([ei, pairs["i"].to_numpy(int)]),
                         np.concatenate([ej, pairs["j"].to_numpy(int)]))
    groups_strict = components(len(m), np.concatenate([ei, strict["i"].to_numpy(int)]),
                                np.concatenate([ej, strict["j"].to_numpy(int)]))
    return {"manifest": m, "root": root, "thumbs": th, "pairs": pairs, "groups": groups,
            "groups_strict": groups_strict, "threshold": threshold, "margin": margin}


def group_ids(manifest_or_root, root=None, threshold: float = THRESHOLD, margin: float = MARGIN,
              progress: bool = True) -> pd.Series:
    """Group id (int) per path, as used by the split: connected components of exact copies and 8-transform
    near-twins at cosine > threshold - margin (margin=0 gives the bare criterion)."""
    c = compute(manifest_or_root, root, threshold, margin, progress)
    return pd.Series(c["groups"], index=c["manifest"]["path"].to_numpy(), name="group")


def _group_stats(groups: np.ndarray, split: np.ndarray, labels: np.ndarray, paths: np.ndarray) -> dict:
    g = pd.DataFrame({"g": groups, "split": split, "label": labels, "path": paths})
    sizes = g["g"].value_counts()
    has_train = set(g.loc[g["split"] == "train", "g"])
    conflicts = sorted((sorted(sub["path"]) for _, sub in g.groupby("g") if sub["label"].nunique() > 1),
                       key=lambda ps: ps[0])
    return {
        "n_groups": int(len(sizes)),
        "n_groups_multi": int((sizes > 1).sum()),
        "n_files_in_multi": int(sizes[sizes > 1].sum()),
        "largest_group": int(sizes.max()) if len(sizes) else 0,
        "test_with_train_twin": int(g.loc[g["split"] == "test", "g"].isin(has_train).sum()),
        "n_test": int((g["split"] == "test").sum()),
        "label_conflicts": conflicts,
        "group_size_hist": {str(k): int(v) for k, v in sizes.value_counts().sort_index().items()},
    }


def summarise(c: dict, n_examples: int = 3) -> dict:
    m, th, pairs, groups = c["manifest"], c["thumbs"], c["pairs"], c["groups"]
    split = m["official_split"].to_numpy()
    md5 = m["md5"].to_numpy()
    labels = m["label"].to_numpy()
    paths = m["path"].to_numpy()

    # exact copies
    ok = md5 != ""
    md5_counts = Counter(md5[ok])
    dup_groups = {h for h, k in md5_counts.items() if k > 1}
    train_md5 = set(md5[ok & (split == "train")])
    test_in_train = int(sum(1 for h, s in zip(md5, split) if s == "test" and h and h in train_md5))
    exact = {
        "n_duplicate_files": int(sum(md5_counts[h] - 1 for h in dup_groups)),  # files beyond the first copy
        "n_groups": len(dup_groups),
        "n_files_in_groups": int(sum(md5_counts[h] for h in dup_groups)),
        "test_in_train": test_in_train,
        "label_conflicts": int(sum(1 for h in dup_groups if len(set(labels[md5 == h])) > 1)),
    }

    # near twins under the criterion (groups include exact copies)
    strict_pairs = pairs[pairs["sim"] > c["threshold"]]
    st = _group_stats(c["groups_strict"], split, labels, paths)
    rel_counts: Counter = Counter()
    examples: dict[str, list] = {}
    for r in strict_pairs.itertuples(index=False):
        rel = _relation(r.transform, th[r.i], th[r.j], md5[r.i] == md5[r.j] and md5[r.i] != "")
        rel_counts[rel] += 1
        if len(examples.setdefault(rel, [])) < n_examples:
            examples[rel].append({"a": paths[r.i], "b": paths[r.j], "relation": rel, "cosine": round(float(r.sim), 4)})
    near = {
        "threshold": c["threshold"],
        "transforms": list(TRANSFORMS),
        **{k: v for k, v in st.items() if k not in ("label_conflicts", "n_groups")},
        "n_pairs": int(len(strict_pairs)),
        "by_relation": dict(sorted((k, int(v)) for k, v in rel_counts.items())),
        # pairs found on whole-image thumbnails (the criterion) vs only on head-cropped ones (extra edges)
        "by_source": {"whole": int((strict_pairs["via"] == "whole").sum()),
                      "crop_only": int((strict_pairs["via"] == "crop").sum())},
    }
    conflicts = st["label_conflicts"]
    sg = _group_stats(groups, split, labels, paths)
    split_groups = {"threshold": round(c["threshold"] - c["margin"], 6), "margin": c["margin"],
                    **{k: v for k, v in sg.items() if k not in ("label_conflicts", "group_size_hist")},
                    "n_label_conflicts": len(sg["label_conflicts"])}

    formats = {k or "?": int(v) for k, v in m["format"].value_counts().items()}
    ext = m["path"].str.rsplit(".", n=1).str[-1].str.lower().map({"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG"})
    misnamed = m.loc[(m["format"] != "") & ext.notna() & (ext != m["format"]), "path"].tolist()

    per_split = {s: {lab: int(v) for lab, v in sub["label"].value_counts().sort_index().items()}
                 for s, sub in m.groupby("official_split")}

    size_str = m["width"].astype(str) + "x" + m["height"].astype(str)
    shortcut = {}
    for lab, sub in size_str.groupby(m["label"]):
        vc = sub.value_counts()
        shortcut[lab] = {"frac_512x512": round(float((sub == "512x512").mean()), 4),
                         "most_common": vc.index[0], "frac_most_common": round(float(vc.iloc[0] / len(sub)), 4)}

    return {
        "n_images": int(len(m)),
        "n_readable": int((m["error"] == "").sum()),
        "n_groups": st["n_groups"],
        "exact": exact,
        "near": near,
        "split_groups": split_groups,
        "label_conflicts": conflicts,
        "n_label_conflicts": len(conflicts),
        "formats": formats,
        "misnamed_files": misnamed,
        "errors": {p: e for p, e in zip(m["path"], m["error"]) if e},
        "per_split": per_split,
        "n_distinct_sizes": int(size_str.nunique()),
        "size_shortcut": shortcut,
        "pairs": [p for rel in sorted(examples) for p in examples[rel]],
    }


def audit(manifest_or_root, root=None, progress: bool = True) -> dict:
    """JSON-serialisable leak audit of a manifest (or a data folder)."""
    return summarise(compute(manifest_or_root, root, progress=progress))


def format_summary(a: dict) -> str:
    ex, nr = a["exact"], a["near"]
    lines = [
        f"{a['n_images']:,} images ({a['n_readable']:,} readable) in {a['n_groups']:,} distinct pictures (groups)",
        f"exact copies: {ex['n_duplicate_files']:,} redundant files in {ex['n_groups']:,} md5 groups; "
        f"{ex['test_in_train']} test files byte-identical to a training file",
        f"near twins (cosine > {nr['threshold']} under 8 flips/rotations): {nr['n_groups_multi']:,} groups with >1 file, "
        f"largest {nr['largest_group']}; {nr['test_with_train_twin']:,} of {nr['n_test']:,} test images have a training twin",
        "pairs by relation: " + ", ".join(f"{k}={v:,}" for k, v in nr["by_relation"].items()),
        f"grouping used by the split (cosine > {a['split_groups']['threshold']}, a safety margin): "
        f"{a['split_groups']['n_groups']:,} groups, largest {a['split_groups']['largest_group']}; "
        f"{a['split_groups']['test_with_train_twin']:,} official test images grouped with a training image",
        f"label conflicts: {a['n_label_conflicts']} groups hold more than one label",
    ]
    for ps in a["label_conflicts"][:10]:
        lines.append("  " + ", ".join(ps[:6]) + (" ..." if len(ps) > 6 else ""))
    lines.append("formats (from content): " + ", ".join(f"{k}={v:,}" for k, v in a["formats"].items())
                 + (f"; misnamed: {', '.join(a['misnamed_files'][:5])}" if a["misnamed_files"] else ""))
    lines.append(f"{a['n_distinct_sizes']} distinct image sizes; share at 512x512: "
                 + ", ".join(f"{k}={v['frac_512x512']:.0%}" for k, v in a["size_shortcut"].items()))
    if a["errors"]:
        lines.append(f"{len(a['errors'])} unreadable files: " + ", ".join(list(a["errors"])[:10]))
    return "\n".join(lines)


def cli_audit(args) -> int:
    from ..errors import DataError
    from .layouts import resolve_data_dir

    try:
        root = resolve_data_dir(getattr(args, "data_dir", None))
        a = audit(root, progress=True)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    text = json.dumps(a, indent=1)
    if getattr(args, "out", None):
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text if getattr(args, "json", False) else format_summary(a))
    return 0
