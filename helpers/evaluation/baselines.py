"""Baselines that put the CNN's numbers in context, each fitted on a split's own training part and scored on its test part:

- nearest class mean: the capstone's pixel baseline. Prepared images shrunk to 32x32, one mean image per class,
  each test image takes the class of the nearest mean (Euclidean; cosine reported too);
- intensity profile only: a gradient-boosted classifier on grey-level histograms of the prepared image (whole and
  central half; helpers.modeling.intensity_profile). No layout, no anatomy: what it scores above the majority class measures
  the acquisition shortcut (sequence and source collection differ between classes). Its per-image predictions go to
  intensity_only.predictions.csv beside the JSON, for the analysis of the CNN's misses;
- metadata only: a gradient-boosted classifier on file width, height, colour mode and byte size. It never sees a
  pixel, so whatever it scores above the majority class measures the dataset's size shortcut;
- majority class: the floor.

Fitted per split (leak-free train -> leak-free test; official Training -> official Testing) because the two splits
overlap: a baseline fitted on leak-free train would have memorised most of the official Testing files.
"""
from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records
from ..modeling import intensity_profile

THUMB = 32
META_FEATURES = ["width", "height", "mode", "bytes"]
PROFILE_PREDICTIONS = "intensity_only.predictions.csv"  # written beside baselines.json
# Bump when a baseline is added or changed: report.get_baselines recomputes records of another version.
VERSION = 2


def acc_f1(y: np.ndarray, pred: np.ndarray, n_boot: int = 1000, seed: int = config.SEED) -> dict:
    """{"n", "accuracy": {"value","ci"}, "macro_f1": {"value","ci"}} with paired percentile bootstrap CIs."""
    from ..stats import bootstrap_indices, ci_block
    from .metrics import confusions, prf_from_confusion

    y, pred = np.asarray(y, np.int64), np.asarray(pred, np.int64)
    point = prf_from_confusion(confusions(y, pred))
    boot = prf_from_confusion(confusions(y, pred, bootstrap_indices(len(y), n_boot, seed))) if n_boot else None
    return {"n": int(len(y)),
            "accuracy": ci_block(point["accuracy"], boot["accuracy"] if boot else None),
            "macro_f1": ci_block(point["macro_f1"], boot["macro_f1"] if boot else None)}


def thumbnails(X: np.ndarray, size: int = THUMB) -> np.ndarray:
    """[N, S, S] uint8 -> [N, size*size] float32 in [0, 1] by block means (S a multiple of size) or Pillow."""
    n, s = X.shape[:2]
    if s % size == 0:
        f = s // size
        t = X.reshape(n, size, f, size, f).mean(axis=(2, 4), dtype=np.float32)
    else:
        from PIL import Image

        t = np.stack([np.asarray(Image.fromarray(x).resize((size, size), Image.Resampling.BILINEAR)) for x in X])
    return (t.reshape(n, -1) / 255.0).astype(np.float32)


def nearest_class_mean(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Predicted class of each row of Xte: the class whose training mean is nearest."""
    present = np.array([(ytr == c).any() for c in range(len(config.CLASSES))])
    means = np.stack([Xtr[ytr == c].mean(0) if ok else np.zeros(Xtr.shape[1], Xtr.dtype)
                      for c, ok in enumerate(present)])
    if metric == "cosine":
        a = Xte / np.maximum(np.linalg.norm(Xte, axis=1, keepdims=True), 1e-12)
        m = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        score = a @ m.T
    else:
        score = -((Xte[:, None, :] - means[None]) ** 2).sum(-1)
    score[:, ~present] = -np.inf  # a class absent from training is never predicted
    return score.argmax(1)


def _meta_matrix(man: pd.DataFrame, modes: list[str]) -> np.ndarray:
    mode_code = man["mode"].map({m: i for i, m in enumerate(modes)}).fillna(-1).to_numpy()
    return np.column_stack([man["width"].to_numpy(), man["height"].to_numpy(), mode_code, man["bytes"].to_numpy()]).astype(np.float64)


def _all_arrays(root: Path, lf: pd.DataFrame, size: int, progress: bool) -> dict[str, np.ndarray]:
    """path -> prepared image, from the leak-free split's three cached arrays (the ones training and evaluation
    already built), so the official split's images need no second decode."""
    from ..data.arrays import load_arrays

    out: dict[str, np.ndarray] = {}
    for part in ("train", "val", "test"):
        df = lf[lf["split"] == part]
        if df.empty:
            continue
        X, _ = load_arrays(root, df, size, progress=progress)
        out.update(zip(df["path"], X))
    return out


