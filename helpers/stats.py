"""Statistics shared by evaluation, baselines and the app: bootstrap resamples (image or whole-cluster), percentile
intervals, the {"value", "ci"} block every record uses, and the Wilson interval of a proportion.
"""
from __future__ import annotations

import numpy as np

from . import config


# ------------------------------------------------------------------------------------------- bootstrap
def bootstrap_indices(n: int, n_boot: int = 1000, seed: int = config.SEED) -> np.ndarray:
    """[n_boot, n] resample indices (with replacement). Shared by every metric of a split: paired resamples."""
    return np.random.default_rng(seed).integers(0, n, size=(int(n_boot), int(n)))


def bootstrap_weights(n: int, n_boot: int = 1000, seed: int = config.SEED, groups=None) -> np.ndarray:
    """[n_boot, n] how often each image is drawn in each resample.

    Without `groups` this is the image bootstrap of `bootstrap_indices` (same draws). With `groups` whole groups are
    drawn (cluster bootstrap): near-copies of one picture in a test split are one piece of evidence, not several, so
    resampling them one by one makes intervals too narrow.
    """
    n_boot = int(n_boot)
    if groups is None:
        idx, m, inv = bootstrap_indices(n, n_boot, seed), n, None
    else:
        _, inv = np.unique(np.asarray(groups), return_inverse=True)
        m = int(inv.max()) + 1 if n else 0
        idx = np.random.default_rng(seed).integers(0, m, size=(n_boot, m))
    counts = draw_counts(idx, m)
    return counts if inv is None else counts[:, inv]


def draw_counts(idx: np.ndarray, m: int) -> np.ndarray:
    """[B, m] how often each of m items appears in each row of resample indices idx [B, k]."""
    b = idx.shape[0]
    return np.bincount((idx + (np.arange(b, dtype=np.int64) * m)[:, None]).ravel(), minlength=b * m).reshape(b, m)


def percentile_ci(samples: np.ndarray, alpha: float = 0.05) -> list[float]:
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(s, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return [float(lo), float(hi)]


def ci_block(value: float, samples: np.ndarray | None) -> dict:
    return {"value": float(value), "ci": percentile_ci(samples) if samples is not None else [float("nan")] * 2}


def wilson_ci(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of the proportion k/n, which stays inside [0, 1] for counts near 0 or n.

    The closed form (scipy.stats.binomtest(k, n).proportion_ci(method="wilson") gives the same, tests/test_export.py
    checks it): importing scipy.stats costs a dashboard kernel ~0.6-1.3 s of its first page for this one line."""
    from statistics import NormalDist

    k, n = int(k), int(n)
    z = NormalDist().inv_cdf(0.975)
    p, z2 = k / n, z * z
    centre = (k + z2 / 2) / (n + z2)
    half = z * np.sqrt(n * p * (1 - p) + z2 / 4) / (n + z2)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
