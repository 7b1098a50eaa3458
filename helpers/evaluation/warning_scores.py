"""Batch 22 (experiments/batch22_warning_scores/PLAN.md): the unfamiliar-scan warning chosen against firing on
familiar *test-like* slices, with a second distance (to the nearest (collection, class) cell) beside the shipped one.

For each LOCO model of the shipped recipe: both scores are fitted on the fold's training rows and thresholded on its
validation rows; measured are the held-out missed tumours flagged (plain and brain-only views) and the firing on the
fold's familiar test rows (union test rows of the collections it trained on, which neither training nor the threshold
saw). The choice is made on seed 42 under a 4% cap on that firing, tested on seed 7 and on the shipped model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from . import healthy_variety as hv

BATCH22 = config.EXPERIMENTS_DIR / "batch22_warning_scores"
RESULTS22 = BATCH22 / "results.json"
SCORES = ("cls", "colcls")  # PLAN.md: nearest class mean (shipped), nearest (collection, class) cell mean
QUANTILES = (0.95, 0.96, 0.97, 0.975, 0.98, 0.985, 0.99, 0.995)
MARGINS = (0.0, 0.5, 1.0, 1.5, 2.0)
CAP = 0.04  # firing on at most 4% of the seed-42 runs' familiar test rows
FIT_ROWS = 4000  # as train_union.score: the training rows the rule is fitted on (a fixed sample)


def fit_rows(tr: pd.DataFrame) -> np.ndarray:
    """The training rows a rule is fitted on: `train_union.score`'s sample, so the shipped cls rule is reproduced."""
    rows = tr.index.to_numpy()
    if len(rows) > FIT_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, FIT_ROWS, replace=False))
    return rows


def fit_score(score: str, F: np.ndarray, table: pd.DataFrame, rows: np.ndarray, F_val: np.ndarray,
              quantiles=QUANTILES) -> dict:
    from ..modeling import familiarity

    if score not in SCORES:
        raise ValueError(f"unknown warning score {score!r}; known: {', '.join(SCORES)}")
    groups = table.loc[rows, "collection"].to_numpy() if score == "colcls" else None
    return familiarity.fit(F, table.loc[rows, "label"].to_numpy(), F_val, groups=groups, quantiles=quantiles)


