"""Batch 37 (experiments/batch37_views_on_merges/PLAN.md): the mirror or the brain-only view, judged on a fresh
two-seed merge.

Batch 35 chose the mirror on single runs; its merge of the same seeds, seen after the decision, disagreed. Batch 37
trains he_bo's seeds 1 and 2 on the three folds (the member models kept), measures them as batch 35 does
(test_time_views.measure, into this folder's views.csv.gz) and judges batch 35's candidates on the merge of the two
seeds: the logits averaged per slice, the operating point refitted on validation under each candidate's views.
Batch 38 merges batch 35's and 37's runs into the shipped four seeds (42 + 7 + 1 + 2), and batch 39 adds seeds 3
and 4 for a second four-seed replicate (1 + 2 + 3 + 4): measurements of the shipped recipe under LOCO, with views.
"""
from __future__ import annotations

import pandas as pd

from .. import config, records
from . import healthy_variety as hv
from . import shipped_schedule as ss
from . import test_time_views as tv

BATCH37 = config.EXPERIMENTS_DIR / "batch37_views_on_merges"
VIEWS37 = BATCH37 / "views.csv.gz"
RESULTS37 = BATCH37 / "results.json"
SEEDS37 = (1, 2)
BEFORE37 = "flip2"  # the view that shipped when batch 37 was planned (brain_tumor_hv_bo4f, batch 35)
NEAR37 = 0.005  # PLAN.md: candidates within 0.5 point of the best are compared on their largest drop
# a tie on the largest drop is read at the precision the results print (0.1 point); then the cheaper view
TIE_ORDER37 = ("plain", "flip2", "brain2")


def runs37() -> list:
    return tv.runs(BATCH37, SEEDS37)


