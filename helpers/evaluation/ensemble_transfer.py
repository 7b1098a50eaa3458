"""Batch 11 (issue 21, experiments/batch11_ensemble_transfer/PLAN.md): recipe ensembles of the batch-10 LOCO models,
and a shift of the tumour-call threshold chosen nested over the held-out folds.

Everything here reads saved records and predictions (batch 10's runs and batch 11's ensemble evaluations).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config
from ..modeling import operating_point
from . import healthy_variety as hv
from .cross_collection import read_batch

BATCH11 = config.EXPERIMENTS_DIR / "batch11_ensemble_transfer"
RESULTS = BATCH11 / "results.json"
CONTROL = "he_sym"
CONTROL_SCORE_SEEN = 0.801  # PLAN.md: he_sym's batch-10 primary score, as printed there (the rule reads the records)
ENSEMBLES = ("ens_he2", "ens_he3")  # fewest members first
KEEP_MARGIN = 0.02  # an ensemble replaces he_sym, and a shift is adopted, at >= 2 points
PREFER_SMALLER = 0.01  # ens_he3 must beat ens_he2 by >= 1 point to be preferred
SHIFTS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0)  # logits added to logit(threshold)
MEMBERS = {"ens_he2": ("he_sym", "he_bo_inv"), "ens_he3": ("he_sym", "he_bo_inv", "he_bo_inv_bal")}


shifted = operating_point.shifted


def runs11(runs10: list[dict] | None = None, runs11_: list[dict] | None = None) -> list[dict]:
    """Batch 10's control runs and batch 11's ensemble evaluations, the runs this batch compares."""
    r10 = read_batch(hv.BATCH10) if runs10 is None else runs10
    r11 = read_batch(BATCH11) if runs11_ is None else runs11_
    return [r for r in r10 if r["config"].get("recipe") == CONTROL] + list(r11)


def loco(runs: list[dict], shift: float = 0.0) -> pd.DataFrame:
    """Per (run, held-out source, view) at the run's validation threshold shifted by `shift` logits."""
    frames = []
    for r in runs:
        if not r["config"].get("fold") or r.get("pred") is None:
            continue
        op = dict(r.get("operating_point") or {})
        op["threshold"] = shifted(float(op.get("threshold") or 0.5), shift)
        frames.append(hv.source_rows({**r, "operating_point": op}).assign(shift=shift))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def primary_scores(lo: pd.DataFrame) -> pd.DataFrame:
    s = hv.primary_scores(lo)
    order = {r: k for k, r in enumerate((CONTROL, *ENSEMBLES))}
    return s.sort_values("recipe", key=lambda x: x.map(order)).reset_index(drop=True)


def decide(scores: pd.DataFrame) -> tuple[str | None, str]:
    """PLAN.md: an ensemble replaces he_sym at >= 2 points of primary score (both seeds complete); of two that do,
    the higher, but ens_he2 unless ens_he3 is >= 1 point above it."""
    have = {r["recipe"]: r for _, r in scores.iterrows() if r["complete"] and len(r["seeds"]) >= 2}
    if CONTROL not in have:
        return None, "he_sym has no two complete seeds: no decision"
    base = float(have[CONTROL]["primary"])
    notes, ok = [], {}
    for e in ENSEMBLES:
        if e not in have:
            notes.append(f"{e}: not complete for seeds 42 and 7")
            continue
        gain = float(have[e]["primary"]) - base
        kept = gain >= KEEP_MARGIN - 1e-12
        notes.append(f"{e} {have[e]['primary']:.1%} vs he_sym {base:.1%}: {gain * 100:+.1f} points, "
                     f"{'passes' if kept else 'below'} the {KEEP_MARGIN * 100:.0f}-point margin")
        if kept:
            ok[e] = float(have[e]["primary"])
    if not ok:
        return CONTROL, "; ".join(notes) + "; he_sym stays"
    if len(ok) == 2:
        choice = "ens_he3" if ok["ens_he3"] - ok["ens_he2"] >= PREFER_SMALLER - 1e-12 else "ens_he2"
    else:
        choice = next(iter(ok))
    return choice, "; ".join(notes) + f"; chosen: {choice}"


