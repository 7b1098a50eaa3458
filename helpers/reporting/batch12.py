"""Batch 12 (procedural lesions in healthy slices of every look): its results file
(experiments/batch12_procedural_lesions/results.json) and RESULTS.md, computed from the run records and batch 11's
results (`brain-mri procedural`). The last batch decides what ships: `shipped` here is the model the README, the
CLI and the dashboard name (config.DEFAULT_MODEL_NAME; a test holds them equal)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..evaluation import cross_collection as xc
from ..evaluation import ensemble_transfer as et
from ..evaluation import warning_rule
from ..evaluation import healthy_variety as hv
from . import batch11
from .batch10 import union_block
from .tables import per_collection_markdown
from .healthy_variety import (SOURCE_NAMES, floors_markdown, loco_markdown, shipped_floors,
                              shipped_floors_markdown, union_markdown)
from .healthy_variety import pct_or_na as _f

PROC_MODEL = "brain_tumor_hv_proc"
RECIPE_NAMES = {**batch11.RECIPE_NAMES, "he_sym_proc": "he_sym + procedural lesions"}


def results() -> dict | None:
    return records.read_json(et.RESULTS12)


def _folder_of(r: dict):
    rec = r["config"].get("recipe")
    return hv.BATCH10 if rec in hv.RECIPES10 else et.BATCH12 if rec == et.PROC else et.BATCH11


def compute(with_models: bool = True) -> dict:
    r11 = batch11.results() or {}
    incumbent = r11.get("choice") or et.CONTROL
    inc_shift = r11.get("shift") or {}
    runs = [r for r in et.runs11() if r["config"].get("recipe") == incumbent] + xc.read_batch(et.BATCH12)
    lo = et.loco(runs)
    choice, note, sh = et.decide12(runs, incumbent, inc_shift)
    use_shift = sh if (choice == et.PROC and inc_shift.get("adopted")) else (inc_shift if choice == incumbent else {})
    est = et.estimate_rows(runs, choice, use_shift)
    prev = results() or {}
    cands = [c for c in (r11.get("candidates") or [])]
    proc = records.read(config.MODELS_DIR, PROC_MODEL)
    if proc and proc.get("operating_point"):
        op = proc["operating_point"]
        cands.append({"name": PROC_MODEL, "recipe": et.PROC, "val_score": op["val_score"],
                      "threshold": op["threshold"], "shift": op.get("shift", 0.0)})
    shipped = r11.get("shipped") or batch11.CONTROL_MODEL
    by = {c["name"]: c for c in cands}
    if choice == et.PROC and PROC_MODEL in by and batch11.CONTROL_MODEL in by:
        if by[PROC_MODEL]["val_score"] >= by[batch11.CONTROL_MODEL]["val_score"] - batch11.SHIP_MARGIN:
            shipped = PROC_MODEL
    out = {"incumbent": incumbent, "loco": lo.to_dict("records"),
           "scores": et.primary_scores(lo).to_dict("records"), "choice": choice, "decision": note,
           "shift": {k: v for k, v in use_shift.items() if k != "nested_loco"},
           "proc_shift": {k: v for k, v in sh.items() if k != "nested_loco"},
           "estimate": est.to_dict("records"), "floors_loco": hv.floors_loco(est, choice) if len(est) else [],
           "candidates": cands, "shipped": shipped,
           "union": {n: union_block(n) for n in {shipped, *(c["name"] for c in cands if c["recipe"] == et.PROC)}},
           "warning": batch11.warning_measure(runs, choice, use_shift, _folder_of,
                                              warning_rule.current(name=shipped)[0])}
    w = out["warning"]
    firing, firing_val = batch11.shipped_firing(shipped, with_models, {})
    key = hv.warning_key(w["quantile"], w["margin"])
    w["familiar_firing"] = firing[key]
    w["familiar_firing_val"] = firing_val.get(key, (prev.get("warning") or {}).get("familiar_firing_val"))
    return records.jsonable(out)


def results_markdown(res: dict | None = None) -> str:
    res = res or results() or {}
    w = res.get("warning") or {}
    text = loco_markdown(res, names=RECIPE_NAMES)
    sc = pd.DataFrame(res.get("scores", []))
    lines = ["| recipe | primary score (16 numbers, mean of complete seeds) | per seed |", "|---|---|---|"]
    for _, r in sc.iterrows():
        per = ", ".join(f"seed {k}: {_f(v)}" for k, v in r["per_seed"].items())
        lines.append(f"| `{r['recipe']}` {RECIPE_NAMES.get(r['recipe'], '')} | {_f(r['primary'])} | {per} |")
    out = ["# Batch 12: procedural lesions — results (written by `brain-mri procedural` from the run records)", "",
           "Plan: `experiments/batch12_procedural_lesions/PLAN.md`.", "",
           f"Compared with batch 11's choice, `{res.get('incumbent')}`.", "",
           "## Every run: held-out sources, plain and brain-only view (each run's own operating point)", "", text, "",
           "## Scores and decision", "", "\n".join(lines), "",
           f"Decision: **`{res.get('choice')}`**. {res.get('decision', '')}", "",
           "## LOCO floors (the chosen recipe, mean of seeds; the honest estimate for a new collection)", "",
           floors_markdown(res.get("floors_loco", [])), "", "## Union models", ""]
    for c in res.get("candidates", []):
        out.append(f"- `{c['name']}` ({c['recipe']}): validation equal-weight score {_f(c['val_score'])}, call "
                   f"threshold {c['threshold']:.2f}" + (" — **shipped**" if c["name"] == res.get("shipped") else ""))
    out.append("")
    for _, u in sorted((res.get("union") or {}).items()):
        if u:
            out += [union_markdown(u), ""]
    out += ["## Shipped model floors", "", shipped_floors_markdown(res), ""]
    if w:
        out += ["## The unfamiliar-scan warning (batch 10's rule, re-measured)", "",
                f"Validation quantile {w['quantile']:.2f} or within {w['margin']:g} logits of the call threshold: on "
                f"the chosen recipe's held-out collections (both seeds, both views) it flags {w['missed_flagged']} of "
                f"{w['missed']} missed tumours ({_f(w.get('share'))}); on the shipped model's familiar slices it "
                f"fires on {_f(w.get('familiar_firing_val'))} of union validation and {_f(w.get('familiar_firing'))} "
                f"of union test.", ""]
    return "\n".join(out) + "\n"


def cli_procedural(args) -> int:
    """`brain-mri procedural`: results.json and RESULTS.md of batch 12 (after `brain-mri transfer`)."""
    res = compute(with_models=not getattr(args, "records_only", False))
    records.write_json(res, et.RESULTS12)
    (et.BATCH12 / "RESULTS.md").write_text(results_markdown(res))
    print(f"wrote {et.RESULTS12.relative_to(config.PROJ_ROOT).as_posix()} and RESULTS.md: choice {res['choice']}, "
          f"shipped {res['shipped']}")
    return 0


# ------------------------------------------------------------------------------------ the shipped model in words
CARD_RECIPES = ("ens_he2", "ens_he3", "he_sym_proc", "he_sym_proc2", "he_bo", "ens_hb", "ens_bo2s_e40",
                "ens_bo4s_e40", "ens_bo4s_e40_flip")  # union models whose card is this module's
PLANS = {"he_sym_proc2": "batch14_spots", "he_sym": "batch10_healthy_variety",  # a recipe's plan folder
         "he_bo": "batch18_brain_only", "ens_hb": "batch20_brain_only_ensemble",
         "ens_bo2s_e40": "batch24_seed_ensemble", "he_bo_pb": "batch27_plane_balance",
         "ens_bo4s_e40": "batch28_four_members", "ens_mix4_e40": "batch28_four_members",
         "ens_bo4s_e40_flip": "batch35_test_time_views"}


def _members_in_words(members: list[dict]) -> str:
    """'he_bo, seeds 42, 7, 1 and 2' for one recipe from several seeds, else the recipes: 'he_sym, he_bo'."""
    recipes = [m["recipe"] for m in members]
    seeds = [str((m.get("config") or {}).get("seed", "?")) for m in members]
    if len(set(recipes)) == 1:
        return f"{recipes[0]}, seeds {', '.join(seeds[:-1])} and {seeds[-1]}"
    return ", ".join(recipes)


def _estimate_markdown(res: dict) -> str:
    """The LOCO estimate of what ships (chosen recipe, mean of seeds): plain view per source."""
    est = pd.DataFrame(res.get("estimate", []))
    if est.empty:
        return "(no LOCO estimate)"
    return loco_markdown({"loco": est.to_dict("records")}, names=RECIPE_NAMES)


def _estimate_of(recipe: str, res: dict, r11: dict) -> dict:
    """The results block whose LOCO rows are `recipe`'s: the chosen recipe's estimate, else its own batch's runs."""
    if res.get("choice") == recipe:
        return res
    for block in (results14() or {}, res, r11):
        rows = [r for r in block.get("loco", []) if r.get("recipe") == recipe]
        if rows:
            return {"estimate": rows}
    return {}