def merged_scores(views: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """The candidates on the merge: (its LOCO rows, one row per candidate with its primary score over the 16
    numbers and its largest per-source brain-only drop; None where the merge is incomplete)."""
    lo = tv.loco(tv.merged_views(views))
    return lo, candidate_rows(lo)


def wrong_seeds(views: pd.DataFrame, want, what: str) -> str | None:
    """Why a merge cannot stand for `what` (its seeds are not `want`), or None."""
    seeds = sorted(int(s) for s in views["seed"].unique())
    return None if seeds == sorted(want) else f"seeds {seeds} measured, not {what} {sorted(want)}: no estimate"


def candidate_rows(lo: pd.DataFrame) -> list[dict]:
    """Per candidate on a merge's LOCO rows: the primary score over the 16 numbers, the largest and the mean
    per-source brain-only drop (None where the merge is incomplete)."""
    rows = []
    for c in tv.CANDIDATES35:
        g = lo[lo["recipe"] == c]
        complete = len(g) == hv.N_NUMBERS
        rows.append({"candidate": c, "primary": float(g["score"].mean()) if complete else None,
                     "drop": tv.worst_drop(lo, c) if complete else None,
                     "mean_drop": ss.brain_only_drop(lo, c) if complete else None})
    return rows


def decide(rows: list[dict]) -> tuple[str | None, str]:
    """PLAN.md's rule 1: the highest primary score on the merge; of those within NEAR37 of it, the smallest largest
    drop; a tie there goes to the cheaper view (TIE_ORDER37)."""
    ok = [r for r in rows if r["primary"] is not None and r["drop"] is not None]
    if len(ok) < len(rows):
        return None, "the merge is not complete for every candidate: no decision"
    best = max(r["primary"] for r in ok)
    near = [r for r in ok if r["primary"] >= best - NEAR37 - 1e-12]
    low = min(round(r["drop"], 1) for r in near)
    win = min((r for r in near if round(r["drop"], 1) == low), key=lambda r: TIE_ORDER37.index(r["candidate"]))
    parts = "; ".join(f"{r['candidate']} {r['primary']:.1%}, largest drop {r['drop']:.1f} points" for r in ok)
    how = (f"{win['candidate']} has the highest primary score" if len(near) == 1 else
           f"{', '.join(r['candidate'] for r in near)} are within {NEAR37 * 100:.1f} point of the best; "
           f"{win['candidate']} has the smallest largest drop" + (" (a tie, the cheaper view)" if
                                                                   sum(round(r['drop'], 1) == low for r in near) > 1
                                                                   else ""))
    return win["candidate"], f"on the merge of seeds 1 and 2: {parts}. {how}"


def compute(views: pd.DataFrame | None = None) -> dict:
    views = tv.read_views(VIEWS37) if views is None else views
    if views is None:
        return {"decision": "not measured yet"}
    lo_m, rows = merged_scores(views)
    choice, note = decide(rows)
    # reported, not part of the rule: each seed's single runs, and batch 35's merge of seeds 42 and 7
    lo = tv.loco(views)
    singles = hv.primary_scores(lo)
    return records.jsonable({
        "rows": rows, "choice": choice, "decision": note, "loco_merged": lo_m.to_dict("records"),
        "loco": lo.to_dict("records"), "scores": singles.to_dict("records"),
        "single_drops": {c: tv.worst_drop(lo, c) for c in tv.CANDIDATES35},
        "batch35_merged": (tv.results() or {}).get("merged"),
        "floors_merged": {c: hv.floors_loco(lo_m, c) for c in tv.CANDIDATES35}})


def results() -> dict | None:
    return records.read_json(RESULTS37)


# Batch 38 (experiments/batch38_four_seed_views/PLAN.md): batch 35's seeds 42 and 7 and batch 37's seeds 1 and 2 are
# the shipped four seeds; merged per fold, they are the shipped recipe under LOCO with each view. A measurement.
BATCH38 = config.EXPERIMENTS_DIR / "batch38_four_seed_views"
RESULTS38 = BATCH38 / "results.json"
SEEDS38 = (config.SEED, 7, 1, 2)


def four_seed_views() -> pd.DataFrame | None:
    """Batch 35's and batch 37's views together (the four seeds), None unless both are measured."""
    a, b = tv.read_views(), tv.read_views(VIEWS37)
    if a is None or b is None:
        return None
    return pd.concat([a, b], ignore_index=True)


def compute38(views: pd.DataFrame | None = None) -> dict:
    views = four_seed_views() if views is None else views
    if views is None:
        return {"decision": "batch 35's or batch 37's views are not measured: nothing to merge"}
    wrong = wrong_seeds(views, SEEDS38, "the shipped four")
    if wrong:
        return {"decision": wrong}
    lo, rows = merged_scores(views)
    note = "four-seed merge (42 + 7 + 1 + 2): " + "; ".join(
        f"{r['candidate']} " + ("n/a" if r["primary"] is None else f"{r['primary']:.1%}, largest drop {r['drop']:.1f} "
                                                                   "points") for r in rows)
    return records.jsonable({"loco": lo.to_dict("records"), "rows": rows, "decision": note,
                             "floors": {c: hv.floors_loco(lo, c) for c in tv.CANDIDATES35}})


def results38() -> dict | None:
    return records.read_json(RESULTS38)


# Batch 39 (experiments/batch39_second_replicate/PLAN.md): seeds 3 and 4 retrained and measured, so that seeds
# 1 + 2 + 3 + 4 are a second four-seed replicate (B) beside batch 38's 42 + 7 + 1 + 2 (A). A measurement.
BATCH39 = config.EXPERIMENTS_DIR / "batch39_second_replicate"
VIEWS39 = BATCH39 / "views.csv.gz"
RESULTS39 = BATCH39 / "results.json"
SEEDS39 = (3, 4)
REPLICATES39 = {config.SEED: SEEDS38, 1: (1, 2, 3, 4)}  # a replicate carries its first member's seed (as batch 30)


def runs39() -> list:
    return tv.runs(BATCH39, SEEDS39)


def replicate_loco(views: pd.DataFrame, label: int) -> pd.DataFrame:
    """One replicate's merge scored per candidate, its rows under seed `label`."""
    return tv.loco(tv.merged_views(views)).assign(seed=label)


def compute39() -> dict:
    """Both replicates per candidate (their LOCO rows, scores, largest drops) and the floors on their mean."""
    views = {s: v for s, v in ((42, tv.read_views()), (1, tv.read_views(VIEWS37)), (3, tv.read_views(VIEWS39)))}
    if any(v is None for v in views.values()):
        return {"decision": "batch 35's, 37's or 39's views are not measured: no second replicate"}
    allv = pd.concat(views.values(), ignore_index=True)
    lo = pd.concat([replicate_loco(allv[allv["seed"].isin(m)], label) for label, m in REPLICATES39.items()],
                   ignore_index=True)
    rows = []
    for label in REPLICATES39:
        for r in candidate_rows(lo[lo["seed"] == label]):
            rows.append({"replicate": label, **r})
    scores = hv.primary_scores(lo)
    note = "; ".join(f"{r['recipe']} {r['primary']:.1%} (" + ", ".join(f"{s}: {v:.1%}" for s, v in r["per_seed"].items())
                     + ")" for _, r in scores.iterrows() if r["primary"] is not None)
    return records.jsonable({"loco": lo.to_dict("records"), "rows": rows, "scores": scores.to_dict("records"),
                             "decision": f"two four-seed replicates (42: seeds 42 + 7 + 1 + 2; 1: 1 + 2 + 3 + 4): "
                                         + note,
                             "drops": {c: tv.worst_drop(lo, c) for c in tv.CANDIDATES35},
                             "floors": {c: hv.floors_loco(lo, c) for c in tv.CANDIDATES35}})


def results39() -> dict | None:
    return records.read_json(RESULTS39)


# Batch 41 (experiments/batch41_six_seeds/PLAN.md): the six kept seeds (42, 7, 1, 2, 3, 4) merged per fold, against
# the two four-seed replicates of batch 39; the union side (seeds 3 and 4 trained on the union) is in reporting.
BATCH41 = config.EXPERIMENTS_DIR / "batch41_six_seeds"
RESULTS41 = BATCH41 / "results.json"
SEEDS41 = (config.SEED, 7, 1, 2, 3, 4)
VIEW41 = "plain"  # the shipped view


def six_seed_views() -> pd.DataFrame | None:
    parts = [tv.read_views(), tv.read_views(VIEWS37), tv.read_views(VIEWS39)]
    return None if any(p is None for p in parts) else pd.concat(parts, ignore_index=True)


def decide41(six: dict, fours: list[dict]) -> tuple[bool | None, str]:
    """PLAN.md rules 1 and 2: six beat the better four on the primary score, with a largest brain-only drop no larger
    than the larger of the fours'. None when a number is missing."""
    if six.get("primary") is None or len(fours) < 2 or any(f.get("primary") is None for f in fours):
        return None, "a merge is incomplete: no decision"
    bar, cap = max(f["primary"] for f in fours), max(f["drop"] for f in fours)
    ok1, ok2 = six["primary"] >= bar - 1e-12, round(six["drop"], 1) <= round(cap, 1)
    note = (f"six seeds merged: {six['primary']:.1%} (the better four: {bar:.1%}; {'at least' if ok1 else 'below'}), "
            f"largest brain-only drop {six['drop']:.1f} points (the larger of the fours': {cap:.1f}; "
            f"{'no larger' if ok2 else 'larger'})")
    return ok1 and ok2, note


def compute41(views: pd.DataFrame | None = None) -> dict:
    views = six_seed_views() if views is None else views
    r39 = results39()
    if views is None or not r39:
        return {"decision": "batch 35's, 37's or 39's views, or batch 39's results, are missing: nothing measured"}
    wrong = wrong_seeds(views, SEEDS41, "the six")
    if wrong:
        return {"decision": wrong}
    lo, rows = merged_scores(views)
    six = next(r for r in rows if r["candidate"] == VIEW41)
    fours = [r for r in r39["rows"] if r["candidate"] == VIEW41]
    passes, note = decide41(six, fours)
    return records.jsonable({"loco": lo.to_dict("records"), "rows": rows, "fours": fours, "loco_passes": passes,
                             "decision": note, "floors": {VIEW41: hv.floors_loco(lo, VIEW41)}})


def results41() -> dict | None:
    return records.read_json(RESULTS41)
