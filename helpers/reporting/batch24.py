"""Batches 24, 25 and 27 (issue 21, sixth session). Batch 24: the shipped recipe `he_bo_e40` at four seeds, and two of
its seeds merged (a deep ensemble) against it. Batch 25: the two seeds' disagreement as an unfamiliar-scan warning.
Batch 27: plane-balanced loss weights (batch 26, the pattern check, is `evaluation.pattern_study`). Everything is read from the run records and the model files; the results file is written
by `experiments/batch24_seed_ensemble/results.py`."""
from __future__ import annotations

from .. import config, records
from ..evaluation import ensemble_transfer as et
from ..evaluation import healthy_variety as hv
from ..evaluation import shipped_schedule as ss
from ..evaluation import warning_rule
from .batch15 import opening
from .batch19 import block
from .batch21 import RECIPE_NAMES as _NAMES21
from .batch21 import decision_lines, ship_when_built
from .healthy_variety import floors_markdown, pct_or_na as _f
from .shipped import warning_block

RECIPE_NAMES = {**_NAMES21, ss.BO_E40: "he_bo, 40 epochs",
                ss.ENS2S_E40: "two seeds of he_bo_e40 merged (replicate 42 = seeds 42 + 7, replicate 1 = seeds 1 + 2)"}
SEEDS_NOTE = {ss.BO_E40: "mean of seeds 42, 7, 1 and 2",
              ss.ENS2S_E40: "mean of two two-seed ensembles, seeds 42 + 7 and 1 + 2"}


def results24() -> dict | None:
    return records.read_json(ss.RESULTS24)


def _why20() -> str:
    """Why batch 20 shipped the incumbent (its block's sentence), which batch 24 carries on when it stays."""
    return ((records.read_json(ss.RESULTS20) or {}).get("block") or {}).get("why", "")


def compute24() -> dict:
    """Batch 24's results: he_bo_e40 on four seeds (batch 20's two and this batch's two), the seed ensemble's two
    replicates, the PLAN's decision and the shipped model's block, whose LOCO estimate is now four seeds (or the
    ensemble's two replicates when it ships)."""
    inc = ss.BO_E40
    runs = [r for r in ss.runs20() if r["config"]["recipe"] == inc] + ss.runs24()
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    choice, row, note = ss.decide24(scores, lo, inc)
    keep = (inc, ss.ENS2S_E40)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "incumbent": inc, "choice": choice,
           "row": row, "decision": note, "drops": {r: ss.brain_only_drop(lo, r) for r in keep},
           "floors_loco": {r: hv.floors_loco(lo, r) for r in keep if (lo["recipe"] == r).any()},
           "shipped": None, "seed7_member": member_numbers(ss.SEED7_MEMBER)}
    if choice is None:
        return records.jsonable(out)
    name = ss.MODEL_OF[choice]
    why = f"Batch 24 (`experiments/batch24_seed_ensemble/PLAN.md`, 40 epochs): {note}."
    if choice == inc:
        out["shipped"] = name
        out["block"] = block(name, inc, lo, warning_block(warning_rule.choice_of(name)), f"{_why20()} {why}".strip())
        out["block"]["seeds_note"] = SEEDS_NOTE[inc]
        return records.jsonable(out)
    ship_when_built(out, choice, name, ss.MODEL_OF[inc], lo,
                    "Shipped by batch 24 (`experiments/batch24_seed_ensemble/PLAN.md`, 40 epochs)", SEEDS_NOTE[choice],
                    tested=tested25())
    return records.jsonable(out)


def tested25() -> dict | None:
    """Batch 22's rule ("dist") measured by batch 25 on the seed ensemble's own replicate-B LOCO runs: where the
    shipped ensemble's warning was tested (its block carries it)."""
    d = (results25() or {}).get("dist_test") or {}
    if not d.get("missed"):
        return None
    return {"missed": d["missed"], "missed_flagged": d["missed_flagged"], "share": d["share"],
            "on": "the held-out collections of the seed ensemble's replicate-B runs (seeds 1 + 2; batch 25)",
            "short": "seed-ensemble LOCO runs, replicate B"}


def member_numbers(name: str) -> dict | None:
    """A union member on the union test groups (reported whatever the decision), if it was trained (batches 24, 28)."""
    rec = records.read(config.MODELS_DIR, name)
    if not rec:
        return None
    return {"name": name, "seed": (rec.get("config") or {}).get("seed"),
            "val_score": (rec.get("operating_point") or {}).get("val_score"),
            "leakfree_accuracy": rec.get("leakfree_accuracy"), "metrics": (rec.get("metrics") or {}).get("all")}


