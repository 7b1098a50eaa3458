"""Batches 28 to 30 (issue 21, seventh session). Batch 28: four-member ensembles against the shipped two-seed ensemble —
four seeds of the shipped recipe `he_bo`, or four recipes at one seed (he_bo, MixStyle, width 24, plane-balanced).
Batch 29: the call threshold's rule (evaluation.threshold_study). Batch 30: two more seeds, the seed curve. Everything is
read from the run records and the model files; the results file is written by
`experiments/batch28_four_members/results.py`."""
from __future__ import annotations

from .. import config, records
from ..evaluation import ensemble_transfer as et
from ..evaluation import healthy_variety as hv
from ..evaluation import shipped_schedule as ss
from .batch15 import opening
from .batch21 import decision_lines, ship_when_built
from .batch24 import RECIPE_NAMES as _NAMES24
from .batch24 import member_numbers
from .healthy_variety import floors_markdown, pct_or_na as _f

RECIPE_NAMES = {**_NAMES24,
                ss.ENS4S_E40: "four seeds of he_bo_e40 merged (replicate 42: seeds 42 + 7 + 1 + 2; 1: seeds 1 + 2 + 3 + 4)",
                ss.MIX4_E40: "he_bo, he_bo_ms, he_bo_w24 and he_bo_pb merged, one seed (replicates 42 and 7)"}
SEEDS_NOTE = {ss.ENS4S_E40: "one four-seed ensemble, seeds 42 + 7 + 1 + 2",
              ss.MIX4_E40: "mean of two four-recipe ensembles, seeds 42 and 7"}
WHOSE = {ss.ENS4S_E40: "four-seed ensemble's", ss.MIX4_E40: "four-recipe ensemble's"}
SHIPPED_BY = "Shipped by batch 28 (`experiments/batch28_four_members/PLAN.md`, 40 epochs)"


def results28() -> dict | None:
    return records.read_json(ss.RESULTS28)


def compute28() -> dict:
    """Batch 28's results: the incumbent two-seed ensemble's replicates (batch 24) beside both four-member
    candidates, the PLAN's decision, the new union members' numbers, and the shipped model's block on a change."""
    inc = ss.ENS2S_E40
    runs = [r for r in ss.runs24() if r["config"]["recipe"] == inc] + ss.runs28()
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    choice, rows, note = ss.decide28(scores, lo, inc)
    keep = (inc, ss.ENS4S_E40, ss.MIX4_E40)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "incumbent": inc, "choice": choice,
           "rows": rows, "decision": note, "drops": {r: ss.brain_only_drop(lo, r) for r in keep},
           "floors_loco": {r: hv.floors_loco(lo, r) for r in keep if (lo["recipe"] == r).any()},
           "shipped": None, "members": [m for m in map(member_numbers, ss.SEED_MEMBERS28) if m]}
    if choice is None:
        return records.jsonable(out)
    if choice == inc:
        out["decision"] += f" (`{ss.MODEL_OF[inc]}`, batch 24's choice, ships)"
        return records.jsonable(out)
    ship_when_built(out, choice, ss.MODEL_OF[choice], ss.MODEL_OF[inc], lo, SHIPPED_BY, SEEDS_NOTE[choice],
                    tested=tested28(choice))
    return records.jsonable(out)


WARNING28 = ss.BATCH28 / "warning.csv"  # experiments/batch28_four_members/warning.py


def tested28(recipe: str, rows=None) -> dict | None:
    """Batch 22's rule on the chosen candidate's own LOCO runs (warning.csv): where the shipped ensemble's warning
    is tested; None until measured."""
    import pandas as pd

    if rows is None:
        rows = pd.read_csv(WARNING28) if WARNING28.is_file() else pd.DataFrame(columns=["recipe"])
    t = rows[rows["recipe"] == recipe]
    if t.empty or not int(t["missed"].sum()):
        return None
    m, f = int(t["missed"].sum()), int(t["missed_flagged"].sum())
    return {"missed": m, "missed_flagged": f, "share": f / m,
            "firing": int(t["familiar_flagged"].sum()) / max(int(t["familiar_n"].sum()), 1),
            "on": f"the held-out collections of the {WHOSE[recipe]} own LOCO runs (batch 28)",
            "short": f"{WHOSE[recipe].replace(chr(39) + 's', '')} LOCO runs"}


