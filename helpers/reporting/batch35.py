"""Batches 35 and 36 in words: their RESULTS.md, from the results files that evaluation.test_time_views and
evaluation.warning_cost compute from batch 35's views.csv.gz."""
from __future__ import annotations

import pandas as pd

from .. import config

from ..formatting import pct
from .batch15 import opening
from .healthy_variety import floors_markdown


def _p(x) -> str:
    return pct(None if x is None or pd.isna(x) else float(x))


CANDIDATE_NAMES = {"plain": "the slice alone (what ships)", "flip2": "the slice and its left-right mirror",
                   "brain2": "the slice and its brain-only view"}


SHIPPED35 = "brain_tumor_hv_bo4f"  # PLAN.md: the shipped four-seed ensemble with the qualifying view averaged in
BASE35 = "brain_tumor_hv_bo4"
TTA_OF = {"flip2": "hflip"}  # a candidate's test-time augmentation in a record (brain2 has none the predictor runs)
SHIPPED_BY35 = "Shipped by batch 35 (`experiments/batch35_test_time_views/PLAN.md`)"


def compute35() -> dict:
    """Batch 35's results (evaluation.test_time_views.compute) and, when a candidate qualifies and the shipped
    four-seed ensemble has been rebuilt with it (SHIPPED35), the shipped model's block: its union test numbers, its
    LOCO estimate (the four-seed ensemble's own LOCO runs, batch 30, without the view: its LOCO members were not
    kept) and the view's effect measured here."""
    from .. import records
    from ..evaluation import shipped_schedule as ss
    from ..evaluation import test_time_views as tv
    from ..evaluation import warning_rule
    from .batch19 import block
    from .batch28 import SEEDS_NOTE30, tested28
    from .shipped import warning_block

    out = tv.compute()
    choice = out.get("choice")
    if choice in (None, tv.INCUMBENT35):
        return out
    if TTA_OF.get(choice) is None:
        out["decision"] += f"; the predictor has no test-time view for {choice}, so nothing ships"
        return records.jsonable(out)
    if not records.read(config.MODELS_DIR, SHIPPED35):
        out["decision"] += f"; `{SHIPPED35}` (`{BASE35}` with it) is not built yet, so nothing changes until it is"
        return records.jsonable(out)
    r30 = records.read_json(ss.RESULTS30) or {}
    lo30 = pd.DataFrame([r for r in r30.get("loco", []) if r.get("recipe") == ss.ENS4S_E40])
    row = next(r for r in out["rows"] if r["candidate"] == choice)
    vs = {n: ss.val_score(n) for n in (BASE35, SHIPPED35)}
    out["shipped"] = SHIPPED35
    w = warning_block(warning_rule.choice_of(SHIPPED35)) if warning_rule.chosen_by(SHIPPED35) == 22 else {}
    if w and (t := tested28(ss.ENS4S_E40)):
        w["tested"] = t
    why = (f"{SHIPPED_BY35}: `{BASE35}` (the same four networks) with each slice's logits averaged with its mirror's; "
           f"on batch 35's single runs the mirror scored {row['primary']:.1%} against {row['primary'] - row['delta']:.1%} "
           f"({row['delta'] * 100:+.1f} points, above on both seeds). Union validation equal-weight score "
           f"{_p(vs[SHIPPED35])} (`{BASE35}`: {_p(vs[BASE35])}).")
    out["block"] = block(SHIPPED35, ss.ENS4S_E40, lo30, w, why)
    out["block"]["seeds_note"] = SEEDS_NOTE30
    out["block"]["loco_note"] = ("40 epochs; the four-seed ensemble's LOCO runs read each slice once: its LOCO "
                                 "members were not kept, so the mirror's effect on them is not measured (on single "
                                 f"runs, batch 35: {row['delta'] * 100:+.1f} points of primary score)")
    mg = out.get("merged") or {}
    if mg.get(choice) is not None and mg.get(tv.INCUMBENT35) is not None:
        out["block"]["caveat"] = (f"These LOCO runs read each slice once; the shipped model also reads its mirror "
                                  f"(batch 35: {row['delta'] * 100:+.1f} points of primary score on single runs, "
                                  f"{(mg[choice] - mg[tv.INCUMBENT35]) * 100:+.1f} on two seeds merged).")
    out["decision"] += f"; `{SHIPPED35}` (`{BASE35}` with the mirror averaged in) ships"
    return records.jsonable(out)


def results35() -> dict | None:
    from ..evaluation import test_time_views as tv

    return tv.results()


def results36() -> dict | None:
    from ..evaluation import warning_cost as wc

    return wc.results()


