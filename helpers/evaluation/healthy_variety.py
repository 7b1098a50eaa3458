"""Batch 10 (issue 21, experiments/batch10_healthy_variety/PLAN.md): healthy-extra in training, look-balanced
brain-only and inversion augmentation, an operating point chosen with every collection weighted equally, and
leave-sources-out folds scored per held-out source on the plain slices and on their brain-only view.

Everything here reads saved records and predictions; `brain-mri healthy-variety` writes the batch's results.json.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from .cross_collection import read_batch

BATCH10 = config.EXPERIMENTS_DIR / "batch10_healthy_variety"
RESULTS = BATCH10 / "results.json"
FOLDS10 = ("br35h+ixi-t2+dwi", "sartaj+ms-flair-iran+niivue", "figshare+open-ms")
RECIPES10 = ("he_sym", "he_bo_inv", "he_bo_inv_bal")  # simplest first: ties go to the earlier one
KEEP_MARGIN = 0.02  # PLAN.md: a recipe replaces the simpler one at >= 2 points of primary score
FAMILIAR_FIRING_MAX = 0.05  # PLAN.md: the warning may flag at most 5% of familiar slices
MARGINS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # amendment 3: logits around the call threshold that read "uncertain"
VIEWS = {"plain": ("p_tumour", "familiarity_ratio"),
         "brain-only": ("p_tumour_brain_only", "familiarity_ratio_brain_only")}


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def source_rows(rec: dict) -> pd.DataFrame:
    """One row per (held-out source, view) of one run, at the run's own operating point."""
    pred, cfg = rec["pred"], rec["config"]
    t = float((rec.get("operating_point") or {}).get("threshold") or 0.5)
    out = []
    for src in union_split.fold_sources(cfg["fold"]):
        rows = pred[pred["source"] == src]
        y = (rows["label"] != config.NO_TUMOUR).to_numpy()
        for view, (pcol, _) in VIEWS.items():
            if pcol not in rows:
                continue
            p = rows[pcol].to_numpy(float)
            tcol = "threshold" if view == "plain" else f"threshold_{view.replace('-', '_')}"
            call = p >= (rows[tcol].to_numpy(float) if tcol in rows else t)  # a threshold per row (batch 42)
            sens = float(call[y].mean()) if y.any() else None
            spec = float(1 - call[~y].mean()) if (~y).any() else None
            parts = [v for v in (sens, spec) if v is not None]
            out.append({"recipe": cfg["recipe"], "seed": int(cfg.get("seed", config.SEED)), "fold": cfg["fold"],
                        "source": src, "view": view, "threshold": t, "n_tumour": int(y.sum()),
                        "n_healthy": int((~y).sum()), "sensitivity": sens, "specificity": spec,
                        "score": float(np.mean(parts)) if parts else None, "auc": _auc(y, p),
                        "missed": int((~call & y).sum()), "false_alarms": int((call & ~y).sum())})
    return pd.DataFrame(out)


def loco10(runs: list[dict] | None = None) -> pd.DataFrame:
    runs = read_batch(BATCH10) if runs is None else runs
    frames = [source_rows(r) for r in runs if r["config"].get("fold") and r.get("pred") is not None]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


N_NUMBERS = 16  # 8 held-out sources x 2 views: one seed of a recipe is complete with all of them


def primary_scores(loco: pd.DataFrame) -> pd.DataFrame:
    """Per recipe: the primary score (mean over held-out sources x views, then over its complete seeds), the
    complete seeds, and each seed's score (incomplete seeds are shown, never averaged in)."""
    if loco.empty:
        return pd.DataFrame(columns=["recipe", "primary", "seeds", "per_seed", "complete"])
    per_seed = loco.groupby(["recipe", "seed"]).agg(score=("score", "mean"), n=("score", "size")).reset_index()
    rows = []
    for r, g in per_seed.groupby("recipe"):
        done = g[g["n"] == N_NUMBERS]
        rows.append({"recipe": r, "primary": float(done["score"].mean()) if len(done) else None,
                     "seeds": sorted(int(x) for x in done["seed"]),
                     "per_seed": {int(sd): float(v) for sd, v in zip(g["seed"], g["score"])},
                     "complete": bool(len(done))})
    order = {r: k for k, r in enumerate(RECIPES10)}
    return pd.DataFrame(rows).sort_values("recipe", key=lambda x: x.map(order)).reset_index(drop=True)