def results24_markdown(res: dict | None = None) -> str:
    res = res or results24() or {}
    out = opening(24, "the shipped recipe at four seeds, and two of its seeds merged", "batch24_seed_ensemble", res,
                  RECIPE_NAMES)
    out += [f"Decision: **{res.get('decision', '')}**.", "",
            "Brain-only drop (plain minus brain-only held-out sensitivity, mean over Br35H, Sartaj and figshare and "
            "over the seeds or replicates run): " + "; ".join(f"`{r}` {f'{d:.1f} points' if d is not None else 'n/a'}"
                                                            for r, d in (res.get("drops") or {}).items()) + ".", ""]
    m = res.get("seed7_member")
    if m and m.get("metrics"):
        a = m["metrics"]
        out += [f"The ensemble's second union member `{m['name']}` (he_bo, seed 7, 40 epochs): union validation "
                f"equal-weight score {_f(m['val_score'])}; union test sensitivity {_f(a.get('sensitivity'))}, "
                f"specificity {_f(a.get('specificity'))}; Kaggle leak-free 4-class accuracy "
                f"{_f(m.get('leakfree_accuracy'))}.", ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors at 40 epochs, `{r}` ({_seeds_run(res, r)})", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"


def _seeds_run(res: dict, recipe: str) -> str:
    """'mean of seeds 42 and 7' (or of replicates, for the seed ensemble) from the LOCO rows themselves."""
    seeds = sorted({int(r["seed"]) for r in res.get("loco", []) if r.get("recipe") == recipe},
                   key=lambda s: ss.SEEDS24.index(s) if s in ss.SEEDS24 else len(ss.SEEDS24) + s)
    if recipe == ss.ENS2S_E40:
        return "mean of the replicates run: " + " and ".join("seeds " + " + ".join(map(str, ss.REPLICATES24[s]))
                                                             for s in seeds)
    return f"mean of seed{'s' if len(seeds) > 1 else ''} " + ", ".join(map(str, seeds))


def summary_lines() -> list[str]:
    """The conclusions' lines for batches 24 to 27."""
    from ..evaluation import pattern_study

    return decision_lines((
        (24, "he_bo at four seeds, and two of its seeds merged, 40 epochs", results24()),
        (25, "the two seeds' disagreement as a warning, measured on batch 24's ensembles", results25()),
        (27, "plane-balanced weights, 40 epochs, two seeds", results27()),
        (26, "a no-verdict check for synthetic patterns on the network's features", pattern_study.results())))


# ---- batch 25: the seed ensemble's member disagreement as a warning (a measurement) ----

def results25() -> dict | None:
    from ..evaluation import disagreement as dg

    return records.read_json(dg.RESULTS25)


def compute25(candidates=None) -> dict:
    """Batch 25's results from candidates.csv (`experiments/batch25_disagreement/run.py`): every candidate per
    replicate, the choice on replicate A under the cap and its test on replicate B."""
    import pandas as pd

    from ..evaluation import disagreement as dg
    from ..evaluation import warning_scores as ws

    path = dg.BATCH25 / "candidates.csv"
    if candidates is None:
        candidates = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    reps = set(candidates["seed"]) if len(candidates) else set()
    if not set(ss.REPLICATES24) <= reps:
        return {"decision": "not every replicate is measured yet: no choice", "table": [],
                "replicates": sorted(int(r) for r in reps)}
    c = dg.choose(candidates)
    out = {"cap": ws.CAP, "table": dg.table(candidates).to_dict("records"), **c}
    ch = c.get("choice")
    if ch is None:
        out["decision"] = f"no candidate fires on at most {ws.CAP:.0%} of replicate A's familiar test rows"
        return records.jsonable(out)
    what = ("batch 22's distance alone" if ch["kind"] == "dist" else
            f"{'disagreement' if ch['kind'] == 'dis' else 'distance or disagreement'} beyond validation quantile "
            f"{ch['quantile']:g}")
    t, d = c["test"], c["dist_test"]
    out["decision"] = (f"{what}: flags {_f(ch['share'])} of replicate A's held-out missed tumours at {_f(ch['firing'])} "
                       f"familiar test firing; on replicate B {t['missed_flagged']} of {t['missed']} ({_f(t['share'])}) "
                       f"at {_f(t['firing'])} (the distance alone: {_f(d['share'])} at {_f(d['firing'])}); "
                       + ("worth shipping with a two-member model (>= 10 points above the distance at <= 5% firing)"
                          if c["worth_shipping"] else "not worth shipping by the PLAN's bar (10 points above the "
                                                      "distance at <= 5% firing)"))
    return records.jsonable(out)


def results25_markdown(res: dict | None = None) -> str:
    import pandas as pd

    res = res or results25() or {}
    out = ["# Batch 25: the seed ensemble's member disagreement as an unfamiliar-scan warning — results (written by "
           "`python experiments/batch25_disagreement/results.py` from `candidates.csv`)", "",
           "Plan: `experiments/batch25_disagreement/PLAN.md`. Measured on batch 24's `ens_bo2s_e40` runs by "
           "`experiments/batch25_disagreement/run.py`.", "", f"Decision: **{res.get('decision', '')}**.", ""]
    t = pd.DataFrame(res.get("table") or [])
    if not t.empty:
        out += ["## Every candidate: share of held-out missed tumours flagged (plain and brain-only views) and firing "
                "on the fold's familiar test rows, per replicate", "",
                "| candidate | disagreement quantile | A (seeds 42 + 7): missed flagged | A: familiar firing | "
                "B (seeds 1 + 2): missed flagged | B: familiar firing |", "|---|---|---|---|---|---|"]
        for (k, q), g in t.groupby(["kind", "quantile"], sort=False):
            by = {int(r["seed"]): r for _, r in g.iterrows()}
            cell = lambda s, c, by=by: _f(by[s][c]) if s in by else "n/a"  # noqa: E731
            out.append(f"| {k} | {'—' if q < 0 else f'{q:g}'} | {cell(42, 'share')} | {cell(42, 'firing')} | "
                       f"{cell(1, 'share')} | {cell(1, 'firing')} |")
        out.append("")
    return "\n".join(out) + "\n"


# ---- batch 27: plane-balanced weights ----

RECIPE_NAMES[ss.PB_E40] = "he_bo + plane-balanced weights, 40 epochs"


def results27() -> dict | None:
    return records.read_json(ss.RESULTS27)


def compute27() -> dict:
    """Batch 27's results: he_bo_pb beside he_bo (batch 20's seeds 42 and 7), the PLAN's decision, the per-plane
    rates, and the shipped model's block when it wins and its union model (or, after batch 24's ensemble, its
    two-seed ensemble) exists."""
    inc = ss.BO_E40
    runs = [r for r in ss.runs20() if r["config"]["recipe"] == inc] + ss.runs27()
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    choice, row, note = ss.decide27(scores, lo, inc)
    pr = ss.plane_rates(runs)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "incumbent": inc, "choice": choice,
           "row": row, "decision": note, "drops": {r: ss.brain_only_drop(lo, r) for r in (inc, ss.PB_E40)},
           "floors_loco": {r: hv.floors_loco(lo, r) for r in (inc, ss.PB_E40) if (lo["recipe"] == r).any()},
           "planes": pr.to_dict("records"), "shipped": None}
    r24 = results24() or {}
    if choice != ss.PB_E40:
        if r24.get("shipped"):
            out["decision"] += f" as the recipe (`{r24['shipped']}`, batch 24's choice, ships)"
        return records.jsonable(out)
    ensemble = r24.get("shipped") == ss.MODEL_OF[ss.ENS2S_E40]
    name = ss.PB_ENSEMBLE[0] if ensemble else ss.MODEL_OF[ss.PB_E40]
    old = r24.get("shipped") or ss.MODEL_OF[inc]
    if ensemble and not records.read(config.MODELS_DIR, name):
        out["decision"] += (" (batch 24 ships a two-seed ensemble, so he_bo_pb ships as one too, "
                            f"`{name}` of {' and '.join(ss.PB_ENSEMBLE[1])})")
    ship_when_built(out, ss.PB_E40, name, old, lo,
                    "Shipped by batch 27 (`experiments/batch27_plane_balance/PLAN.md`, 40 epochs)",
                    "mean of seeds 42 and 7")
    return records.jsonable(out)


