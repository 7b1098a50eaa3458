"""Tumour outlines of Br35H (annotations_all.json, VGG Image Annotator format): the one reader of that file.

Outlines are drawn in the file's own pixels, then carried through `prepare`'s geometry (head crop, centred square
pad, resize) so they sit on the prepared model input.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .. import config
from .prepare import head_bbox, pad_square

OUTLINES_FILE = "annotations_all.json"


def read_outlines(path: str | Path) -> dict[str, list[dict]]:
    """file name -> list of shape_attributes dicts (polygon, ellipse, circle). VIA keeps regions as a list or as
    a dict keyed by index; both are accepted. Unknown shapes are skipped (their files keep the others)."""
    raw = json.loads(Path(path).read_text())
    out: dict[str, list[dict]] = {}
    for entry in raw.values():
        regions = entry.get("regions") or []
        if isinstance(regions, dict):
            regions = list(regions.values())
        shapes = [r["shape_attributes"] for r in regions if r.get("shape_attributes", {}).get("name")
                  in ("polygon", "ellipse", "circle")]
        if shapes:
            out.setdefault(entry["filename"], []).extend(shapes)
    return out


def outline_mask(shapes: list[dict], height: int, width: int) -> np.ndarray:
    """Boolean (height, width) mask: the union of the shapes, in the file's pixel coordinates."""
    im = Image.new("L", (width, height), 0)
    d = ImageDraw.Draw(im)
    for s in shapes:
        if s["name"] == "polygon":
            pts = list(zip(s["all_points_x"], s["all_points_y"]))
            if len(pts) >= 3:
                d.polygon(pts, fill=1)
        elif s["name"] == "circle":
            cx, cy, r = s["cx"], s["cy"], s["r"]
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
        elif s["name"] == "ellipse":
            cx, cy, rx, ry = s["cx"], s["cy"], s["rx"], s["ry"]
            th = float(s.get("theta", 0.0))
            t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
            xs = cx + rx * np.cos(t) * np.cos(th) - ry * np.sin(t) * np.sin(th)
            ys = cy + rx * np.cos(t) * np.sin(th) + ry * np.sin(t) * np.cos(th)
            d.polygon(list(zip(xs, ys)), fill=1)
    return np.asarray(im, dtype=bool)


def prepared_mask(gray: np.ndarray, mask: np.ndarray, size: int = config.IMG_SIZE) -> np.ndarray:
    """The mask carried through prepare's geometry (head crop, centred square pad, resize) for the image `gray`."""
    box = head_bbox(gray)
    m = mask
    if box is not None and (box[1] - box[0]) >= 8 and (box[3] - box[2]) >= 8:
        m = mask[box[0]:box[1], box[2]:box[3]]
    sq = pad_square(m.astype(np.uint8) * 255)
    return np.asarray(Image.fromarray(sq).resize((size, size), Image.Resampling.BILINEAR)) >= 128


def union_masks(table, roots: dict, size: int = config.IMG_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(row positions in the union table, prepared masks) of the Br35H yes/ files that have an outline. Empty when
    Br35H or its outlines file is absent. Cached under the cache folder by the files' md5s."""
    import hashlib

    from .decode import decode

    f = roots.get("br35h") and roots["br35h"] / OUTLINES_FILE
    if not f or not f.is_file():
        return np.zeros(0, int), np.zeros((0, size, size), bool)
    outlines = read_outlines(f)
    rows = table[(table["collection"] == "br35h") & table["path"].str.startswith("yes/")
                 & table["path"].str[4:].isin(outlines)]
    key = hashlib.sha256(("\n".join(rows["md5"]) + f"|{size}").encode()).hexdigest()[:16]
    cache = config.cache_dir() / f"outline-masks-{key}.npy"
    if cache.is_file():
        return rows.index.to_numpy(), np.load(cache)
    masks = []
    for p in rows["path"]:
        g = decode(roots["br35h"] / p).gray
        masks.append(prepared_mask(g, outline_mask(outlines[p[4:]], *g.shape), size))
    masks = np.stack(masks) if masks else np.zeros((0, size, size), bool)
    np.save(cache, masks)
    return rows.index.to_numpy(), masks
