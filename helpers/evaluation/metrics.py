"""Classification metrics with bootstrap 95% intervals: accuracy, macro-F1, per-class precision/recall, AUC, ECE, the
tumour-vs-no-tumour screening view, abstention, and the paired accuracy gap between two models.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from .. import config
from ..stats import draw_counts, bootstrap_weights, ci_block


K = len(config.CLASSES)

NOTUMOR = config.CLASSES.index(config.NO_TUMOUR)

TUMOUR_THRESHOLD = 0.5

ABSTAIN_TARGET = 0.99  # accuracy wanted on the accepted part of the validation set

# The capstone's priority is not missing tumours: a second operating point whose P(tumour) threshold is chosen on
# validation to keep at least this sensitivity there (choose_screening_threshold), reported beside the fixed 0.5.
SCREEN_TARGET_SENSITIVITY = 0.995
SCREEN_TARGET_SPECIFICITY = 0.99  # the screening target's other half: what the model card checks the test against

ABSTAIN_FALLBACK = 0.9

ABSTAIN_MIN_ACCEPTED = 20  # a threshold accepting fewer val images than this is not trusted

ROC_POINTS = 200

def confusions(y: np.ndarray, pred: np.ndarray, idx: np.ndarray | None = None, k: int = K,
               weights: np.ndarray | None = None) -> np.ndarray:
    """Confusion matrix [k, k] (rows true), or one per resample [B, k, k] when resample indices `idx` [B, n] or
    draw counts `weights` [B, n] (bootstrap_weights) are given."""
    codes = np.asarray(y, np.int64) * k + np.asarray(pred, np.int64)
    if idx is not None:
        weights = draw_counts(idx, len(codes))
    if weights is None:
        return np.bincount(codes, minlength=k * k).reshape(k, k)
    onehot = np.zeros((len(codes), k * k))
    onehot[np.arange(len(codes)), codes] = 1.0
    return (weights @ onehot).reshape(-1, k, k)


def prf_from_confusion(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 (scikit-learn's definitions, zero_division=0), accuracy and macro-F1,
    for one confusion matrix [k, k] or a stack [..., k, k]."""
    cm = np.asarray(cm, np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    n_pred, n_true = cm.sum(-2), cm.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / n_pred, 0.0)
        recall = np.where(n_true > 0, tp / n_true, 0.0)
        f1 = np.where(n_pred + n_true > 0, 2 * tp / (n_pred + n_true), 0.0)
        accuracy = tp.sum(-1) / cm.sum((-2, -1))
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy, "macro_f1": f1.mean(-1)}


