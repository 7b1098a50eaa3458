"""Batch 37 in words: its RESULTS.md and the conclusions' line, from the results file that
evaluation.views_on_merges computes from this batch's views.csv.gz."""
from __future__ import annotations

import pandas as pd

from ..formatting import pct
from .batch15 import opening
from .healthy_variety import floors_markdown, loco_markdown

CANDIDATE_NAMES = {"plain": "the slice alone", "flip2": "the slice and its left-right mirror",
                   "brain2": "the slice and its brain-only view"}
TITLE37 = "the mirror or the brain-only view, judged on a fresh two-seed merge"


def _p(x) -> str:
    return pct(None if x is None or pd.isna(x) else float(x))


# PLAN.md rule 2: the shipped four networks with the chosen view; its recipe name as the card's estimate calls it
MODEL_OF37 = {"plain": "brain_tumor_hv_bo4", "flip2": "brain_tumor_hv_bo4f", "brain2": "brain_tumor_hv_bo4b"}
TTA_OF37 = {"plain": None, "flip2": "hflip", "brain2": "brain"}
RECIPE_OF37 = {"plain": "ens_bo4s_e40", "flip2": "ens_bo4s_e40_flip", "brain2": "ens_bo4s_e40_brain"}
SHIPPED_BY37 = "Shipped by batch 37 (`experiments/batch37_views_on_merges/PLAN.md`)"
SEEDS_NOTE38 = ("one four-seed merge, seeds 42 + 7 + 1 + 2 retrained (batches 35 and 37), each slice read as the "
                "shipped model reads it (batch 38)")


def _rows_table(rows: list[dict]) -> list[str]:
    """The candidates of a merge (batches 37-39): primary score, largest and mean per-source brain-only drop, with the
    replicate when the rows carry one."""
    rep = any("replicate" in r for r in rows)
    out = [("| replicate " if rep else "") + "| view | primary score (16 numbers) | largest per-source brain-only drop "
           "| mean drop |", ("|---" if rep else "") + "|---|---|---|---|"]
    for r in rows:
        out.append((f"| {r['replicate']} " if rep else "") + f"| `{r['candidate']}` "
                   f"{CANDIDATE_NAMES.get(r['candidate'], '')} | {_p(r['primary'])} | "
                   + " | ".join("n/a" if r.get(k) is None else f"{r[k]:.1f} points" for k in ("drop", "mean_drop"))
                   + " |")
    return out + [""]


def _evaluations(loco: list[dict], floors: dict, heading: str, floors_of: str) -> list[str]:
    """Every evaluation of a merge, then each candidate's LOCO floors (`floors_of` says on what)."""
    out = [f"## {heading}", "", loco_markdown({"loco": loco}, names=CANDIDATE_NAMES), ""] if loco else []
    for c, fl in (floors or {}).items():
        out += [f"## LOCO floors, `{c}` {floors_of}", "", floors_markdown(fl), ""]
    return out


