"""Temperature scaling and calibration error: small, dependency-light, shared by training, evaluation and the app."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def probs_from_logits(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return softmax(np.asarray(logits, dtype=np.float64) / float(temperature), axis=-1)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    lp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)
    return float(-lp[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T > 0 minimising validation NLL of softmax(logits / T) (Guo et al., 2017).
    Searched on log T so the optimiser cannot step to a negative value."""
    res = minimize_scalar(lambda lt: nll(logits, y, float(np.exp(lt))), bounds=(np.log(0.05), np.log(20.0)),
                          method="bounded")
    return float(np.exp(res.x))


def reliability(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> dict:
    """Confidence-binned accuracy: per bin, mean confidence, accuracy and count; plus ECE (count-weighted gap)."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    bins = []
    ece = 0.0
    for b in range(n_bins):
        m = idx == b
        n = int(m.sum())
        if n:
            acc, c = float(correct[m].mean()), float(conf[m].mean())
            ece += n / len(y) * abs(acc - c)
        else:
            acc = c = float("nan")
        bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": n, "confidence": c, "accuracy": acc})
    return {"ece": float(ece), "n_bins": n_bins, "bins": bins}


def ece(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    return reliability(probs, y, n_bins)["ece"]