def run_baselines(data_dir=None, bootstrap: int = 1000, out: str | Path | None = config.MODELS_DIR / "baselines.json",
                  progress: bool = False, size: int = config.IMG_SIZE) -> dict:
    """Fit and score every baseline on both splits; write the result to `out` (None: do not write)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from ..data.layouts import build_manifest, resolve_data_dir
    from ..data.split import load_split, split_sha256
    from ..data.synthetic import is_synthetic

    t0 = time.time()
    root = resolve_data_dir(data_dir)
    lf, off = load_split("leakfree", root), load_split("official", root)
    man = build_manifest(root, progress=progress).set_index("path")
    modes = sorted(man["mode"].astype(str).unique())
    images = _all_arrays(root, lf, size, progress)
    cls_idx = {c: i for i, c in enumerate(config.CLASSES)}
    res: dict = {
        "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_dir": root.name, "synthetic": bool(is_synthetic(root)), "split_sha256": split_sha256(lf),
        "bootstrap": int(bootstrap), "version": VERSION,
        "note": "each baseline is fitted on the training part of the split it is scored on",
        "nearest_class_mean": {"features": f"prepared {size}px images shrunk to {THUMB}x{THUMB}, Euclidean distance"},
        "nearest_class_mean_cosine": {"features": f"prepared {size}px images shrunk to {THUMB}x{THUMB}, cosine similarity"},
        "metadata_only": {"features": META_FEATURES + ["(no pixels)"],
                          "model": "HistGradientBoostingClassifier(random_state=42), mode as a category"},
        "intensity_only": {"features": f"grey-level histograms ({intensity_profile.BINS} bins) of the prepared "
                                       f"{size}px image and of its central half (no layout)",
                           "model": "HistGradientBoostingClassifier(random_state=42)"},
        "majority_class": {},
    }
    pred_rows: list[dict] = []
    for key, df in (("leakfree_test", lf), ("official_test", off)):
        tr, te = df[df["split"] == "train"], df[df["split"] == "test"]
        if tr.empty or te.empty:
            continue
        ytr = tr["label"].map(cls_idx).to_numpy()
        yte = te["label"].map(cls_idx).to_numpy()
        Ttr = thumbnails(np.stack([images[p] for p in tr["path"]]))
        Tte = thumbnails(np.stack([images[p] for p in te["path"]]))
        res["nearest_class_mean"][key] = acc_f1(yte, nearest_class_mean(Ttr, ytr, Tte), bootstrap)
        res["nearest_class_mean_cosine"][key] = acc_f1(yte, nearest_class_mean(Ttr, ytr, Tte, "cosine"), bootstrap)
        Mtr, Mte = _meta_matrix(man.loc[tr["path"]], modes), _meta_matrix(man.loc[te["path"]], modes)
        clf = HistGradientBoostingClassifier(random_state=config.SEED, categorical_features=[2])
        with threadpool_limits(1):  # OpenMP threads spin-wait on a busy 2-core machine: one thread is faster here
            clf.fit(Mtr, ytr)
        res["metadata_only"][key] = acc_f1(yte, clf.predict(Mte), bootstrap)
        Ftr = intensity_profile.features(np.stack([images[p] for p in tr["path"]]))
        Pte = intensity_profile.fit_predict(Ftr, ytr, intensity_profile.features(np.stack([images[p] for p in te["path"]])))
        res["intensity_only"][key] = acc_f1(yte, Pte.argmax(1), bootstrap)
        no_t = config.CLASSES.index(config.NO_TUMOUR)
        pred_rows += [{"path": p, "eval_split": key, "label": lbl, **dict(zip(config.CLASSES, pr)),
                       "p_tumour": 1.0 - pr[no_t], "prediction": config.CLASSES[int(pr.argmax())]}
                      for p, lbl, pr in zip(te["path"], te["label"], Pte)]
        majority = np.bincount(ytr, minlength=len(config.CLASSES)).argmax()
        res["majority_class"][key] = {**acc_f1(yte, np.full_like(yte, majority), bootstrap),
                                      "class": config.CLASSES[majority]}
        if key == "leakfree_test":  # same-size images: what metadata can still tell once 512x512 is the only size
            sel = ((man.loc[te["path"], "width"] == 512) & (man.loc[te["path"], "height"] == 512)).to_numpy()
            if sel.any():
                res["metadata_only"]["size512_subset"] = acc_f1(yte[sel], clf.predict(Mte[sel]), bootstrap)
                res["intensity_only"]["size512_subset"] = acc_f1(yte[sel], Pte[sel].argmax(1), bootstrap)
    res["wall_s"] = round(time.time() - t0, 1)
    res = records.jsonable(res)
    if out is not None:
        out = records.write_json(res, out)
        cols = ["path", "eval_split", "label", *config.CLASSES, "p_tumour", "prediction"]
        pd.DataFrame(pred_rows, columns=cols).to_csv(out.with_name(PROFILE_PREDICTIONS), index=False,
                                                     float_format="%.6f")
    return res


def format_table(res: dict) -> str:
    from ..formatting import value_ci

    lines = [f"baselines on {res['data_dir']}{' (SYNTHETIC)' if res['synthetic'] else ''} "
             f"(accuracy / macro-F1, 95% CI)"]
    for name in ("nearest_class_mean", "nearest_class_mean_cosine", "metadata_only", "intensity_only", "majority_class"):
        for key in ("leakfree_test", "official_test"):
            b = res.get(name, {}).get(key)
            if b:
                lines.append(f"  {name:<26} {key:<14} {value_ci(b['accuracy'])}  {value_ci(b['macro_f1'], False)}")
    for name in ("metadata_only", "intensity_only"):
        s = res.get(name, {}).get("size512_subset")
        if s:
            lines.append(f"  {name} on the 512x512-only leak-free test subset (n={s['n']}): {value_ci(s['accuracy'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m helpers.evaluation.baselines [DATA_DIR] [--out PATH]`"""
    import argparse

    from ..errors import DataError

    p = argparse.ArgumentParser(prog="python -m helpers.evaluation.baselines", description=__doc__.splitlines()[0])
    p.add_argument("data_dir", nargs="?", default=None)
    p.add_argument("--out", default=str(config.MODELS_DIR / "baselines.json"))
    p.add_argument("--bootstrap", type=int, default=1000)
    a = p.parse_args(argv)
    try:
        res = run_baselines(a.data_dir, a.bootstrap, a.out, progress=True)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(format_table(res))
    print(f"wrote {a.out} ({res['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
