"""Batch 40 (experiments/batch40_look_warning/PLAN.md): a warning for a new kind of acquisition, from the pixels
alone (data.look), judged on the two four-seed LOCO replicates of the shipped recipe.

`measure` (needs the data) fits each look rule per LOCO fold on the fold's training rows and writes, per slice, the
look scores of the held-out rows (the slice and its brain-only view), the fold's validation and familiar test rows,
and of the union split's validation and test rows under the rule fitted on the union training rows (looks.csv.gz,
with the cuts in cuts.json). `compute` (no data) reads them with batches 35, 37 and 39's views.csv.gz: the merges'
calls, the shipped rule's flags, and each candidate's share of missed tumours flagged and familiar firing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..data import look, union_split
from . import test_time_views as tv
from . import views_on_merges as vm
from . import warning_cost as wc
from . import warning_scores as ws

BATCH40 = config.EXPERIMENTS_DIR / "batch40_look_warning"
LOOKS40 = BATCH40 / "looks.csv.gz"
CUTS40 = BATCH40 / "cuts.json"
RESULTS40 = BATCH40 / "results.json"
QUANTILES40 = (0.97, 0.98, 0.99)
CANDIDATES40 = [(fs, q) for fs in look.FEATURE_SETS for q in QUANTILES40]
REPLICATES40 = {"A": vm.SEEDS38, "B": (1, 2, 3, 4)}  # PLAN.md: chosen on A, tested on B
FIRING_CAP40, SHARE_FLOOR40 = 0.05, 0.25
FOLDS40 = ("br35h+ixi-t2+dwi", "sartaj+ms-flair-iran+niivue", "figshare+open-ms")
UNION = "union"
SHIPPED40 = "brain_tumor_hv_bo4"  # the model shipped when the batch was planned: its union flags (rule 3)


def name(fs: str, q: float) -> str:
    return f"{fs}@{q:g}"


def _scores(rules: dict, F: pd.DataFrame) -> dict:
    return {f"score_{fs}": np.round(look.score(r, F), 4) for fs, r in rules.items()}


def measure() -> tuple[pd.DataFrame, dict]:
    """(looks, cuts): per fold (and "union") and slice: set, view, row, look score per feature set."""
    from ..modeling.train_union import view_arrays

    u = union_split.build()
    tab = u.table
    X = union_split.union_arrays(u)
    F = look.features(X)
    Fv = look.features(view_arrays(X))
    frames, cuts = [], {}
    plans = [(fold, *union_split.fold_rows(tab, fold)) for fold in FOLDS40]
    plans.append((UNION, tab[tab["split"] == "train"], tab[tab["split"] == "val"], tab[tab["split"] == "test"]))
    for fold, tr, va, te in plans:
        fit = ws.fit_rows(tr)
        rules = {fs: look.fit(F.loc[fit], F.loc[va.index], fs, QUANTILES40) for fs in look.FEATURE_SETS}
        cuts[fold] = {fs: r["val_quantiles"] for fs, r in rules.items()}
        if fold == UNION:
            sets = [("val", "plain", va, F), ("test", "plain", te, F)]
        else:
            held = te[te["source"].isin(union_split.fold_sources(fold))]
            fam = tab[~union_split.held_out(tab, fold) & (tab["split"] == "test")]
            sets = [("val", "plain", va, F), ("held", "plain", held, F), ("held", "brain-only", held, Fv),
                    ("fam", "plain", fam, F)]
        for set_, view, rows, FF in sets:
            d = pd.DataFrame({"fold": fold, "set": set_, "view": view, "row": rows.index.to_numpy(),
                              "collection": rows["collection"].to_numpy(), "path": rows["path"].to_numpy(),
                              "source": rows["source"].to_numpy()})
            frames.append(d.assign(**_scores(rules, FF.loc[rows.index])))
        print(f"{fold}: look rules fitted on {len(fit):,} training rows", flush=True)
    return pd.concat(frames, ignore_index=True), cuts


def read() -> tuple[pd.DataFrame | None, dict | None]:
    return (pd.read_csv(LOOKS40) if LOOKS40.is_file() else None), records.read_json(CUTS40)


def replicate_slices(views: pd.DataFrame) -> pd.DataFrame:
    """One row per held-out slice (both views) and familiar test slice of one replicate's merge, at its operating
    point (warning_cost.slices): its call, whether it is a missed tumour, and the shipped rule's flag (the mean of
    the members' distance ratios beyond 1)."""
    s = wc.slices(tv.merged_views(views))
    return s.assign(miss=s["tumour"] & ~s["call"]).rename(columns={"flagged": "shipped_flag"})


