"""Batch 31's RESULTS.md (experiments/batch31_calibration/PLAN.md) from its results.json."""
from __future__ import annotations

import pandas as pd

from ..evaluation import calibration_study as cs

KIND_NAMES = {"temperature": "temperature only (incumbent)", "platt": "binary Platt, slope and intercept",
              "anchored": "binary slope, 50% at the call threshold"}


def _f(x) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{float(x):.1%}"


def results31_markdown(res: dict | None = None) -> str:
    res = res or cs.results() or {}
    out = ["# Batch 31: a P(tumour) that means what it says on scans from elsewhere — results (written by "
           "`python experiments/batch31_calibration/results.py` from the run records, batch 29's `validation.csv` "
           "and `union_validation.csv`)", "",
           "Plan: `experiments/batch31_calibration/PLAN.md`; the shipped model's validation rows measured by "
           "`experiments/batch31_calibration/run.py`.", "", f"Decision: **{res.get('decision', '')}**.", ""]
    per = res.get("per_run_set")
    if not per:
        return "\n".join(out) + "\n"
    kinds = list(per)
    moved = res["calls_moved"]
    out += [f"Calls moved by a map at its mapped threshold: {moved['heldout']} held-out, {moved['union_test']} "
            "union test (a monotone map moves none but ties).", "",
            "## Held-out ECE of P(tumour) per run set (mean of 16: held-out sources × plain and brain-only views)", "",
            "| run set | " + " | ".join(f"`{k}`: {KIND_NAMES[k]}" for k in kinds) + " |", "|---|" + "---|" * len(kinds)]
    for s in res["run_sets"]:
        out.append(f"| `{s}` | " + " | ".join(_f(per[k][s]) for k in kinds) + " |")
    out.append("| **mean** | " + " | ".join(f"**{_f(sum(per[k].values()) / len(per[k]))}**" for k in kinds) + " |")
    h = pd.DataFrame(res["heldout"])
    piv = h.groupby(["source", "view", "kind"])["ece"].mean().unstack("kind")[kinds]
    out += ["", "## Held-out ECE per source and view (mean over the seven run sets' runs)", "",
            "| held out | view | " + " | ".join(f"`{k}`" for k in kinds) + " |", "|---|---|" + "---|" * len(kinds)]
    for (src, view), r in piv.iterrows():
        out.append(f"| {src} | {view} | " + " | ".join(_f(r[k]) for k in kinds) + " |")
    u = pd.DataFrame(res["union_test"])
    up = u.pivot(index="collection", columns="kind", values="ece")[kinds]
    out += ["", f"## `{res['model']}`, union test ECE per collection (each map fitted on its union validation rows)", "",
            "| collection | test slices | " + " | ".join(f"`{k}`" for k in kinds) + " |", "|---|---|" + "---|" * len(kinds)]
    n = u.groupby("collection")["n"].first()
    for c, r in up.iterrows():
        out.append(f"| {c} | {int(n[c]):,} | " + " | ".join(_f(r[k]) for k in kinds) + " |")
    out.append("| **mean** | | " + " | ".join(f"**{_f(up[k].mean())}**" for k in kinds) + " |")
    out += ["", "Maps fitted on the union validation rows: " + "; ".join(
        f"`{k}` slope {v['slope']:.3f}, intercept {v['intercept']:+.3f}, call threshold {v['threshold_before']:.2f} → "
        f"{v['threshold']:.3f}" for k, v in res["union_fits"].items() if v) + ".", ""]
    return "\n".join(out) + "\n"