def compute37() -> dict:
    """Batch 37's results (evaluation.views_on_merges.compute) and, once the chosen view's four-seed model is built,
    the shipped model's block: its union test numbers, and its LOCO estimate from batch 38's four-seed merge with the
    same view (batch 30's estimate, the slice alone, beside it in the caveat)."""
    from .. import config, records
    from ..evaluation import shipped_schedule as ss
    from ..evaluation import views_on_merges as vm
    from ..evaluation import warning_rule
    from .batch12 import RECIPE_NAMES
    from .batch28 import tested28
    from .shipped import warning_block

    out = vm.compute()
    choice = out.get("choice")
    if choice is None:
        return out
    name, recipe = MODEL_OF37[choice], RECIPE_OF37[choice]
    if not records.read(config.MODELS_DIR, name):
        out["ship"] = f"`{name}` (the four networks with `{choice}`) is not built yet, so nothing changes until it is"
        return records.jsonable(out)
    r38 = vm.results38() or {}
    lo38 = pd.DataFrame([{**r, "recipe": recipe} for r in r38.get("loco", []) if r.get("recipe") == choice])
    if lo38.empty:
        out["ship"] = f"`{name}` is built but batch 38's four-seed estimate is not measured: nothing changes until it is"
        return records.jsonable(out)
    w = warning_block(warning_rule.choice_of(name)) if warning_rule.chosen_by(name) == 22 else {}
    if w and (t := tested28(ss.ENS4S_E40)):
        w["tested"] = t
    p30 = _primary30()
    p38 = next((r["primary"] for r in r38.get("rows", []) if r["candidate"] == choice), None)
    # PLAN.md rule 2: the union test and Kaggle leak-free numbers of what ships beside those of what shipped before
    out["union_beside"] = {n: _union(n) for n in dict.fromkeys((name, MODEL_OF37[vm.BEFORE37]))}
    out["shipped"] = name
    out["ship"] = f"`{name}` ships" + (" (it already did: batch 35 chose the same view)" if choice == "flip2" else "")
    out["block"] = {
        "union": {name: _union(name)}, "choice": recipe,
        "estimate": lo38.to_dict("records"), "warning": w, "seeds_note": SEEDS_NOTE38,
        "loco_note": "40 epochs, the shipped schedule",
        "brain_only_note": "look-balanced brain-only augmentation, p 0.3 per label, in all four members stands in for "
                           "them" + ("; the brain-only view is averaged in at prediction time" if choice == "brain2"
                                     else ""),
        "why": (f"{SHIPPED_BY37}: {RECIPE_NAMES.get(recipe, recipe)}, {CANDIDATE_NAMES[choice]}. Its rule, "
                f"{out['decision']}. Union validation equal-weight score {_p(ss.val_score(name))}."),
        "caveat": (f"Batch 30's training runs of the same recipe (seeds 42 + 7 + 1 + 2 and 1 + 2 + 3 + 4, the slice "
                   f"alone) scored {_p(p30)} of primary score under LOCO; these runs score {_p(p38)} with the view "
                   "that ships." if p30 is not None and p38 is not None else ""),
        "floors_loco": (r38.get("floors") or {}).get(choice, [])}
    return records.jsonable(out)


def _union(name: str) -> dict | None:
    from .batch10 import union_block

    return union_block(name)


def _primary30() -> float | None:
    """Batch 30's four-seed ensemble's primary score (mean of its replicates), the estimate the card quoted before."""
    from .. import records
    from ..evaluation import shipped_schedule as ss

    for r in (records.read_json(ss.RESULTS30) or {}).get("scores", []):
        if r.get("recipe") == ss.ENS4S_E40:
            return r.get("primary")
    return None


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
            "validation under its views.", "", *_rows_table(res.get("rows", []))]
    out += [f"Decision: **{res.get('decision', '')}**.", ""]
    if res.get("ship"):
        out += [f"Ship: **{res['ship']}**." + _bench_line(res), ""]
    ub = {n: u for n, u in (res.get("union_beside") or {}).items() if u}
    if ub:
        cols = [c for c in next(iter(ub.values()))["metrics"] if c != "all"]
        out += ["The union test groups (PLAN.md rule 2: reported beside what shipped before, whatever they are), each "
                "model at its own call threshold:", "",
                "| model | threshold | " + " | ".join(f"{c} sensitivity / specificity" for c in cols)
                + " | Kaggle leak-free 4-class |", "|---|---|" + "---|" * (len(cols) + 1)]
        for n, u in ub.items():
            cells = [" / ".join(_p(u["metrics"][c].get(k)) if u["metrics"][c].get(f"n_{w}") else "n/a"
                                for k, w in (("sensitivity", "tumour"), ("specificity", "healthy"))) for c in cols]
            out.append(f"| `{n}` | {u['threshold']:.2f} | " + " | ".join(cells) + f" | {_p(u.get('leakfree_accuracy'))} |")
        out.append("")
    if res.get("batch35_merged"):
        out += ["Beside it, batch 35's merge of seeds 42 and 7 (seen before this PLAN was written): " + "; ".join(
            f"`{c}` {_p(v)}" for c, v in res["batch35_merged"].items()) + ".", ""]
    out += _evaluations(res.get("loco_merged"), res.get("floors_merged"), "Every evaluation of the merge",
                        "on the merge of seeds 1 and 2")
    return "\n".join(out) + "\n"


