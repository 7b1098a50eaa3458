"""Evaluate a trained model: the leak-free test split (headline), the official Testing split (for comparison with
published work), calibration, an abstain band, and robustness to resolution and to the image-size shortcut.

Every number comes with a percentile bootstrap 95 % CI (test images resampled with replacement, seeded, all
metrics of one split computed on the same resamples). Results go into the "evaluation" block of
models/<name>.json (schema in the team contracts) and per-image rows into models/<name>.predictions.csv.
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config

K = len(config.CLASSES)
NOTUMOR = config.CLASSES.index(config.NO_TUMOUR)
TUMOUR_THRESHOLD = 0.5
ABSTAIN_TARGET = 0.99  # accuracy wanted on the accepted part of the validation set
# The capstone's priority is not missing tumours: a second operating point whose P(tumour) threshold is chosen on
# validation to keep at least this sensitivity there (choose_screening_threshold), reported beside the fixed 0.5.
SCREEN_TARGET_SENSITIVITY = 0.995
ABSTAIN_FALLBACK = 0.9
ABSTAIN_MIN_ACCEPTED = 20  # a threshold accepting fewer val images than this is not trusted
RESOLUTIONS = (64, 96, 128, 192)
ROC_POINTS = 200
OFFICIAL_NOTE = "leaky: official Testing split, for comparison with published work"


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
    counts = _draw_counts(idx, m)
    return counts if inv is None else counts[:, inv]


def _draw_counts(idx: np.ndarray, m: int) -> np.ndarray:
    """[B, m] how often each of m items appears in each row of resample indices idx [B, k]."""
    b = idx.shape[0]
    return np.bincount((idx + (np.arange(b, dtype=np.int64) * m)[:, None]).ravel(), minlength=b * m).reshape(b, m)


def _ci(samples: np.ndarray, alpha: float = 0.05) -> list[float]:
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(s, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return [float(lo), float(hi)]


def _block(value: float, samples: np.ndarray | None) -> dict:
    return {"value": float(value), "ci": _ci(samples) if samples is not None else [float("nan")] * 2}


def confusions(y: np.ndarray, pred: np.ndarray, idx: np.ndarray | None = None, k: int = K,
               weights: np.ndarray | None = None) -> np.ndarray:
    """Confusion matrix [k, k] (rows true), or one per resample [B, k, k] when resample indices `idx` [B, n] or
    draw counts `weights` [B, n] (bootstrap_weights) are given."""
    codes = np.asarray(y, np.int64) * k + np.asarray(pred, np.int64)
    if idx is not None:
        weights = _draw_counts(idx, len(codes))
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
        "accuracy": _block(accuracy_score(y, pred), boot["accuracy"] if boot else None),
        "macro_f1": _block(f1_score(y, pred, labels=labels, average="macro", zero_division=0),
                           boot["macro_f1"] if boot else None),
        "per_class": {},
        "confusion": confusions(y, pred).tolist(),
    }
    for i, c in enumerate(config.CLASSES):
        out["per_class"][c] = {
            "precision": _block(prec[i], boot["precision"][:, i] if boot else None),
            "recall": _block(rec[i], boot["recall"][:, i] if boot else None),
            "f1": _block(f1[i], boot["f1"][:, i] if boot else None),
            "support": int(support[i]),
        }
    # Tumour vs no tumour: P(tumour) = 1 - P(notumor), a fixed 0.5 threshold (not tuned on test).
    yb = y != NOTUMOR
    score = 1.0 - probs[:, NOTUMOR]
    tumour: dict = {"threshold": TUMOUR_THRESHOLD, "n_tumour": int(yb.sum()), "n_no_tumour": int((~yb).sum()),
                    **_tumour_rates(yb, score >= TUMOUR_THRESHOLD, W)}
    if yb.any() and (~yb).any():
        fpr, tpr, _ = roc_curve(yb, score)
        tumour["roc_auc"] = _block(roc_auc_score(yb, score), auc_weighted(yb, score, W) if W is not None else None)
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
            "per_group_accuracy": _block(per_group.mean() if len(sizes) else float("nan"), boot)}


def _tumour_rates(yb: np.ndarray, pb: np.ndarray, W: np.ndarray | None) -> dict:
    """Sensitivity and specificity blocks of tumour calls `pb` against truth `yb`, CIs from draw counts `W`."""
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, hit, base in (("sensitivity", yb & pb, yb), ("specificity", ~yb & ~pb, ~yb)):
            value = hit.sum() / base.sum() if base.any() else float("nan")
            out[name] = _block(value, (W @ hit) / (W @ base) if W is not None else None)
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


# ------------------------------------------------------------------------------------------- robustness
def _robust_one(path: str, sizes: tuple[int, ...], img_size: int) -> np.ndarray:
    """Decode at full resolution, downsample (longest side = px, Pillow BILINEAR, antialiased), then prepare."""
    from PIL import Image

    from ..data.decode import decode
    from ..data.prepare import prepare

    g = decode(path).gray
    out = np.empty((len(sizes), img_size, img_size), np.uint8)
    for i, px in enumerate(sizes):
        h, w = g.shape
        s = px / max(h, w)
        small = g
        if s < 1:
            im = Image.fromarray(g).resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
            small = np.asarray(im)
        out[i] = prepare(small, img_size)
    return out


def _robust_chunk(paths: list[str], sizes: tuple[int, ...], img_size: int) -> np.ndarray:
    return np.stack([_robust_one(p, sizes, img_size) for p in paths])


def robustness_arrays(root: Path, df: pd.DataFrame, img_size: int, sizes=RESOLUTIONS,
                      progress: bool = True) -> np.ndarray:
    """[len(sizes), N, S, S] uint8: the rows of `df` downsampled to each size then prepared. Cached like
    load_arrays (same key plus the sizes)."""
    from concurrent.futures import ProcessPoolExecutor

    from ..data.prepare import mp_context, n_workers
    from ..data.arrays import arrays_cache_path

    sizes = tuple(int(s) for s in sizes)
    base = arrays_cache_path(root, df, img_size)
    cache = base.with_name(base.stem.replace("X_", "R_", 1) + "_" + "-".join(map(str, sizes)) + ".npy")
    if cache.exists():
        try:
            R = np.load(cache, allow_pickle=False)
            if R.shape == (len(sizes), len(df), img_size, img_size):
                return R
        except (OSError, ValueError):
            pass
    paths = [str(Path(root) / p) for p in df["path"]]
    R = np.empty((len(df), len(sizes), img_size, img_size), np.uint8)
    chunk = 32
    starts = list(range(0, len(paths), chunk))
    nw = n_workers(None)
    t0 = time.time()
    if nw > 1 and len(paths) >= 64:
        with ProcessPoolExecutor(max_workers=nw, mp_context=mp_context()) as ex:
            futs = [ex.submit(_robust_chunk, paths[i : i + chunk], sizes, img_size) for i in starts]
            for j, (i, f) in enumerate(zip(starts, futs)):
                R[i : i + chunk] = f.result()
                if progress and j % 8 == 0:
                    print(f"  robustness: {i + chunk}/{len(paths)} images ({time.time() - t0:.0f} s)", file=sys.stderr)
    else:
        for i in starts:
            R[i : i + chunk] = _robust_chunk(paths[i : i + chunk], sizes, img_size)
    R = np.ascontiguousarray(R.transpose(1, 0, 2, 3))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, R, allow_pickle=False)
        os.replace(tmp, cache)
    except OSError:
        pass
    return R


# ------------------------------------------------------------------------------------------- driver
def _clean(obj):
    """JSON-safe copy: NaN/inf -> None (the dashboard parses this JSON in the browser), numpy -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    return obj


