"""Batch 24 (issue 21, sixth session): the shipped recipe `he_bo_e40` at four seeds, and two of its seeds merged (a
deep ensemble) against it. Everything is read from the run records and the model files; the results file is written
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
from .healthy_variety import floors_markdown, pct_or_na as _f
from .shipped import warning_block

RECIPE_NAMES = {**_NAMES21, ss.BO_E40: "he_bo, 40 epochs (seeds 42 and 7: batch 20; 1 and 2: batch 24)",
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
           "shipped": None, "seed7_member": _member_numbers()}
    if choice is None:
        return records.jsonable(out)
    name = ss.MODEL_OF[choice]
    why = f"Batch 24 (`experiments/batch24_seed_ensemble/PLAN.md`, 40 epochs): {note}."
    if choice == inc:
        out["shipped"] = name
        out["block"] = block(name, inc, lo, warning_block(warning_rule.choice_of(name)), f"{_why20()} {why}".strip())
        out["block"]["seeds_note"] = SEEDS_NOTE[inc]
        return records.jsonable(out)
    old = ss.MODEL_OF[inc]
    if not records.read(config.MODELS_DIR, name):
        out["decision"] += f"; its union model `{name}` is not built yet, so nothing changes until it is"
        return records.jsonable(out)
    vs = {n: ss.val_score(n) for n in (old, name)}
    if vs[name] is not None and vs[old] is not None and vs[name] < vs[old] - 0.02:
        out["decision"] += (f"; but its union validation score {vs[name]:.1%} is more than 2 points below `{old}`'s "
                            f"{vs[old]:.1%}, so `{old}` stays")
        return records.jsonable(out)
    out["shipped"] = name
    # its warning: batch 22's choice refitted on it (`experiments/batch22_warning_scores/results.py --apply`)
    w = warning_block(warning_rule.choice_of(name)) if warning_rule.chosen_by(name) == 22 else {}
    out["block"] = block(name, choice, lo, w, f"Shipped by batch 24 (`experiments/batch24_seed_ensemble/PLAN.md`, "
                                              f"40 epochs): {note}. Union validation equal-weight score "
                                              f"{_f(vs[name])} (`{old}`: {_f(vs[old])}).")
    out["block"]["seeds_note"] = SEEDS_NOTE[choice]
    return records.jsonable(out)


def _member_numbers() -> dict | None:
    """The seed-7 union member on the union test groups (reported whatever the decision), if it was trained."""
    rec = records.read(config.MODELS_DIR, ss.SEED7_MEMBER)
    if not rec:
        return None
    return {"name": ss.SEED7_MEMBER, "val_score": (rec.get("operating_point") or {}).get("val_score"),
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
    seeds = sorted({int(r["seed"]) for r in res.get("loco", []) if r.get("recipe") == recipe}, key=ss.SEEDS24.index)
    if recipe == ss.ENS2S_E40:
        return "mean of the replicates run: " + " and ".join("seeds " + " + ".join(map(str, ss.REPLICATES24[s]))
                                                             for s in seeds)
    return f"mean of seed{'s' if len(seeds) > 1 else ''} " + ", ".join(map(str, seeds))


def summary_lines() -> list[str]:
    """The conclusions' line for batch 24."""
    res = results24()
    return [f"Batch 24 (he_bo at four seeds, and two of its seeds merged, 40 epochs): {res['decision']}."] if res else []