def auc_weighted(y_bin: np.ndarray, score: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ROC-AUC for each row of weights `w` [B, n] (how often each sample was drawn). Samples are sorted once by
    score and the weights of equal scores summed, so no per-resample sort is needed."""
    y_bin = np.asarray(y_bin, bool)
    order = np.argsort(score, kind="mergesort")
    s_sorted, pos = np.asarray(score)[order], y_bin[order]
    starts = np.flatnonzero(np.r_[True, np.diff(s_sorted) != 0])
    w = w[:, order].astype(np.float64)
    P = np.add.reduceat(w * pos, starts, axis=1)
    Q = np.add.reduceat(w * ~pos, starts, axis=1)
    below = np.cumsum(Q, axis=1) - Q
    with np.errstate(divide="ignore", invalid="ignore"):
        return (P * (below + 0.5 * Q)).sum(1) / (P.sum(1) * Q.sum(1))


def _downsample_curve(fpr: np.ndarray, tpr: np.ndarray, n: int = ROC_POINTS) -> dict:
    if len(fpr) > n:
        keep = np.unique(np.r_[np.linspace(0, len(fpr) - 1, n).round().astype(int)])
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr]}


# ------------------------------------------------------------------------------------------- metrics
def classification_metrics(y: np.ndarray, probs: np.ndarray, n_boot: int = 1000, seed: int = config.SEED,
                           groups=None) -> dict:
    """Accuracy, macro-F1, per-class P/R/F1 with CIs, confusion matrix, tumour-vs-no-tumour block.
    CIs resample images, or whole groups when `groups` is given (bootstrap_weights)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, roc_auc_score, roc_curve

    y = np.asarray(y, np.int64)
    probs = np.asarray(probs, np.float64)
    pred = probs.argmax(1)
    labels = list(range(K))
    W = bootstrap_weights(len(y), n_boot, seed, groups) if n_boot else None
    boot = prf_from_confusion(confusions(y, pred, weights=W)) if W is not None else None
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    out: dict = {
        "n": int(len(y)),
        "accuracy": ci_block(accuracy_score(y, pred), boot["accuracy"] if boot else None),
        "macro_f1": ci_block(f1_score(y, pred, labels=labels, average="macro", zero_division=0),
                           boot["macro_f1"] if boot else None),
        "per_class": {},
        "confusion": confusions(y, pred).tolist(),
    }
    for i, c in enumerate(config.CLASSES):
        out["per_class"][c] = {
            "precision": ci_block(prec[i], boot["precision"][:, i] if boot else None),
            "recall": ci_block(rec[i], boot["recall"][:, i] if boot else None),
            "f1": ci_block(f1[i], boot["f1"][:, i] if boot else None),
            "support": int(support[i]),
        }
    # Tumour vs no tumour: P(tumour) = 1 - P(notumor), a fixed 0.5 threshold (not tuned on test).
    yb = y != NOTUMOR
    score = 1.0 - probs[:, NOTUMOR]
    tumour: dict = {"threshold": TUMOUR_THRESHOLD, "n_tumour": int(yb.sum()), "n_no_tumour": int((~yb).sum()),
                    **_tumour_rates(yb, score >= TUMOUR_THRESHOLD, W)}
    if yb.any() and (~yb).any():
        fpr, tpr, _ = roc_curve(yb, score)
        tumour["roc_auc"] = ci_block(roc_auc_score(yb, score), auc_weighted(yb, score, W) if W is not None else None)
        tumour["roc"] = _downsample_curve(fpr, tpr)
    else:
        tumour["roc_auc"] = {"value": float("nan"), "ci": [float("nan")] * 2}
        tumour["roc"] = {"fpr": [], "tpr": []}
    out["tumour"] = tumour
    return out


def cluster_metrics(y: np.ndarray, probs: np.ndarray, groups, n_boot: int = 1000, seed: int = config.SEED) -> dict:
    """Headline metrics with cluster-bootstrap CIs (classification_metrics resampling whole twin groups), and
    accuracy per twin group (each group's mean correctness, then the mean over groups: a picture copied 30 times
    counts once), on the same resamples."""
    m = classification_metrics(y, probs, n_boot, seed, groups=groups)
    _, inv, sizes = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    correct = (np.asarray(probs).argmax(1) == np.asarray(y)).astype(np.float64)
    per_group = np.bincount(inv, correct, len(sizes)) / sizes
    boot = None
    if n_boot:  # how often each group was drawn: an image's draw count is its group's
        g_w = bootstrap_weights(len(y), n_boot, seed, groups)[:, np.unique(inv, return_index=True)[1]]
        boot = (g_w @ per_group) / g_w.sum(1)
    t = m["tumour"]
    return {"n": m["n"], "n_groups": int(len(sizes)),
            "method": f"cluster bootstrap 95% (whole twin groups resampled, seed {seed})",
            "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "sensitivity": t["sensitivity"],
            "specificity": t["specificity"], "roc_auc": t["roc_auc"],
            "per_group_accuracy": ci_block(per_group.mean() if len(sizes) else float("nan"), boot)}


def _tumour_rates(yb: np.ndarray, pb: np.ndarray, W: np.ndarray | None) -> dict:
    """Sensitivity and specificity blocks of tumour calls `pb` against truth `yb`, CIs from draw counts `W`."""
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, hit, base in (("sensitivity", yb & pb, yb), ("specificity", ~yb & ~pb, ~yb)):
            value = hit.sum() / base.sum() if base.any() else float("nan")
            out[name] = ci_block(value, (W @ hit) / (W @ base) if W is not None else None)
    return out


def choose_screening_threshold(p_tumour: np.ndarray, is_tumour: np.ndarray,
                               target: float = SCREEN_TARGET_SENSITIVITY) -> float:
    """The highest P(tumour) threshold (never above TUMOUR_THRESHOLD) at which at least `target` of the VALIDATION
    tumours score >= it: at most floor((1 - target) * n) of them fall below. Chosen on val only, used on test."""
    s = np.sort(np.asarray(p_tumour, np.float64)[np.asarray(is_tumour, bool)])
    if not len(s):
        return TUMOUR_THRESHOLD
    k = int(np.floor((1 - target) * len(s) + 1e-9))  # tumours allowed below the threshold
    return float(min(s[min(k, len(s) - 1)], TUMOUR_THRESHOLD))


def screening_block(y: np.ndarray, probs: np.ndarray, threshold: float, n_boot: int, seed: int = config.SEED,
                    groups=None) -> dict:
    """Tumour sensitivity and specificity at `threshold` on P(tumour), with image-bootstrap CIs (the same draws as
    classification_metrics) and, given twin groups, whole-group CIs."""
    y = np.asarray(y, np.int64)
    yb = y != NOTUMOR
    pb = (1.0 - np.asarray(probs, np.float64)[:, NOTUMOR]) >= threshold
    out: dict = {"threshold": float(threshold), "n_tumour": int(yb.sum()), "n_no_tumour": int((~yb).sum()),
                 "n_missed": int((yb & ~pb).sum()), "n_false_alarm": int((~yb & pb).sum())}
    for key, g in (("", None), ("_groups", groups)):
        if key and g is None:
            continue
        W = bootstrap_weights(len(y), n_boot, seed, g) if n_boot else None
        out.update({name + key: b for name, b in _tumour_rates(yb, pb, W).items()})
    return out


def abstain_curve(probs: np.ndarray, y: np.ndarray, thresholds) -> list[dict]:
    """Coverage (share with max prob >= t) and accuracy on that accepted share, per threshold."""
    conf, correct = probs.max(1), probs.argmax(1) == y
    rows = []
    for t in np.round(np.asarray(thresholds, np.float64), 4):  # rounded first: 0.25 + k*0.005 is inexact
        acc = conf >= t
        rows.append({"threshold": round(float(t), 4), "coverage": float(acc.mean()) if len(y) else float("nan"),
                     "accuracy": float(correct[acc].mean()) if acc.any() else float("nan"), "n": int(acc.sum())})
    return rows


def choose_abstain_threshold(probs_val: np.ndarray, y_val: np.ndarray, target: float = ABSTAIN_TARGET,
                             min_accepted: int = ABSTAIN_MIN_ACCEPTED) -> tuple[float, bool]:
    """Smallest max-probability threshold whose accepted validation images are >= `target` accurate.

    Candidates are the validation confidences themselves (exact, no grid). Returns (threshold, found), or
    (ABSTAIN_FALLBACK, False) if no threshold reaches the target on at least `min_accepted` images (or on all
    of them, for a smaller validation set).
    """
    conf = np.asarray(probs_val).max(1)
    ok = np.asarray(probs_val).argmax(1) == np.asarray(y_val)
    if conf.size == 0:
        return ABSTAIN_FALLBACK, False
    order = np.argsort(-conf, kind="stable")
    c, cum = conf[order], np.cumsum(ok[order])
    last = np.searchsorted(-c, -c, side="right") - 1  # threshold c[i] accepts every confidence >= c[i]
    n_acc = last + 1
    valid = (cum[last] / n_acc >= target) & (n_acc >= max(1, min(min_accepted, conf.size)))
    if not valid.any():
        return ABSTAIN_FALLBACK, False
    return float(c[valid].min()), True


def best_accepted_accuracy(probs_val: np.ndarray, y_val: np.ndarray,
                           min_accepted: int = ABSTAIN_MIN_ACCEPTED) -> tuple[float, float]:
    """(threshold, accuracy) of the most accurate accepted part with >= min_accepted images: how close the
    abstain target came when it was not reached."""
    conf = np.asarray(probs_val).max(1)
    ok = np.asarray(probs_val).argmax(1) == np.asarray(y_val)
    order = np.argsort(-conf, kind="stable")
    c, cum = conf[order], np.cumsum(ok[order])
    last = np.searchsorted(-c, -c, side="right") - 1
    acc = np.where(last + 1 >= max(1, min(min_accepted, conf.size)), cum[last] / (last + 1), -1.0)
    i = int(acc.argmax())
    return float(c[i]), float(acc[i])


_CURVE_T = np.round(np.r_[np.arange(0.25, 0.95, 0.05), np.arange(0.95, 0.995, 0.01), 0.995, 0.999], 3)

def split_metrics(y: np.ndarray, logits: np.ndarray, temperature: float, abstain_t: float, n_boot: int,
                  seed: int = config.SEED) -> dict:
    """The full per-split block: classification metrics on calibrated probabilities, calibration, abstain."""
    from ..modeling.calibrate import probs_from_logits, reliability

    p_raw, p_cal = probs_from_logits(logits), probs_from_logits(logits, temperature)
    out = classification_metrics(y, p_cal, n_boot, seed)
    r_raw, r_cal = reliability(p_raw, y), reliability(p_cal, y)
    out["calibration"] = {"ece_raw": r_raw["ece"], "ece_calibrated": r_cal["ece"], "n_bins": r_cal["n_bins"],
                          "reliability_raw": r_raw, "reliability_calibrated": r_cal}
    row = abstain_curve(p_cal, y, [abstain_t])[0]
    out["abstain"] = {"threshold": float(abstain_t), "coverage": row["coverage"], "accuracy": row["accuracy"],
                      "n_referred": int(len(y) - row["n"]), "curve": abstain_curve(p_cal, y, _CURVE_T)}
    return out


def paired_accuracy_gap(a: pd.DataFrame, b: pd.DataFrame, split_key: str = "leakfree_test", groups=None,
                        n_boot: int = 1000, seed: int = config.SEED) -> dict:
    """Accuracy of model a minus model b on the same images (two predictions CSVs), with a paired bootstrap 95% CI:
    each resample draws the images once and scores both models on them, so the CI is that of the difference, not
    two separate intervals. `groups` (a mapping path -> twin group) switches to the cluster bootstrap.

    Also counts the images only one of the two gets right (the discordant pairs behind the difference)."""
    cols = ["path", "label", "prediction"]
    ra, rb = (df.loc[df["eval_split"] == split_key, cols] for df in (a, b))
    m = ra.merge(rb, on=["path", "label"], suffixes=("_a", "_b"), validate="one_to_one")
    if not len(m) or len(m) != len(ra) or len(m) != len(rb):
        raise ValueError(f"the two models were not evaluated on the same {split_key} images "
                         f"({len(ra)} and {len(rb)} rows, {len(m)} shared)")
    ca, cb = (m["prediction_a"] == m["label"]).to_numpy(), (m["prediction_b"] == m["label"]).to_numpy()
    d = ca.astype(np.float64) - cb
    g = None
    if groups is not None:
        g = m["path"].map(groups)
        if g.isna().any():
            raise ValueError(f"{int(g.isna().sum())} {split_key} images have no twin group")
        g = g.to_numpy()
    w = bootstrap_weights(len(m), n_boot, seed, g)
    samples = (w @ d) / w.sum(axis=1)
    how = "cluster bootstrap (whole twin groups)" if g is not None else "image bootstrap"
    return {"n": int(len(m)), "accuracy_a": float(ca.mean()), "accuracy_b": float(cb.mean()),
            "gap": ci_block(float(d.mean()), samples), "only_a_right": int((ca & ~cb).sum()),
            "only_b_right": int((cb & ~ca).sum()), "method": f"paired {how} 95%, {int(n_boot)} resamples, seed {seed}"}