def _log(msg: str, progress: bool) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def evaluate_model(predictor, data_dir=None, bootstrap: int = 1000, write: bool = True, robustness: bool = True,
                   progress: bool = True, seed: int = config.SEED) -> dict:
    """Evaluate `predictor` (helpers.modeling.predictor.Predictor or a model path) and return the "evaluation" block.

    With write=True it is stored in the model's JSON (other keys untouched) and per-image predictions in
    models/<name>.predictions.csv beside it.
    """
    from ..modeling.calibrate import fit_temperature, probs_from_logits
    from ..data.layouts import build_manifest, resolve_data_dir
    from ..modeling.predictor import Predictor, load_model
    from ..data.arrays import load_arrays
    from ..data.split import load_split, split_sha256
    from ..data.synthetic import is_synthetic
    from ..modeling.train import train_val_rows

    if not isinstance(predictor, Predictor):
        predictor = load_model(predictor)
    t_start = time.time()
    root = resolve_data_dir(data_dir)
    S, T = predictor.img_size, predictor.temperature
    meta = predictor.meta
    train_kind = (meta.get("data") or {}).get("split") or (meta.get("config") or {}).get("split") or "leakfree"
    lf = load_split("leakfree", root)
    off = load_split("official", root)
    lf_sha = split_sha256(lf)
    trained_sha = (meta.get("data") or {}).get("split_sha256")
    seen_df = lf if train_kind == "leakfree" else load_split(train_kind, root)
    seen = set(seen_df.loc[seen_df["split"].isin(["train", "val"]), "path"])
    if train_kind == "leakfree" and trained_sha and trained_sha != lf_sha:
        print(f"warning: {predictor.name} was trained on split {trained_sha[:12]} but the current leak-free split "
              f"is {lf_sha[:12]}: test images may have been seen in training", file=sys.stderr)

    # Validation: refit the temperature (a check of the recorded one) and choose the abstain threshold.
    _, va = train_val_rows(seen_df, int((meta.get("config") or {}).get("seed", seed)))
    _log(f"evaluating {predictor.name} on {root.name}: val {len(va)} images", progress)
    Xva, yva = load_arrays(root, va, S, progress=progress)
    lg_va = predictor.logits_arrays(Xva)
    t_refit = fit_temperature(lg_va, yva)
    p_va = probs_from_logits(lg_va, T)
    abstain_t, found = choose_abstain_threshold(p_va, yva)
    val_row = abstain_curve(p_va, yva, [abstain_t])[0]
    best_t, best_acc = best_accepted_accuracy(p_va, yva)
    screen_t = choose_screening_threshold(1 - p_va[:, NOTUMOR], yva != NOTUMOR)
    screen_val = screening_block(yva, p_va, screen_t, 0)

    blocks, pred_rows, arrays = {}, [], {}
    for key, df in (("leakfree_test", lf[lf["split"] == "test"]), ("official_test", off[off["split"] == "test"])):
        df = df.reset_index(drop=True)
        if df.empty:
            continue
        _log(f"{key}: {len(df)} images", progress)
        X, y = load_arrays(root, df, S, progress=progress)
        logits = predictor.logits_arrays(X)
        block = split_metrics(y, logits, T, abstain_t, bootstrap, seed)
        probs = probs_from_logits(logits, T)
        groups = df["group"].to_numpy() if "group" in df.columns else None
        in_train = df["path"].isin(seen).to_numpy()
        if groups is not None:
            block["cluster"] = cluster_metrics(y, probs, groups, bootstrap, seed)
        selected_on = "leakfree val" if train_kind == "leakfree" else f"{train_kind} val"
        block["screening"] = {**screening_block(y, probs, screen_t, bootstrap, seed, groups), "selected_on": selected_on}
        block["n_in_training_split"] = int(in_train.sum())
        if in_train.any():
            block["contaminated"] = True
            p = probs_from_logits(logits[~in_train], T)
            acc = classification_metrics(y[~in_train], p, bootstrap, seed)["accuracy"] if (~in_train).any() else None
            block["unseen_subset"] = {"n": int((~in_train).sum()), "accuracy": acc}
        if key == "official_test":
            note = OFFICIAL_NOTE
            if in_train.any():
                note += (f"; {int(in_train.sum())} of its {len(df)} images were in this model's training/validation "
                         f"split, so this figure is contaminated (see unseen_subset)")
            block["note"] = note
        block["abstain"]["selected_on"] = selected_on
        blocks[key] = block
        arrays[key] = (df, X, y)
        for i, r in df.iterrows():
            pr = probs[i]
            pred_rows.append({"path": r["path"], "eval_split": key, "label": r["label"],
                              **{c: round(float(v), 6) for c, v in zip(config.CLASSES, pr)},
                              "p_tumour": round(float(1 - pr[NOTUMOR]), 6),
                              "prediction": config.CLASSES[int(pr.argmax())]})

    result: dict = {
        "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": predictor.name,
        "keras_sha256": meta.get("keras_sha256"),
        "data_dir": root.name,
        "synthetic": bool(is_synthetic(root)),
        "split_sha256": lf_sha,
        "split_matches_training": (trained_sha == lf_sha) if (trained_sha and train_kind == "leakfree") else None,
        "trained_on_split": train_kind,
        "temperature": T,
        "temperature_refit_val": t_refit,
        "tta": predictor.tta,
        "bootstrap": int(bootstrap),
        "ci": f"percentile bootstrap 95% (test images resampled, seed {seed})",
        "abstain_rule": {"target_val_accuracy": ABSTAIN_TARGET, "threshold": abstain_t, "found": found,
                         "min_accepted": ABSTAIN_MIN_ACCEPTED, "val_n": int(len(yva)),
                         "val_coverage": val_row["coverage"], "val_accuracy": val_row["accuracy"],
                         "val_best": {"threshold": best_t, "accuracy": best_acc},
                         "advice": "max calibrated probability below the threshold: refer to a radiologist"},
        "screening_rule": {"target_val_sensitivity": SCREEN_TARGET_SENSITIVITY, "threshold": screen_t,
                           "val_sensitivity": screen_val["sensitivity"]["value"],
                           "val_specificity": screen_val["specificity"]["value"], "val_n_missed": screen_val["n_missed"],
                           "advice": "P(tumour) at or above the threshold: treat as a possible tumour"},
        **blocks,
    }

    if robustness and "leakfree_test" in arrays:
        df, X, y = arrays["leakfree_test"]
        rob: dict = {"method": "decoded original downsampled with Pillow (BILINEAR, antialiased) so its longest "
                               "side is px, then prepared at the model's size; leak-free test",
                     "resolution": []}
        _log(f"robustness: {len(df)} images at {', '.join(map(str, RESOLUTIONS))} px", progress)
        R = robustness_arrays(root, df, S, RESOLUTIONS, progress=progress)
        idx = bootstrap_indices(len(y), bootstrap, seed) if bootstrap else None
        for px, Xr in zip(RESOLUTIONS, R):
            correct = predictor.predict_arrays(Xr).argmax(1) == y
            rob["resolution"].append({"px": px, "accuracy": _block(correct.mean(),
                                                                    correct[idx].mean(1) if idx is not None else None)})
        man = build_manifest(root, progress=False).set_index("path")
        wh = man.reindex(df["path"])[["width", "height"]].to_numpy()
        sel = (wh[:, 0] == 512) & (wh[:, 1] == 512)
        sub: dict = {"n": int(sel.sum()), "per_class_n": {c: int(((y == i) & sel).sum()) for i, c in enumerate(config.CLASSES)},
                     "note": "leak-free test images of exactly 512x512 px: the file-size shortcut is absent within it"}
        absent = [c for c, k in sub["per_class_n"].items() if k == 0]
        if absent and sel.any():  # e.g. the Kaggle data has no 512x512 no-tumour scan: still a 3-class shortcut
            sub["note"] += f"; no {', '.join(absent)} image has this size, so size still rules those classes out"
        if sel.any():
            p = predictor.predict_arrays(X[sel])
            sub["accuracy"] = classification_metrics(y[sel], p, bootstrap, seed)["accuracy"]
        else:
            sub["accuracy"] = {"value": float("nan"), "ci": [float("nan")] * 2}
        rob["size512_subset"] = sub
        result["robustness"] = rob
    result["wall_s"] = round(time.time() - t_start, 1)
    result = _clean(result)

    if write:
        write_evaluation(predictor.path, result, pred_rows)
    return result


