"""Batch 35 (experiments/batch35_test_time_views/PLAN.md): a second view of the same slice at prediction time.

Batch 35 trains he_bo's seeds 42 and 7 on the three folds again (the LOCO member models of earlier batches were not
kept). `measure` runs each of those models once over its fold's validation rows, its held-out rows (the slice and its
brain-only view, each with its mirror and its own brain-only view) and its familiar test rows, and writes the logits
to views.csv.gz, with the distance of each held-out and familiar row under batch 22's warning rule (for batch 36).
Everything else (`compute`) reads that file: each candidate averages its views' logits, fits the temperature and the
call threshold again on the run's validation rows, and is scored on the held-out sources as every LOCO run is.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..modeling import operating_point as op
from . import healthy_variety as hv
from . import shipped_schedule as ss

BATCH35 = config.EXPERIMENTS_DIR / "batch35_test_time_views"
VIEWS35 = BATCH35 / "views.csv.gz"
RESULTS35 = BATCH35 / "results.json"
RECIPE35 = ss.BO_E40
# a candidate: which transforms of a slice are averaged (logits). "x": the slice; "f": its mirror; "b": its
# brain-only view (data.brain_only, 8-px erosion). The held-out brain-only view "v" gets the same transforms.
CANDIDATES35 = {"plain": ("",), "flip2": ("", "f"), "brain2": ("", "b")}
INCUMBENT35 = "plain"
GAIN35, DROP_SLACK35 = 0.01, 1.0  # PLAN.md rule 1: 1 point on the mean and each seed, drop at most 1 point larger
NON_INFERIOR35, DROP_CUT35 = 0.005, 2.0  # rule 2: at most 0.5 point below, drop at least 2 points smaller
DIGITS = 4
K = len(config.CLASSES)


def logit_cols(base: str) -> list[str]:
    """The four logit columns of one transform in views.csv.gz ("x", "xf", ..., "vb")."""
    return [f"{base}_{k}" for k in range(K)]


def runs(folder: Path, seeds: tuple[int, ...], name: str = RECIPE35) -> list[Path]:
    """A batch's run records (each seed, the three folds), in order, named as experiments/loco_runs.sh names them."""
    out = []
    for seed in seeds:
        sfx = "" if seed == config.SEED else f"_s{seed}"
        out += [folder / f"{name}{sfx}__{fold}.json" for fold in hv.FOLDS10]
    return out


def runs35(folder: Path = BATCH35) -> list[Path]:
    """Batch 35's run records (seeds 42 and 7, three folds), in order."""
    return runs(folder, (config.SEED, 7))


def _transforms(A: np.ndarray) -> dict[str, np.ndarray]:
    """The slice, its mirror and its brain-only view (the evaluation's fixed 8-px erosion)."""
    from ..data import brain_only

    return {"": A, "f": A[:, :, ::-1].copy(), "b": brain_only.brain_only_many(A, seed=None)}


def measure_run(record_path: Path, u: union_split.Union, X: np.ndarray, views: np.ndarray) -> pd.DataFrame:
    """One run's rows: set (val, held, fam), union row, collection, source, label, and logits per transform
    ("x", "xf", "xb" of the slice; "v", "vf", "vb" of the held-out brain-only view), with the distance over batch
    22's cut ("ratio_x", "ratio_v") for held-out and familiar rows."""
    import keras

    from ..modeling import architectures  # noqa: F401 - registers the custom layers
    from ..modeling import familiarity
    from . import disagreement as dg
    from . import warning_scores as ws

    f = records.files(record_path)
    rec = records.read(f.record)
    cfg = rec["config"]
    model = keras.saving.load_model(f.weights, compile=False)
    tab = u.table
    tr, va, te = union_split.fold_rows(tab, cfg["fold"])
    held = te[te["source"].isin(union_split.fold_sources(cfg["fold"]))]
    fam = tab[~union_split.held_out(tab, cfg["fold"]) & (tab["split"] == "test")]
    at = tab.index.get_indexer
    fit = ws.fit_rows(tr)
    _, F_fit = ws.logits_and_features(model, X[at(fit)])
    frames = []
    rule = None
    for name, rows in (("val", va), ("held", held), ("fam", fam)):
        d = pd.DataFrame({"seed": int(cfg["seed"]), "fold": cfg["fold"], "set": name, "row": rows.index.to_numpy(),
                          "collection": rows["collection"].to_numpy(), "source": rows["source"].to_numpy(),
                          "label": rows["label"].to_numpy()})
        bases = {"x": X[at(rows.index)]}
        if name == "held":
            bases["v"] = views[at(rows.index)]
        for b, A in bases.items():
            for t, At in _transforms(A).items():
                if name == "fam" and t:  # familiar rows: the slice alone (batch 36's familiar firing)
                    continue
                L, F = ws.logits_and_features(model, At)
                d[logit_cols(b + t)] = np.round(L, DIGITS)
                if name == "val" and b == "x" and not t:
                    rule = ws.fit_score(dg.DIST[0], F_fit, tab, fit, F)
                if name != "val" and not t:
                    cut = rule["val_quantiles"][familiarity.qkey(dg.DIST[1])]
                    d[f"ratio_{b}"] = np.round(familiarity.score(rule, F) / cut, DIGITS)
        frames.append(d)
    del model
    return pd.concat(frames, ignore_index=True)


