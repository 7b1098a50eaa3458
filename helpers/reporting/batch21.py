"""Batches 21 and 22 (issue 21, fifth session). Batch 21: MixStyle in training and the shipped model merged with its
mirror, against `he_bo_e40`. Batch 22: the unfamiliar-scan warning chosen against firing on familiar test-like
rows, with a (collection, class) cell distance beside the class one. Everything is read from the run records, the
candidates file and the model files."""
from __future__ import annotations

import pandas as pd

from .. import config, records
from ..evaluation import ensemble_transfer as et
from ..evaluation import healthy_variety as hv
from ..evaluation import shipped_schedule as ss
from ..evaluation import warning_scores as ws
from .batch15 import opening
from .batch19 import RECIPE_NAMES as _NAMES19
from .healthy_variety import floors_markdown, pct_or_na as _f

RECIPE_NAMES = {**_NAMES19, ss.MS_E40: "he_bo + MixStyle, 40 epochs",
                ss.FLIP_E40: "he_bo_e40 merged with its mirror (flip test-time augmentation)",
                ss.W24_E40: "he_bo at width 24, 40 epochs"}


def results21() -> dict | None:
    return records.read_json(ss.RESULTS21)


def compute21() -> dict:
    """Batch 21's results: every run of both candidates beside `he_bo_e40` (batch 20) and the PLAN's decision."""
    lo = et.loco([r for r in ss.runs20() if r["config"]["recipe"] == ss.BO_E40] + ss.runs21())
    scores = et.primary_scores(lo)
    choice, rows, note = ss.decide21(scores, lo)
    keep = (ss.BO_E40, *ss.CANDIDATES21)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "incumbent": ss.BO_E40,
           "choice": choice, "rows": rows, "decision": note,
           "drops": {r: ss.brain_only_drop(lo, r) for r in keep},
           "floors_loco": {r: hv.floors_loco(lo, r) for r in keep if (lo["recipe"] == r).any()},
           "model": ss.MODEL_OF.get(choice) if choice != ss.BO_E40 else None}
    return records.jsonable(out)


def results21_markdown(res: dict | None = None) -> str:
    res = res or results21() or {}
    out = opening(21, "feature-style mixing, and the shipped recipe with its mirror", "batch21_style_and_flip", res)
    out += [f"Decision: **{res.get('decision', '')}**.", "",
            "Brain-only drop (plain minus brain-only held-out sensitivity, mean over Br35H, Sartaj and figshare and "
            "over the seeds run): " + "; ".join(f"`{r}` {f'{d:.1f} points' if d is not None else 'n/a'}"
                                               for r, d in (res.get("drops") or {}).items()) + ".", ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors at 40 epochs, `{r}` (mean of the seeds run)", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"


# ---- batch 23 ----

def results23() -> dict | None:
    return records.read_json(ss.RESULTS23)


def compute23() -> dict:
    """Batch 23's results: he_bo at width 24 beside batch 21's choice (its runs from batches 20 and 21)."""
    inc = (results21() or compute21()).get("choice") or ss.BO_E40
    runs = [r for r in ss.runs20() + ss.runs21() if r["config"]["recipe"] == inc] + ss.runs23()
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    choice, row, note = ss.decide23(scores, lo, inc)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "incumbent": inc, "choice": choice,
           "row": row, "decision": note, "drops": {r: ss.brain_only_drop(lo, r) for r in (inc, ss.W24_E40)},
           "floors_loco": {r: hv.floors_loco(lo, r) for r in (inc, ss.W24_E40) if (lo["recipe"] == r).any()},
           "model": ss.MODEL_OF.get(choice) if choice != inc else None, "shipped": None}
    if choice == inc:
        return records.jsonable(out)
    ship_when_built(out, choice, ss.MODEL_OF[choice], ss.MODEL_OF[inc], lo,
                    "Shipped by batch 23 (`experiments/batch23_wider/PLAN.md`, 40 epochs, seeds 42 and 7)")
    return records.jsonable(out)