def _bench_line(res: dict) -> str:
    """PLAN.md rule 2's condition, as `make bench` last measured the shipped model (bench/results.json; the README's
    capacity table sets it beside the targets). Read when RESULTS.md is written, never stored in results.json: the
    bench is rerun on every machine."""
    from .. import config, records

    b = records.read_json(config.BENCH_DIR / "results.json") or {}
    lat = b.get("latency") or {}
    if not res.get("shipped") or not lat or lat.get("tta") != TTA_OF37[res["choice"]]:
        return ""
    onnx = (lat.get("onnx") or {}).get("predict_ms") or {}
    return (f" `make bench` with it ({b.get('when', '')[:16]}, load average {_load(b)}): "
            f"predict p50 {lat['predict_ms']['p50']:.1f} ms (ONNX {onnx.get('p50', float('nan')):.1f} ms), dashboard "
            f"callback p50 {lat['dashboard_callback_ms']['p50']:.0f} ms; the README's capacity table sets them beside "
            "the targets.")


def _load(b: dict) -> str:
    la = (b.get("machine") or {}).get("loadavg_at_start") or []
    return f"{la[0]:.1f} at the start" if la else "n/a"


def results38() -> dict | None:
    from ..evaluation import views_on_merges as vm

    return vm.results38()


def results38_markdown(res: dict | None = None) -> str:
    res = res or results38() or {}
    out = ["# Batch 38: the shipped recipe's LOCO estimate with the view it reads — results (written by "
           "`python experiments/batch38_four_seed_views/results.py` from batches 35's and 37's `views.csv.gz`)", "",
           "Plan: `experiments/batch38_four_seed_views/PLAN.md`. A measurement: he_bo at 40 epochs, seeds 42, 7, 1 and 2 "
           "retrained on the three folds, merged in logits per slice; each view's operating point refitted on "
           "validation.", "", f"**{res.get('decision', '')}**.", "", *_rows_table(res.get("rows", []))]
    out += _evaluations(res.get("loco"), res.get("floors"), "Every evaluation", "on the four-seed merge")
    return "\n".join(out) + "\n"


SEEDS_NOTE39 = ("mean of two four-seed merges of retrained runs, seeds 42 + 7 + 1 + 2 and 1 + 2 + 3 + 4, each slice "
                "read as the shipped model reads it (batches 38 and 39)")
SHIPPED_BY39 = ("Batch 39 (`experiments/batch39_second_replicate/PLAN.md`) keeps it and estimates it on two four-seed "
                "replicates")


def compute39() -> dict:
    """Batch 39's results (evaluation.views_on_merges.compute39) and, with both replicates complete and batch 37's
    block written, the shipped model's block again with its LOCO estimate on both replicates (PLAN.md)."""
    from .. import records
    from ..evaluation import views_on_merges as vm

    out = vm.compute39()
    r37 = results37() or {}
    b37, choice = r37.get("block"), r37.get("choice")
    if not out.get("loco") or not b37 or not r37.get("shipped"):
        return out
    lo = pd.DataFrame([{**r, "recipe": RECIPE_OF37[choice]} for r in out["loco"] if r["recipe"] == choice])
    if any(r["primary"] is None for r in out["rows"] if r["candidate"] == choice):
        return out  # a replicate is incomplete
    out["shipped"] = r37["shipped"]
    p39 = next((r["primary"] for r in out.get("scores", []) if r["recipe"] == choice), None)
    p30 = _primary30()
    caveat = (f"Batch 30's training runs of the same recipe (the same two replicates' seeds, the slice alone) scored "
              f"{_p(p30)} of primary score under LOCO; these runs score {_p(p39)} with the view that ships."
              if p30 is not None and p39 is not None else "")
    out["block"] = {**b37, "estimate": lo.to_dict("records"), "seeds_note": SEEDS_NOTE39, "caveat": caveat,
                    "floors_loco": (out.get("floors") or {}).get(choice, []),
                    "why": f"{b37['why']} {SHIPPED_BY39}."}
    out["decision"] += f"; `{r37['shipped']}` stays, its LOCO estimate now on both replicates"
    return records.jsonable(out)


def results39() -> dict | None:
    from ..evaluation import views_on_merges as vm

    return vm.results39()


