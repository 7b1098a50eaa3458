"""Is this slice's acquisition like the training collections'? A look score from the pixels alone (batch 40,
experiments/batch40_look_warning/PLAN.md).

The network's own familiarity rule (modeling.familiarity) reads the network's features, so it cannot tell a
confident miss from a confident right call: on collections held out, the misses are mostly slices the network
reads confidently. What they share is an acquisition no training collection had. This score reads only the
128-px prepared image, with the input gate's features (data.gate, the one owner of the gate's pixel features) and,
for the `GT` set, four of texture (sharpness, high-pass noise, grey levels used, background noise): the mean distance
to the nearest training rows, cut at a quantile of familiar validation slices. A rule is a dict saved as JSON (no
pickle): feature names, standardisation, the reference rows and the validation quantiles.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import gate

TEXTURE = ["grad", "highpass", "levels", "bg_noise"]
FEATURE_SETS = {"G": list(gate.KNN_FEATURES), "GT": [*gate.KNN_FEATURES, *TEXTURE]}
FOREGROUND = 16  # pixels at or above this grey level are the head (the gate's dark_frac cut)
K = gate.KNN_K


def features(X: np.ndarray) -> pd.DataFrame:
    """Every look feature of a batch of 128-px prepared images (N, 128, 128) uint8, one row per image."""
    from scipy import ndimage as ndi

    X = np.asarray(X, np.uint8)
    if X.ndim == 2:
        X = X[None]
    n = len(X)
    flat = X.reshape(n, -1)
    shift = 8 - int(np.log2(gate.BINS))
    hist = np.stack([np.bincount(r >> shift, minlength=gate.BINS) for r in flat]) / flat.shape[1]
    out = {h: hist[:, i] for i, h in enumerate(gate.HIST)}
    out["dark_frac"] = (flat < FOREGROUND).mean(axis=1)
    out["corner_dark"] = (X[:, gate.CORNERS] < 24).mean(axis=1)
    F = X.astype(np.float32) / 255.0
    fg = X >= FOREGROUND
    gy, gx = np.gradient(F, axis=(1, 2))
    resid = F - ndi.gaussian_filter(F, sigma=(0, 1, 1))
    grad, hp, levels, bg = (np.zeros(n) for _ in range(4))
    for i in range(n):
        m = fg[i]
        if m.any():
            grad[i] = float(np.hypot(gx[i], gy[i])[m].mean())
            hp[i] = float(resid[i][m].std())
            levels[i] = len(np.unique(X[i][m])) / 256.0
        if (~m).any():
            bg[i] = float(F[i][~m].std())
    out.update(grad=grad, highpass=hp, levels=levels, bg_noise=bg)
    return pd.DataFrame(out)


def fit(train: pd.DataFrame, val: pd.DataFrame, feature_set: str, quantiles=(0.97, 0.98, 0.99),
        quantile: float | None = None) -> dict:
    """A look rule fitted on training rows' features (copies removed, so a copy is not its own neighbour), its
    cut a quantile of the validation rows' scores (pictures not in the reference, from the same collections)."""
    names = FEATURE_SETS[feature_set]
    A = train[names].to_numpy(float)
    mean, scale = A.mean(axis=0), A.std(axis=0) + 1e-6
    Z = np.unique(np.round((A - mean) / scale, 4), axis=0)
    rule = {"kind": "look", "feature_set": feature_set, "features": names, "k": K, "n_train": int(len(train)),
            "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(), "reference": Z.tolist()}
    s = score(rule, val)
    rule["val_quantiles"] = {f"{q:g}": float(np.quantile(s, q)) for q in quantiles}
    rule["quantile"] = float(quantile if quantile is not None else max(quantiles))
    return rule


def score(rule: dict, feats: pd.DataFrame) -> np.ndarray:
    z = (feats[rule["features"]].to_numpy(float) - np.asarray(rule["mean"])) / np.asarray(rule["scale"])
    return gate.knn_mean_distance(np.asarray(rule["reference"], float), z, int(rule["k"]))


def cut(rule: dict, quantile: float | None = None) -> float:
    return float(rule["val_quantiles"][f"{(quantile if quantile is not None else rule['quantile']):g}"])


def flagged(rule: dict, feats: pd.DataFrame, quantile: float | None = None) -> np.ndarray:
    """True where the slice's look lies beyond the rule's cut: an acquisition unlike the training collections'."""
    return score(rule, feats) > cut(rule, quantile)
