"""Partial labels: a Br35H tumour slice says "a tumour", not which. It trains through P(tumour), never a guessed type.

A label is a mask over the classes it allows (one-hot for a typed label, the three tumour classes for "tumour"); the
loss is minus the log of the allowed classes' summed probability. On one-hot rows that is the cross-entropy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config

TUMOUR = "tumour"  # the label of a tumour slice of unknown type
LABELS = (*config.CLASSES, TUMOUR)
_MASKS = {c: [float(c == k) for k in config.CLASSES] for c in config.CLASSES}
_MASKS[TUMOUR] = [float(k != config.NO_TUMOUR) for k in config.CLASSES]


def label_masks(labels) -> np.ndarray:
    """(N, n_classes) float32: 1 for every class a label allows. Unknown label -> ValueError naming it."""
    try:
        return np.array([_MASKS[lbl] for lbl in labels], dtype=np.float32).reshape(-1, len(config.CLASSES))
    except KeyError as e:
        raise ValueError(f"unknown label {e.args[0]!r}; known: {', '.join(LABELS)}") from None


def partial_label_loss(label_smoothing: float = 0.0):
    """Keras loss (y_true = label masks, y_pred = logits): -log(sum of the allowed classes' probabilities).
    Label smoothing mixes in the mean -log p_k over all classes, exactly as Keras' smoothing of one-hot targets.
    Mixup rows (batch 48) carry two masks and the blend: y_true = [mask, mask', lam], and the loss is
    lam * loss(mask) + (1 - lam) * loss(mask')."""
    from keras import ops

    def one(masks, logits):
        lse = ops.logsumexp(logits, axis=-1)
        nll = lse - ops.logsumexp(ops.where(masks > 0, logits, -1e9), axis=-1)
        if label_smoothing:
            nll = (1 - label_smoothing) * nll + label_smoothing * (lse - ops.mean(logits, axis=-1))
        return nll

    def loss(y_true, logits):
        k = logits.shape[-1]
        if y_true.shape[-1] == 2 * k + 1:
            lam = y_true[:, 2 * k]
            return lam * one(y_true[:, :k], logits) + (1 - lam) * one(y_true[:, k:2 * k], logits)
        return one(y_true, logits)

    loss.__name__ = "partial_label_loss"
    return loss


def partial_nll(logits: np.ndarray, masks: np.ndarray, temperature: float = 1.0) -> float:
    """Mean partial-label NLL of logits scaled by 1/temperature (numpy: for calibration)."""
    from scipy.special import logsumexp

    z = np.asarray(logits, np.float64) / temperature
    return float(np.mean(logsumexp(z, axis=1) - logsumexp(np.where(masks > 0, z, -np.inf), axis=1)))


def fit_temperature(logits: np.ndarray, masks: np.ndarray) -> float:
    """The temperature minimising the partial-label NLL on validation (every row counts, typed or not)."""
    from scipy.optimize import minimize_scalar

    return float(minimize_scalar(lambda t: partial_nll(logits, masks, t), bounds=(0.2, 10.0), method="bounded").x)


def balance_weights(labels, collections, mode: str | None) -> np.ndarray:
    """Per-image loss weights, mean 1, tumour and healthy halves of equal total weight.
    mode "collection": within that, each (collection, tumour?) cell weighs sqrt(its size), so neither a big folder
    drowns a small one nor a 70-image folder is repeated until it is memorised."""
    labels, collections = pd.Series(list(labels)), pd.Series(list(collections))
    tum = (labels != config.NO_TUMOUR).to_numpy()
    if mode == "collection":
        cell = collections.astype(str) + "|" + pd.Series(tum).astype(str)
        w = 1 / np.sqrt(cell.map(cell.value_counts()).to_numpy(float))
    elif mode is None:
        w = np.ones(len(labels))
    else:
        raise ValueError(f"unknown balance {mode!r}; known: collection, none")
    for t in (True, False):
        if (tum == t).any():
            w[tum == t] /= w[tum == t].sum()
    return (w / w.mean()).astype(np.float32)


def plane_balance(w: np.ndarray, tumour: np.ndarray, planes, cap: float) -> np.ndarray:
    """Batch 27: reweight `w` so that tumour and healthy rows carry equal weight inside each plane (each plane keeps
    its total; factors clipped to [1/cap, cap]); then tumour and healthy halves equal again and mean 1. A row whose
    plane is empty keeps its weight."""
    w, tum, planes = np.asarray(w, np.float64).copy(), np.asarray(tumour, bool), np.asarray(list(planes), object)
    for p in set(planes) - {""}:
        k = planes == p
        wt, wh = w[k & tum].sum(), w[k & ~tum].sum()
        if wt > 0 and wh > 0:
            w[k & tum] *= np.clip((wt + wh) / (2 * wt), 1 / cap, cap)
            w[k & ~tum] *= np.clip((wt + wh) / (2 * wh), 1 / cap, cap)
    for t in (True, False):
        if (tum == t).any():
            w[tum == t] /= w[tum == t].sum()
    return (w / w.mean()).astype(np.float32)