def with_looks(s: pd.DataFrame, looks: pd.DataFrame, cuts: dict) -> pd.DataFrame:
    """The replicate's slices with each candidate's look flag and the flag that would ship (look or shipped)."""
    lk = looks[looks["fold"] != UNION]
    s = s.merge(lk[["fold", "set", "view", "row", *[f"score_{fs}" for fs in look.FEATURE_SETS]]],
                on=["fold", "set", "view", "row"], how="left", validate="one_to_one")
    for fs, q in CANDIDATES40:
        c = s["fold"].map(lambda f: cuts[f][fs][f"{q:g}"])
        s[f"look_{name(fs, q)}"] = s[f"score_{fs}"].to_numpy() > c.to_numpy()
        s[f"flag_{name(fs, q)}"] = s[f"look_{name(fs, q)}"] | s["shipped_flag"]
    return s


def candidate_rows(s: pd.DataFrame) -> list[dict]:
    held, fam = s[s["set"] == "held"], s[s["set"] == "fam"]
    miss = held[held["miss"]]
    rows = [{"candidate": "shipped rule alone", "missed": int(len(miss)),
             "missed_flagged": int(miss["shipped_flag"].sum()), "share": float(miss["shipped_flag"].mean()),
             "familiar_firing": float(fam["shipped_flag"].mean()), "held_flagged": float(held["shipped_flag"].mean())}]
    for fs, q in CANDIDATES40:
        k = name(fs, q)
        rows.append({"candidate": k, "feature_set": fs, "quantile": q, "missed": int(len(miss)),
                     "missed_flagged": int(miss[f"flag_{k}"].sum()), "share": float(miss[f"flag_{k}"].mean()),
                     "look_share": float(miss[f"look_{k}"].mean()),
                     "familiar_firing": float(fam[f"flag_{k}"].mean()),
                     "look_familiar_firing": float(fam[f"look_{k}"].mean()),
                     "held_flagged": float(held[f"flag_{k}"].mean())})
    return rows


def choose(rows: list[dict]) -> dict | None:
    """PLAN.md rule 1: the largest share of missed tumours flagged at familiar firing <= 5%; ties to the higher q,
    then G."""
    ok = [r for r in rows if r.get("feature_set") and r["familiar_firing"] <= FIRING_CAP40]
    order = list(look.FEATURE_SETS)
    return max(ok, key=lambda r: (round(r["share"], 6), r["quantile"], -order.index(r["feature_set"])), default=None)


def cost(s: pd.DataFrame, cand: str) -> list[dict]:
    """Per held-out source (both views): slices, share flagged, flagged calls that were right, misses flagged."""
    held = s[s["set"] == "held"]
    out = []
    for src, d in [*held.groupby("source", sort=True), ("all", held)]:
        f = d[f"flag_{cand}"]
        right = d["call"] == d["tumour"]
        out.append({"source": src, "slices": int(len(d)), "flagged": float(f.mean()),
                    "flagged_right": float(right[f].mean()) if f.any() else None,
                    "missed": int(d["miss"].sum()), "missed_flagged": int((d["miss"] & f).sum())})
    return out


