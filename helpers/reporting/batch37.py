"""Batch 37 in words: its RESULTS.md and the conclusions' line, from the results file that
evaluation.views_on_merges computes from this batch's views.csv.gz."""
from __future__ import annotations

import pandas as pd

from ..formatting import pct
from .batch15 import opening
from .batch35 import CANDIDATE_NAMES
from .healthy_variety import floors_markdown, loco_markdown

TITLE37 = "the mirror or the brain-only view, judged on a fresh two-seed merge"


def _p(x) -> str:
    return pct(None if x is None or pd.isna(x) else float(x))


def results37() -> dict | None:
    from ..evaluation import views_on_merges as vm

    return vm.results()


def results37_markdown(res: dict | None = None) -> str:
    res = res or results37() or {}
    out = opening(37, TITLE37, "batch37_views_on_merges", res, CANDIDATE_NAMES)
    out[0] = out[0].replace("from the run records)", "from `views.csv.gz`, measured by `run.py` on the run records)")
    i = out.index("## Scores and decision")
    out[i] = "## The single runs (reported, not part of the rule)"
    out += ["## The merge of seeds 1 and 2 (what the rule reads)", "",
            "Each slice's logits averaged over the two seeds per fold, then each candidate's operating point refitted on "
            "validation under its views.", "", "| candidate | primary score (16 numbers) | largest per-source "
            "brain-only drop |", "|---|---|---|"]
    out += [f"| `{r['candidate']}` {CANDIDATE_NAMES.get(r['candidate'], '')} | {_p(r['primary'])} | "
            + ("n/a" if r["drop"] is None else f"{r['drop']:.1f} points") + " |" for r in res.get("rows", [])]
    out += ["", f"Decision: **{res.get('decision', '')}**.", ""]
    if res.get("ship"):
        out += [f"Ship: **{res['ship']}**.", ""]
    if res.get("batch35_merged"):
        out += ["Beside it, batch 35's merge of seeds 42 and 7 (seen before this PLAN was written): " + "; ".join(
            f"`{c}` {_p(v)}" for c, v in res["batch35_merged"].items()) + ".", ""]
    if res.get("loco_merged"):
        out += ["## Every evaluation of the merge", "", loco_markdown({"loco": res["loco_merged"]}, names=CANDIDATE_NAMES),
                ""]
    for c, fl in (res.get("floors_merged") or {}).items():
        out += [f"## LOCO floors, `{c}` on the merge of seeds 1 and 2", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"


def summary_lines() -> list[str]:
    from .batch21 import decision_lines

    res = results37()
    out = decision_lines(((37, TITLE37 + " (he_bo seeds 1 and 2, member models kept)", res),))
    if out and res.get("ship"):
        out[0] = out[0].rstrip(".") + f"; {res['ship']}."
    return out