def results39_markdown(res: dict | None = None) -> str:
    res = res or results39() or {}
    out = ["# Batch 39: a second replicate of the shipped recipe's LOCO estimate with its view — results (written by "
           "`python experiments/batch39_second_replicate/results.py` from batches 35's, 37's and 39's `views.csv.gz`)",
           "", "Plan: `experiments/batch39_second_replicate/PLAN.md`. A measurement: he_bo at 40 epochs, seeds 3 and 4 "
           "retrained on the three folds; replicate 42 = seeds 42 + 7 + 1 + 2 (batch 38), replicate 1 = seeds "
           "1 + 2 + 3 + 4, each merged in logits per slice, each view's operating point refitted on validation.", "",
           f"**{res.get('decision', '')}**.", "", *_rows_table(res.get("rows", []))]
    out += _evaluations(res.get("loco"), res.get("floors"), "Every evaluation (score by replicate)",
                        "mean of the two replicates")
    return "\n".join(out) + "\n"


def results41() -> dict | None:
    from ..evaluation import views_on_merges as vm

    return vm.results41()


MEMBERS41 = ("brain_tumor_hv_bo40_s3", "brain_tumor_hv_bo40_s4")  # PLAN.md: reported whatever the rule says


TITLE41 = "six seeds instead of four, the six kept LOCO seeds merged"


def compute41() -> dict:
    """Batch 41's LOCO side (evaluation.views_on_merges.compute41) and its union members' numbers, once trained."""
    from .. import records
    from ..evaluation import views_on_merges as vm
    from .batch24 import member_numbers

    out = vm.compute41()
    members = {n: member_numbers(n) for n in MEMBERS41}
    out["members"] = [m for m in members.values() if m]
    if out.get("loco_passes") is False:
        out["decision"] += "; rules 1-2 not met: `brain_tumor_hv_bo4` stays"
    elif out.get("loco_passes") and len(out["members"]) < len(MEMBERS41):
        out["decision"] += "; rules 1-2 met, a union member is missing: the decision waits"
    return records.jsonable(out)


def union41_lines(res: dict) -> list[str]:
    """The union members batch 41 trained (reported whatever the rule says)."""
    out = []
    for m in res.get("members") or []:
        a = m.get("metrics") or {}
        out += [f"Union member `{m['name']}` (he_bo, seed {m['seed']}, 40 epochs): union validation equal-weight score "
                f"{_p(m['val_score'])}; union test sensitivity {_p(a.get('sensitivity'))}, specificity "
                f"{_p(a.get('specificity'))}; Kaggle leak-free 4-class accuracy {_p(m.get('leakfree_accuracy'))}.", ""]
    return out or ["The union members at seeds 3 and 4 were not trained when this was written.", ""]


def results41_markdown(res: dict | None = None) -> str:
    res = res or results41() or {}
    out = ["# Batch 41: six seeds instead of four — results (written by `python experiments/batch41_six_seeds/results.py` "
           "from batches 35's, 37's and 39's `views.csv.gz` and the union records)", "",
           "Plan: `experiments/batch41_six_seeds/PLAN.md`. The six kept seeds (42, 7, 1, 2, 3, 4) merged in logits per "
           "slice on the three folds, each view's operating point refitted on validation, beside batch 39's two "
           "four-seed replicates.", "", f"**{res.get('decision', '')}**.", "", *union41_lines(res),
           "## The six-seed merge", "", *_rows_table(res.get("rows", [])),
           "## The two four-seed replicates (batch 39), the shipped view", "", *_rows_table(res.get("fours", []))]
    out += _evaluations(res.get("loco"), res.get("floors"), "Every evaluation", "on the six-seed merge")
    return "\n".join(out) + "\n"


def summary_lines() -> list[str]:
    from .batch21 import decision_lines

    res = results37()
    out = decision_lines(((37, TITLE37 + " (he_bo seeds 1 and 2, member models kept)", res),
                          (38, "the shipped recipe's LOCO estimate with each view, four retrained seeds merged",
                           results38()),
                          (39, "a second four-seed replicate of that estimate, seeds 1 + 2 + 3 + 4", results39())))
    if out and res and res.get("ship"):
        out[0] = out[0].rstrip(".") + f"; {res['ship']}."
    return out