def decide(scores: pd.DataFrame, loco: pd.DataFrame | None = None) -> tuple[str | None, str]:
    """PLAN.md's rule: start from he_sym; a later recipe replaces the current choice at >= KEEP_MARGIN more, both
    compared on the seeds complete for both (seed 42 alone when seed 7 did not finish)."""
    have = {r["recipe"]: r for _, r in scores.iterrows() if r["complete"]}
    if "he_sym" not in have:
        return None, "he_sym (the control) has no complete seed yet: no decision"
    choice, notes = "he_sym", []
    for r in RECIPES10[1:]:
        if r not in have:
            notes.append(f"{r}: not run (or no complete seed)")
            continue
        common = sorted(set(have[r]["seeds"]) & set(have[choice]["seeds"]))
        if not common:
            notes.append(f"{r}: no seed complete for both, not compared")
            continue
        a = float(np.mean([have[r]["per_seed"][sd] for sd in common]))
        b = float(np.mean([have[choice]["per_seed"][sd] for sd in common]))
        seeds = f"seed{'s' if len(common) > 1 else ''} {', '.join(map(str, common))}"
        if a - b >= KEEP_MARGIN:
            notes.append(f"{r} {a:.1%} vs {choice} {b:.1%} ({seeds}): +{(a - b) * 100:.1f} points, kept")
            choice = r
        else:
            notes.append(f"{r} {a:.1%} vs {choice} {b:.1%} ({seeds}): {(a - b) * 100:+.1f} points, below the "
                         f"{KEEP_MARGIN * 100:.0f}-point margin, not kept")
    return choice, "; ".join(notes)


def floors_loco(loco: pd.DataFrame, recipe: str) -> list[dict]:
    """Issue 21's LOCO floors for one recipe, mean of its seeds."""
    g = loco[loco["recipe"] == recipe]
    if g.empty:
        return []
    m = g.groupby(["source", "view"])[["sensitivity", "specificity"]].mean()
    out = []

    def add(what, value, floor, kind=">="):
        ok = None if value is None or pd.isna(value) else bool(value >= floor)
        out.append({"floor": what, "value": None if value is None or pd.isna(value) else float(value),
                    "target": floor, "met": ok})

    for s in union_split.HEALTHY_EXTRA_SOURCES:
        if (s, "plain") in m.index:
            add(f"{s} held out: specificity", m.loc[(s, "plain"), "specificity"], 0.90)
    if ("br35h", "plain") in m.index:
        add("br35h held out: sensitivity", m.loc[("br35h", "plain"), "sensitivity"], 0.80)
        add("br35h held out: specificity", m.loc[("br35h", "plain"), "specificity"], 0.80)
    if ("sartaj", "plain") in m.index:
        add("sartaj held out: specificity", m.loc[("sartaj", "plain"), "specificity"], 0.70)
    for s in ("br35h", "sartaj", "figshare"):
        if (s, "plain") in m.index and (s, "brain-only") in m.index:
            drop = m.loc[(s, "plain"), "sensitivity"] - m.loc[(s, "brain-only"), "sensitivity"]
            out.append({"floor": f"{s} brain-only view: sensitivity drop (points)", "value": float(drop * 100),
                        "target": 5.0, "met": bool(drop * 100 <= 5.0)})
    return out


# ------------------------------------------------------------------------------------ the unfamiliar-scan warning
def _logit(p):
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def flagged(p: np.ndarray, ratio: np.ndarray, t: float, cut: float, margin: float) -> np.ndarray:
    """Amendment 3's warning: distance ratio beyond `cut`, or P(tumour) within `margin` logits of the threshold."""
    return (np.asarray(ratio) > cut) | (np.abs(_logit(p) - _logit(t)) < margin)


def _rule_of(rec: dict, folder: Path) -> dict | None:
    return records.read_json(folder / rec["familiarity_file"]) if rec.get("familiarity_file") else None