def results35_markdown(res: dict | None = None) -> str:
    res = res or results35() or {}
    out = opening(35, "a second view of the same slice at prediction time", "batch35_test_time_views", res,
                  CANDIDATE_NAMES)
    out[0] = out[0].replace("from the run records)", "from `views.csv.gz`, measured by `run.py` on the run records)")
    out += [f"Decision: **{res.get('decision', '')}**.", "",
            "Brain-only drop (plain minus brain-only held-out sensitivity, mean over Br35H, Sartaj and figshare and the "
            "two seeds): " + "; ".join(f"`{c}` {'n/a' if d is None else f'{d:.1f} points'}"
                                        for c, d in (res.get("drops") or {}).items()) + ". Largest per source "
            "(what the rule reads): " + "; ".join(f"`{c}` {'n/a' if d is None else f'{d:.1f} points'}"
                                                 for c, d in (res.get("worst_drops") or {}).items()) + ".", ""]
    if res.get("merged"):
        from .. import records
        from ..evaluation import shipped_schedule as ss

        b21 = next((r for r in (records.read_json(ss.RESULTS21) or {}).get("rows", [])
                    if r.get("recipe") == ss.FLIP_E40), None)
        here = next((r for r in res.get("rows", []) if r["candidate"] == "flip2"), None)
        out += ["## After the decision: a measurement that is not part of the rule", "",
                "The same candidates on the two seeds merged (their logits averaged per slice, as `ensemble.merge` "
                "builds a two-seed ensemble; one replicate, no seed spread): " + "; ".join(
                    f"`{c}` {_p(v)}" for c, v in res["merged"].items()) + "."]
        if b21 and here:
            out[-1] += (f" Batch 21 (`experiments/batch21_style_and_flip/`) had measured the mirror on batch 20's "
                        f"models of the same seeds: {b21['delta'] * 100:+.1f} points, not above on each seed (this "
                        f"PLAN did not cite it). The mirror's gain on single runs ({b21['delta'] * 100:+.1f} there, "
                        f"{here['delta'] * 100:+.1f} here) does not carry over to the merge: its effect is within the "
                        "spread the validation-chosen threshold adds (batch 29). It ships by the rule; the next batch "
                        "to test a view should test it on ensembles whose LOCO members are kept.")
        out.append("")
    if res.get("reproduced"):
        out += ["## The retrained runs beside batch 20's records of the same seeds (the slice alone)", "",
                "| seed | batch 20 | batch 35 (retrained) |", "|---|---|---|"]
        out += [f"| {r['seed']} | {_p(r['batch20'])} | {_p(r['batch35'])} |" for r in res["reproduced"]]
        out += ["", "Same configuration, split and library versions in both records; CPU TensorFlow does not repeat "
                "a run bit for bit across sessions, so the gap is the run-to-run spread of one seed with its "
                "validation-chosen threshold.", ""]
    for c, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors, `{c}` (mean of seeds 42 and 7)", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"


LABELS36 = [("given", "calls given"), ("correct_withheld", "correct calls withheld"),
            ("misses_withheld", "misses withheld"), ("false_alarms_withheld", "false alarms withheld"),
            ("misses_given", "misses given (warned)"), ("false_alarms_given", "false alarms given (warned)")]


def results36_markdown(res: dict | None = None) -> str:
    res = res or results36() or {}
    out = ["# Batch 36: what the unfamiliar-scan warning costs on collections held out — results (written by "
           "`python experiments/batch36_warning_cost/results.py` from batch 35's `views.csv.gz`)", "",
           "Plan: `experiments/batch36_warning_cost/PLAN.md`. Batch 22's rule refitted per fold on each of batch 35's "
           "six he_bo LOCO runs (seeds 42 and 7), at each run's own call threshold; the slice and its brain-only view "
           "pooled.", "", f"Decision: **{res.get('decision', '')}**.", ""]
    t = pd.DataFrame(res.get("table") or [])
    if t.empty:
        return "\n".join(out) + "\n"
    for name, title in (("held", "Held-out sources"), ("fam", "Familiar test slices (the folds' other collections)")):
        g = t[t["set"] == name]
        out += [f"## {title}", "", "| source | slices | flagged | flagged and right | policy | "
                + " | ".join(lab for _, lab in LABELS36) + " |", "|---|---|---|---|---|" + "---|" * len(LABELS36)]
        for _, r in g.iterrows():
            def cell(k):
                v = int(r[k])
                w = {"misses_given": "misses_given_warned", "false_alarms_given": "false_alarms_given_warned"}.get(k)
                return f"{v:,}" + (f" ({int(r[w]):,})" if w else "")
            out.append(f"| {r['source']} | {int(r['n']):,} | {int(r['flagged']):,} | {_p(r['flagged_right'])} | "
                       f"`{r['policy']}` | " + " | ".join(cell(k) for k, _ in LABELS36) + " |")
        out.append("")
    return "\n".join(out) + "\n"


def summary_lines() -> list[str]:
    """The conclusions' lines for batches 35 and 36."""
    from .batch21 import decision_lines

    out = decision_lines(((35, "the slice averaged with its brain-only view or its mirror at prediction time, on "
                                "he_bo's seeds 42 and 7 trained again", results35()),
                           (36, "what the unfamiliar-scan warning withholds on held-out collections, counted per "
                                "slice on batch 35's models", results36())))
    mg = (results35() or {}).get("merged") or {}
    if out and mg:
        out[0] = out[0].rstrip(".") + ("; after the decision, not part of its rule, the same views on the two seeds "
                                       "merged: " + ", ".join(f"{c} {_p(v)}" for c, v in mg.items())
                                       + " (the mirror's single-run gain did not carry to the merge).")
    return out