def predictions_path(models_dir: str | Path, name: str) -> Path:
    """Where write_evaluation puts a model's per-image rows: <models_dir>/<name>.predictions.csv."""
    return Path(models_dir) / f"{name}.predictions.csv"


def read_predictions(models_dir: str | Path, name: str, groups: "pd.Series | None" = None) -> pd.DataFrame | None:
    """A model's saved per-image rows (None when missing or unreadable); with `groups` (path -> twin group) a `group`
    column is added, -1 for a path it does not name. Class names are read as text: "NA" stays "NA"."""
    try:
        df = pd.read_csv(predictions_path(models_dir, name), keep_default_na=False)
    except (OSError, ValueError):
        return None
    if groups is not None:
        df["group"] = df["path"].map(groups).fillna(-1).astype(int)
    return df


def write_evaluation(keras_path: str | Path, evaluation: dict, pred_rows: list[dict]) -> tuple[Path, Path]:
    """Put `evaluation` into <model>.json (every other key kept) and rows into <model>.predictions.csv."""
    kpath = Path(keras_path)
    jpath = kpath.with_suffix(".json")
    meta = json.loads(jpath.read_text(encoding="utf-8"))
    meta["evaluation"] = evaluation
    tmp = jpath.with_name(f".{jpath.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, jpath)
    cpath = predictions_path(kpath.parent, kpath.stem)
    cols = ["path", "eval_split", "label", *config.CLASSES, "p_tumour", "prediction"]
    pd.DataFrame(pred_rows, columns=cols).to_csv(cpath, index=False, float_format="%.6f")
    return jpath, cpath


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
            "gap": _block(float(d.mean()), samples), "only_a_right": int((ca & ~cb).sum()),
            "only_b_right": int((cb & ~ca).sum()), "method": f"paired {how} 95%, {int(n_boot)} resamples, seed {seed}"}