def ship_when_built(out: dict, recipe: str, name: str, old: str, lo, shipped_by: str,
                    seeds_note: str | None = None, tested: dict | None = None) -> dict:
    """Batches 23, 24 and 27 on a win: `name` (the union model of `recipe`) ships once it exists, unless its union
    validation equal-weight score is more than 2 points below `old`'s; the decision says which, and on shipping
    `out` gets `shipped` and the model's card block (its warning once batch 22's choice is refitted on it,
    `experiments/batch22_warning_scores/results.py --apply`; `tested`: where that warning was tested on runs of the
    shipped recipe itself, which the card prints, shipped.warning_tested). `out` is changed in place and returned."""
    from ..evaluation import warning_rule
    from .batch19 import block
    from .shipped import warning_block

    if not records.read(config.MODELS_DIR, name):
        out["decision"] += f"; its union model `{name}` is not built yet, so nothing changes until it is"
        return out
    vs = {n: ss.val_score(n) for n in (old, name)}
    if vs[name] is not None and vs[old] is not None and vs[name] < vs[old] - 0.02:
        out["decision"] += (f"; but its union validation score {vs[name]:.1%} is more than 2 points below `{old}`'s "
                            f"{vs[old]:.1%}, so `{old}` stays")
        return out
    out["shipped"] = name
    w = warning_block(warning_rule.choice_of(name)) if warning_rule.chosen_by(name) == 22 else {}
    if w and tested:
        w["tested"] = tested
    out["block"] = block(name, recipe, lo, w, f"{shipped_by}: {out['decision']}. Union validation equal-weight score "
                                              f"{_f(vs[name])} (`{old}`: {_f(vs[old])}).")
    if seeds_note:
        out["block"]["seeds_note"] = seeds_note
    return out