def model_card(name: str) -> str | None:
    """MODEL_CARD.md of a batch-11/12 union model (an ensemble of recipes, or he_sym_proc)."""
    from ..formatting import duration

    from . import shipped
    from .shipped import warning_tested

    rec = records.read(config.MODELS_DIR, name)
    # a deciding batch chose it, now or before a later model replaced it: that batch's block, its estimate
    blk = shipped.card_block() if shipped.shipped_here(name) else shipped.block_of(name)
    chosen = bool(blk)
    if not rec or (rec.get("config", {}).get("recipe") not in CARD_RECIPES and not chosen):
        return None
    res = blk if chosen else (results() or {})
    r11 = batch11.results() or {}
    cfg, op = rec["config"], rec.get("operating_point") or {}
    u = (res.get("union") or {}).get(name) or (r11.get("union") or {}).get(name) or {}
    shipped = name == config.DEFAULT_MODEL_NAME
    w = res.get("warning") or {}
    out = [f"# Model card: `{name}`", "",
           "Brain MRI slice → calibrated probabilities of glioma, meningioma, no tumour and pituitary tumour, and "
           "P(tumour) = their three tumour classes summed. "
           + ("The model `brain-mri predict` and the dashboard use. " if shipped else
              f"Not the shipped model (`{config.DEFAULT_MODEL_NAME}` is). ")
           + "A research artefact, not a medical device: it has never been validated on patients.", "", "## Training", ""]
    if rec.get("members"):
        out += [f"`{cfg['recipe']}` ({RECIPE_NAMES.get(cfg['recipe'], '')}; "
                f"`experiments/{PLANS.get(cfg['recipe'], 'batch11_ensemble_transfer')}/PLAN.md`): the logit mean of "
                f"{len(rec['members'])} networks trained on union split v2 with "
                + ("one recipe from different seeds" if len({m['recipe'] for m in rec['members']}) == 1
                   else "different recipes") + ", merged by "
                "`brain-mri ensemble-union` into one Keras model (its `last_conv` is the members' feature maps side by "
                f"side, so Grad-CAM explains the ensemble); {rec['params']:,} parameters, "
                f"{duration(rec['train_wall_s'])} of training on a 2-core CPU in all:", ""]
        out += [f"- `{m['name']}`: recipe `{m['recipe']}`, {m['epochs_run']} epochs, validation equal-weight score "
                f"{_f(m.get('val_score'))}" for m in rec["members"]]
        out.append("")
    else:
        c = rec["config"]
        out += [f"Recipe `{c['recipe']}` ({RECIPE_NAMES.get(c['recipe'], '')}; "
                f"`experiments/{PLANS.get(c['recipe'], 'batch12_procedural_lesions')}/PLAN.md`): `resnet_small` width "
                f"{c['model_kwargs']['width']} with the asymmetry channel, {c['img_size']} px, {rec['epochs_run']} "
                f"epochs, seed {c['seed']}; {rec['params']:,} parameters; {duration(rec['train_wall_s'])} on a 2-core "
                f"CPU. Training counts: " + "; ".join(f"{k} {v:,}" for k, v in sorted(rec['data']['train_counts'].items()))
                + ".", ""]
    if res.get("why"):
        out += [res["why"], ""]
    out += [f"Operating point ({op.get('chosen_on', 'n/a')}): temperature {op.get('temperature', float('nan')):.3f}, "
            f"**tumour call at P(tumour) ≥ {op.get('threshold', float('nan')):.2f}**.", "",
            "## Results on pictures it never saw", ""]
    if u:
        out += [union_markdown(u), ""]
    elif rec.get("metrics"):  # a member no batch evaluated as a candidate: its own record's union test numbers
        out += [f"`{name}` on the union test groups, tumour call at P(tumour) ≥ {op.get('threshold', float('nan')):.2f}:",
                "", per_collection_markdown({k: v for k, v in rec["metrics"].items() if k != "all"}), "",
                f"Kaggle leak-free test: 4-class accuracy {_f(rec.get('leakfree_accuracy'))}.", ""]
    est = res if chosen else _estimate_of(cfg["recipe"], res, r11)
    if est.get("estimate"):
        out += ["**On a collection nobody has shown it** (leave-sources-out runs of the same recipe, "
                f"{res.get('loco_note', '10 epochs per member')}, each held-out source at the run's own operating "
                f"point, {res.get('seeds_note', 'mean of seeds 42 and 7') if chosen else 'mean of seeds 42 and 7'}; "
                "what to expect on a new collection):", "", _estimate_markdown(est), ""]
    else:
        out += ["**On a collection nobody has shown it**: no leave-sources-out estimate is kept for this network "
                f"alone; the shipped model's card (`models/{config.DEFAULT_MODEL_NAME}/MODEL_CARD.md`) gives its "
                "recipe's.", ""]
    out += ["## Warnings the predictions carry", ""]
    if w.get("missed"):
        s7 = (w.get("per_seed") or {}).get("7") or {}
        tested = (warning_tested(name) if chosen else None) or {
            "missed": s7.get("missed"), "missed_flagged": s7.get("missed_flagged"),
            "on": "the held-out collections of the seed-7 runs"}
        kind = (" to the nearest (collection, class) mean of the training slices" if w.get("score") == "colcls"
                else "")
        out.append(f"An \"unfamiliar scan\" warning beyond the {w['quantile'] * 100:g}% quantile of validation slices' "
                   f"feature distance{kind}"
                   + (f", and the call \"uncertain\" within {w['margin']:g} logits of the call threshold " if w["margin"]
                      else " and no \"uncertain\" band around the call threshold ")
                   + f"(chosen on the seed-42 LOCO runs, `{warning_rule.current(name=name)[1]}`): on "
                   f"{tested['on']} they flag {tested.get('missed_flagged')} of {tested.get('missed')} missed tumours "
                   f"({_f(tested['missed_flagged'] / tested['missed'] if tested.get('missed') else None)}); on "
                   f"familiar slices they fire on {_f(w.get('familiar_firing_val'))} of union validation and "
                   f"{_f(w.get('familiar_firing'))} of union test.")
    out += ["No verdict is given for colour pictures, for pictures the pixel checks find unlike any MRI slice, or for "
            "pictures farther from the training slices than any held-out MRI slice came.", "", "## What it lacks", "",
            "- Tumour types outside the four classes (metastases, schwannomas, ...) are not in training; read P(tumour) "
            "for them, never the type.",
            "- Diffusion-weighted (DWI) slices are all healthy in training; real skull-stripped slices are not in "
            f"training at all ({res.get('brain_only_note', 'the brain-only augmentation of one member stands in for them')}).",
            "- 2-D slices at 128 px; one slice says nothing about the rest of the scan.", *_pattern_lines(),
            *_tagger_lines(), "",
            f"Reproduce: `{rec.get('command', '')}` (needs the four collections; `make data`)."]
    return "\n".join(out) + "\n"


