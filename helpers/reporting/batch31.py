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


# ---- batch 32: an input gate for every collection ----

GATE_NAMES = {"current": "the shipped limits (800 Kaggle images)", "extremes": "the same limits, union train extremes",
              "knn": "distance to the 5 nearest union train slices"}


def results32_markdown(res: dict | None = None) -> str:
    from ..evaluation import input_gate as ig

    res = res or ig.results() or {}
    out = ["# Batch 32: an input gate that lets MRI slices from every collection through — results (written by "
           "`python experiments/batch32_input_gate/results.py` from `measurements.csv`)", "",
           "Plan: `experiments/batch32_input_gate/PLAN.md`; features measured by `experiments/batch32_input_gate/run.py`.",
           "", f"Decision: **{res.get('decision', '')}**.", ""]
    if not res.get("heldout"):
        return "\n".join(out) + "\n"
    kinds = ["current", *ig.CANDIDATES32]
    h = pd.DataFrame(res["heldout"])
    n = h.groupby("source")["n"].first()
    piv = h.pivot(index="source", columns="kind", values="rejected")[kinds]
    out += ["## Real slices with no verdict, each source held out (the gate fitted on the other sources' train rows)", "",
            "| held out | slices | " + " | ".join(f"`{k}`: {GATE_NAMES[k]}" for k in kinds) + " |",
            "|---|---|" + "---|" * len(kinds)]
    for src, r in piv.iterrows():
        out.append(f"| {src} | {int(n[src]):,} | " + " | ".join(f"{int(r[k])} ({r[k] / n[src]:.2%})" for k in kinds) + " |")
    mean = h.groupby("kind")["rate"].mean()
    out.append("| **mean rate** | | " + " | ".join(f"**{mean[k]:.2%}**" for k in kinds) + " |")
    t = pd.DataFrame(res["union_test"])
    tn = t.groupby("collection")["n"].first()
    tp = t.pivot(index="collection", columns="kind", values="rejected")[kinds]
    out += ["", "## Union test rows with no verdict (the gate fitted on every train row)", "",
            "| collection | test slices | " + " | ".join(f"`{k}`" for k in kinds) + " |", "|---|---|" + "---|" * len(kinds)]
    for c, r in tp.iterrows():
        out.append(f"| {c} | {int(tn[c]):,} | " + " | ".join(str(int(r[k])) for k in kinds) + " |")
    p = pd.DataFrame(res["probes"]).pivot(index="probe", columns="kind", values="rejected")[kinds]
    out += ["", "## Non-MRI probes (made in code): no verdict?", "",
            "| probe | " + " | ".join(f"`{k}`" for k in kinds) + " |", "|---|" + "---|" * len(kinds)]
    for pr, r in p.iterrows():
        out.append(f"| {pr} | " + " | ".join("yes" if r[k] else "**no**" for k in kinds) + " |")
    g = res.get("gate")
    if g:
        lim = (f"colour above {g['colour_max']:.2f}; distance above {g['distance_max']:.3f}" if g["kind"] == "knn" else
               f"colour above {g['colour_max']:.2f}, near-black below {g['dark_frac_min']:.3f}, corners below "
               f"{g['corner_dark_min']:.3f}, histogram distance above {g['hist_l1_max']:.3f}")
        out += ["", f"The gate this batch chose, fitted on {g['n_train']:,} union train rows: no verdict at {lim}. "
                "Batch 33 then set its colour limit (`experiments/batch33_colour_limit/RESULTS.md`); "
                "`models/input_gate.json` holds the gate that ships."]
    return "\n".join(out) + "\n"


def results33_markdown(res: dict | None = None) -> str:
    from ..evaluation import input_gate as ig

    res = res or ig.results33() or {}
    out = ["# Batch 33: a colour limit that tinted MRI exports pass — results (written by "
           "`python experiments/batch33_colour_limit/results.py` from batch 32's `measurements.csv`)", "",
           "Plan: `experiments/batch33_colour_limit/PLAN.md`.", "", f"Decision: **{res.get('decision', '')}**.", ""]
    if not res.get("heldout"):
        return "\n".join(out) + "\n"
    kinds = ["fitted", "midway"]
    h = pd.DataFrame(res["heldout"])
    n = h.groupby("source")["n"].first()
    piv = h.pivot(index="source", columns="kind", values="rejected")[kinds]
    lim = h.pivot(index="source", columns="kind", values="colour_max")
    out += ["## Real slices with no verdict, each source held out", "",
            "| held out | slices | fitted limit (on the other sources) | refused | midway limit | refused |",
            "|---|---|---|---|---|---|"]
    for src, r in piv.iterrows():
        out.append(f"| {src} | {int(n[src]):,} | {lim.loc[src, 'fitted']:.2f} | {int(r['fitted'])} | "
                   f"{lim.loc[src, 'midway']:.2f} | {int(r['midway'])} |")
    mean = h.groupby("kind")["rate"].mean()
    out.append(f"| **mean rate** | | | **{mean['fitted']:.2%}** | | **{mean['midway']:.2%}** |")
    p = pd.DataFrame(res["probes"])
    chroma = p[p["kind"] == "fitted"].set_index("probe")["chroma"]
    pv = p.pivot(index="probe", columns="kind", values="rejected")[kinds]
    out += ["", "## Probes (made in code): no verdict?", "", "| probe | mean chroma | fitted | midway |", "|---|---|---|---|"]
    for pr, r in pv.iterrows():
        out.append(f"| {pr} | {chroma[pr]:.1f} | " + " | ".join("yes" if r[k] else "**no**" for k in kinds) + " |")
    return "\n".join(out) + "\n"


# ---- batch 34: weight averaging (a measurement) ----

def results34() -> dict | None:
    from .. import records
    from ..evaluation import shipped_schedule as ss

    return records.read_json(ss.RESULTS34)


def compute34() -> dict:
    """Batch 34's results: he_bo_swa beside he_bo (batch 20's seeds 42 and 7), the PLAN's reading."""
    from .. import records
    from ..evaluation import ensemble_transfer as et
    from ..evaluation import healthy_variety as hv
    from ..evaluation import shipped_schedule as ss

    inc = ss.BO_E40
    runs = [r for r in ss.runs20() if r["config"]["recipe"] == inc] + ss.runs34()
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    choice, row, note = ss.decide34(scores, lo, inc)
    return records.jsonable({
        "loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "incumbent": inc, "choice": choice,
        "row": row, "decision": note, "drops": {r: ss.brain_only_drop(lo, r) for r in (inc, ss.SWA_E40)},
        "floors_loco": {r: hv.floors_loco(lo, r) for r in (inc, ss.SWA_E40) if (lo["recipe"] == r).any()}})


def results34_markdown(res: dict | None = None) -> str:
    from .batch15 import opening
    from .batch24 import RECIPE_NAMES
    from .healthy_variety import floors_markdown

    names = {**RECIPE_NAMES, "he_bo_swa_e40": "he_bo + a learning-rate floor and a moving average of the weights, "
                                               "40 epochs"}
    res = res or results34() or {}
    out = opening(34, "weight averaging for the shipped recipe (a measurement)", "batch34_weight_averaging", res,
                  names)
    out += [f"Decision: **{res.get('decision', '')}**.", "",
            "Brain-only drop: " + "; ".join(f"`{r}` {f'{d:.1f} points' if d is not None else 'n/a'}"
                                            for r, d in (res.get("drops") or {}).items()) + ".", ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors at 40 epochs, `{r}` (mean of the seeds run)", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"