def warning_rows(runs: list[dict], recipe: str, folder: Path = BATCH10) -> pd.DataFrame:
    """Per run of `recipe` and candidate (quantile, margin): held-out missed tumours (and all errors) flagged,
    plain and brain-only views apart."""
    out = []
    for r in runs:
        if r["config"].get("recipe") != recipe or not r["config"].get("fold") or r.get("pred") is None:
            continue
        rule = _rule_of(r, folder)
        if not rule or "val_quantiles" not in rule:
            continue
        pred, t = r["pred"], float(r["operating_point"]["threshold"])
        held = pred[pred["source"].isin(union_split.fold_sources(r["config"]["fold"]))]
        y = (held["label"] != config.NO_TUMOUR).to_numpy()
        for q, dq in rule["val_quantiles"].items():
            cut = dq / rule["threshold"]  # the saved ratios are distance / the 0.99 threshold
            for m in MARGINS:
                for view, (pcol, rcol) in VIEWS.items():
                    if pcol not in held:
                        continue
                    p = held[pcol].to_numpy(float)
                    call, flag = p >= t, flagged(p, held[rcol].to_numpy(float), t, cut, m)
                    miss, err = ~call & y, call != y
                    out.append({"seed": int(r["config"]["seed"]), "fold": r["config"]["fold"], "view": view,
                                "quantile": float(q), "margin": m, "missed": int(miss.sum()),
                                "missed_flagged": int((miss & flag).sum()), "errors": int(err.sum()),
                                "errors_flagged": int((err & flag).sum()), "n": int(len(held)),
                                "flagged": int(flag.sum())})
    return pd.DataFrame(out)


def warning_key(quantile, margin) -> str:
    """How a (quantile, margin) candidate is keyed in the firing tables: "0.97|1.5"."""
    return f"{float(quantile):.2f}|{float(margin)}"


def familiar_firing(p: np.ndarray, ratio: np.ndarray, rule: dict, t: float) -> dict[str, float]:
    """Share of familiar slices (p: P(tumour), ratio: distance / the rule's threshold) each candidate flags,
    keyed "quantile|margin"."""
    out = {}
    for q, dq in rule.get("val_quantiles", {}).items():
        for m in MARGINS:
            out[warning_key(q, m)] = float(flagged(p, ratio, t, dq / rule["threshold"], m).mean())
    return out


def choose_warning(rows: pd.DataFrame, firing_val: dict[str, float], firing_test: dict[str, float] | None = None,
                   seed: int = config.SEED, cap: float = FAMILIAR_FIRING_MAX) -> dict | None:
    """Amendment 3: on the seed-42 runs, the (quantile, margin) that flags the largest share of held-out missed
    tumours while flagging at most `cap` of familiar validation slices (5%; batch 16: 4%; ties: smaller margin, then
    higher quantile); its share on the other seeds' runs is the test."""
    if rows.empty or not firing_val:
        return None
    sel = rows[rows["seed"] == seed].groupby(["quantile", "margin"])[["missed", "missed_flagged"]].sum().reset_index()
    sel["key"] = [warning_key(q, m) for q, m in zip(sel["quantile"], sel["margin"])]
    sel = sel[sel["key"].map(lambda k: firing_val.get(k, 1.0) <= cap)]
    if sel.empty:
        return None
    sel["share"] = sel["missed_flagged"] / sel["missed"].clip(lower=1)
    best = sel.sort_values(["share", "margin", "quantile"], ascending=[False, True, False]).iloc[0]
    q, m = float(best["quantile"]), float(best["margin"])
    test = rows[(rows["seed"] != seed) & (rows["quantile"] == q) & (rows["margin"] == m)]
    t_m, t_f = int(test["missed"].sum()), int(test["missed_flagged"].sum())
    t_e, t_ef = int(test["errors"].sum()), int(test["errors_flagged"].sum())
    key = best["key"]
    return {"quantile": q, "margin": m, "chosen_on_seed": seed, "chosen_share_missed_flagged": float(best["share"]),
            "familiar_firing_val": firing_val[key],
            "familiar_firing": (firing_test or {}).get(key), "test_missed": t_m, "test_missed_flagged": t_f,
            "test_share": (t_f / t_m) if t_m else None, "test_errors": t_e, "test_errors_flagged": t_ef}