def _pattern_lines() -> list[str]:
    """The card's line on synthetic patterns, from batch 26's results (nothing before it was measured)."""
    from ..evaluation import pattern_study

    r = pattern_study.results()
    if not r or r.get("ships"):
        return []
    fam = r.get("families") or []
    med = float(np.median([f["detected"] / f["n"] for f in fam])) if fam else float("nan")
    return ["- A round synthetic pattern on black (a disc of noise, stripes or blocks) passes the pixel checks and "
            "gets a confident call. A check on the network's features caught a median "
            f"{med:.0%} of a pattern family it had not seen (`experiments/batch26_pattern_check/RESULTS.md`): it "
            "does not ship, and no check here gives such a picture no verdict."]


def _tagger_lines() -> list[str]:
    """The card's line on the plane tagger behind the plane warning: batch 43's check on healthy-extra's known planes,
    the record the warning itself quotes (scan_type.ELSEWHERE)."""
    from ..evaluation import plane_tagger

    v1 = ((plane_tagger.results() or {}).get("loso") or {}).get("v1") or {}
    if not v1.get("per_plane"):
        return []
    acc = ", ".join(f"{pl} {v['right']:.0%} of {v['n']:,}" for pl, v in v1["per_plane"].items())
    return ["- The plane warning rests on a tagger fitted on hand-labelled Kaggle slices. On healthy-extra's slices, "
            f"whose planes are known, it names the plane right for {v1['right']:.0%} ({acc}; "
            "`experiments/batch43_plane_tagger/RESULTS.md`): on slices unlike Kaggle's, a coronal or sagittal slice "
            "called no tumour often goes unwarned, and the warning says how far to trust its plane."]


