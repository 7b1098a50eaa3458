"""Batch 25 (experiments/batch25_disagreement/PLAN.md): does the seed ensemble's member disagreement flag the held-out
misses that the feature distance cannot? A measurement on batch 24's two-seed ensembles.

Per fold and replicate, one forward pass per member gives its logits and pooled features; the merge's logits are
their mean and its features their concatenation (`ensemble.merge` builds exactly that), so the merged model need not
run. Candidates: batch 22's distance rule on the merge ("dist"), member disagreement |logit P1 - logit P2| beyond a
validation quantile ("dis"), and either ("dist|dis"). Chosen on replicate A under batch 22's 4% cap on familiar
test-like firing, tested on replicate B.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from . import healthy_variety as hv
from . import warning_scores as ws

BATCH25 = config.EXPERIMENTS_DIR / "batch25_disagreement"
RESULTS25 = BATCH25 / "results.json"
KINDS = ("dist", "dis", "dist|dis")  # PLAN.md's candidates, in tie order (dist alone first)
DIST = ("colcls", 0.98)  # batch 22's choice: the (collection, class) cell distance at validation quantile 0.98
SHIP_GAIN = 0.10  # PLAN.md: worth shipping at >= 10 points of replicate-B share above dist's ...
SHIP_FIRING = 0.05  # ... at a replicate-B familiar firing of at most 5%


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def disagreement(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """|logit P1(tumour) - logit P2(tumour)|: how far two members' calls lie apart, in logits."""
    return np.abs(_logit(p1) - _logit(p2))


def measure_run(record_path: Path, u: union_split.Union, X: np.ndarray, views: np.ndarray,
                kinds: tuple[str, ...] = KINDS) -> list[dict]:
    """Every candidate's counts on one merged LOCO run of batch 24 (its record names the two member runs). `kinds`
    ("dist" alone for a merge of more than two members, whose disagreement is not defined here): batch 28 tests the
    shipped rule on its four-member runs."""
    import keras

    from ..modeling import architectures  # noqa: F401 - registers the custom layers
    from ..modeling import familiarity

    f = records.files(record_path)
    rec = records.read(f.record)
    cfg, t, temp = rec["config"], float(rec["operating_point"]["threshold"]), float(rec["temperature"])
    paths = [config.PROJ_ROOT / m for m in cfg["members"]]
    if set(kinds) - {"dist"} and len(paths) != 2:
        raise ValueError(f"{record_path.name}: member disagreement needs two members, the run has {len(paths)}")
    temps = [float(records.read(records.files(p).record)["temperature"]) for p in paths]
    models = [keras.saving.load_model(p, compile=False) for p in paths]
    tab = u.table
    tr, va, te = union_split.fold_rows(tab, cfg["fold"])
    fam = tab[~union_split.held_out(tab, cfg["fold"]) & (tab["split"] == "test")]
    held = te[te["source"].isin(union_split.fold_sources(cfg["fold"]))]
    rows = ws.fit_rows(tr)
    at = tab.index.get_indexer
    sets = {"fit": X[at(rows)], "val": X[at(va.index)], "fam": X[at(fam.index)], "plain": X[at(held.index)],
            "brain-only": views[at(held.index)]}
    out = {k: [ws.logits_and_features(m, A) for m in models] for k, A in sets.items()}
    F = {k: np.concatenate([o[1] for o in v], axis=1) for k, v in out.items()}  # the merge's features
    L = {k: np.mean([o[0] for o in v], axis=0) for k, v in out.items()}  # the merge's logits
    g = ({k: disagreement(*(ws.p_tumour(o[0], tm) for o, tm in zip(v, temps))) for k, v in out.items()}
         if set(kinds) - {"dist"} else {})
    rule = ws.fit_score(DIST[0], F["fit"], tab, rows, F["val"])
    cut = rule["val_quantiles"][familiarity.qkey(DIST[1])]
    p = {k: ws.p_tumour(L[k], temp) for k in ("fam", "plain", "brain-only")}
    dist = {k: hv.flagged(p[k], familiarity.score(rule, F[k]), t, cut, 0.0) for k in p}
    y = (held["label"] != config.NO_TUMOUR).to_numpy()
    base = {"seed": int(cfg["seed"]), "fold": cfg["fold"], "familiar_n": int(len(fam))}
    res = []
    for kind in kinds:
        for q in ((None,) if kind == "dist" else ws.QUANTILES):
            dis = {k: g[k] > np.quantile(g["val"], q) for k in p} if q is not None else None
            flag = {k: dist[k] if kind == "dist" else dis[k] if kind == "dis" else dist[k] | dis[k] for k in p}
            row = {**base, "kind": kind, "quantile": q, "familiar_flagged": int(flag["fam"].sum()), "missed": 0,
                   "missed_flagged": 0}
            for v in ("plain", "brain-only"):
                miss = (p[v] < t) & y
                row["missed"] += int(miss.sum())
                row["missed_flagged"] += int((miss & flag[v]).sum())
            res.append(row)
    return res


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per replicate and candidate: share of held-out missed tumours flagged and familiar-test firing."""
    r = rows.assign(quantile=rows["quantile"].fillna(-1.0))
    agg = r.groupby(["kind", "quantile", "seed"])[["missed", "missed_flagged", "familiar_n", "familiar_flagged"]]
    agg = agg.sum().reset_index()
    agg["share"] = agg["missed_flagged"] / agg["missed"].clip(lower=1)
    agg["firing"] = agg["familiar_flagged"] / agg["familiar_n"].clip(lower=1)
    return agg


def choose(rows: pd.DataFrame, chosen_on: int = config.SEED, cap: float = ws.CAP) -> dict:
    """PLAN.md: on replicate `chosen_on`, the candidate with the largest share under the cap (ties: dist alone, then
    the higher quantile); its numbers on the other replicate; and whether it is worth shipping."""
    agg = table(rows)
    sel = agg[(agg["seed"] == chosen_on) & (agg["firing"] <= cap)].copy()
    if sel.empty:
        return {"choice": None}
    sel["order"] = sel["kind"].map(KINDS.index)
    best = sel.sort_values(["share", "order", "quantile"], ascending=[False, True, False]).iloc[0]

    def on_other(kind, q):
        o = agg[(agg["seed"] != chosen_on) & (agg["kind"] == kind) & (agg["quantile"] == q)]
        m, f, n, ff = (int(o[c].sum()) for c in ("missed", "missed_flagged", "familiar_n", "familiar_flagged"))
        return {"missed": m, "missed_flagged": f, "share": f / m if m else None, "firing": ff / n if n else None}

    test, dist = on_other(best["kind"], best["quantile"]), on_other("dist", -1.0)
    worth = bool(best["kind"] != "dist" and test["share"] is not None and dist["share"] is not None
                 and test["share"] - dist["share"] >= SHIP_GAIN - 1e-12 and test["firing"] <= SHIP_FIRING + 1e-12)
    q = None if best["quantile"] < 0 else float(best["quantile"])
    return {"choice": {"kind": str(best["kind"]), "quantile": q, "share": float(best["share"]),
                       "firing": float(best["firing"])}, "test": test, "dist_test": dist, "worth_shipping": worth}
