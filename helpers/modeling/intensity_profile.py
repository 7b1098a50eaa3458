"""The acquisition shortcut: how much of the class an image's intensity profile alone gives away, and whether the
CNN's missed tumours are the ones whose profile looks like the no-tumour collection.

The Kaggle set merges collections: most tumour slices come from one source (T1-weighted, many sagittal and
coronal), most no-tumour slices from others (mixed sequences,
mostly axial; helpers.evaluation.scan_type measures both). A slice's grey-level histogram carries
the sequence and the source, not the anatomy, so a classifier that sees *only* histograms measures that shortcut the
way the metadata-only baseline measures the file-size one. The features ignore where a pixel is (beyond "centre
of the head crop" vs "anywhere"), so mirrors, rotations and pixel shuffles within those two regions leave them
unchanged.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config

BINS = 16
DARK = 10  # background after preparation is ~0; pixels at or below this are left out of the histograms
N_STRATA = 10  # tumour images are ranked by profile P(tumour) and cut into this many equal-count strata


def stratum_name(n_strata: int = N_STRATA) -> str:
    """The lowest of `n_strata` equal strata in words, for the texts that quote misses_by_profile: "tenth"."""
    return {2: "half", 3: "third", 4: "quarter", 5: "fifth", 10: "tenth"}.get(n_strata, f"1/{n_strata}")


def features(X: np.ndarray, bins: int = BINS, dark: int = DARK) -> np.ndarray:
    """[N, S, S] uint8 prepared images -> [N, 2*bins] float32: the normalised grey-level histogram of the non-dark
    pixels of the whole image, then of its central half (the brain's interior, without scalp and skull)."""
    X = np.asarray(X)
    if X.ndim != 3 or X.dtype != np.uint8:
        raise ValueError(f"expected prepared images [N, S, S] uint8, got {X.shape} {X.dtype}")
    s = X.shape[1]
    centre = X[:, s // 4: s - s // 4, s // 4: s - s // 4]
    edges = np.linspace(0, 256, bins + 1)

    def hist(a: np.ndarray) -> np.ndarray:
        flat = a.reshape(len(a), -1)
        h = np.stack([np.histogram(r[r > dark], bins=edges)[0] for r in flat]).astype(np.float32)
        return h / np.maximum(h.sum(1, keepdims=True), 1.0)

    return np.hstack([hist(X), hist(centre)]).astype(np.float32)


def model():
    """The profile-only classifier (same family and seed as the metadata-only baseline)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=config.SEED)


def fit_predict(F_train: np.ndarray, y_train: np.ndarray, F_test: np.ndarray) -> np.ndarray:
    """Class probabilities [N, len(CLASSES)] for F_test from a profile-only model fitted on (F_train, y_train);
    a class absent from training gets probability 0."""
    from threadpoolctl import threadpool_limits

    clf = model()
    with threadpool_limits(1):  # OpenMP threads spin-wait on a busy 2-core machine: one thread is faster here
        clf.fit(F_train, y_train)
        p = clf.predict_proba(F_test)
    out = np.zeros((len(F_test), len(config.CLASSES)), np.float64)
    out[:, clf.classes_.astype(int)] = p
    return out


def ranked_tumours(cnn: pd.DataFrame, profile: pd.DataFrame, split_key: str = "leakfree_test") -> pd.DataFrame:
    """The split's tumour images with the model's P(tumour) and the profile-only baseline's (`profile_p`), ranked
    by profile_p, lowest (most no-tumour-like profile) first; `rank_pct` 0-100, `missed` = model said no tumour.
    `cnn` and `profile` are prediction tables (path, eval_split, label, p_tumour, prediction)."""
    c = cnn[(cnn["eval_split"] == split_key) & (cnn["label"] != config.NO_TUMOUR)]
    p = profile[profile["eval_split"] == split_key][["path", "p_tumour"]].rename(columns={"p_tumour": "profile_p"})
    t = c.merge(p, on="path", how="inner")
    t = t.sort_values(["profile_p", "path"], kind="mergesort").reset_index(drop=True)  # ties: by path, deterministic
    t["rank_pct"] = 100.0 * np.arange(len(t)) / max(len(t), 1)
    t["missed"] = t["prediction"] == config.NO_TUMOUR
    return t


def misses_by_profile(cnn: pd.DataFrame, profile: pd.DataFrame, split_key: str = "leakfree_test",
                      n_strata: int = N_STRATA) -> dict:
    """Are a model's missed tumours the ones whose intensity profile looks like a no-tumour scan?

    The split's tumour images are ranked by the profile-only baseline's P(tumour) (ranked_tumours) and cut into
    `n_strata` equal-count strata; per stratum: tumours, how many the model called no tumour, its sensitivity.
    Summary: where each miss ranks (percentile, 0 = most no-tumour-like profile), the AUC of "low profile
    P(tumour)" for separating the model's misses from its hits (0.5 = unrelated), a one-sided Fisher exact test of
    the lowest stratum against the rest (it treats images as independent; twins inside the test split are not), and
    the number of distinct twin groups among the misses when `cnn` has a `group` column. {} without tumours.
    """
    from scipy.stats import fisher_exact
    from sklearn.metrics import roc_auc_score

    t = ranked_tumours(cnn, profile, split_key)
    if t.empty:
        return {}
    missed = t["missed"].to_numpy()
    n = len(t)
    k = max(1, min(n_strata, n))
    stratum = (np.arange(n) * k) // n
    rows = []
    for s in range(k):
        sel = stratum == s
        rows.append({"stratum": s + 1, "profile_p_min": float(t["profile_p"][sel].min()),
                     "profile_p_max": float(t["profile_p"][sel].max()), "tumours": int(sel.sum()),
                     "missed": int(missed[sel].sum()), "sensitivity": float(1 - missed[sel].mean()),
                     "mean_model_p_tumour": float(t["p_tumour"][sel].mean())})
    low = stratum == 0
    table = [[int(missed[low].sum()), int((~missed[low]).sum())], [int(missed[~low].sum()), int((~missed[~low]).sum())]]
    fisher_p = float(fisher_exact(table, alternative="greater")[1]) if (~low).any() else None
    auc = float(roc_auc_score(missed, -t["profile_p"].to_numpy())) if 0 < missed.sum() < n else None
    groups = None
    if "group" in t.columns:
        g = t.loc[missed, "group"]
        groups = int(g[g >= 0].nunique() + (g < 0).sum())
    rest = ~low
    return {"split": split_key, "n_tumours": n, "n_missed": int(missed.sum()), "n_missed_groups": groups,
            "n_strata": k, "strata": rows, "missed_in_lowest": int(missed[low].sum()), "lowest_n": int(low.sum()),
            "sensitivity_lowest": float(1 - missed[low].mean()),
            "sensitivity_rest": float(1 - missed[rest].mean()) if rest.any() else None,
            "missed_rank_percentiles": [round(float(v), 1) for v in t.loc[missed, "rank_pct"]],
            "auc_low_profile_for_misses": auc, "fisher_p_lowest_vs_rest": fisher_p,
            "missed_files": [{k_: (float(v) if isinstance(v, (float, np.floating)) else str(v)) for k_, v in r.items()}
                             for r in t.loc[missed, ["path", "label", "p_tumour", "profile_p"]].round(4).to_dict("records")]}


def strata_table(res: dict) -> pd.DataFrame:
    """misses_by_profile's strata as a display table."""
    if not res:
        return pd.DataFrame()
    df = pd.DataFrame(res["strata"])
    df["profile P(tumour)"] = [f"{a:.3f}–{b:.3f}" for a, b in zip(df["profile_p_min"], df["profile_p_max"])]
    df["sensitivity"] = df["sensitivity"].map("{:.1%}".format)
    df["mean model P(tumour)"] = df["mean_model_p_tumour"].map("{:.3f}".format)
    return df.set_index("stratum")[["profile P(tumour)", "tumours", "missed", "sensitivity", "mean model P(tumour)"]]
