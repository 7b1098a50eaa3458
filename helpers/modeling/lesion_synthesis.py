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