def _best_shift(lo: pd.DataFrame) -> float:
    """The shift with the best mean source score on `lo` (ties: the one nearest 0)."""
    m = lo.groupby("shift")["score"].mean()
    best = m[m >= m.max() - 1e-12].index
    return float(min(best, key=abs))


def shift_analysis(runs: list[dict], recipe: str) -> dict:
    """PLAN.md's nested threshold shift for `recipe`: per fold the shift best on the other two folds, the fold
    scored there; the nested primary score against shift 0, and the shift best on all folds."""
    mine = [r for r in runs if r["config"].get("recipe") == recipe]
    lo = pd.concat([loco(mine, d) for d in SHIFTS], ignore_index=True)
    if lo.empty:
        return {}
    folds = sorted(lo["fold"].unique())
    nested, chosen = [], {}
    for f in folds:
        d = _best_shift(lo[lo["fold"] != f])
        chosen[f] = d
        nested.append(lo[(lo["fold"] == f) & (lo["shift"] == d)])
    nested = pd.concat(nested, ignore_index=True)
    at0 = lo[lo["shift"] == 0.0]
    p_nested = primary_scores(nested)
    p0 = primary_scores(at0)
    n = float(p_nested["primary"].iloc[0]) if len(p_nested) and p_nested["primary"].iloc[0] is not None else None
    z = float(p0["primary"].iloc[0]) if len(p0) and p0["primary"].iloc[0] is not None else None
    adopt = n is not None and z is not None and n - z >= KEEP_MARGIN - 1e-12
    by_shift = lo.groupby("shift")["score"].mean()
    return {"recipe": recipe, "shifts": list(SHIFTS), "chosen_per_fold": chosen,
            "nested_primary": n, "primary_at_0": z, "adopted": bool(adopt),
            "shipped_shift": _best_shift(lo) if adopt else 0.0,
            "mean_score_by_shift": {float(k): float(v) for k, v in by_shift.items()},
            "nested_loco": nested.to_dict("records")}


def estimate_rows(runs: list[dict], recipe: str, shift_result: dict) -> pd.DataFrame:
    """The LOCO rows that are the honest estimate of what ships: nested-shift rows if a shift is adopted, else the
    rows at the runs' own thresholds."""
    if shift_result.get("adopted"):
        return pd.DataFrame(shift_result["nested_loco"])
    return loco([r for r in runs if r["config"].get("recipe") == recipe], 0.0)


# ------------------------------------------------------------------------------------------------ batch 12
BATCH12 = config.EXPERIMENTS_DIR / "batch12_procedural_lesions"
RESULTS12 = BATCH12 / "results.json"
PROC = "he_sym_proc"


def decide12(runs: list[dict], incumbent: str, incumbent_shift: dict) -> tuple[str, str, dict]:
    """batch12/PLAN.md: he_sym_proc replaces batch 11's choice at >= 2 points of primary score (seeds 42 and 7
    complete). With a shift adopted in batch 11, each is read at its nested shift, and he_sym_proc's nested score
    counts only if the shift rule would adopt the shift for it too. Returns (choice, note, he_sym_proc's shift)."""
    sc = primary_scores(loco(runs))
    have = {r["recipe"]: r for _, r in sc.iterrows() if r["complete"] and len(r["seeds"]) >= 2}
    if PROC not in have:
        return incumbent, f"{PROC}: seeds 42 and 7 not both complete, no decision (nothing ships on one seed)", {}
    if incumbent not in have:
        return incumbent, f"{incumbent}: no two complete seeds to compare with", {}
    a, b = float(have[PROC]["primary"]), float(have[incumbent]["primary"])
    sh = shift_analysis(runs, PROC)
    if incumbent_shift.get("adopted"):
        b = float(incumbent_shift["nested_primary"])
        if sh.get("adopted"):
            a = max(a, float(sh["nested_primary"]))
    gain = a - b
    kept = gain >= KEEP_MARGIN - 1e-12
    note = (f"{PROC} {a:.1%} vs {incumbent} {b:.1%} (seeds 7, 42): {gain * 100:+.1f} points, "
            + ("kept" if kept else f"below the {KEEP_MARGIN * 100:.0f}-point margin, not kept"))
    return (PROC if kept else incumbent), note, sh