def _runs_of(res: dict, recipe: str) -> str:
    """Which seeds or replicates a recipe's LOCO rows hold, from the rows themselves."""
    seeds = sorted({int(r["seed"]) for r in res.get("loco", []) if r.get("recipe") == recipe},
                   key=lambda s: (s != config.SEED, s))
    if recipe == ss.ENS2S_E40:
        return "mean of the replicates run: " + " and ".join("seeds " + " + ".join(map(str, ss.REPLICATES24[s]))
                                                             for s in seeds)
    if recipe == ss.ENS4S_E40:
        return SEEDS_NOTE[recipe]
    return "replicates at seed " + " and ".join(map(str, seeds))


def results28_markdown(res: dict | None = None) -> str:
    res = res or results28() or {}
    out = opening(28, "four-member ensembles, four seeds or four recipes", "batch28_four_members", res, RECIPE_NAMES)
    out += [f"Decision: **{res.get('decision', '')}**.", "",
            "Brain-only drop (plain minus brain-only held-out sensitivity, mean over Br35H, Sartaj and figshare and "
            "over the replicates run): " + "; ".join(f"`{r}` {f'{d:.1f} points' if d is not None else 'n/a'}"
                                                     for r, d in (res.get("drops") or {}).items()) + ".", ""]
    for m in res.get("members") or []:
        a = m.get("metrics") or {}
        out += [f"New union member `{m['name']}` (he_bo, seed {m['seed']}, 40 epochs): union validation equal-weight "
                f"score {_f(m['val_score'])}; union test sensitivity {_f(a.get('sensitivity'))}, specificity "
                f"{_f(a.get('specificity'))}; Kaggle leak-free 4-class accuracy {_f(m.get('leakfree_accuracy'))}.", ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors at 40 epochs, `{r}` ({_runs_of(res, r)})", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"


def summary_lines() -> list[str]:
    """The conclusions' lines for batches 28 to 34 (batch35.summary_lines: 35 and 36)."""
    from ..evaluation import calibration_study, input_gate
    from . import batch31

    return decision_lines(((28, "four-member ensembles, four seeds of he_bo or four recipes, 40 epochs", results28()),
                           (29, "the call threshold's rule, from saved predictions", results29()),
                           (30, "he_bo seeds 3 and 4 and the seed curve, a measurement", results30()),
                           (31, "a binary recalibration of P(tumour) against the temperature, from saved predictions",
                            calibration_study.results()),
                           (32, "the input gate refitted on every collection, from pixel features",
                            input_gate.results()),
                           (33, "the input gate's colour limit, from pixel features", input_gate.results33()),
                           (34, "weight averaging for he_bo, a measurement", batch31.results34())))


# ---- batch 29: a call threshold that does not move by chance ----

RULE_NAMES = {"best": "best equal-weight validation score (since batch 10)", "half": "P(tumour) ≥ 0.5 always",
              "plateau": "centre of the near-best plateau"}


def results29() -> dict | None:
    from ..evaluation import threshold_study as ts

    return ts.results()


def results29_markdown(res: dict | None = None) -> str:
    import pandas as pd

    res = res or results29() or {}
    out = ["# Batch 29: a call threshold that does not move by chance — results (written by "
           "`python experiments/batch29_operating_point/results.py` from `validation.csv` and the run records)", "",
           "Plan: `experiments/batch29_operating_point/PLAN.md`; validation rows measured by "
           "`experiments/batch29_operating_point/run.py`.", "", f"Decision: **{res.get('decision', '')}**.", ""]
    if not res.get("per_run_set"):
        return "\n".join(out) + "\n"
    out += [f"Rule 'best' on the measured validation rows reproduces {res['reproduced']} of the {res['runs']} "
            "thresholds the runs recorded.", "",
            "## Primary score per run set and rule (16 numbers: held-out sources × plain and brain-only views)", "",
            "| run set | " + " | ".join(f"'{r}': {RULE_NAMES[r]}" for r in res["per_run_set"]) + " |",
            "|---|" + "---|" * len(res["per_run_set"])]
    sets = list(next(iter(res["per_run_set"].values())))
    for s in sets:
        out.append(f"| `{s}` | " + " | ".join(_f(v[s]) for v in res["per_run_set"].values()) + " |")
    out.append("| **mean** | " + " | ".join(f"**{_f(sum(v.values()) / len(v))}**"
                                           for v in res["per_run_set"].values()) + " |")
    th = pd.DataFrame(res["thresholds"])
    out += ["", "## Thresholds each rule picked (per run set, the three folds)", "",
            "| run set | " + " | ".join(f"'{r}'" for r in res["per_run_set"]) + " |", "|---|" + "---|" * len(res["per_run_set"])]
    for (recipe, seed), g in th.groupby(["recipe", "seed"], sort=False):
        cells = [", ".join(f"{t:.2f}" for t in g[g["rule"] == r]["threshold"]) for r in res["per_run_set"]]
        out.append(f"| `{recipe}@{seed}` | " + " | ".join(cells) + " |")
    out += ["", "Spread of the thresholds over the 21 runs: " + "; ".join(
        f"'{r}' {g['threshold'].min():.2f}-{g['threshold'].max():.2f}" for r, g in th.groupby("rule", sort=False)) + ".", ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors of `{ss.ENS4S_E40}` under rule '{r}'", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"


# ---- batch 30: how far does averaging seeds go? ----

RECIPE_NAMES[ss.ENS6S_E40] = "six seeds of he_bo_e40 merged (seeds 42 + 7 + 1 + 2 + 3 + 4)"
SEEDS_NOTE30 = "mean of two four-seed ensembles, seeds 42 + 7 + 1 + 2 and 1 + 2 + 3 + 4"
SHIPPED_BY30 = "Batch 30 (`experiments/batch30_seed_curve/PLAN.md`, item 5) keeps it and estimates it on both replicates"


def results30() -> dict | None:
    return records.read_json(ss.RESULTS30)


def compute30() -> dict:
    """Batch 30's results: he_bo on six seeds, the seed ensembles of two, four and six seeds, the curve and its
    reading (PLAN.md items 1-3) and, with every run scored, the shipped model's block with its LOCO estimate on both
    four-seed replicates (item 5)."""
    from .batch19 import block

    runs = ([r for r in ss.runs20() if r["config"]["recipe"] == ss.BO_E40]
            + [r for r in ss.runs24() if r["config"]["recipe"] in (ss.BO_E40, ss.ENS2S_E40)]
            + [r for r in ss.runs28() if r["config"]["recipe"] == ss.ENS4S_E40] + ss.runs30())
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    rows, note, complete = ss.curve30(scores)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "curve": rows, "decision": note,
           "drops": {r: ss.brain_only_drop(lo, r) for r in ss.CURVE30.values()},
           "floors_loco": {r: hv.floors_loco(lo, r) for r in (ss.ENS4S_E40, ss.ENS6S_E40) if (lo["recipe"] == r).any()},
           "shipped": None}
    r28 = results28() or {}
    name = ss.MODEL_OF[ss.ENS4S_E40]
    if complete and r28.get("shipped") == name and r28.get("block"):
        b28 = r28["block"]
        out["shipped"] = name
        out["block"] = block(name, ss.ENS4S_E40, lo, b28["warning"], f"{b28['why']} {SHIPPED_BY30}: {note}.")
        out["block"]["seeds_note"] = SEEDS_NOTE30
        out["decision"] += f"; `{name}` stays, its LOCO estimate now on both four-seed replicates"
    return records.jsonable(out)


def results30_markdown(res: dict | None = None) -> str:
    res = res or results30() or {}
    out = opening(30, "how far does averaging seeds go? (a measurement)", "batch30_seed_curve", res, RECIPE_NAMES)
    out += [f"Reading: **{res.get('decision', '')}**.", ""]
    if res.get("curve"):
        out += ["## The curve", "", "| seeds merged | recipe | runs or replicates (by first seed) | mean |",
                "|---|---|---|---|"]
        for r in res["curve"]:
            out.append(f"| {r['seeds_merged']} | `{r['recipe']}` | "
                       + ", ".join(f"{s}: {_f(v)}" for s, v in r["runs"].items()) + f" | {_f(r['mean'])} |")
        out.append("")
    out += ["Brain-only drop: " + "; ".join(f"`{r}` {f'{d:.1f} points' if d is not None else 'n/a'}"
                                            for r, d in (res.get("drops") or {}).items()) + ".", ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors at 40 epochs, `{r}` (mean of the replicates run)", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"
