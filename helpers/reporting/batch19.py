"""Batches 19 and 20 (issue 21, fourth session): what ships, decided at the shipped 40-epoch schedule on two seeds.
Batch 19: the ensemble `ens_he2` or `he_sym` alone; batch 20: `he_bo` (brain-only augmentation), alone or with
`he_sym`, against batch 19's choice. Everything is read from the run records and the model files."""
from __future__ import annotations

from .. import config, records
from ..evaluation import ensemble_transfer as et
from ..evaluation import healthy_variety as hv
from ..evaluation import shipped_schedule as ss
from ..evaluation import warning_rule
from . import batch10, batch11
from .batch15 import RECIPE_NAMES, opening
from .healthy_variety import floors_markdown, pct_or_na as _f, union_markdown, warning_markdown
from .shipped import warning_block

RECIPE_NAMES = {**RECIPE_NAMES, ss.BO_E40: "he_sym + brain-only augmentation (no inversion), 40 epochs",
                ss.ENS_HB_E40: "ensemble he_sym + he_bo, 40 epochs"}
BRAIN_ONLY_NOTE = {
    ss.SYM_E40: "no brain-only augmentation either: the brain-only view's drops in the estimate above are the cost",
    ss.ENS_E40: "the brain-only augmentation of one member stands in for them",
    ss.BO_E40: "look-balanced brain-only augmentation, p 0.3 per label, stands in for them",
    ss.ENS_HB_E40: "the look-balanced brain-only augmentation of one member stands in for them",
    ss.W24_E40: "look-balanced brain-only augmentation, p 0.3 per label, stands in for them",
    ss.ENS2S_E40: "look-balanced brain-only augmentation, p 0.3 per label, in both members stands in for them",
    ss.PB_E40: "look-balanced brain-only augmentation, p 0.3 per label, stands in for them",
    ss.ENS4S_E40: "look-balanced brain-only augmentation, p 0.3 per label, in all four members stands in for them",
    ss.MIX4_E40: "look-balanced brain-only augmentation, p 0.3 per label, in all four members stands in for them"}


def results19() -> dict | None:
    return records.read_json(ss.RESULTS19)


def results20() -> dict | None:
    return records.read_json(ss.RESULTS20)


def block(name: str, recipe: str, lo, warning: dict, why: str) -> dict:
    """The shipped model's card and README block (batch 12's format; reporting/shipped.card_block reads it)."""
    return {"union": {name: batch10.union_block(name)}, "choice": recipe,
            "estimate": [r for r in lo.to_dict("records") if r["recipe"] == recipe], "warning": warning,
            "loco_note": "40 epochs, the shipped schedule", "brain_only_note": BRAIN_ONLY_NOTE[recipe], "why": why,
            "caveat": "", "floors_loco": hv.floors_loco(lo, recipe)}


def compute19() -> dict:
    """Batch 19's results: the 40-epoch runs of both seeds, the PLAN's decision and, when it decides, the shipped
    model's block (its warning is the one the model carries: batch 15's for he_sym, batch 16's for the ensemble)."""
    lo = et.loco(ss.runs19())
    scores = et.primary_scores(lo)
    recipe, note = ss.decide19(scores)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "choice": recipe, "decision": note,
           "shipped": ss.MODEL_OF.get(recipe), "floors_loco_single": hv.floors_loco(lo, ss.SYM_E40),
           "floors_loco_ensemble": hv.floors_loco(lo, ss.ENS_E40)}
    if recipe:
        name = ss.MODEL_OF[recipe]
        out["block"] = block(name, recipe, lo, warning_block(warning_rule.choice_of(name)),
                             f"Shipped by batch 19 (`experiments/batch19_ensemble_at_40/PLAN.md`, 40 epochs, seeds 42 "
                             f"and 7): {note}.")
    return records.jsonable(out)