def planes_markdown(res: dict) -> str:
    import pandas as pd

    t = pd.DataFrame(res.get("planes") or [])
    if t.empty:
        return "(no runs yet)"
    g = t.groupby(["recipe", "plane"])[["healthy", "healthy_called", "tumours", "tumours_found"]].sum().reset_index()
    lines = ["| recipe | plane | held-out healthy called tumour | held-out tumours found |", "|---|---|---|---|"]
    for _, r in g.iterrows():
        rate = lambda a, b, r=r: f"{r[a]:,} of {r[b]:,} ({r[a] / r[b]:.1%})" if r[b] else "n/a"  # noqa: E731
        lines.append(f"| `{r['recipe']}` | {r['plane']} | {rate('healthy_called', 'healthy')} | "
                     f"{rate('tumours_found', 'tumours')} |")
    return "\n".join(lines)


def results27_markdown(res: dict | None = None) -> str:
    res = res or results27() or {}
    out = opening(27, "plane-balanced weights", "batch27_plane_balance", res, RECIPE_NAMES)
    out += [f"Decision: **{res.get('decision', '')}**.", "",
            "Brain-only drop: " + "; ".join(f"`{r}` {f'{d:.1f} points' if d is not None else 'n/a'}"
                                            for r, d in (res.get("drops") or {}).items()) + ".", "",
            "## Per plane (held-out sources, plain view, both seeds pooled; planes from `data/splits/union_planes.csv`)",
            "", planes_markdown(res), ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors at 40 epochs, `{r}` ({_seeds_run(res, r)})", "", floors_markdown(fl), ""]
    return "\n".join(out) + "\n"