def readme_lines(res: dict | None = None) -> list[str]:
    """The README's first-screen bullets when the shipped model is a batch-11/12 model, or batch 15's single one."""
    from . import shipped

    res = res or (shipped.card_block() if shipped.shipped_here() else results()) or {}
    name = config.DEFAULT_MODEL_NAME
    u = (res.get("union") or {}).get(name)
    if not u:
        return []
    rec = records.read(config.MODELS_DIR, name) or {}
    per = {k: v for k, v in u["metrics"].items() if k != "all"}
    what = (f"the logit mean of {len(rec['members'])} networks ({_members_in_words(rec['members'])})"
            if rec.get("members") else f"recipe `{rec.get('config', {}).get('recipe')}`")
    lines = [f"The shipped model `{name}` (`brain-mri predict`, the dashboard) is {what}, trained on all "
             f"{len(per)} collections; calling tumour at P(tumour) ≥ {u['threshold']:.2f} (chosen on validation with "
             "every collection weighted equally), on their held-out groups it finds "
             + ", ".join(f"{_f(m['sensitivity'])} of {c} tumours" for c, m in per.items() if m["n_tumour"])
             + " and calls " + ", ".join(f"{_f(m['specificity'])} of {c} healthy slices healthy"
                                          for c, m in per.items() if m["n_healthy"]) + "."]
    est = pd.DataFrame(res.get("estimate", []))
    if len(est):
        g = est[est["view"] == "plain"].groupby("source")[["sensitivity", "specificity"]].mean()
        parts = []
        for s in hv.union_split.FOLDS:
            if s in g.index:
                m = g.loc[s]
                bits = [f"sensitivity {_f(m['sensitivity'])}" if not pd.isna(m["sensitivity"]) else None,
                        f"specificity {_f(m['specificity'])}" if not pd.isna(m["specificity"]) else None]
                parts.append(f"{SOURCE_NAMES.get(s, s)}: " + ", ".join(b for b in bits if b))
        s7 = ((res.get("warning") or {}).get("per_seed") or {}).get("7") or {}
        t = (shipped.warning_tested(name) if shipped.shipped_here() else None) or {**s7, "short": "seed 7"}
        lines.append("On a collection it never saw, **expect less** (leave sources out, the same recipe, "
                     f"{res.get('seeds_note') or f'mean of {est.seed.nunique()} seeds'}): " + "; ".join(parts) + "."
                     + (" The \"unfamiliar scan\" warning"
                        + (" and the uncertain band" if (res.get("warning") or {}).get("margin") else "")
                        + f" flagged {_f(t['missed_flagged'] / t['missed'])} of the missed tumours there ({t['short']}; "
                        "chapter 05, section 8)." if t.get("missed") else "")
                     + (f" {res['caveat']}" if res.get("caveat") else ""))
    if u.get("leakfree_accuracy") is not None:
        lines.append(f"In-dataset (Kaggle leak-free test, {u['leakfree_n']:,} images of union split v2) 4-class "
                     f"accuracy: {_f(u['leakfree_accuracy'])}; tumour sensitivity {_f(u['leakfree_tumour_sensitivity'])}.")
    return lines