def compute20(with_models: bool = True) -> dict:
    """Batch 20's results: he_bo and ens_hb at 40 epochs beside batch 19's choice, the PLAN's decision and, when a
    candidate wins and its union model exists, its warning (batch 16's procedure on this batch's runs of its recipe)
    and block. with_models: measure the warning candidates' firing on union validation (needs the data and
    TensorFlow); else carried over from the last results file."""
    r19 = results19() or compute19()
    inc = r19.get("choice")
    runs = ss.runs19() + ss.runs20()
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "incumbent": inc,
           "drops": {r: ss.brain_only_drop(lo, r) for r in (inc, *ss.CANDIDATES20) if r},
           "floors_loco": {r: hv.floors_loco(lo, r) for r in (inc, *ss.CANDIDATES20) if r}}
    if not inc:
        out.update(choice=None, decision="batch 19 has not decided: no incumbent, no decision", shipped=None)
        return records.jsonable(out)
    choice, rows, note = ss.decide20(scores, lo, inc)
    out.update(choice=choice, rows=rows, decision=note, shipped=None)
    if choice == inc:
        return records.jsonable(out)  # batch 19's model stays; shipped.decision() reads batch 19
    name = ss.MODEL_OF[choice]
    out["model"] = name
    if not records.read(config.MODELS_DIR, name):
        out["decision"] += f"; its union model `{name}` is not trained yet, so nothing changes until it is"
        return records.jsonable(out)
    prev = results20() or {}
    wrows = hv.warning_rows(runs, choice, ss.BATCH20)
    firing, firing_val = batch11.shipped_firing(name, with_models, (prev.get("warning") or {}).get("familiar_firing_val"))
    c = hv.choose_warning(wrows, firing_val, firing, cap=warning_rule.CAP16)
    out["warning"] = {"rows": wrows.to_dict("records"), "familiar_firing": firing, "familiar_firing_val": firing_val,
                      "cap_val": warning_rule.CAP16, "choice": c}
    vs = {n: ss.val_score(n) for n in (ss.MODEL_OF[inc], name)}
    if vs[name] is not None and vs[ss.MODEL_OF[inc]] is not None and vs[name] < vs[ss.MODEL_OF[inc]] - 0.02:
        out["decision"] += (f"; but its union validation score {vs[name]:.1%} is more than 2 points below "
                            f"`{ss.MODEL_OF[inc]}`'s {vs[ss.MODEL_OF[inc]]:.1%}, so `{ss.MODEL_OF[inc]}` stays")
        return records.jsonable(out)
    out["shipped"] = name
    out["block"] = block(name, choice, lo, warning_block(c),
                         f"Shipped by batch 20 (`experiments/batch20_brain_only_ensemble/PLAN.md`, 40 epochs, seeds 42 "
                         f"and 7): {note}. Union validation equal-weight score {_f(vs[name])} "
                         f"(`{ss.MODEL_OF[inc]}`: {_f(vs[ss.MODEL_OF[inc]])}).")
    return records.jsonable(out)


def apply20(res: dict) -> bool:
    """Write batch 20's warning choice into the model it ships (`python .../results.py --apply`)."""
    c = (res.get("warning") or {}).get("choice")
    return bool(res.get("shipped") and c) and warning_rule.apply(res["shipped"], c["quantile"], c["margin"], batch=20)


def _shipped_section(res: dict) -> list[str]:
    b = res.get("block") or {}
    out = []
    for u in (b.get("union") or {}).values():
        if u:
            out += [f"## The shipped model `{res['shipped']}` on the union test groups", "", union_markdown(u), ""]
    return out


def results19_markdown(res: dict | None = None) -> str:
    res = res or results19() or {}
    out = opening(19, "ensemble or single at the shipped 40 epochs, two seeds", "batch19_ensemble_at_40", res) + [
        f"Decision: **{res.get('decision', '')}**.", "",
        "## LOCO floors at 40 epochs, `he_sym_e40` (mean of seeds 42 and 7)", "",
        floors_markdown(res.get("floors_loco_single", [])), "",
        "## LOCO floors at 40 epochs, `ens_he2_e40` (mean of seeds 42 and 7)", "",
        floors_markdown(res.get("floors_loco_ensemble", [])), ""]
    return "\n".join(out + _shipped_section(res)) + "\n"


def results20_markdown(res: dict | None = None) -> str:
    res = res or results20() or {}
    out = opening(20, "brain-only augmentation in what ships, 40 epochs", "batch20_brain_only_ensemble", res) + [
        f"Decision: **{res.get('decision', '')}**.", "",
        "Brain-only drop (plain minus brain-only held-out sensitivity, mean over Br35H, Sartaj and figshare and over "
        "the seeds run): " + "; ".join(f"`{r}` {f'{d:.1f} points' if d is not None else 'n/a'}"
                                      for r, d in (res.get("drops") or {}).items()) + ".", ""]
    for r, fl in (res.get("floors_loco") or {}).items():
        out += [f"## LOCO floors at 40 epochs, `{r}` (mean of the seeds run)", "", floors_markdown(fl), ""]
    if res.get("warning"):
        out += [f"## The shipped model's warning (batch 16's procedure, {_f(res['warning']['cap_val'], 0)} cap, on "
                "this batch's runs of its recipe)", "", warning_markdown(res), ""]
    return "\n".join(out + _shipped_section(res)) + "\n"


def summary_lines() -> list[str]:
    out = []
    r19, r20 = results19(), results20()
    if r19:
        out.append(f"Batch 19 (ensemble or single at the shipped 40 epochs, two seeds): {r19['decision']}.")
    if r20:
        out.append(f"Batch 20 (brain-only augmentation in what ships, 40 epochs): {r20['decision']}.")
    return out