def union_check(looks: pd.DataFrame, cuts: dict, fs: str, q: float, shipped_rows: pd.DataFrame) -> dict:
    """PLAN.md rule 3: the look rule refitted on the union training rows, cut at q of union validation, or the
    shipped rule (its `unfamiliar` column in the shipped model's union predictions), on the union test slices."""
    te = looks[(looks["fold"] == UNION) & (looks["set"] == "test")]
    sh = shipped_rows.set_index(["collection", "path"])["unfamiliar"].astype(bool)
    d = te.assign(shipped=[bool(sh.get((c, p), False)) for c, p in zip(te["collection"], te["path"])])
    lookf = d[f"score_{fs}"].to_numpy() > cuts[UNION][fs][f"{q:g}"]
    both = lookf | d["shipped"].to_numpy()
    per = {src: float(both[(d["source"] == src).to_numpy()].mean()) for src in sorted(d["source"].unique())}
    return {"slices": int(len(d)), "look_firing": float(lookf.mean()), "shipped_firing": float(d["shipped"].mean()),
            "firing": float(both.mean()), "per_source": per}


def compute(views: pd.DataFrame | None = None, looks: pd.DataFrame | None = None, cuts: dict | None = None,
            shipped_rows: pd.DataFrame | None = None) -> dict:
    views = vm.six_seed_views() if views is None else views
    if looks is None or cuts is None:
        looks, cuts = read()
    if views is None or looks is None or cuts is None:
        return {"decision": "the views of batches 35, 37 and 39 or this batch's look scores are missing: "
                            "nothing decided"}
    reps = {}
    for label, seeds in REPLICATES40.items():
        s = with_looks(replicate_slices(views[views["seed"].isin(seeds)]), looks, cuts)
        reps[label] = {"seeds": list(seeds), "rows": candidate_rows(s), "slices": s}
    chosen = choose(reps["A"]["rows"])
    out = {"replicates": {k: {"seeds": v["seeds"], "rows": v["rows"]} for k, v in reps.items()},
           # PLAN.md: the cost beside every candidate, per held-out source (replicate B, the test replicate)
           "cost_all": {name(fs, q): cost(reps["B"]["slices"], name(fs, q)) for fs, q in CANDIDATES40}}
    shipped_rows = shipped_rows if shipped_rows is not None else _shipped_union_rows()
    if shipped_rows is not None:  # every candidate on the union test slices, reported whatever the choice
        out["union_all"] = {name(fs, q): union_check(looks, cuts, fs, q, shipped_rows) for fs, q in CANDIDATES40}
    if chosen is None:
        out["decision"] = "no candidate fires on at most 5% of the familiar test slices: nothing ships"
        return records.jsonable(out)
    k = chosen["candidate"]
    test = next(r for r in reps["B"]["rows"] if r["candidate"] == k)
    out.update(chosen=k, feature_set=chosen["feature_set"], quantile=chosen["quantile"], test=test,
               cost={lab: cost(v["slices"], k) for lab, v in reps.items()})
    uc = (out.get("union_all") or {}).get(k)
    out["union"] = uc
    ships = test["share"] >= SHARE_FLOOR40 and uc is not None and uc["firing"] <= FIRING_CAP40
    out["ships"] = bool(ships)
    pct = lambda v: f"{v:.1%}"  # noqa: E731
    out["decision"] = (
        f"chosen on A: {k} (look or the shipped rule), {pct(chosen['share'])} of A's {chosen['missed']:,} missed "
        f"tumours flagged at {pct(chosen['familiar_firing'])} familiar firing; on B {test['missed_flagged']:,} of "
        f"{test['missed']:,} ({pct(test['share'])}; at least {SHARE_FLOOR40:.0%}: "
        f"{'yes' if test['share'] >= SHARE_FLOOR40 else 'no'})"
        + ("" if uc is None else f"; on the union test slices it fires on {pct(uc['firing'])} (at most "
                                 f"{FIRING_CAP40:.0%}: {'yes' if uc['firing'] <= FIRING_CAP40 else 'no'})")
        + (": it ships beside the call" if ships else ": it does not ship"))
    return records.jsonable(out)


def _shipped_union_rows() -> pd.DataFrame | None:
    p = config.MODELS_DIR / SHIPPED40 / "union_predictions.csv"
    return pd.read_csv(p, usecols=["collection", "path", "unfamiliar"], keep_default_na=False) if p.is_file() else None


def results() -> dict | None:
    return records.read_json(RESULTS40)