def logits_and_features(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import keras

    from ..modeling.familiarity import feature_model

    fm = feature_model(model)
    both = keras.Model(model.inputs, [model.output, fm.output])
    L, F = both.predict(X[..., None].astype("float32"), batch_size=256, verbose=0)
    return np.asarray(L, np.float64), np.asarray(F, np.float64)


def p_tumour(logits: np.ndarray, temperature: float) -> np.ndarray:
    from ..modeling.calibrate import probs_from_logits

    return 1 - probs_from_logits(logits, temperature)[:, config.CLASSES.index(config.NO_TUMOUR)]


def measure_run(record_path: Path, u: union_split.Union, X: np.ndarray, views: np.ndarray) -> list[dict]:
    """Every candidate's counts on one LOCO run (its saved model, record and held-out predictions)."""
    import keras

    from ..modeling import architectures  # noqa: F401 - registers the custom layers
    from ..modeling import familiarity

    f = records.files(record_path)
    rec = records.read(f.record)
    cfg, t, temp = rec["config"], float(rec["operating_point"]["threshold"]), float(rec["temperature"])
    model = keras.saving.load_model(f.weights, compile=False)
    tab = u.table
    tr, va, te = union_split.fold_rows(tab, cfg["fold"])
    fam = tab[~union_split.held_out(tab, cfg["fold"]) & (tab["split"] == "test")]
    rows = fit_rows(tr)
    at = tab.index.get_indexer
    F_fit = familiarity.features(model, X[at(rows)])
    F_val = familiarity.features(model, X[at(va.index)])
    L_fam, F_fam = logits_and_features(model, X[at(fam.index)])
    p_fam = p_tumour(L_fam, temp)
    pred = pd.read_csv(f.predictions, keep_default_na=False).set_index(["collection", "path"])
    held = te[te["source"].isin(union_split.fold_sources(cfg["fold"]))]
    keys = pd.MultiIndex.from_arrays([held["collection"], held["path"]])
    held_views = {"plain": (X[at(held.index)], pred.loc[keys, "p_tumour"].to_numpy(float)),
                  "brain-only": (views[at(held.index)], pred.loc[keys, "p_tumour_brain_only"].to_numpy(float))}
    F_held = {v: familiarity.features(model, A) for v, (A, _) in held_views.items()}
    y = (held["label"] != config.NO_TUMOUR).to_numpy()
    out = []
    for score in SCORES:
        rule = fit_score(score, F_fit, tab, rows, F_val)
        d_fam = familiarity.score(rule, F_fam)
        d_held = {v: familiarity.score(rule, F) for v, F in F_held.items()}
        max_ratio = float(max(d.max() for d in d_held.values()) / rule["threshold"])
        for qk, cut in rule["val_quantiles"].items():
            for m in MARGINS:
                row = {"seed": int(cfg["seed"]), "fold": cfg["fold"], "score": score, "quantile": float(qk),
                       "margin": m, "familiar_n": int(len(fam)),
                       "familiar_flagged": int(hv.flagged(p_fam, d_fam, t, cut, m).sum()), "missed": 0,
                       "missed_flagged": 0, "held_max_ratio": round(max_ratio, 3)}
                for v, (_, p) in held_views.items():
                    miss = (p < t) & y
                    row["missed"] += int(miss.sum())
                    row["missed_flagged"] += int((miss & hv.flagged(p, d_held[v], t, cut, m)).sum())
                out.append(row)
    return out


def choose(rows: pd.DataFrame, seed: int = config.SEED, cap: float = CAP) -> dict | None:
    """PLAN.md rule 1-2: on `seed`'s runs, the (score, quantile, margin) flagging the largest share of held-out
    missed tumours with pooled familiar-test firing at most `cap` (ties: smaller margin, higher quantile, cls
    first); then the same candidate's numbers on the other seeds."""
    if rows.empty:
        return None
    keys = ["score", "quantile", "margin"]
    sums = ["missed", "missed_flagged", "familiar_n", "familiar_flagged"]
    agg = rows.groupby(["seed", *keys])[sums].sum().reset_index()
    agg["share"] = agg["missed_flagged"] / agg["missed"].clip(lower=1)
    agg["firing"] = agg["familiar_flagged"] / agg["familiar_n"].clip(lower=1)
    sel = agg[(agg["seed"] == seed) & (agg["firing"] <= cap)].copy()
    if sel.empty:
        return None
    sel["order"] = sel["score"].map(SCORES.index)
    best = sel.sort_values(["share", "margin", "quantile", "order"], ascending=[False, True, False, True]).iloc[0]
    other = agg[(agg["seed"] != seed) & (agg["score"] == best["score"]) & (agg["quantile"] == best["quantile"])
                & (agg["margin"] == best["margin"])]
    t_m, t_f = int(other["missed"].sum()), int(other["missed_flagged"].sum())
    t_n, t_ff = int(other["familiar_n"].sum()), int(other["familiar_flagged"].sum())
    return {"score": str(best["score"]), "quantile": float(best["quantile"]), "margin": float(best["margin"]),
            "chosen_on_seed": seed, "chosen_share_missed_flagged": float(best["share"]),
            "chosen_familiar_firing": float(best["firing"]), "test_missed": t_m, "test_missed_flagged": t_f,
            "test_share": (t_f / t_m) if t_m else None, "test_familiar_n": t_n,
            "test_familiar_firing": (t_ff / t_n) if t_n else None}


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per seed and candidate: share of missed tumours flagged and familiar-test firing (the results page)."""
    agg = rows.groupby(["score", "quantile", "margin", "seed"])[
        ["missed", "missed_flagged", "familiar_n", "familiar_flagged"]].sum().reset_index()
    agg["share"] = agg["missed_flagged"] / agg["missed"].clip(lower=1)
    agg["firing"] = agg["familiar_flagged"] / agg["familiar_n"].clip(lower=1)
    return agg


def shipped_rule(model, collections, score: str, u: union_split.Union,
                 X: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """(rule, validation logits, validation features): the chosen score refitted on a shipped model's union training
    rows and thresholded on its union validation rows (the rule its familiarity.json would carry). model: the
    loaded Keras model; collections: its record's training collections (None: all)."""
    from ..modeling import familiarity

    tr, va, _ = union_split.fold_rows(u.table, None, collections)
    rows = fit_rows(tr)
    at = u.table.index.get_indexer
    L_val, F_val = logits_and_features(model, X[at(va.index)])
    # every quantile an earlier batch's candidates used as well, so a later choice can still pick among them
    qs = sorted(set(QUANTILES) | set(familiarity.CANDIDATE_QUANTILES))
    rule = fit_score(score, familiarity.features(model, X[at(rows)]), u.table, rows, F_val, quantiles=qs)
    return rule, L_val, F_val


def union_distances(model, pred: pd.DataFrame, rule: dict, u: union_split.Union,
                    X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(plain, brain-only) distances of the union test rows `pred` lists (a union_predictions.csv, its order)."""
    from ..modeling import familiarity
    from ..modeling.train_union import view_arrays

    where = {(c, p): i for i, (c, p) in enumerate(zip(u.table["collection"], u.table["path"]))}
    pos = np.array([where[(c, p)] for c, p in zip(pred["collection"], pred["path"])])
    return (familiarity.score(rule, familiarity.features(model, X[pos])),
            familiarity.score(rule, familiarity.features(model, view_arrays(X)[pos])))


def results() -> dict | None:
    return records.read_json(RESULTS22)