def summary_lines(res: dict | None = None) -> list[str]:
    """Bullets for the conclusions: batch 11's and batch 12's decisions and what ships."""
    res = res or results() or {}
    out = batch11.summary_lines()
    if res.get("choice"):
        out.append(f"Batch 12 (procedural lesions) against `{res['incumbent']}`: {res['decision']}. "
                   f"Shipped after batch 12: `{res['shipped']}`.")
        fl = res.get("floors_loco", [])
        if fl and res["choice"] != res["incumbent"]:  # else batch 11's line above already says it
            miss = [f["floor"] for f in fl if f["met"] is False]
            out.append(f"Leave-sources-out floors for this choice: {sum(bool(f['met']) for f in fl)} of {len(fl)} met"
                       + (f"; not met: {', '.join(miss)}" if miss else "") + ".")
        r13 = results13()
        if r13:
            out.append(f"Batch 13 (batch 12's model as a third ensemble member): {r13['decision']}.")
        r14 = results14()
        if r14:
            out.append(f"Batch 14 (procedural masses with tumour-free spots, alone and as a third member): "
                       f"{r14['decision']}.")
        sf = shipped_floors(res)
        if sf:
            miss = [f["floor"] for f in sf if f["met"] is False]
            out.append(f"Batch 12's shipped model `{res['shipped']}` on the union test groups: {sum(bool(f['met']) for f in sf)} "
                       f"of {len(sf)} floors met" + (f"; not met: {', '.join(miss)}" if miss else "") + ".")
    return out