def results23_markdown(res: dict | None = None) -> str:
    res = res or results23() or {}
    out = opening(23, "a wider network for the shipped recipe", "batch23_wider", res)
    out += [f"Decision: **{res.get('decision', '')}**.", ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors at 40 epochs, `{r}` (mean of the seeds run)", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"


def decision_lines(items) -> list[str]:
    """The conclusions' line of each batch that has results: items are (batch, what it tried, its results or None)."""
    return [f"Batch {n} ({title}): {res['decision']}." for n, title, res in items if res]


def summary_lines() -> list[str]:
    """The conclusions' lines for batches 21 to 23."""
    out = decision_lines(((21, "MixStyle, and the shipped model with its mirror, 40 epochs, two seeds", results21()),
                          (23, "he_bo at width 24, 40 epochs, two seeds", results23())))
    r22 = ws.results()
    if r22:
        sh = r22.get("shipped") or {}
        out.append(f"Batch 22 (the warning chosen under a {_f(r22.get('cap'), 0)} cap on the LOCO models' familiar test "
                   f"rows): {r22['decision']}" + (f"; on the shipped model it fires on {_f(sh.get('familiar_firing'))} "
                                                  "of familiar union test slices" if sh else "") + ".")
    return out


# ---- batch 22 ----

def compute22(candidates: pd.DataFrame | None = None, shipped: dict | None = None) -> dict:
    """Batch 22's results from candidates.csv (experiments/batch22_warning_scores/run.py): every candidate per seed,
    the choice on seed 42 under the cap, its test on seed 7, and (`shipped`, written by `apply22`) the firing of
    the rule refitted on the shipped model."""
    path = ws.BATCH22 / "candidates.csv"
    if candidates is None:
        candidates = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    if candidates.empty:
        return {"choice": None, "decision": "no candidate measured yet", "table": []}
    choice = ws.choose(candidates)
    prev = ws.results() or {}
    shipped = shipped if shipped is not None else prev.get("shipped")
    if choice and shipped and (shipped["score"], shipped["quantile"], shipped["margin"]) == (
            choice["score"], choice["quantile"], choice["margin"]):  # the model's own firing, as batch 16's choice
        choice = {**choice, "familiar_firing_val": shipped["familiar_firing_val"],
                  "familiar_firing": shipped["familiar_firing"]}
    out = {"cap": ws.CAP, "table": ws.table(candidates).to_dict("records"), "choice": choice,
           "held_max_ratio": candidates.groupby("score")["held_max_ratio"].max().to_dict(), "shipped": shipped,
           # every model the rule was refitted on, with its own firing (warning_rule.choice_of reads a model's here):
           # "shipped" is only the latest, and a model shipped before it keeps its own numbers
           "applied": {**(prev.get("applied") or {}), **({shipped["model"]: shipped} if shipped else {})}}
    if choice is None:
        out["decision"] = f"no candidate fires on at most {ws.CAP:.0%} of the seed-42 familiar test rows: the shipped rule stays"
    else:
        out["decision"] = (f"{choice['score']} distance, validation quantile {choice['quantile']:g}, margin "
                           f"{choice['margin']:g} logits: flags {_f(choice['chosen_share_missed_flagged'])} of seed 42's "
                           f"held-out missed tumours at {_f(choice['chosen_familiar_firing'])} familiar test firing; on "
                           f"seed 7 {choice['test_missed_flagged']} of {choice['test_missed']} "
                           f"({_f(choice['test_share'])}; floor 50%) at {_f(choice['test_familiar_firing'])} familiar "
                           "test firing")
    return records.jsonable(out)


def results22_markdown(res: dict | None = None) -> str:
    res = res or ws.results() or {}
    t = pd.DataFrame(res.get("table") or [])
    out = ["# Batch 22: an unfamiliar-scan warning chosen against familiar test-like firing — results (written by "
           "`python experiments/batch22_warning_scores/results.py` from `candidates.csv`)", "",
           "Plan: `experiments/batch22_warning_scores/PLAN.md`. Candidates measured on batch 20's `he_bo_e40` LOCO "
           "models by `experiments/batch22_warning_scores/run.py`.", "",
           f"Decision: **{res.get('decision', '')}**.", ""]
    sh = res.get("shipped")
    if sh:
        out += [f"On the shipped model `{sh['model']}` (the rule refitted on its union training rows): fires on "
                f"{_f(sh['familiar_firing_val'])} of familiar validation and **{_f(sh['familiar_firing'])} of familiar "
                f"test slices** (floor 5%); the distance to the nearest {'(collection, class) cell' if sh['score'] == 'colcls' else 'class'} "
                f"mean, {sh['n_means']} means.", ""]
    cls97 = t[(t["score"] == "cls") & (t["quantile"] == 0.97)] if not t.empty else t
    if len(cls97):  # batch 20's rule, read on the same test-like rows, with and without its uncertain band
        by = {(int(r["seed"]), float(r["margin"])): r for _, r in cls97.iterrows()}
        seeds = sorted({sd for sd, _ in by}, reverse=True)
        out += ["Batch 20's rule (class distance, quantile 0.97, margin 1.5) on the same rows: it flags "
                + ", ".join(f"{_f(by[(sd, 1.5)]['share'])} of seed {sd}'s missed tumours at "
                            f"{_f(by[(sd, 1.5)]['firing'])} familiar test firing" for sd in seeds if (sd, 1.5) in by)
                + ". Without the uncertain band (margin 0) it fires on "
                + ", ".join(f"{_f(by[(sd, 0.0)]['firing'])} (seed {sd})" for sd in seeds if (sd, 0.0) in by)
                + ": most of the firing is the band, near-threshold calls on familiar collections.", ""]
    if not t.empty:
        out += ["## Every candidate: share of held-out missed tumours flagged (plain and brain-only views) and firing on "
                "the fold's familiar test rows, per seed", "",
                "| score | quantile | margin | seed 42: missed flagged | seed 42: familiar firing | seed 7: missed flagged "
                "| seed 7: familiar firing |", "|---|---|---|---|---|---|---|"]
        for (s, q, m), g in t.groupby(["score", "quantile", "margin"]):
            by = {int(r["seed"]): r for _, r in g.iterrows()}
            cell = lambda sd, k: _f(by[sd][k]) if sd in by else "n/a"  # noqa: E731
            out.append(f"| {s} | {q:g} | {m:g} | {cell(42, 'share')} | {cell(42, 'firing')} | {cell(7, 'share')} | "
                       f"{cell(7, 'firing')} |")
        out.append("")
    return "\n".join(out) + "\n"
