"""Batch 26 (experiments/batch26_pattern_check/PLAN.md): the synthetic-pattern check measured where it could fail.

1. Unseen collections: fitted per LOCO fold (batch 20's `he_bo_e40` seed-42 models) on the fold's training rows and
   every family, thresholded on its validation rows; the share of each held-out source's slices it rejects.
2. Unseen families: on the shipped model, one family left out of the fit at a time; the share of it rejected.
3. The shipped model's own check: rejections on the union test rows per collection, and three probe pictures.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..modeling import pattern_check as pc
from . import healthy_variety as hv
from . import warning_scores as ws

BATCH26 = config.EXPERIMENTS_DIR / "batch26_pattern_check"
RESULTS26 = BATCH26 / "results.json"
MAX_REAL_LOSS = 0.005  # PLAN.md (a), (b): at most 0.5% of a held-out source's / a collection's slices
MIN_FAMILY_DETECTION = 0.80  # PLAN.md (c): median held-out-family detection


def probes() -> dict[str, np.ndarray]:
    """The three pictures that showed the gap (512 px, uint8): a uniform-noise disc, a striped disc, a disc of
    16-px random blocks, each a centred disc of radius 0.4 of the side on black."""
    n = pc.SIDE
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:n, 0:n]
    disc = np.hypot(yy - n / 2, xx - n / 2) < n * 0.4
    return {"noise disc": (rng.uniform(0, 255, (n, n)) * disc).astype(np.uint8),
            "striped disc": ((np.sin(xx / 6) > 0) * 200 * disc).astype(np.uint8),
            "block disc": (np.kron(rng.uniform(0, 255, (n // 16, n // 16)), np.ones((16, 16))) * disc).astype(np.uint8)}


def _features(model, X: np.ndarray) -> np.ndarray:
    from ..modeling import familiarity

    return familiarity.features(model, X)


def synthetic(size: int, keep=None) -> tuple[np.ndarray, np.ndarray]:
    """The families' pictures that `keep` accepts (pattern_check.synthetic_set), cached: they are drawn from fixed
    seeds, and batch 26's `keep` is always the app's pixel checks."""
    cache = config.cache_dir() / f"pattern-families-{pc.SEED}-{pc.PER_FAMILY}-{size}.npz"
    if cache.is_file():
        z = np.load(cache)
        return z["X"], z["family"]
    X, fam = pc.synthetic_set(size, keep)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, X=X, family=fam)
    return X, fam


def unseen_collections(u: union_split.Union, X: np.ndarray, S: np.ndarray) -> list[dict]:
    """Measurement 1: per LOCO fold, the share of each held-out source's slices the fold's check rejects."""
    import keras

    from ..modeling import architectures  # noqa: F401 - registers the custom layers
    from ..modeling import loco_ensemble
    from . import shipped_schedule as ss

    tab, at, out = u.table, u.table.index.get_indexer, []
    for fold in hv.FOLDS10:
        f = records.files(ss.BATCH20 / f"{loco_ensemble.run_name(ss.BO_E40, fold, config.SEED)}.json")
        model = keras.saving.load_model(f.weights, compile=False)
        tr, va, te = union_split.fold_rows(tab, fold)
        rows = ws.fit_rows(tr)
        rule = pc.fit(_features(model, X[at(rows)]), _features(model, S), _features(model, X[at(va.index)]))
        held = te[te["source"].isin(union_split.fold_sources(fold))]
        rej = pc.rejects(rule, _features(model, X[at(held.index)]))
        for src, k in held.groupby("source").indices.items():
            out.append({"fold": fold, "source": src, "n": int(len(k)), "rejected": int(rej[k].sum()),
                        "threshold": rule["threshold"]})
    return out


def shipped(name: str, u: union_split.Union, X: np.ndarray, S: np.ndarray, fam: np.ndarray) -> dict:
    """Measurements 2 and 3 on model `name`, and its check (fitted on every family) to write if the rule ships it."""
    from ..data.prepare import prepare
    from ..modeling.predictor import load_model

    rec = records.read(config.MODELS_DIR, name)
    model = load_model(records.files(config.MODELS_DIR, name).weights).model
    tr, va, te = union_split.fold_rows(u.table, None, rec["config"].get("collections"))
    at = u.table.index.get_indexer
    F_tr, F_va = _features(model, X[at(ws.fit_rows(tr))]), _features(model, X[at(va.index)])
    F_te, F_s = _features(model, X[at(te.index)]), _features(model, S)
    families = []
    for f in pc.FAMILIES:
        k = fam == f
        rule = pc.fit(F_tr, F_s[~k], F_va)
        families.append({"family": f, "n": int(k.sum()), "detected": int(pc.rejects(rule, F_s[k]).sum())})
    rule = pc.fit(F_tr, F_s, F_va)
    rej = pc.rejects(rule, F_te)
    union = [{"collection": c, "n": int(len(k)), "rejected": int(rej[k].sum())}
             for c, k in te.groupby("collection").indices.items()]
    pictures = probes()
    s = pc.score(rule, _features(model, np.stack([prepare(g, X.shape[1]) for g in pictures.values()])))
    rule.update(model=name, families=list(pc.FAMILIES), per_family=pc.PER_FAMILY, seed=pc.SEED, batch=26)
    return {"model": name, "families": families, "union": union, "rule": rule,
            "probes": [{"picture": p, "score": float(v), "rejected": bool(v > rule["threshold"])}
                       for p, v in zip(pictures, s)]}


def decide(loco: list[dict], ship: dict) -> tuple[bool, str]:
    """PLAN.md's rule: (a) every held-out source loses <= 0.5%; (b) every collection's union test rows <= 0.5%;
    (c) median unseen-family detection >= 80%."""
    lo = pd.DataFrame(loco)
    by_src = lo.groupby("source")[["n", "rejected"]].sum()
    worst_src = (by_src["rejected"] / by_src["n"]).max()
    un = pd.DataFrame(ship["union"])
    worst_union = (un["rejected"] / un["n"]).max()
    fa = pd.DataFrame(ship["families"])
    med = float((fa["detected"] / fa["n"]).median())
    a, b, c = worst_src <= MAX_REAL_LOSS + 1e-12, worst_union <= MAX_REAL_LOSS + 1e-12, med >= MIN_FAMILY_DETECTION - 1e-12
    note = (f"(a) worst held-out source loses {worst_src:.2%} (at most 0.5%: {'yes' if a else 'no'}); (b) worst "
            f"collection's union test rows {worst_union:.2%} ({'yes' if b else 'no'}); (c) median unseen-family "
            f"detection {med:.0%} (at least 80%: {'yes' if c else 'no'})")
    ok = bool(a and b and c)
    return ok, note + (": the check ships" if ok else ": the check does not ship")


def compute(measured: dict | None = None) -> dict:
    """Batch 26's results from measurements.json: the three measurements and the PLAN's decision."""
    measured = measured if measured is not None else records.read_json(BATCH26 / "measurements.json")
    if not measured:
        return {"decision": "not measured yet", "ships": False}
    ok, note = decide(measured["loco"], measured["shipped"])
    sh = measured["shipped"]
    return records.jsonable({"loco": measured["loco"], "families": sh["families"], "union": sh["union"],
                             "probes": sh["probes"], "model": sh["model"], "threshold": sh["rule"]["threshold"],
                             "ships": ok, "decision": note})


def results() -> dict | None:
    return records.read_json(RESULTS26)


def markdown(res: dict | None = None) -> str:
    res = res or results() or {}
    pct = lambda a, b: f"{a / b:.2%}" if b else "n/a"  # noqa: E731
    out = ["# Batch 26: a no-verdict check for synthetic patterns — results (written by "
           "`python experiments/batch26_pattern_check/results.py` from `measurements.json`)", "",
           "Plan: `experiments/batch26_pattern_check/PLAN.md`; measured by `experiments/batch26_pattern_check/run.py`.",
           "", f"Decision: **{res.get('decision', '')}**.", ""]
    if res.get("loco"):
        out += ["## 1. Real slices of collections the check never saw (per LOCO fold, `he_bo_e40` seed 42)", "",
                "| fold | held-out source | slices | rejected |", "|---|---|---|---|"]
        out += [f"| {r['fold']} | {r['source']} | {r['n']:,} | {r['rejected']} ({pct(r['rejected'], r['n'])}) |"
                for r in res["loco"]]
        out += ["", f"## 2. Pattern families the check never saw (`{res.get('model')}`, one family left out at a time)",
                "", "| family | pictures | rejected |", "|---|---|---|"]
        out += [f"| {r['family']} | {r['n']} | {r['detected']} ({pct(r['detected'], r['n'])}) |" for r in res["families"]]
        out += ["", f"## 3. `{res.get('model')}`'s check (every family; threshold {res['threshold']:.2f} logits)", "",
                "| union test collection | slices | rejected |", "|---|---|---|"]
        out += [f"| {r['collection']} | {r['n']:,} | {r['rejected']} ({pct(r['rejected'], r['n'])}) |" for r in res["union"]]
        out += ["", "Probe pictures: " + "; ".join(f"{p['picture']} score {p['score']:.2f} "
                                                   f"({'no verdict' if p['rejected'] else 'passes'})"
                                                   for p in res["probes"]) + ".", ""]
    return "\n".join(out) + "\n"
