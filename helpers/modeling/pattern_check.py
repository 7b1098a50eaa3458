"""Is there a head in it? A no-verdict check for synthetic patterns that pass the pixel checks (batch 26,
experiments/batch26_pattern_check/PLAN.md).

A disc of noise, stripes or random blocks on black passes `app.input_checks` (black surround, plausible grey
levels) and the feature distance calls it familiar, so the network gives it a confident "no tumour". Simple pixel
statistics cannot tell such pictures from noisy real slices. This module fits a logistic regression on the
network's pooled features, real slices against ten procedural families of non-MRI patterns (outlier exposure), and
thresholds its logit beyond every real slice the fit did not see. Measured, not shipped (batch 26's RESULTS.md).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

SIDE = 512  # the families are drawn at an upload's size and prepared as an upload is
PER_FAMILY = 150
SEED = 2026
MARGIN = 1.0  # logits beyond the highest real validation score


def _ellipse(rng: np.random.Generator, n: int = SIDE) -> np.ndarray:
    """A random head-sized ellipse mask (the black surround the pixel checks want)."""
    yy, xx = np.mgrid[0:n, 0:n]
    cy, cx = n / 2 + rng.uniform(-0.05, 0.05, 2) * n
    ry, rx = rng.uniform(0.32, 0.46, 2) * n
    th = rng.uniform(0, np.pi)
    y, x = yy - cy, xx - cx
    u, v = x * np.cos(th) + y * np.sin(th), -x * np.sin(th) + y * np.cos(th)
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1


def _unit(a: np.ndarray) -> np.ndarray:
    a = a - a.min()
    return a / max(float(a.max()), 1e-9)


def _coords(rng, n=SIDE):
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    th = rng.uniform(0, np.pi)
    return xx * np.cos(th) + yy * np.sin(th), yy, xx


def _uniform(rng):
    return rng.uniform(0, 1, (SIDE, SIDE))


def _gaussian(rng):
    return np.clip(0.5 + rng.normal(0, rng.uniform(0.1, 0.3), (SIDE, SIDE)), 0, 1)


def _blocks(rng):
    b = int(rng.choice([4, 8, 16, 32]))
    return np.kron(rng.uniform(0, 1, (SIDE // b, SIDE // b)), np.ones((b, b)))


def _smooth(rng):
    return _unit(ndimage.gaussian_filter(rng.normal(size=(SIDE, SIDE)), rng.uniform(2, 12)))


def _pink(rng):
    f = np.fft.fftfreq(SIDE)
    r = np.hypot(f[:, None], f[None, :])
    r[0, 0] = 1
    spec = np.fft.fft2(rng.normal(size=(SIDE, SIDE))) / r ** rng.uniform(0.8, 1.5)
    return _unit(np.real(np.fft.ifft2(spec)))


def _stripes(rng):
    u, _, _ = _coords(rng)
    return 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * u / rng.uniform(6, 60)))


def _checker(rng):
    b = int(rng.integers(6, 64))
    _, yy, xx = _coords(rng)
    return ((yy // b + xx // b) % 2).astype(np.float64) * rng.uniform(0.5, 1) + rng.uniform(0, 0.3)


def _rings(rng):
    _, yy, xx = _coords(rng)
    r = np.hypot(yy - SIDE / 2, xx - SIDE / 2)
    return 0.5 + 0.5 * np.sin(2 * np.pi * r / rng.uniform(8, 60))


def _gradient(rng):
    u, _, _ = _coords(rng)
    return rng.uniform(0.2, 0.5) + rng.uniform(0.2, 0.5) * u / max(float(np.abs(u).max()), 1)


def _shapes(rng):
    a = np.full((SIDE, SIDE), rng.uniform(0.05, 0.3))
    for _ in range(int(rng.integers(3, 12))):
        m = _ellipse(rng) if rng.uniform() < 0.5 else None
        if m is None:  # a random triangle
            p = rng.uniform(0, SIDE, (3, 2))
            yy, xx = np.mgrid[0:SIDE, 0:SIDE]
            s = [np.sign((xx - p[i, 0]) * (p[(i + 1) % 3, 1] - p[i, 1]) - (yy - p[i, 1]) * (p[(i + 1) % 3, 0] - p[i, 0]))
                 for i in range(3)]
            m = (s[0] == s[1]) & (s[1] == s[2])
        else:  # a smaller ellipse somewhere
            m = ndimage.zoom(m, rng.uniform(0.2, 0.6), order=0)
            oy, ox = rng.integers(0, SIDE - m.shape[0], 2)
            big = np.zeros((SIDE, SIDE), bool)
            big[oy:oy + m.shape[0], ox:ox + m.shape[1]] = m
            m = big
        a[m] = rng.uniform(0.1, 1)
    return a


FAMILIES: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "uniform noise": _uniform, "gaussian noise": _gaussian, "block noise": _blocks, "smoothed noise": _smooth,
    "pink noise": _pink, "stripes": _stripes, "checkerboard": _checker, "rings": _rings, "gradient": _gradient,
    "shapes": _shapes}


def draw(family: str, rng: np.random.Generator) -> np.ndarray:
    """One picture of `family` as an upload would hold it: uint8 (SIDE, SIDE), the pattern inside an ellipse on black."""
    return (np.clip(FAMILIES[family](rng), 0, 1) * _ellipse(rng) * 255).astype(np.uint8)


def synthetic_set(size: int, keep: Callable[[np.ndarray], bool] | None = None, per_family: int = PER_FAMILY,
                  seed: int = SEED, families=None) -> tuple[np.ndarray, np.ndarray]:
    """(prepared pictures (N, size, size) uint8, their family names): per family, the first `per_family` draws that
    `keep` accepts (batch 26: those that pass the app's pixel checks, since what gets past them today is what this
    check is for; the caller passes that predicate because the checks live in the app layer)."""
    from ..data.prepare import prepare

    X, fam = [], []
    for k, name in enumerate(families or FAMILIES):
        rng = np.random.default_rng([seed, k])
        kept, tries = 0, 0
        while kept < per_family and tries < 20 * per_family:
            tries += 1
            g = draw(name, rng)
            if keep is not None and not keep(g):
                continue
            X.append(prepare(g, size))
            fam.append(name)
            kept += 1
    return np.stack(X), np.array(fam)


def fit(F_real: np.ndarray, F_syn: np.ndarray, F_val_real: np.ndarray, margin: float = MARGIN) -> dict:
    """The check: standardised features, class-balanced L2 logistic regression (synthetic = 1), threshold = the
    highest logit of a real slice the fit did not see + `margin`."""
    from sklearn.linear_model import LogisticRegression

    F = np.concatenate([F_real, F_syn])
    y = np.r_[np.zeros(len(F_real)), np.ones(len(F_syn))]
    mu, sd = F.mean(0), F.std(0) + 1e-6
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit((F - mu) / sd, y)
    rule = {"mean": mu.round(6).tolist(), "scale": sd.round(6).tolist(), "coef": lr.coef_[0].round(6).tolist(),
            "intercept": float(lr.intercept_[0]), "margin": float(margin), "n_real": int(len(F_real)),
            "n_synthetic": int(len(F_syn)), "n_val_real": int(len(F_val_real))}
    rule["val_real_max"] = float(score(rule, F_val_real).max())
    rule["threshold"] = rule["val_real_max"] + float(margin)
    return rule


def score(rule: dict, F: np.ndarray) -> np.ndarray:
    """The check's logit per row of pooled features (higher: more like a synthetic pattern)."""
    z = (np.asarray(F, np.float64) - np.asarray(rule["mean"])) / np.asarray(rule["scale"])
    return z @ np.asarray(rule["coef"]) + float(rule["intercept"])


def rejects(rule: dict, F: np.ndarray) -> np.ndarray:
    return score(rule, F) > float(rule["threshold"])
