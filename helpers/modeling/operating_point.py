"""An operating point that transfers: temperature and tumour-call threshold chosen on validation with every
collection weighted equally (issue 21).

Why: the union's validation rows are mostly the Kaggle set. A threshold chosen on them fits that collection's
grey levels and prevalence; on a new collection the same P(tumour) means something else. Weighting each collection
equally (and, inside it, each label) asks for the threshold that is best on average over the kinds of scans seen,
which is the best guess for a kind not seen.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config

GRID = np.round(np.arange(0.02, 0.985, 0.01), 3)  # candidate thresholds on P(tumour)
ECE_BINS = 10


def collection_weights(collections) -> np.ndarray:
    """Per-row weights, mean 1, each collection of equal total weight."""
    c = pd.Series(list(collections)).astype(str)
    w = 1.0 / c.map(c.value_counts()).to_numpy(float)
    return w / w.mean()


def fit_temperature(logits: np.ndarray, masks: np.ndarray, collections) -> float:
    """The temperature minimising the partial-label NLL with each collection weighted equally."""
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp

    w = collection_weights(collections)
    z0 = np.asarray(logits, np.float64)

    def nll(t):
        z = z0 / t
        return float(np.average(logsumexp(z, axis=1) - logsumexp(np.where(masks > 0, z, -np.inf), axis=1), weights=w))

    return float(minimize_scalar(nll, bounds=(0.2, 10.0), method="bounded").x)


def equal_weight_score(p: np.ndarray, tumour: np.ndarray, collections, t: float) -> float:
    """Mean over collections of sensitivity (those holding tumours) and of specificity (those holding healthy
    slices), the two means averaged: a balanced accuracy in which every collection counts the same."""
    call = np.asarray(p) >= t
    tumour, coll = np.asarray(tumour, bool), np.asarray(list(collections)).astype(str)
    sens, spec = [], []
    for c in np.unique(coll):
        k = coll == c
        if (k & tumour).any():
            sens.append(call[k & tumour].mean())
        if (k & ~tumour).any():
            spec.append(1 - call[k & ~tumour].mean())
    parts = [np.mean(x) for x in (sens, spec) if x]
    return float(np.mean(parts)) if parts else float("nan")


# How the call threshold is chosen on validation (experiments/batch29_operating_point/PLAN.md): "best", the grid
# threshold with the best equal-weight score (ties nearest 0.5), the rule since batch 10; "half", P(tumour) >= 0.5
# always (the temperature is fitted with every collection weighted equally); "plateau", the median of the grid
# thresholds within PLATEAU of the best score.
RULES = ("best", "half", "plateau")
THRESHOLD_RULE = "best"
PLATEAU = 0.01


def choose_threshold(p: np.ndarray, tumour: np.ndarray, collections, rule: str | None = None) -> float:
    """The call threshold on P(tumour) by `rule` (default THRESHOLD_RULE, see RULES)."""
    rule = rule or THRESHOLD_RULE
    if rule not in RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; known: {', '.join(RULES)}")
    if rule == "half":
        return 0.5
    scores = np.array([equal_weight_score(p, tumour, collections, t) for t in GRID])
    if rule == "plateau":
        return float(np.round(np.median(GRID[scores >= np.nanmax(scores) - PLATEAU - 1e-12]), 3))
    best = np.flatnonzero(scores >= np.nanmax(scores) - 1e-12)
    return float(GRID[best[np.argmin(np.abs(GRID[best] - 0.5))]])


def ece(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of P(tumour) against the tumour / no-tumour truth (equal-width bins)."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    if not len(p):
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def per_collection(p: np.ndarray, tumour: np.ndarray, collections, t: float) -> pd.DataFrame:
    """Sensitivity, specificity (with counts) and ECE per collection at threshold t."""
    call = np.asarray(p) >= t
    tumour, coll = np.asarray(tumour, bool), np.asarray(list(collections)).astype(str)
    rows = []
    for c in [*np.unique(coll), "all"]:
        k = np.ones(len(coll), bool) if c == "all" else coll == c
        nt, nh = int((k & tumour).sum()), int((k & ~tumour).sum())
        rows.append({"collection": c, "n_tumour": nt, "n_healthy": nh,
                     "sensitivity": call[k & tumour].mean() if nt else np.nan,
                     "specificity": 1 - call[k & ~tumour].mean() if nh else np.nan,
                     "ece": ece(np.asarray(p)[k], tumour[k])})
    return pd.DataFrame(rows)


def choose(logits: np.ndarray, masks: np.ndarray, collections) -> dict:
    """{temperature, threshold, chosen_on}: both fitted on validation rows, every collection weighted equally."""
    from .calibrate import probs_from_logits

    T = fit_temperature(logits, masks, collections)
    P = probs_from_logits(logits, T)
    p_t = 1 - P[:, config.CLASSES.index(config.NO_TUMOUR)]
    tumour = masks[:, config.CLASSES.index(config.NO_TUMOUR)] == 0
    t = choose_threshold(p_t, tumour, collections)
    return {"temperature": T, "threshold": t, "val_score": equal_weight_score(p_t, tumour, collections, t),
            "chosen_on": "union validation groups, every collection weighted equally"}


def shifted(t: float, d: float) -> float:
    """The threshold on P(tumour) whose logit is logit(t) + d (batch 11's threshold shift)."""
    z = np.log(t / (1 - t)) + d
    return float(1 / (1 + np.exp(-z)))


def uncertain_band(abstain_threshold: float, call_threshold: float | None = None,
                   margin: float | None = None) -> tuple[float, float]:
    """P(tumour) strictly between these is "uncertain". With a margin (a batch-10 model: chosen on held-out
    collections, experiments/batch10_healthy_variety/PLAN.md amendment 3): within `margin` logits of the call
    threshold. Without: neither P(tumour) nor 1 - P(tumour) is as sure as the abstain threshold chosen on validation
    (which is why a sure P(tumour) split between two types still gets its call)."""
    if margin is not None and call_threshold is not None:
        z = float(np.log(call_threshold / (1 - call_threshold)))
        return float(1 / (1 + np.exp(-(z - margin)))), float(1 / (1 + np.exp(-(z + margin))))
    t = float(abstain_threshold)
    return 1.0 - t, t  # empty when t <= 0.5
