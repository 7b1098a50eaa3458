"""Batch 50 (experiments/batch50_admitted_share/PLAN.md): he_bo with a tenth of Br35H's twin groups admitted to
training, against he_bo (batch 37's seeds 1 and 2), on the held-out rows that were not admitted. A measurement:
how far the held-out rest of a collection moves when some of its look joins training (the best case for data)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..formatting import pct
from ..data import union_split
from .cross_collection import binary_metrics, call_threshold

FOLDER = config.EXPERIMENTS_DIR / "batch50_admitted_share"
RESULTS = FOLDER / "results.json"
FOLD, SHARE, SEEDS = "br35h+ixi-t2+dwi", 0.1, (1, 2)
SOURCES = ("br35h", "ixi-t2", "dwi")  # the fold's held-out sources
RECIPES = {"he_bo": config.EXPERIMENTS_DIR / "batch37_views_on_merges",  # recipe -> the folder of its runs
           "he_bo_adm10": FOLDER}


def run_name(recipe: str, seed: int) -> str:
    return f"{recipe}_e40_s{seed}__{FOLD}"


def evaluation_rows(table: pd.DataFrame) -> pd.DataFrame:
    """(collection, path) of the held-out rows that no run of the batch trained on: the fold's, less the admitted."""
    keep = union_split.held_out(table, FOLD) & ~union_split.admitted_rows(table, FOLD, SHARE)
    return table.loc[keep, ["collection", "path"]]


def run_metrics(pred: pd.DataFrame, keys: pd.DataFrame, thr: float, n_boot: int = 1000) -> dict:
    """Per held-out source, on the evaluation rows: binary_metrics at the run's own threshold."""
    p = pred.merge(keys, on=["collection", "path"], how="inner")
    out = {"n_rows": int(len(p))}
    for src in SOURCES:
        s = p[p["source"] == src]
        y = (s["label"] != config.NO_TUMOUR).to_numpy()
        out[src] = None if s.empty else binary_metrics(y, s["p_tumour"].to_numpy(float), s["group"].to_numpy(),
                                                       thr=thr, n_boot=n_boot)
    return out


def compute(table: pd.DataFrame | None = None, n_boot: int = 1000) -> dict:
    """Every run found (missing ones listed), each recipe's mean over the seeds it has complete, and the line."""
    table = pd.read_csv(union_split.UNION_SPLIT, keep_default_na=False) if table is None else table
    keys = evaluation_rows(table)
    admitted = table[union_split.admitted_rows(table, FOLD, SHARE)]
    runs, missing = [], []
    for recipe, folder in RECIPES.items():
        for seed in SEEDS:
            f = records.files(folder, run_name(recipe, seed))
            rec = records.read(f.record)
            if rec is None or not f.predictions.is_file():
                missing.append(run_name(recipe, seed))
                continue
            thr = call_threshold(rec)
            pred = pd.read_csv(f.predictions, keep_default_na=False)
            runs.append({"recipe": recipe, "seed": seed, "run": f.name, "threshold": thr,
                         "n_train": rec["data"]["n_train"], **run_metrics(pred, keys, thr, n_boot)})
    means = {}
    for recipe in RECIPES:
        mine = [r for r in runs if r["recipe"] == recipe]
        if len(mine) == len(SEEDS):
            means[recipe] = {src: {k: float(np.mean([r[src][k] for r in mine]))
                                   for k in ("sensitivity", "specificity", "auc") if mine[0][src][k] is not None}
                             for src in SOURCES if all(r[src] is not None for r in mine)}
    res = {"fold": FOLD, "share": SHARE, "seeds": list(SEEDS), "n_evaluation_rows": int(len(keys)),
           "admitted": {"rows": int(len(admitted)), "groups": int(admitted["group"].nunique()),
                        "by_label": {k: int(v) for k, v in admitted.groupby(
                            admitted["label"] != config.NO_TUMOUR).size().rename({True: "tumour",
                                                                                  False: "healthy"}).items()}},
           "runs": runs, "missing": missing, "means": means}
    res["decision"] = summary(res)
    return res


def summary(res: dict) -> str:
    """The batch's line: held-out Br35H (not admitted) with and without the admitted tenth, mean of the seeds."""
    m = res["means"]
    if set(m) != set(RECIPES):
        return f"incomplete: {', '.join(res['missing']) or 'a recipe lacks a seed'} missing"
    a, b = m["he_bo"]["br35h"], m["he_bo_adm10"]["br35h"]
    return (f"held-out Br35H rows not admitted (mean of seeds {', '.join(map(str, res['seeds']))}): sensitivity "
            f"{pct(a['sensitivity'])} without, {pct(b['sensitivity'])} with a tenth of Br35H's groups in training "
            f"({(b['sensitivity'] - a['sensitivity']) * 100:+.1f} points); specificity {pct(a['specificity'])} → "
            f"{pct(b['specificity'])}; ROC-AUC {a['auc']:.3f} → {b['auc']:.3f}. A measurement: nothing ships")


def results() -> dict | None:
    return records.read(RESULTS)