def measure(paths: list[Path] | None = None) -> pd.DataFrame:
    from ..modeling.train_union import view_arrays

    u = union_split.build()
    X = union_split.union_arrays(u)
    views = view_arrays(X)
    frames = []
    for p in paths or runs35():
        frames.append(measure_run(p, u, X, views))
        print(f"{p.name}: measured", flush=True)
    return pd.concat(frames, ignore_index=True)


def measure_cached(paths: list[Path], cache: str, out: Path) -> bool:
    """Measure each saved run of `paths` not yet measured into the cache folder `cache` (so a batch's measurement can
    start while later runs still train); once all are measured, write them together to `out`. True when written."""
    parts = config.cache_dir() / cache
    parts.mkdir(parents=True, exist_ok=True)
    for p in [p for p in paths if p.is_file() and not (parts / f"{p.stem}.csv.gz").is_file()]:
        measure([p]).to_csv(parts / f"{p.stem}.csv.gz", index=False)
    done = [parts / f"{p.stem}.csv.gz" for p in paths]
    if not all(f.is_file() for f in done):
        print(f"{sum(f.is_file() for f in done)} of {len(done)} runs measured; run again when the others are saved")
        return False
    views = pd.concat([pd.read_csv(f) for f in done], ignore_index=True)
    views.to_csv(out, index=False)
    print(f"wrote {out.name}: {len(views):,} rows", flush=True)
    return True


def read_views(path: Path = VIEWS35) -> pd.DataFrame | None:
    return pd.read_csv(path) if Path(path).is_file() else None


def candidate_logits(d: pd.DataFrame, cand: str, base: str = "x") -> np.ndarray:
    """The candidate's logits of `base` ("x" the slice, "v" its brain-only view): the mean over its transforms."""
    return np.mean([d[logit_cols(base + t)].to_numpy(float) for t in CANDIDATES35[cand]], axis=0)


def candidate_run(views: pd.DataFrame, seed: int, fold: str, cand: str) -> dict:
    """A candidate on one run, as a run record `hv.source_rows` reads: operating point fitted on the run's
    validation rows under the candidate's views, predictions of its held-out rows, plain and brain-only view."""
    from ..modeling import partial_labels
    from ..modeling.calibrate import probs_from_logits

    r = views[(views["seed"] == seed) & (views["fold"] == fold)]
    va, ho = r[r["set"] == "val"], r[r["set"] == "held"]
    point = op.choose(candidate_logits(va, cand), partial_labels.label_masks(va["label"]),
                      va["collection"].to_numpy())
    no = config.CLASSES.index(config.NO_TUMOUR)
    pred = pd.DataFrame({"source": ho["source"].to_numpy(), "label": ho["label"].to_numpy(),
                         "row": ho["row"].to_numpy()})
    for col, base in (("p_tumour", "x"), ("p_tumour_brain_only", "v")):
        pred[col] = 1 - probs_from_logits(candidate_logits(ho, cand, base), point["temperature"])[:, no]
    return {"config": {"recipe": cand, "seed": int(seed), "fold": fold}, "operating_point": point, "pred": pred}


def loco(views: pd.DataFrame) -> pd.DataFrame:
    """Per (candidate, seed, held-out source, view): hv.source_rows at the candidate's own operating point."""
    frames = []
    for (seed, fold), _ in views.groupby(["seed", "fold"], sort=False):
        for cand in CANDIDATES35:
            frames.append(hv.source_rows(candidate_run(views, int(seed), fold, cand)))
    return pd.concat(frames, ignore_index=True)


def worst_drop(lo: pd.DataFrame, recipe: str) -> float | None:
    """The largest per-source brain-only drop in points (mean of the seeds): the floor is read per source (PLAN.md's
    amendment)."""
    return ss.brain_only_drop(lo, recipe, over=max)