# ------------------------------------------------------------------------------------------------ batch 13
RECIPE_NAMES[et.ENS_PROC] = "ensemble he_sym + he_bo_inv + he_sym_proc"


def results13() -> dict | None:
    return records.read_json(et.RESULTS13)


def compute_candidates(folder, candidates: tuple[str, ...], union_models: tuple[str, ...] = ()) -> dict:
    """Batches 13 and 14 (their PLAN.md): candidates against batch 12's choice, from the records; the union models
    a batch trained are reported beside."""
    incumbent = (results() or {}).get("choice") or "ens_he2"
    runs = [r for r in et.runs11() if r["config"].get("recipe") == incumbent] + xc.read_batch(folder)
    lo = et.loco(runs)
    choice, note = et.decide_candidates(runs, incumbent, candidates)
    return records.jsonable({"incumbent": incumbent, "loco": lo.to_dict("records"),
                             "scores": et.primary_scores(lo).to_dict("records"), "choice": choice, "decision": note,
                             "union": {n: union_block(n) for n in union_models if records.read(config.MODELS_DIR, n)}})


def compute13() -> dict:
    return compute_candidates(et.BATCH13, et.CANDIDATES13)


def results13_markdown(res: dict | None = None) -> str:
    res = res or results13() or {}
    sc = pd.DataFrame(res.get("scores", []))
    lines = ["| recipe | primary score (16 numbers, mean of complete seeds) | per seed |", "|---|---|---|"]
    for _, r in sc.iterrows():
        per = ", ".join(f"seed {k}: {_f(v)}" for k, v in r["per_seed"].items())
        lines.append(f"| `{r['recipe']}` {RECIPE_NAMES.get(r['recipe'], '')} | {_f(r['primary'])} | {per} |")
    return "\n".join(["# Batch 13: the procedural-lesion model as a third ensemble member — results (written by "
                      "`python experiments/batch13_ensemble_proc/results.py` from the run records)", "",
                      "Plan: `experiments/batch13_ensemble_proc/PLAN.md`.", "",
                      "## Every evaluation: held-out sources, plain and brain-only view", "",
                      loco_markdown(res, names=RECIPE_NAMES), "", "## Scores and decision", "", "\n".join(lines), "",
                      f"Decision: **`{res.get('choice')}`**. {res.get('decision', '')}", ""]) + "\n"