# ------------------------------------------------------------------------------------------------ batch 13
BATCH13 = config.EXPERIMENTS_DIR / "batch13_ensemble_proc"
RESULTS13 = BATCH13 / "results.json"
ENS_PROC = "ens_he2p"


CANDIDATES13 = (ENS_PROC,)


# ------------------------------------------------------------------------------------------------ batch 14
BATCH14 = config.EXPERIMENTS_DIR / "batch14_spots"
RESULTS14 = BATCH14 / "results.json"
CANDIDATES14 = ("he_sym_proc2", "ens_he2p2")


def decide_candidates(runs: list[dict], incumbent: str, candidates: tuple[str, ...]) -> tuple[str, str]:
    """A candidate replaces `incumbent` at >= 2 points of primary score (seeds 42 and 7 complete); of several that
    do, the higher (batch14/PLAN.md)."""
    sc = primary_scores(loco(runs))
    have = {r["recipe"]: r for _, r in sc.iterrows() if r["complete"] and len(r["seeds"]) >= 2}
    if incumbent not in have:
        return incumbent, f"{incumbent}: not complete for seeds 42 and 7, no decision"
    b = float(have[incumbent]["primary"])
    notes, ok = [], {}
    for c in candidates:
        if c not in have:
            notes.append(f"{c}: not complete for seeds 42 and 7")
            continue
        a = float(have[c]["primary"])
        kept = a - b >= KEEP_MARGIN - 1e-12
        notes.append(f"{c} {a:.1%} vs {incumbent} {b:.1%}: {(a - b) * 100:+.1f} points, "
                     + ("passes" if kept else f"below the {KEEP_MARGIN * 100:.0f}-point margin"))
        if kept:
            ok[c] = a
    choice = max(ok, key=ok.get) if ok else incumbent
    return choice, "; ".join(notes) + f"; chosen: {choice}"


# ------------------------------------------------------------------------------------------------ batch 15
BATCH15 = config.EXPERIMENTS_DIR / "batch15_schedule"
RESULTS15 = BATCH15 / "results.json"
ENS_E20 = "ens_he2_e20"
HURTS = -0.02  # PLAN.md: 2 or more points below ens_he2 means a longer schedule hurts transfer


def runs15(runs: list[dict] | None = None) -> list[dict]:
    return runs_by_schedule(BATCH15, 20, runs)


def decide15(scores: pd.DataFrame, incumbent: str = "ens_he2") -> tuple[str, str, str]:
    """(outcome, basis, note) from primary scores: "hurts" at >= 2 points below the incumbent, "helps" at >= 2
    above, else "indistinguishable"; on both seeds when both are complete, else on seed 42 (PLAN.md)."""
    by = {r["recipe"]: r for _, r in scores.iterrows()}
    if ENS_E20 not in by or incumbent not in by:
        return "none", "none", f"{ENS_E20} has no complete run yet: no decision"
    a_row, b_row = by[ENS_E20], by[incumbent]
    both = a_row["complete"] and len(a_row["seeds"]) >= 2
    if both:
        a, b, basis = float(a_row["primary"]), float(b_row["primary"]), "seeds 42 and 7"
    else:
        if config.SEED not in a_row["seeds"] or config.SEED not in b_row["seeds"]:
            return "none", "none", f"{ENS_E20} has no complete seed-42 run: no decision"
        a, b = float(a_row["per_seed"][config.SEED]), float(b_row["per_seed"][config.SEED])
        basis = "seed 42 only (seed 7 did not finish in the session)"
    d = a - b
    outcome = "hurts" if d <= HURTS + 1e-12 else ("helps" if d >= -HURTS - 1e-12 else "indistinguishable")
    return outcome, basis, (f"{ENS_E20} {a:.1%} vs {incumbent} {b:.1%} ({basis}): {d * 100:+.1f} points; "
                            + {"hurts": "a longer schedule hurts transfer",
                               "helps": "a longer schedule helps transfer",
                               "indistinguishable": "the two schedules are indistinguishable at the 2-point margin"
                               }[outcome])