def add_cluster_blocks(json_path: str | Path, data_dir=None, bootstrap: int | None = None,
                       seed: int = config.SEED) -> dict:
    """Add the "cluster" block to each split of a recorded evaluation, from its saved predictions CSV and the
    split's groups: for records evaluated before cluster intervals existed, or whose weights are not committed.
    The rest of the record is untouched. Returns the updated evaluation."""
    from ..data.layouts import resolve_data_dir
    from ..data.split import load_split

    jpath = Path(json_path)
    meta = json.loads(jpath.read_text(encoding="utf-8"))
    ev = meta["evaluation"]
    preds = read_predictions(jpath.parent, jpath.stem)
    if preds is None:
        raise FileNotFoundError(f"{predictions_path(jpath.parent, jpath.stem).name} is missing: run `brain-mri evaluate`")
    root = resolve_data_dir(data_dir)
    n_boot = int(ev.get("bootstrap", 1000) if bootstrap is None else bootstrap)
    for key, kind in (("leakfree_test", "leakfree"), ("official_test", "official")):
        if key not in ev:
            continue
        rows = preds[preds["eval_split"] == key].merge(load_split(kind, root)[["path", "group"]], on="path",
                                                       how="left", validate="one_to_one")
        if len(rows) != ev[key]["n"] or rows["group"].isna().any():
            raise ValueError(f"{jpath.stem}: its {key} predictions do not match the current {kind} split")
        y = rows["label"].map(config.CLASSES.index).to_numpy()
        ev[key]["cluster"] = _clean(cluster_metrics(y, rows[list(config.CLASSES)].to_numpy(), rows["group"].to_numpy(),
                                                    n_boot, seed))
    tmp = jpath.with_name(f".{jpath.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=1, allow_nan=False), encoding="utf-8")
    os.replace(tmp, jpath)
    return ev


# ------------------------------------------------------------------------------------------- CLI
def _fmt(b: dict | None, pct: bool = True) -> str:
    if not b or b.get("value") is None:
        return "n/a"
    v, (lo, hi) = b["value"], b.get("ci") or [None, None]
    if lo is None or hi is None:
        return f"{100 * v:.1f}%" if pct else f"{v:.3f}"
    return f"{100 * v:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]" if pct else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def format_table(ev: dict) -> str:
    lines = [f"model {ev.get('model')}  data {ev.get('data_dir')}{' (SYNTHETIC phantoms)' if ev.get('synthetic') else ''}"
             f"  split {str(ev.get('split_sha256'))[:12]}  T={ev.get('temperature', float('nan')):.3f} "
             f"(refit on val {ev.get('temperature_refit_val', float('nan')):.3f})  bootstrap {ev.get('bootstrap')}"
             + (f"  TTA {ev['tta']}" if ev.get("tta") else "")]
    for key, title in (("leakfree_test", "leak-free test (headline)"), ("official_test", "official Testing (leaky)")):
        b = ev.get(key)
        if not b:
            continue
        t = b["tumour"]
        lines.append(f"\n{title}: n={b['n']}" + (f", {b['n_in_training_split']} seen in training" if b.get("n_in_training_split") else ""))
        lines.append(f"  accuracy      {_fmt(b['accuracy'])}")
        lines.append(f"  macro-F1      {_fmt(b['macro_f1'], False)}")
        for c, pc in b["per_class"].items():
            lines.append(f"  {c:<12}  P {_fmt(pc['precision'])}  R {_fmt(pc['recall'])}  F1 {_fmt(pc['f1'], False)}  n={pc['support']}")
        lines.append(f"  tumour vs none @0.5: sensitivity {_fmt(t['sensitivity'])}  specificity {_fmt(t['specificity'])}  "
                     f"AUC {_fmt(t['roc_auc'], False)}")
        c = b["calibration"]
        lines.append(f"  ECE (15 bins) raw {c['ece_raw']:.4f} -> calibrated {c['ece_calibrated']:.4f}")
        a = b["abstain"]
        acc = "n/a" if a["accuracy"] is None else f"{100 * a['accuracy']:.1f}%"
        lines.append(f"  abstain below {a['threshold']:.3f}: coverage {100 * a['coverage']:.1f}%, accuracy on accepted {acc}, "
                     f"{a['n_referred']} referred")
        sc = b.get("screening")
        if sc:
            lines.append(f"  screening @{sc['threshold']:.3g} (chosen on val for >= {100 * SCREEN_TARGET_SENSITIVITY:.1f}% "
                         f"sensitivity): sensitivity {_fmt(sc['sensitivity'])}  specificity {_fmt(sc['specificity'])}  "
                         f"missed {sc['n_missed']} of {sc['n_tumour']}")
        cl = b.get("cluster")
        if cl:
            lines.append(f"  twin groups resampled whole ({cl['n_groups']} groups): accuracy {_fmt(cl['accuracy'])}  "
                         f"macro-F1 {_fmt(cl['macro_f1'], False)}  sensitivity {_fmt(cl['sensitivity'])}")
            lines.append(f"  per twin group (each group once): accuracy {_fmt(cl['per_group_accuracy'])}")
        if b.get("unseen_subset"):
            lines.append(f"  unseen subset (n={b['unseen_subset']['n']}): accuracy {_fmt(b['unseen_subset']['accuracy'])}")
        if b.get("note"):
            lines.append(f"  note: {b['note']}")
    ar = ev.get("abstain_rule") or {}
    if ar and not ar.get("found"):
        best = ar.get("val_best") or {}
        how = (f" (best {100 * best['accuracy']:.1f}% at >= {best['threshold']:.3f})"
               if best.get("accuracy") is not None else "")
        lines.append(f"\nabstain rule: no threshold reaches {100 * ar['target_val_accuracy']:.0f}% accuracy on >= "
                     f"{ar['min_accepted']} val images{how}; fallback threshold {ar['threshold']}")
    r = ev.get("robustness")
    if r:
        lines.append("\nrobustness (leak-free test): " + ", ".join(f"{x['px']}px {_fmt(x['accuracy'])}" for x in r["resolution"]))
        s = r["size512_subset"]
        lines.append(f"  512x512-only subset n={s['n']}: accuracy {_fmt(s['accuracy'])}")
    lines.append(f"\n({ev.get('wall_s')} s)")
    return "\n".join(lines)


def cli_evaluate(args) -> int:
    from ..errors import DataError
    from ..errors import ModelError
    from ..modeling.predictor import load_model
    from ..errors import ImageError

    try:
        predictor = load_model(getattr(args, "model", None))
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        ev = evaluate_model(predictor, data_dir=getattr(args, "data_dir", None),
                            bootstrap=int(getattr(args, "bootstrap", 1000) or 0))
    except (DataError, ImageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(format_table(ev))
    print(f"wrote evaluation into {predictor.path.with_suffix('.json').name} and "
          f"{predictor.path.stem}.predictions.csv")
    return 0