# ------------------------------------------------------------------------------------------------ batch 14
RECIPE_NAMES["he_sym_proc2"] = "he_sym + procedural masses + tumour-free spots"
RECIPE_NAMES["ens_he2p2"] = "ensemble he_sym + he_bo_inv + he_sym_proc2"
RECIPE_NAMES["he_sym_e20"] = "he_sym, 20 epochs (batch 15)"
RECIPE_NAMES["he_bo"] = "he_sym + look-balanced brain-only augmentation, no inversion"
RECIPE_NAMES["ens_hb"] = "ensemble he_sym + he_bo"
RECIPE_NAMES["ens_bo2s_e40"] = "two seeds of he_bo merged, 40 epochs (replicate 42: seeds 42 + 7; 1: seeds 1 + 2)"  # batch 24
RECIPE_NAMES["he_bo_pb_e40"] = "he_bo + plane-balanced weights, 40 epochs"  # batch 27
RECIPE_NAMES["ens_bo4s_e40"] = ("four seeds of he_bo merged, 40 epochs (replicate 42: seeds 42 + 7 + 1 + 2; "
                                "1: seeds 1 + 2 + 3 + 4)")  # batches 28, 30
RECIPE_NAMES["ens_bo4s_e40_flip"] = ("the same four seeds of he_bo merged, each slice's logits averaged with its "
                                     "mirror's at prediction time")  # batch 35
RECIPE_NAMES["ens_mix4_e40"] = "he_bo, he_bo_ms, he_bo_w24 and he_bo_pb merged, 40 epochs, one seed"  # batch 28


def results14() -> dict | None:
    return records.read_json(et.RESULTS14)


def compute14() -> dict:
    return compute_candidates(et.BATCH14, et.CANDIDATES14, ("brain_tumor_hv_proc2",))  # amendment 1's model


def results14_markdown(res: dict | None = None) -> str:
    res = res or results14() or {}
    union = [union_markdown(u) for u in (res.get("union") or {}).values() if u]
    text = results13_markdown(res).replace(
        "# Batch 13: the procedural-lesion model as a third ensemble member",
        "# Batch 14: procedural masses with tumour-free look-alikes").replace(
        "experiments/batch13_ensemble_proc/results.py", "experiments/batch14_spots/results.py").replace(
        "experiments/batch13_ensemble_proc/PLAN.md", "experiments/batch14_spots/PLAN.md")
    if union:
        text += "\n## The union model of he_sym_proc2 (amendment 1: trained beside the runs; not shipped)\n\n" + \
            "\n\n".join(union) + "\n"
    return text
