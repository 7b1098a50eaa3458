"""Lesion synthesis from the Br35H outlines: pseudo-tumours pasted into healthy slices, pseudo-healthy slices made
by mirroring the tumour-free hemisphere. Both put the other class's label on a picture in one collection's style, so
"looks like collection X" stops predicting the class; both need only the outlines, never a tumour type.

Runs once on prepared (128-px) images: the synthetic slices join the training set as fixed extra rows.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

MARGIN_PX = 4  # a lesion must stay this far from the midline to mirror the other half over it


def pseudo_healthy(img: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The slice with the lesion's half replaced by the mirror of the other half, or None when the lesion crosses
    the midline (the prepared image is centred on the head, so the centre column approximates the midline)."""
    w = img.shape[1]
    cols = np.flatnonzero(mask.any(axis=0))
    if not len(cols):
        return None
    out = img.copy()
    if cols.max() < w // 2 - MARGIN_PX:
        out[:, : w // 2] = img[:, ::-1][:, : w // 2]
    elif cols.min() >= w // 2 + MARGIN_PX:
        out[:, w // 2:] = img[:, ::-1][:, w // 2:]
    else:
        return None
    return out


def paste_lesion(host: np.ndarray, donor: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """`host` with the donor's outlined lesion pasted at a random place inside the host's head, its grey levels
    rescaled by the ratio of the two heads' mean tissue intensity and its edge feathered. None if it cannot fit."""
    ys, xs = np.nonzero(mask)
    if len(ys) < 12:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    patch = donor[y0:y1, x0:x1].astype(np.float32)
    alpha = ndimage.gaussian_filter(mask[y0:y1, x0:x1].astype(np.float32), 1.2)
    head = ndimage.binary_erosion(host > 25, iterations=6)
    h, w = patch.shape
    cy, cx = np.nonzero(head[: host.shape[0] - h, : host.shape[1] - w])
    if not len(cy):
        return None
    k = rng.integers(len(cy))
    ty, tx = cy[k], cx[k]
    if not head[ty + h // 2, tx + w // 2]:
        return None
    d_tissue = donor[donor > 25].mean() if (donor > 25).any() else 1.0
    h_tissue = host[host > 25].mean()
    patch = patch * (h_tissue / max(d_tissue, 1.0))
    if rng.random() < 0.5:  # either orientation: the donor's side carries no information
        patch, alpha = patch[:, ::-1], alpha[:, ::-1]
    out = host.astype(np.float32)
    region = out[ty:ty + h, tx:tx + w]
    out[ty:ty + h, tx:tx + w] = region * (1 - alpha) + patch * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def synthesise(lesion_imgs: np.ndarray, lesion_masks: np.ndarray, healthy_imgs: np.ndarray, n_paste: int,
               seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """(images, labels): every lesion image's pseudo-healthy mirror where one exists ("notumor"), and `n_paste`
    pseudo-tumours in randomly drawn healthy slices ("tumour")."""
    rng = np.random.default_rng(seed)
    out, labels = [], []
    for img, m in zip(lesion_imgs, lesion_masks):
        ph = pseudo_healthy(img, m)
        if ph is not None:
            out.append(ph)
            labels.append("notumor")
    tries = 0
    while sum(lbl == "tumour" for lbl in labels) < n_paste and tries < 5 * n_paste:
        tries += 1
        i, j = rng.integers(len(lesion_imgs)), rng.integers(len(healthy_imgs))
        pasted = paste_lesion(healthy_imgs[j], lesion_imgs[i], lesion_masks[i], rng)
        if pasted is not None:
            out.append(pasted)
            labels.append("tumour")
    return (np.stack(out) if out else np.zeros((0,) + healthy_imgs.shape[1:], np.uint8)), labels



# ------------------------------------------------------------------------------------------ procedural lesions
# Batch 12 (experiments/batch12_procedural_lesions/PLAN.md). With a collection held out, its tumours' look can be one
# that training only ever showed as healthy: Br35H's bright T2/FLAIR masses, missed at P(tumour) ~0.05 when only
# healthy-extra carried T2/FLAIR. Lesions drawn from no collection, put into healthy slices of every look (sequence,
# plane, level, with and without skull), make every look carry both labels. Kinds, as real masses show them:
LESION_KINDS = {"bright": 0.45,  # T2/FLAIR-hyperintense mass, often with an oedema halo
                "dark": 0.30,    # dark on non-contrast T1, cystic; sometimes a thin bright rim
                "ring": 0.25}    # rim enhancement around a darker (necrotic) core, as on T1 with contrast
MIN_BRAIN_PX = 600  # a slice with less brain than this at 128 px (a vertex cap, a blank frame) gets no lesion


def _brain(host: np.ndarray) -> np.ndarray:
    from ..data.brain_only import head_mask

    m = head_mask(host)
    return ndimage.binary_erosion(m, iterations=6) if m.any() else m


def procedural_lesion(host: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """`host` (uint8, S x S) with one synthetic mass inside its brain, or None when the slice holds too little
    brain. Shape: a radial falloff deformed by smoothed noise (irregular, one piece); grey levels from the host's
    own brain percentiles, so the lesion is bright or dark *for that sequence*; edges feathered."""
    brain = _brain(host)
    area = int(brain.sum())
    if area < MIN_BRAIN_PX:
        return None
    R = np.sqrt(area / np.pi)
    r = float(rng.uniform(0.14, 0.38) * R)
    depth = ndimage.distance_transform_edt(brain)
    cy, cx = np.nonzero(depth >= max(2.0, 0.6 * r))
    if not len(cy):
        return None
    k = rng.integers(len(cy))
    s = host.shape[0]
    yy, xx = np.mgrid[:s, :s]
    d = np.hypot((yy - cy[k]) / rng.uniform(0.7, 1.3), (xx - cx[k]) / rng.uniform(0.7, 1.3)) / r
    noise = ndimage.gaussian_filter(rng.standard_normal((s, s)), max(1.0, r / 3))
    noise /= noise.std() + 1e-6
    mask = ((1 - d ** 2 + 0.35 * noise) > 0) & brain
    lab, n = ndimage.label(mask)
    if n == 0:
        return None
    if n > 1:  # keep the piece at the centre (or the largest)
        sizes = ndimage.sum(mask, lab, index=np.arange(1, n + 1))
        mask = lab == (1 + int(np.argmax(sizes)))
    if mask.sum() < 12:
        return None
    tissue = host[brain].astype(np.float32)
    q = np.percentile(tissue, [3, 15, 40, 60, 92, 99.5])
    texture = 1 + 0.08 * ndimage.gaussian_filter(rng.standard_normal((s, s)), 1.0) / 0.28
    kind = rng.choice(list(LESION_KINDS), p=list(LESION_KINDS.values()))
    out = host.astype(np.float32)
    if kind == "bright":
        level = rng.uniform(q[4], q[5]) * rng.uniform(1.0, 1.15)
        if rng.random() < 0.5:  # oedema: a softer brightening around the mass
            halo = ndimage.binary_dilation(mask, iterations=int(rng.integers(2, max(3, int(r // 2)) + 1))) & brain
            a = ndimage.gaussian_filter(halo.astype(np.float32), 2.0) * rng.uniform(0.3, 0.6)
            out = out * (1 - a) + q[4] * a
        lesion = np.full_like(out, level)
    elif kind == "dark":
        lesion = np.full_like(out, rng.uniform(q[0], q[1]))
        if rng.random() < 0.5:
            rim = mask & ~ndimage.binary_erosion(mask, iterations=int(rng.integers(1, 3)))
            lesion = np.where(rim, rng.uniform(q[3], q[5]), lesion)
    else:
        rim = mask & ~ndimage.binary_erosion(mask, iterations=int(rng.integers(2, 4)))
        lesion = np.where(rim, rng.uniform(q[4], q[5]) * rng.uniform(1.0, 1.2), rng.uniform(q[0], q[2]))
    alpha = ndimage.gaussian_filter(mask.astype(np.float32), rng.uniform(0.6, 1.5))
    out = out * (1 - alpha) + lesion * texture * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def procedural_many(hosts: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(synthetic slices, index of each one's host) for every host that holds enough brain."""
    rng = np.random.default_rng(seed)
    out, idx = [], []
    for i, h in enumerate(hosts):
        x = procedural_lesion(h, rng)
        if x is not None:
            out.append(x)
            idx.append(i)
    shape = (0,) + tuple(hosts.shape[1:])
    return (np.stack(out) if out else np.zeros(shape, np.uint8)), np.asarray(idx, int)


def small_spots(host: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """`host` with 3-10 small bright spots (radius 1.5-4 px at 128 px) inside its brain, the look of
    multiple-sclerosis plaques or small vessel disease on T2/FLAIR: tumour-free findings. Batch 14 gives them the
    healthy label beside the procedural masses, so "a synthetic bright spot" is no cue and size is."""
    brain = _brain(host)
    if int(brain.sum()) < MIN_BRAIN_PX:
        return None
    tissue = host[brain].astype(np.float32)
    hi = np.percentile(tissue, [92, 99.5])
    inner = ndimage.binary_erosion(brain, iterations=4)
    cy, cx = np.nonzero(inner)
    if not len(cy):
        return None
    s = host.shape[0]
    yy, xx = np.mgrid[:s, :s]
    out = host.astype(np.float32)
    for _ in range(int(rng.integers(3, 11))):
        k = rng.integers(len(cy))
        r = rng.uniform(1.5, 4.0)
        d = np.hypot((yy - cy[k]) / rng.uniform(0.6, 1.4), (xx - cx[k]) / rng.uniform(0.6, 1.4))
        alpha = np.clip(1.5 - d / r, 0, 1) * inner
        out = out * (1 - alpha) + rng.uniform(hi[0], hi[1]) * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
