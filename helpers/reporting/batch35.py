"""Batches 35 and 36 in words: their RESULTS.md, from the results files that evaluation.test_time_views and
evaluation.warning_cost compute from batch 35's views.csv.gz."""
from __future__ import annotations

import pandas as pd

from ..formatting import pct
from .batch15 import opening
from .healthy_variety import floors_markdown


def _p(x) -> str:
    return pct(None if x is None or pd.isna(x) else float(x))


CANDIDATE_NAMES = {"plain": "the slice alone (what ships)", "flip2": "the slice and its left-right mirror",
                   "brain2": "the slice and its brain-only view"}


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
    if res.get("reproduced"):
        out += ["## The retrained runs beside batch 20's records of the same seeds (the slice alone)", "",
                "| seed | batch 20 | batch 35 (retrained) |", "|---|---|---|"]
        out += [f"| {r['seed']} | {_p(r['batch20'])} | {_p(r['batch35'])} |" for r in res["reproduced"]]
        out += ["", "CPU TensorFlow does not repeat a run bit for bit across sessions: the gap is the run-to-run "
                "spread of one seed.", ""]
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
