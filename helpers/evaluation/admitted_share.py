"""Batch 50 (experiments/batch50_admitted_share/PLAN.md): he_bo with a tenth of the held-out source's twin groups
admitted to training, against he_bo (batch 37's seeds 1 and 2), on the held-out rows that were not admitted. A
measurement: how far the held-out rest of a collection moves when some of its look joins training (the best case
for data). The plan's fold holds out Br35H; amendment 1 adds the fold that holds out Sartaj."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..formatting import pct
from .cross_collection import binary_metrics, call_threshold

FOLDER = config.EXPERIMENTS_DIR / "batch50_admitted_share"
RESULTS = FOLDER / "results.json"
SHARE, SEEDS = 0.1, (1, 2)
# fold -> its held-out sources, the admitted one first (union_split.admitted_rows admits from the first)
FOLDS = {"br35h+ixi-t2+dwi": ("br35h", "ixi-t2", "dwi"),
         "sartaj+ms-flair-iran+niivue": ("sartaj", "ms-flair-iran", "niivue")}
NAMES = {"br35h": "Br35H", "sartaj": "Sartaj"}
RECIPES = {"he_bo": config.EXPERIMENTS_DIR / "batch37_views_on_merges",  # recipe -> the folder of its runs
           "he_bo_adm10": FOLDER}


def run_name(recipe: str, seed: int, fold: str) -> str:
    return f"{recipe}_e40_s{seed}__{fold}"


def evaluation_rows(table: pd.DataFrame, fold: str, admitted: pd.Series) -> pd.DataFrame:
    """(collection, path) of the held-out rows that no run of the batch trained on: the fold's, less the admitted."""
    return table.loc[union_split.held_out(table, fold) & ~admitted, ["collection", "path"]]


def run_metrics(pred: pd.DataFrame, keys: pd.DataFrame, thr: float, sources, n_boot: int = 1000) -> dict:
    """Per held-out source, on the evaluation rows: binary_metrics at the run's own threshold (None: no row)."""
    p = pred.merge(keys, on=["collection", "path"], how="inner")
    out = {"n_rows": int(len(p))}
    for src in sources:
        s = p[p["source"] == src]
        y = (s["label"] != config.NO_TUMOUR).to_numpy()
        out[src] = None if s.empty else binary_metrics(y, s["p_tumour"].to_numpy(float), s["group"].to_numpy(),
                                                       thr=thr, n_boot=n_boot)
    return out


def compute_fold(table: pd.DataFrame, fold: str, n_boot: int = 1000) -> dict:
    """One fold: every run found (missing ones listed), each recipe's mean over its complete seeds, and its line."""
    sources = FOLDS[fold]
    picked = union_split.admitted_rows(table, fold, SHARE)  # drawn once: the rows scored are the rest
    keys = evaluation_rows(table, fold, picked)
    admitted = table[picked]
    tum = admitted["label"] != config.NO_TUMOUR
    runs, missing = [], []
    for recipe, folder in RECIPES.items():
        for seed in SEEDS:
            f = records.files(folder, run_name(recipe, seed, fold))
            rec = records.read(f.record)
            if rec is None or not f.predictions.is_file():
                missing.append(run_name(recipe, seed, fold))
                continue
            thr = call_threshold(rec)
            pred = pd.read_csv(f.predictions, keep_default_na=False)
            runs.append({"recipe": recipe, "seed": seed, "run": f.name, "threshold": thr,
                         "n_train": rec["data"]["n_train"], **run_metrics(pred, keys, thr, sources, n_boot)})
    means = {}
    for recipe in RECIPES:
        mine = [r for r in runs if r["recipe"] == recipe]
        if len(mine) == len(SEEDS):
            means[recipe] = {src: {k: float(np.mean([r[src][k] for r in mine]))
                                   for k in ("sensitivity", "specificity", "auc") if mine[0][src][k] is not None}
                             for src in sources if all(r[src] is not None for r in mine)}
    res = {"sources": list(sources), "n_evaluation_rows": int(len(keys)),
           "admitted": {"rows": int(len(admitted)), "groups": int(admitted["group"].nunique()),
                        "tumour": int(tum.sum()), "healthy": int((~tum).sum())},
           "runs": runs, "missing": missing, "means": means}
    res["line"] = fold_line(res, fold)
    return res


def compute(table: pd.DataFrame | None = None, n_boot: int = 1000) -> dict:
    table = pd.read_csv(union_split.UNION_SPLIT, keep_default_na=False) if table is None else table
    folds = {fold: compute_fold(table, fold, n_boot) for fold in FOLDS}
    return {"share": SHARE, "seeds": list(SEEDS), "folds": folds,
            "decision": "; ".join(f["line"] for f in folds.values()) + ". A measurement: nothing ships"}


def fold_line(res: dict, fold: str) -> str:
    """A fold's line: its admitted source's rows not admitted, with and without the admitted tenth."""
    src = FOLDS[fold][0]
    name = NAMES.get(src, src)
    m = res["means"]
    if set(m) != set(RECIPES):
        return f"{name} fold incomplete ({', '.join(res['missing']) or 'a recipe lacks a seed'} missing)"
    a, b = m["he_bo"][src], m["he_bo_adm10"][src]
    parts = [f"{k} {pct(a[k])} without, {pct(b[k])} with ({(b[k] - a[k]) * 100:+.1f} points)"
             for k in ("sensitivity", "specificity") if k in a and k in b]
    if "auc" in a and "auc" in b:
        parts.append(f"ROC-AUC {a['auc']:.3f} → {b['auc']:.3f}")
    seeds = ", ".join(str(s) for s in SEEDS)
    return (f"held-out {name} rows not admitted, a tenth of {name}'s groups in training or not (mean of seeds "
            f"{seeds}): " + ", ".join(parts))


def results() -> dict | None:
    return records.read(RESULTS)