# ------------------------------------------------------------------------------------------------ batch 17
BATCH17 = config.EXPERIMENTS_DIR / "batch17_shipped_schedule"
RESULTS17 = BATCH17 / "results.json"
ENS_E40 = "ens_he2_e40"


def runs_by_schedule(folder, epochs: int, runs: list[dict] | None = None) -> list[dict]:
    """A schedule batch's runs, their recipes named by schedule: a 20-epoch he_sym run is `he_sym_e20` (its record
    keeps the recipe it ran, `he_sym`, and says how many epochs)."""
    out = []
    for r in read_batch(folder) if runs is None else runs:
        c = r["config"]
        if int(c.get("epochs") or 0) == epochs and not c["recipe"].endswith(f"_e{epochs}"):  # ensembles: no epochs
            r = {**r, "config": {**c, "recipe": f"{c['recipe']}_e{epochs}"}}
        out.append(r)
    return out


SINGLE_E20 = "he_sym_e20"
SINGLE_MODEL = "brain_tumor_hv_long"  # he_sym alone, 40 epochs on the union split (batch 10)
ENSEMBLE_MODEL = "brain_tumor_hv_ens"


def versus(scores: pd.DataFrame, challenger: str, incumbent: str) -> tuple[bool | None, str]:
    """(challenger at >= 2 points above the incumbent on the mean of seeds 42 and 7, note); None when either is not
    complete for both seeds."""
    by = {r["recipe"]: r for _, r in scores.iterrows() if r["complete"] and len(r["seeds"]) >= 2}
    if challenger not in by or incumbent not in by:
        return None, f"{challenger} or {incumbent} is not complete for seeds 42 and 7"
    a, b = float(by[challenger]["primary"]), float(by[incumbent]["primary"])
    return (a - b >= KEEP_MARGIN - 1e-12,
            f"{challenger} {a:.1%} vs {incumbent} {b:.1%} (seeds 42 and 7): {(a - b) * 100:+.1f} points")


def decide_single15(scores: pd.DataFrame) -> tuple[str, str]:
    """Batch 15, amendment 2: (shipped model, note). `he_sym_e20` at >= 2 points above `ens_he2_e20` on the mean of
    seeds 42 and 7 (both complete) sends the shipped model back to he_sym alone; otherwise the ensemble stays."""
    single, note = versus(scores, SINGLE_E20, ENS_E20)
    if single is None:
        return ENSEMBLE_MODEL, note + "; the ensemble stays"
    return ((SINGLE_MODEL if single else ENSEMBLE_MODEL),
            note + (f"; at least 2 points: {SINGLE_MODEL} (he_sym alone, 40 epochs) ships" if single
                    else f"; under 2 points: {ENSEMBLE_MODEL} stays"))


# ------------------------------------------------------------------------------------------------ batch 18
BATCH18 = config.EXPERIMENTS_DIR / "batch18_brain_only"
RESULTS18 = BATCH18 / "results.json"
BO_E20 = "he_bo_e20"


def decide18(scores: pd.DataFrame) -> tuple[str, str]:
    """batch18/PLAN.md: (recipe, note). `he_bo_e20` replaces `he_sym` at >= 2 points above `he_sym_e20` on the mean
    of seeds 42 and 7 (both complete); without both seeds, no decision and he_sym stays."""
    kept, note = versus(scores, BO_E20, SINGLE_E20)
    if kept is None:
        return "he_sym", note + ": no decision, he_sym stays"
    return ("he_bo" if kept else "he_sym"), note + ("; at least 2 points: he_bo replaces he_sym" if kept
                                                    else "; under 2 points: he_sym stays")
