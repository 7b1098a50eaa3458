"""Which recipe ships, decided at the shipped 40-epoch schedule on two seeds (issue 21, fourth session).

Batch 19 (experiments/batch19_ensemble_at_40/PLAN.md): the two-recipe ensemble `ens_he2` against `he_sym` alone.
Batch 20 (experiments/batch20_brain_only_ensemble/PLAN.md): `he_bo` (look-balanced brain-only augmentation), alone
and with `he_sym`, against batch 19's choice: non-inferior primary score plus a 5-point smaller brain-only drop may
replace it, because the skull-stripped look is the one shortcut the folds can only half see.

Everything here reads saved run records; the results files are written by each batch's results.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from . import ensemble_transfer as et

BATCH19 = config.EXPERIMENTS_DIR / "batch19_ensemble_at_40"
RESULTS19 = BATCH19 / "results.json"
BATCH20 = config.EXPERIMENTS_DIR / "batch20_brain_only_ensemble"
RESULTS20 = BATCH20 / "results.json"
SYM_E40, ENS_E40 = "he_sym_e40", et.ENS_E40
BO_E40, ENS_HB_E40 = "he_bo_e40", "ens_hb_e40"
CANDIDATES20 = (ENS_HB_E40, BO_E40)
MODEL_OF = {SYM_E40: et.SINGLE_MODEL, ENS_E40: et.ENSEMBLE_MODEL, BO_E40: "brain_tumor_hv_bo40",
            ENS_HB_E40: "brain_tumor_hv_hb"}  # the union model each 40-epoch recipe ships as
NON_INFERIOR = 0.01  # batch 20: at most 1 point of primary score below the incumbent
DROP_CUT = 5.0  # batch 20: ... and a brain-only drop at least 5 points smaller
TUMOUR_SOURCES = ("br35h", "sartaj", "figshare")


def _points(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f} points"


def runs19(runs17: list[dict] | None = None, runs19_: list[dict] | None = None) -> list[dict]:
    """The 40-epoch runs of he_sym, he_bo_inv and their ensemble: seed 42 from batch 17, seed 7 from batch 19."""
    return et.runs_by_schedule(et.BATCH17, 40, runs17) + et.runs_by_schedule(BATCH19, 40, runs19_)


def runs20(runs20_: list[dict] | None = None) -> list[dict]:
    return et.runs_by_schedule(BATCH20, 40, runs20_)


def val_score(name: str) -> float | None:
    """A union model's validation score with every collection weighted equally (its operating point's)."""
    v = ((records.read(config.MODELS_DIR, name) or {}).get("operating_point") or {}).get("val_score")
    return None if v is None else float(v)


def decide19(scores: pd.DataFrame, val_scores: dict[str, float | None] | None = None) -> tuple[str | None, str]:
    """batch19/PLAN.md: (shipped 40-epoch recipe, note). The ensemble at >= 2 points above he_sym ships it; he_sym at
    >= 2 points above the ensemble keeps he_sym; otherwise the higher union validation score. None without both
    seeds of both."""
    ens, note = et.versus(scores, ENS_E40, SYM_E40)
    if ens is None:
        return None, note + ": no decision yet"
    if ens:
        return ENS_E40, note + f"; at least 2 points: `{et.ENSEMBLE_MODEL}` ships again"
    sym, _ = et.versus(scores, SYM_E40, ENS_E40)
    if sym:
        return SYM_E40, note + f"; he_sym alone at least 2 points above: `{et.SINGLE_MODEL}` stays"
    vs = val_scores if val_scores is not None else {k: val_score(MODEL_OF[k]) for k in (SYM_E40, ENS_E40)}
    a, b = vs.get(SYM_E40), vs.get(ENS_E40)
    if a is None or b is None:
        return None, note + "; within 2 points, and a union validation score is missing: no decision"
    pick = SYM_E40 if a >= b else ENS_E40
    return pick, (note + f"; within 2 points, so the higher union validation score ships: `{MODEL_OF[SYM_E40]}` "
                  f"{a:.1%} vs `{MODEL_OF[ENS_E40]}` {b:.1%}, `{MODEL_OF[pick]}`")


def brain_only_drop(lo: pd.DataFrame, recipe: str, over=np.mean) -> float | None:
    """Plain minus brain-only held-out sensitivity in points, mean over seeds, then `over` the tumour sources (the
    mean; batch 35's rule reads the largest); None unless every tumour source has both views."""
    g = lo[(lo["recipe"] == recipe) & lo["source"].isin(TUMOUR_SOURCES)]
    if g.empty:
        return None
    m = g.groupby(["source", "view"])["sensitivity"].mean()
    drops = [m[(s, "plain")] - m[(s, "brain-only")] for s in TUMOUR_SOURCES
             if (s, "plain") in m.index and (s, "brain-only") in m.index]
    return float(over(drops) * 100) if len(drops) == len(TUMOUR_SOURCES) else None


def decide20(scores: pd.DataFrame, lo: pd.DataFrame, incumbent: str) -> tuple[str, list[dict], str]:
    """batch20/PLAN.md: (shipped recipe, one row per candidate, note). Rule 1: >= 2 points above the incumbent (of
    two, the higher); rule 2: at most 1 point below it and a brain-only drop >= 5 points smaller (of two, the smaller
    drop); else the incumbent stays. A candidate without both seeds complete takes no part."""
    by = {r["recipe"]: r for _, r in scores.iterrows() if r["complete"] and len(r["seeds"]) >= 2}
    if incumbent not in by:
        return incumbent, [], f"the incumbent {incumbent} is not complete for seeds 42 and 7: no decision"
    p0, d0 = float(by[incumbent]["primary"]), brain_only_drop(lo, incumbent)
    rows = []
    for c in CANDIDATES20:
        if c not in by:
            rows.append({"recipe": c, "complete": False})
            continue
        p, d = float(by[c]["primary"]), brain_only_drop(lo, c)
        rows.append({"recipe": c, "complete": True, "primary": p, "delta": p - p0, "drop": d,
                     "drop_cut": None if d is None or d0 is None else d0 - d,
                     "superior": p - p0 >= et.KEEP_MARGIN - 1e-12,
                     "non_inferior_smaller_drop": (p - p0 >= -NON_INFERIOR - 1e-12 and d is not None
                                                   and d0 is not None and d0 - d >= DROP_CUT - 1e-9)})
    head = f"incumbent {incumbent} {p0:.1%}, brain-only drop {_points(d0)}"
    parts = [f"{r['recipe']}: " + ("not complete for seeds 42 and 7" if not r["complete"] else
                                  f"{r['primary']:.1%} ({r['delta'] * 100:+.1f} points), brain-only drop "
                                  f"{_points(r['drop'])}" + ("" if r["drop_cut"] is None else
                                                             f" ({r['drop_cut']:+.1f} smaller)")) for r in rows]
    sup = [r for r in rows if r.get("superior")]
    if sup:
        win = max(sup, key=lambda r: r["primary"])["recipe"]
        return win, rows, f"{head}; " + "; ".join(parts) + f". Rule 1 (>= 2 points): {win} ships"
    ni = [r for r in rows if r.get("non_inferior_smaller_drop")]
    if ni:
        win = min(ni, key=lambda r: r["drop"])["recipe"]
        return win, rows, (f"{head}; " + "; ".join(parts) + f". Rule 2 (at most 1 point below and a brain-only drop "
                           f"at least 5 points smaller): {win} ships")
    return incumbent, rows, f"{head}; " + "; ".join(parts) + f". Neither rule holds: {incumbent} stays"


# Batch 21 (experiments/batch21_style_and_flip/PLAN.md): MixStyle in training, and the shipped model with its mirror.
BATCH21 = config.EXPERIMENTS_DIR / "batch21_style_and_flip"
RESULTS21 = BATCH21 / "results.json"
MS_E40, FLIP_E40 = "he_bo_ms_e40", "he_bo_flip_e40"
CANDIDATES21 = (MS_E40, FLIP_E40)
MODEL_OF.update({MS_E40: "brain_tumor_hv_ms40", FLIP_E40: "brain_tumor_hv_bo40f"})
GAIN21 = {MS_E40: 0.02, FLIP_E40: 0.01}  # new training: 2 points; the same weights (paired): 1 point and each seed
DROP_SLACK21 = 3.0  # ... and a brain-only drop at most 3 points larger than the incumbent's


def runs21(runs21_: list[dict] | None = None) -> list[dict]:
    return et.runs_by_schedule(BATCH21, 40, runs21_)


def decide_gains(scores: pd.DataFrame, lo: pd.DataFrame, incumbent: str, gains: dict[str, float],
                 paired: tuple[str, ...] = ()) -> tuple[str, list[dict], str]:
    """Batches 21 and 23: (shipped recipe, one row per candidate, note). A candidate qualifies at `gains[c]` of
    primary score above the incumbent (a candidate in `paired`, the incumbent's own weights, also above it on each
    seed) with a brain-only drop at most DROP_SLACK21 points larger; of several, the higher primary score; none:
    the incumbent stays. A candidate without seeds 42 and 7 complete takes no part (no decision for it)."""
    by = {r["recipe"]: r for _, r in scores.iterrows() if r["complete"] and len(r["seeds"]) >= 2}
    if incumbent not in by:
        return incumbent, [], f"the incumbent {incumbent} is not complete for seeds 42 and 7: no decision"
    p0, d0 = float(by[incumbent]["primary"]), brain_only_drop(lo, incumbent)
    seeds0 = by[incumbent]["per_seed"]
    rows = []
    for c, gain in gains.items():
        if c not in by:
            rows.append({"recipe": c, "complete": False})
            continue
        p, d, per = float(by[c]["primary"]), brain_only_drop(lo, c), by[c]["per_seed"]
        each = all(per.get(s, -1) > seeds0.get(s, 2) for s in (config.SEED, 7))
        ok = (p - p0 >= gain - 1e-12 and (c not in paired or each) and d is not None and d0 is not None
              and d - d0 <= DROP_SLACK21 + 1e-9)
        rows.append({"recipe": c, "complete": True, "primary": p, "delta": p - p0, "drop": d, "above_each_seed": each,
                     "qualifies": bool(ok)})
    head = f"incumbent {incumbent} {p0:.1%}, brain-only drop {_points(d0)}"
    parts = [f"{r['recipe']}: " + ("not complete for seeds 42 and 7: no decision for it" if not r["complete"] else
                                  f"{r['primary']:.1%} ({r['delta'] * 100:+.1f} points"
                                  + ((", above on each seed" if r["above_each_seed"] else ", not above on each seed")
                                     if r["recipe"] in paired else "")
                                  + f"), brain-only drop {_points(r['drop'])}"
                                  + (" — qualifies" if r["qualifies"] else " — does not qualify"))
             for r in rows]
    ok = [r for r in rows if r.get("qualifies")]
    if ok:
        win = max(ok, key=lambda r: r["primary"])["recipe"]
        return win, rows, f"{head}; " + "; ".join(parts) + f". {win} ships"
    return incumbent, rows, f"{head}; " + "; ".join(parts) + f". None qualifies: {incumbent} stays"


def decide21(scores: pd.DataFrame, lo: pd.DataFrame, incumbent: str = BO_E40) -> tuple[str, list[dict], str]:
    """batch21/PLAN.md: MixStyle at >= 2 points, the mirror (the incumbent's weights) at >= 1 point and above on each
    seed; both with a brain-only drop at most 3 points larger."""
    return decide_gains(scores, lo, incumbent, GAIN21, paired=(FLIP_E40,))

# Batch 23 (experiments/batch23_wider/PLAN.md): he_bo at width 24 against batch 21's choice.
BATCH23 = config.EXPERIMENTS_DIR / "batch23_wider"
RESULTS23 = BATCH23 / "results.json"
W24_E40 = "he_bo_w24_e40"
MODEL_OF[W24_E40] = "brain_tumor_hv_w24"


def runs23(runs23_: list[dict] | None = None) -> list[dict]:
    return et.runs_by_schedule(BATCH23, 40, runs23_)


def decide23(scores: pd.DataFrame, lo: pd.DataFrame, incumbent: str) -> tuple[str, dict, str]:
    """batch23/PLAN.md: (shipped recipe, the candidate's row, note). he_bo_w24_e40 replaces the incumbent at >= 2
    points of primary score and a brain-only drop at most 3 points larger; seeds 42 and 7 complete, else no decision."""
    win, rows, note = decide_gains(scores, lo, incumbent, {W24_E40: 0.02})
    return win, (rows[0] if rows else {}), note

# Batch 24 (experiments/batch24_seed_ensemble/PLAN.md): he_bo_e40 at four seeds, and two of its seeds merged.
BATCH24 = config.EXPERIMENTS_DIR / "batch24_seed_ensemble"
RESULTS24 = BATCH24 / "results.json"
ENS2S_E40 = "ens_bo2s_e40"
MODEL_OF[ENS2S_E40] = "brain_tumor_hv_bo2"
SEED7_MEMBER = "brain_tumor_hv_bo40_s7"  # the ensemble's second union member (he_bo, seed 7)
SEEDS24 = (config.SEED, 7, 1, 2)
REPLICATES24 = {config.SEED: (config.SEED, 7), 1: (1, 2)}  # a replicate's run carries its first member's seed
GAIN24 = 0.01  # the incumbent's own recipe and seeds (paired): 1 point, and each replicate above its members


def runs24(runs24_: list[dict] | None = None) -> list[dict]:
    return et.runs_by_schedule(BATCH24, 40, runs24_)


def decide24(scores: pd.DataFrame, lo: pd.DataFrame, incumbent: str = BO_E40) -> tuple[str | None, dict, str]:
    """batch24/PLAN.md: (recipe, the candidate's row, note). The incumbent's score is the mean of its four seeds
    (None: no decision while one is missing); the seed ensemble replaces it at >= 1 point, each replicate above the
    mean of its own two members, and a brain-only drop at most 3 points larger."""
    by = {r["recipe"]: r for _, r in scores.iterrows()}
    inc = by.get(incumbent)
    if inc is None or not set(SEEDS24) <= set(inc["seeds"]):
        return None, {}, f"{incumbent} is not complete for seeds {', '.join(map(str, SEEDS24))}: no decision"
    per0 = inc["per_seed"]
    p0, d0 = float(np.mean([per0[s] for s in SEEDS24])), brain_only_drop(lo, incumbent)
    head = (f"{incumbent} at four seeds {p0:.1%} (" + ", ".join(f"{s}: {per0[s]:.1%}" for s in SEEDS24)
            + f"), brain-only drop {_points(d0)}")
    c = by.get(ENS2S_E40)
    if c is None or not set(REPLICATES24) <= set(c["seeds"]):
        return None, {"recipe": ENS2S_E40, "complete": False}, f"{head}; {ENS2S_E40} is not complete: no decision"
    per = c["per_seed"]
    p, d = float(np.mean([per[r] for r in REPLICATES24])), brain_only_drop(lo, ENS2S_E40)
    members = {r: float(np.mean([per0[s] for s in m])) for r, m in REPLICATES24.items()}
    each = all(per[r] > members[r] for r in REPLICATES24)
    ok = bool(p - p0 >= GAIN24 - 1e-12 and each and d is not None and d0 is not None and d - d0 <= DROP_SLACK21 + 1e-9)
    row = {"recipe": ENS2S_E40, "complete": True, "primary": p, "incumbent_primary": p0, "delta": p - p0, "drop": d,
           "replicates": {str(r): {"members": list(m), "score": per[r], "members_mean": members[r]}
                          for r, m in REPLICATES24.items()}, "above_each_replicate": each, "qualifies": ok}
    reps = "; ".join(f"seeds {'+'.join(map(str, m))}: {per[r]:.1%} vs {members[r]:.1%} for its members"
                     for r, m in REPLICATES24.items())
    note = (f"{head}; {ENS2S_E40} {p:.1%} ({(p - p0) * 100:+.1f} points; {reps}), brain-only drop {_points(d)}. "
            + (f"{ENS2S_E40} qualifies: it ships" if ok else f"It does not qualify: {incumbent} stays"))
    return (ENS2S_E40 if ok else incumbent), row, note

# Batch 27 (experiments/batch27_plane_balance/PLAN.md): plane-balanced weights against he_bo (seeds 42 and 7).
BATCH27 = config.EXPERIMENTS_DIR / "batch27_plane_balance"
RESULTS27 = BATCH27 / "results.json"
PB_E40 = "he_bo_pb_e40"
MODEL_OF[PB_E40] = "brain_tumor_hv_pb40"
PB_ENSEMBLE = ("brain_tumor_hv_pb2", ("brain_tumor_hv_pb40", "brain_tumor_hv_pb40_s7"))  # if batch 24's ensemble ships


def runs27(runs27_: list[dict] | None = None) -> list[dict]:
    return et.runs_by_schedule(BATCH27, 40, runs27_)


def decide27(scores: pd.DataFrame, lo: pd.DataFrame, incumbent: str = BO_E40) -> tuple[str, dict, str]:
    """batch27/PLAN.md: he_bo_pb_e40 replaces the incumbent recipe at >= 2 points of primary score (seeds 42 and 7)
    and a brain-only drop at most 3 points larger."""
    win, rows, note = decide_gains(scores, lo, incumbent, {PB_E40: 0.02})
    return win, (rows[0] if rows else {}), note


def plane_rates(runs: list[dict]) -> pd.DataFrame:
    """Per run and plane, over its held-out sources (plain view, the run's own threshold): healthy slices and those
    called tumour, tumours and those found. Planes from data/splits/union_planes.csv."""
    from ..data import union_split

    out = []
    for r in runs:
        cfg, pred = r["config"], r.get("pred")
        if not cfg.get("fold") or pred is None:
            continue
        t = float((r.get("operating_point") or {}).get("threshold") or 0.5)
        held = pred[pred["source"].isin(union_split.fold_sources(cfg["fold"]))]
        plane = union_split.plane_tags(held).to_numpy()
        tum, call = (held["label"] != config.NO_TUMOUR).to_numpy(), held["p_tumour"].to_numpy(float) >= t
        for p in ("axial", "coronal", "sagittal"):
            k = plane == p
            out.append({"recipe": cfg["recipe"], "seed": int(cfg.get("seed", config.SEED)), "fold": cfg["fold"],
                        "plane": p, "healthy": int((k & ~tum).sum()), "healthy_called": int((k & ~tum & call).sum()),
                        "tumours": int((k & tum).sum()), "tumours_found": int((k & tum & call).sum())})
    return pd.DataFrame(out)

# Batch 28 (experiments/batch28_four_members/PLAN.md): four-member ensembles against the shipped two-seed ensemble.
BATCH28 = config.EXPERIMENTS_DIR / "batch28_four_members"
RESULTS28 = BATCH28 / "results.json"
ENS4S_E40, MIX4_E40 = "ens_bo4s_e40", "ens_mix4_e40"
MODEL_OF[ENS4S_E40] = "brain_tumor_hv_bo4"
MODEL_OF[MIX4_E40] = "brain_tumor_hv_mix4"
SEED_MEMBERS28 = ("brain_tumor_hv_bo40_s1", "brain_tumor_hv_bo40_s2")  # bo4's third and fourth union members
MEMBERS28 = {ENS4S_E40: ("brain_tumor_hv_bo40", SEED7_MEMBER, *SEED_MEMBERS28),
             MIX4_E40: ("brain_tumor_hv_bo40", "brain_tumor_hv_ms40", "brain_tumor_hv_w24", "brain_tumor_hv_pb40")}
REPLICATES28 = {ENS4S_E40: (config.SEED,), MIX4_E40: (config.SEED, 7)}
GAIN28, TIE28 = 0.01, 0.005


def runs28(runs28_: list[dict] | None = None) -> list[dict]:
    return et.runs_by_schedule(BATCH28, 40, runs28_)


def decide28(scores: pd.DataFrame, lo: pd.DataFrame, incumbent: str = ENS2S_E40) -> tuple[str | None, list[dict], str]:
    """batch28/PLAN.md: (recipe, one row per candidate, note). The incumbent's score is the mean of its two
    replicates. ens_bo4s_e40 qualifies at >= 1 point above it and above each of its replicates; ens_mix4_e40 at
    >= 1 point (mean of its replicates 42 and 7) with each replicate above the incumbent's score; both with a
    brain-only drop at most 3 points larger. Both: the higher, ens_bo4s_e40 within 0.5 point. A candidate missing a
    replicate takes no part; None when the incumbent is incomplete."""
    by = {r["recipe"]: r for _, r in scores.iterrows()}
    inc = by.get(incumbent)
    if inc is None or not set(REPLICATES24) <= set(inc["seeds"]):
        return None, [], f"{incumbent} is not complete for both replicates: no decision"
    per0 = inc["per_seed"]
    p0, d0 = float(np.mean([per0[r] for r in REPLICATES24])), brain_only_drop(lo, incumbent)
    bars = {ENS4S_E40: [per0[r] for r in REPLICATES24], MIX4_E40: [p0]}  # what each replicate must beat
    rows = []
    for c, reps in REPLICATES28.items():
        r = by.get(c)
        if r is None or not set(reps) <= set(r["seeds"]):
            rows.append({"recipe": c, "complete": False})
            continue
        per = r["per_seed"]
        p, d = float(np.mean([per[s] for s in reps])), brain_only_drop(lo, c)
        each = all(per[s] > b for s in reps for b in bars[c])
        ok = bool(p - p0 >= GAIN28 - 1e-12 and each and d is not None and d0 is not None
                  and d - d0 <= DROP_SLACK21 + 1e-9)
        rows.append({"recipe": c, "complete": True, "primary": p, "per_replicate": {str(s): per[s] for s in reps},
                     "delta": p - p0, "drop": d, "above_bar": each, "qualifies": ok})
    head = (f"incumbent {incumbent} {p0:.1%} (" + ", ".join(f"seeds {'+'.join(map(str, m))}: {per0[r]:.1%}"
                                                          for r, m in REPLICATES24.items())
            + f"), brain-only drop {_points(d0)}")
    bar_words = {ENS4S_E40: "above each of its replicates", MIX4_E40: "each replicate above its score"}
    parts = [f"{r['recipe']}: " + ("a replicate is missing: no decision for it" if not r["complete"] else
                                  f"{r['primary']:.1%} ({r['delta'] * 100:+.1f} points; "
                                  + ", ".join(f"{s}: {v:.1%}" for s, v in r["per_replicate"].items()) + "; "
                                  + ("" if r["above_bar"] else "not ") + bar_words[r["recipe"]]
                                  + f"), brain-only drop {_points(r['drop'])}"
                                  + (" — qualifies" if r["qualifies"] else " — does not qualify")) for r in rows]
    ok = {r["recipe"]: r for r in rows if r.get("qualifies")}
    if not ok:
        return incumbent, rows, f"{head}; " + "; ".join(parts) + f". None qualifies: {incumbent} stays"
    win = max(ok, key=lambda c: ok[c]["primary"])
    if ENS4S_E40 in ok and ok[win]["primary"] - ok[ENS4S_E40]["primary"] <= TIE28 + 1e-12:
        win = ENS4S_E40
    return win, rows, f"{head}; " + "; ".join(parts) + f". {win} ships"

# Batch 30 (experiments/batch30_seed_curve/PLAN.md): he_bo seeds 3 and 4, and the seed curve (a measurement).
BATCH30 = config.EXPERIMENTS_DIR / "batch30_seed_curve"
RESULTS30 = BATCH30 / "results.json"
ENS6S_E40 = "ens_bo6s_e40"
CURVE30 = {1: BO_E40, 2: ENS2S_E40, 4: ENS4S_E40, 6: ENS6S_E40}  # seeds merged -> recipe
SEEDS30 = {BO_E40: (config.SEED, 7, 1, 2, 3, 4), ENS2S_E40: (config.SEED, 1, 3), ENS4S_E40: (config.SEED, 1),
           ENS6S_E40: (config.SEED,)}  # the runs or replicates of each (a replicate carries its first seed)
MORE_SEEDS30 = 0.01  # PLAN.md 3: six seeds at least 1 point above the four-seed mean: "more seeds still pay"


def runs30(runs30_: list[dict] | None = None) -> list[dict]:
    return et.runs_by_schedule(BATCH30, 40, runs30_)


def curve30(scores: pd.DataFrame) -> tuple[list[dict], str, bool]:
    """batch30/PLAN.md: (one row per number of seeds merged, the reading, complete). Items 2 and 3: does a second
    four-seed replicate confirm batch 28's gain, and do six seeds add at least 1 point over four?"""
    by = {r["recipe"]: r for _, r in scores.iterrows()}
    rows = []
    for n, recipe in CURVE30.items():
        per = by[recipe]["per_seed"] if recipe in by else {}
        done = set(by[recipe]["seeds"]) if recipe in by else set()  # runs with all 16 numbers (per_seed shows others)
        have = [s for s in SEEDS30[recipe] if s in done]
        rows.append({"seeds_merged": n, "recipe": recipe, "runs": {str(s): float(per[s]) for s in have},
                     "complete": len(have) == len(SEEDS30[recipe]),
                     "mean": float(np.mean([per[s] for s in have])) if have else None})
    if not all(r["complete"] for r in rows):
        return rows, "not every run is scored yet: no reading", False
    m = {r["seeds_merged"]: r for r in rows}
    two, four = list(m[2]["runs"].values()), m[4]["runs"]
    second = four["1"]
    if second < m[2]["mean"]:
        check = (f"four seeds' second replicate (1 + 2 + 3 + 4) {second:.1%} falls below the two-seed mean "
                 f"{m[2]['mean']:.1%}: batch 28's gain may have been one lucky replicate")
    elif min(four.values()) > max(two):
        check = (f"both four-seed replicates ({', '.join(f'{v:.1%}' for v in four.values())}) are above every two-seed "
                 f"replicate ({', '.join(f'{v:.1%}' for v in two)}): batch 28's gain held")
    else:
        check = (f"four seeds' second replicate {second:.1%} is above the two-seed mean {m[2]['mean']:.1%} but not "
                 f"above every two-seed replicate ({', '.join(f'{v:.1%}' for v in two)}): the gain held in part")
    gain = m[6]["mean"] - m[4]["mean"]
    six = (f"six seeds {m[6]['mean']:.1%} against four {m[4]['mean']:.1%} ({gain * 100:+.1f} points): "
           + ("more seeds still pay" if gain >= MORE_SEEDS30 - 1e-12 else "the curve flattens at four"))
    curve = ", ".join(f"{n} → {m[n]['mean']:.1%}" for n in CURVE30)
    return rows, f"seeds merged → primary score: {curve}; {check}; {six}", True


# Batch 34 (experiments/batch34_weight_averaging/PLAN.md): weight averaging against he_bo (seeds 42 and 7), a
# measurement: the verdict is whether it is worth a GPU session's union members, nothing ships.
BATCH34 = config.EXPERIMENTS_DIR / "batch34_weight_averaging"
RESULTS34 = BATCH34 / "results.json"
SWA_E40 = "he_bo_swa_e40"
GAIN34 = 0.01  # PLAN.md: 1 point on the mean, above on each seed (paired), a brain-only drop at most 3 points larger


def runs34(runs34_: list[dict] | None = None) -> list[dict]:
    return et.runs_by_schedule(BATCH34, 40, runs34_)


def decide34(scores: pd.DataFrame, lo: pd.DataFrame, incumbent: str = BO_E40) -> tuple[str, dict, str]:
    """(recipe worth a GPU session's members, its row, note): batch 21's gains rule read as a measurement."""
    win, rows, note = decide_gains(scores, lo, incumbent, {SWA_E40: GAIN34}, paired=(SWA_E40,))
    if rows:  # the rule's reading, in place of its last sentence (which names what ships)
        note = note.rsplit(". ", 1)[0] + (f". {SWA_E40} is worth a GPU session's union members (nothing ships)"
                                          if win == SWA_E40 else ". No gain: weight averaging is not worth a GPU session")
    return win, (rows[0] if rows else {}), note