def decide(scores: pd.DataFrame, lo: pd.DataFrame) -> tuple[str, list[dict], str]:
    """PLAN.md's rule: (choice, one row per candidate, note)."""
    by = {r["recipe"]: r for _, r in scores.iterrows() if r["complete"] and len(r["seeds"]) >= 2}
    if INCUMBENT35 not in by:
        return INCUMBENT35, [], "the incumbent is not complete for seeds 42 and 7: no decision"
    p0, d0 = float(by[INCUMBENT35]["primary"]), worst_drop(lo, INCUMBENT35)
    rows = []
    for c in CANDIDATES35:
        if c == INCUMBENT35 or c not in by:
            continue
        p, d = float(by[c]["primary"]), worst_drop(lo, c)
        seeds_up = all(by[c]["per_seed"][s] > by[INCUMBENT35]["per_seed"][s] for s in by[c]["seeds"])
        r1 = p - p0 >= GAIN35 - 1e-12 and seeds_up and d - d0 <= DROP_SLACK35 + 1e-9
        r2 = p - p0 >= -NON_INFERIOR35 - 1e-12 and d0 - d >= DROP_CUT35 - 1e-9
        rows.append({"candidate": c, "primary": p, "delta": p - p0, "per_seed": by[c]["per_seed"], "drop": d,
                     "drop_cut": d0 - d, "rule1": bool(r1), "rule2": bool(r2), "qualifies": bool(r1 or r2)})
    head = f"plain {p0:.1%}, largest brain-only drop {d0:.1f} points"
    parts = [f"{r['candidate']} {r['primary']:.1%} ({r['delta'] * 100:+.1f} points), largest drop {r['drop']:.1f} points "
             f"({r['drop_cut']:+.1f} smaller): " + ("rule 1" if r["rule1"] else "rule 2" if r["rule2"] else
                                                    "does not qualify") for r in rows]
    ok = [r for r in rows if r["qualifies"]]
    if not ok:
        return INCUMBENT35, rows, f"{head}; " + "; ".join(parts) + ". None qualifies: the slice alone stays"
    win = max(ok, key=lambda r: r["primary"])["candidate"]
    return win, rows, f"{head}; " + "; ".join(parts) + f". {win} qualifies"


def reproduced(lo: pd.DataFrame) -> list[dict]:
    """The retrained runs' plain primary score per seed beside batch 20's records of the same seeds."""
    from . import ensemble_transfer as et

    old = et.primary_scores(et.loco([r for r in ss.runs20() if r["config"]["recipe"] == RECIPE35]))
    new = hv.primary_scores(lo[lo["recipe"] == INCUMBENT35])
    if old.empty or new.empty:
        return []
    o, n = old.iloc[0]["per_seed"], new.iloc[0]["per_seed"]
    return [{"seed": s, "batch20": float(o[s]), "batch35": float(n[s])} for s in sorted(n) if s in o]


def merged_views(views: pd.DataFrame) -> pd.DataFrame:
    """The seeds' logits averaged per fold and row (an ensemble, as ensemble.merge builds one), under seed 0: the same
    candidates then score an ensemble. The members' distance ratios (batch 22's rule) are averaged too."""
    cols = [c for c in views.columns if re.fullmatch(r"[xv][fb]?_\d+|ratio_[xv]", c)]
    keys = ["fold", "set", "row"]
    m = views.groupby(keys, sort=False)[cols].mean().reset_index()
    first = views.drop_duplicates(keys)[keys + ["collection", "source", "label"]]
    return m.merge(first, on=keys).assign(seed=0)


def compute(views: pd.DataFrame | None = None) -> dict:
    views = read_views() if views is None else views
    if views is None:
        return {"decision": "not measured yet"}
    lo = loco(views)
    scores = hv.primary_scores(lo)
    choice, rows, note = decide(scores, lo)
    return records.jsonable({
        "loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "rows": rows, "choice": choice,
        "decision": note, "drops": {c: ss.brain_only_drop(lo, c) for c in CANDIDATES35},
        "worst_drops": {c: worst_drop(lo, c) for c in CANDIDATES35},
        # after the decision, a measurement (not part of the rule): the same views on the two seeds merged
        "merged": _merged_scores(views),
        "floors_loco": {c: hv.floors_loco(lo, c) for c in CANDIDATES35}, "reproduced": reproduced(lo)})


def _merged_scores(views: pd.DataFrame) -> dict:
    lo = loco(merged_views(views))
    per = lo.groupby("recipe")["score"].agg(["mean", "size"])
    return {c: float(per.loc[c, "mean"]) for c in CANDIDATES35 if c in per.index and per.loc[c, "size"] == hv.N_NUMBERS}


def results() -> dict | None:
    return records.read_json(RESULTS35)
