"""Batch 11 (recipe ensembles, a threshold shift chosen on held-out folds): its results file
(experiments/batch11_ensemble_transfer/results.json), RESULTS.md, and the lines the conclusions, README and the
shipped ensemble's card print. Everything is computed from the run records (`brain-mri transfer`)."""
from __future__ import annotations

import pandas as pd

from .. import config, records
from ..evaluation import cross_collection as xc
from ..evaluation import ensemble_transfer as et
from ..evaluation import healthy_variety as hv
from ..evaluation import warning_rule
from .batch10 import union_block, validation_firing
from ..evaluation.warning_rule import apply as apply_warning
from .healthy_variety import (floors_markdown, loco_markdown, scores_markdown,
                              shipped_floors_markdown, union_markdown, warning_markdown)
from .healthy_variety import pct_or_na as _f

ENSEMBLE_MODEL = "brain_tumor_hv_ens"
CONTROL_MODEL = "brain_tumor_hv_long"
MEMBER_MODELS = {"he_sym": "brain_tumor_hv_long", "he_bo_inv": "brain_tumor_hv_bo_long",
                 "he_bo_inv_bal": "brain_tumor_hv_bal_long"}
SHIP_MARGIN = 0.02  # PLAN.md: the ensemble ships unless its validation score is > 2 points below the control's
WARNING = (0.97, 1.5)  # PLAN.md: batch 10's rule, not chosen again
RECIPE_NAMES = {"he_sym": "he_sym (batch 10's choice, the control)",
                "ens_he2": "ensemble he_sym + he_bo_inv", "ens_he3": "ensemble he_sym + he_bo_inv + he_bo_inv_bal"}


def results() -> dict | None:
    return records.read_json(et.RESULTS)


def shipped_choice(choice: str | None) -> tuple[str | None, list[dict]]:
    """PLAN.md: the merged union model ships unless its validation equal-weight score (at shift 0) is more than
    2 points below the control's; every union model of the batch is listed."""
    cands = []
    for n in (CONTROL_MODEL, "brain_tumor_hv_bo_long", "brain_tumor_hv_bal_long", ENSEMBLE_MODEL):
        r = records.read(config.MODELS_DIR, n)
        if r and r.get("operating_point"):
            op = r["operating_point"]
            cands.append({"name": n, "recipe": r["config"].get("recipe"), "val_score": op["val_score"],
                          "threshold": op["threshold"], "shift": op.get("shift", 0.0)})
    by = {c["name"]: c for c in cands}
    if choice in MEMBER_MODELS or choice is None or ENSEMBLE_MODEL not in by or CONTROL_MODEL not in by:
        return (CONTROL_MODEL if CONTROL_MODEL in by else None), cands
    ok = by[ENSEMBLE_MODEL]["val_score"] >= by[CONTROL_MODEL]["val_score"] - SHIP_MARGIN
    return (ENSEMBLE_MODEL if ok and by[ENSEMBLE_MODEL]["recipe"] == choice else CONTROL_MODEL), cands


def warning_measure(runs: list[dict], recipe: str, shift: dict, folder_of,
                    rule: tuple[float, float] = WARNING) -> dict:
    """A warning rule (quantile, margin) on the chosen recipe's LOCO runs at the thresholds of the estimate (each
    fold's nested shift if one is adopted): missed tumours flagged, per seed."""
    q, m = rule
    per = shift.get("chosen_per_fold", {}) if shift.get("adopted") else {}
    out = {}
    for r in runs:
        if r["config"].get("recipe") != recipe or r.get("pred") is None or not r["config"].get("fold"):
            continue
        rule = records.read_json(folder_of(r) / r["familiarity_file"])
        cut = rule["val_quantiles"][f"{q:.2f}"] / rule["threshold"]
        t = et.shifted(float(r["operating_point"]["threshold"]), per.get(r["config"]["fold"], 0.0))
        held = r["pred"][r["pred"]["source"].isin(hv.union_split.fold_sources(r["config"]["fold"]))]
        y = (held["label"] != config.NO_TUMOUR).to_numpy()
        s = out.setdefault(int(r["config"]["seed"]), {"missed": 0, "missed_flagged": 0})
        for pcol, rcol in hv.VIEWS.values():
            p = held[pcol].to_numpy(float)
            miss = (p < t) & y
            flag = hv.flagged(p, held[rcol].to_numpy(float), t, cut, m)
            s["missed"] += int(miss.sum())
            s["missed_flagged"] += int((miss & flag).sum())
    tot_m = sum(v["missed"] for v in out.values())
    tot_f = sum(v["missed_flagged"] for v in out.values())
    return {"quantile": q, "margin": m, "per_seed": out, "missed": tot_m, "missed_flagged": tot_f,
            "share": tot_f / tot_m if tot_m else None}


def shipped_firing(name: str, with_models: bool, prev_val: dict | None) -> tuple[dict, dict]:
    """(firing on union test, firing on union validation) of every warning candidate on a shipped model; the
    validation side needs the data and the model (with_models), else `prev_val` (the last results file's)."""
    rule = records.read_json(config.MODELS_DIR / name / "familiarity.json")
    pred = pd.read_csv(config.MODELS_DIR / name / "union_predictions.csv", keep_default_na=False)
    t = xc.call_threshold(records.read(config.MODELS_DIR, name))
    firing = hv.familiar_firing(pred["p_tumour"].to_numpy(float), pred["familiarity_ratio"].to_numpy(float), rule, t)
    val = (validation_firing(name, rule, t) or None) if with_models else None
    return firing, val or prev_val or {}


def rechoose_warning(runs: list[dict], recipe: str, folder_of, firing: dict, firing_val: dict) -> dict:
    """Amendment 1: batch 10's amendment-3 choice of (quantile, margin) on the seed-42 LOCO runs of `recipe`, capped
    at 5% firing on the shipped model's union validation slices, tested on seed 7 and on union test."""
    rows = pd.concat([hv.warning_rows([r], recipe, folder_of(r)) for r in runs
                      if r["config"].get("recipe") == recipe], ignore_index=True)
    return {"rows": rows.to_dict("records"), "familiar_firing": firing, "familiar_firing_val": firing_val,
            "choice": hv.choose_warning(rows, firing_val, firing)}


def compute(with_models: bool = True, apply: bool = False) -> dict:
    """Batch 11's results from the records. apply: also write the warning rules into the batch's union models
    (`brain-mri transfer`; the numbers do not depend on it, so tests leave models/ alone)."""
    r10 = xc.read_batch(hv.BATCH10)
    r11 = xc.read_batch(et.BATCH11)
    runs = et.runs11(r10, r11)
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    choice, note = et.decide(scores)
    shift = et.shift_analysis(runs, choice) if choice else {}
    est = et.estimate_rows(runs, choice, shift) if choice else pd.DataFrame()
    prev = results() or {}
    shipped, cands = shipped_choice(choice)
    folder_of = lambda r: hv.BATCH10 if r["config"].get("recipe") == et.CONTROL else et.BATCH11  # noqa: E731
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "choice": choice, "decision": note,
           "shift": {k: v for k, v in shift.items() if k != "nested_loco"}, "estimate": est.to_dict("records"),
           "floors_loco": hv.floors_loco(est, choice) if choice and len(est) else [],
           "candidates": cands, "shipped": shipped,
           "warning": warning_measure(runs, choice, shift, folder_of) if choice else {}}
    if shipped:
        firing, firing_val = shipped_firing(shipped, with_models,
                                            (prev.get("warning_rechosen") or {}).get("familiar_firing_val"))
        key = hv.warning_key(*WARNING)
        out["warning"]["familiar_firing"], out["warning"]["familiar_firing_val"] = firing[key], firing_val.get(key)
        if shipped != CONTROL_MODEL:  # amendment 1: chosen again by batch 10's amendment-3 procedure
            out["warning_rechosen"] = rechoose_warning(runs, choice, folder_of, firing, firing_val)
    if apply:  # PLAN.md: batch 10's rule on every union model of this batch, amendment 1's on the shipped one
        rechosen = (out.get("warning_rechosen") or {}).get("choice")
        for c in cands:
            if c["name"] != CONTROL_MODEL:
                apply_warning(c["name"], *((rechosen["quantile"], rechosen["margin"])
                                           if c["name"] == shipped and rechosen else WARNING), batch=11)
    out["union"] = {c["name"]: union_block(c["name"]) for c in cands}
    return records.jsonable(out)


def shift_markdown(res: dict) -> str:
    s = res.get("shift") or {}
    if not s:
        return "(no shift analysis yet)"
    lines = ["| shift d (logits) | mean source score, all folds and seeds |", "|---|---|"]
    lines += [f"| {float(d):+g} | {_f(v)} |" for d, v in sorted(s["mean_score_by_shift"].items(), key=lambda kv: float(kv[0]))]
    chosen = "; ".join(f"{f} held out: d = {d:+g} (best on the other two folds)" for f, d in s["chosen_per_fold"].items())
    lines += ["", f"Nested: {chosen}. Nested primary score **{_f(s['nested_primary'])}** vs "
              f"{_f(s['primary_at_0'])} at the runs' own thresholds: "
              + (f"adopted (>= 2 points); the shipped model moves its threshold {s['shipped_shift']:+g} logits (best on "
                 "all three folds). The LOCO estimate below is the nested one." if s["adopted"] else
                 "not adopted (below the 2-point margin); thresholds stay where validation put them.")]
    return "\n".join(lines)


def loco11_markdown(res: dict) -> str:
    return loco_markdown(res, names=RECIPE_NAMES)


def results_markdown(res: dict | None = None) -> str:
    res = res or results() or {}
    w = res.get("warning") or {}
    out = ["# Batch 11: recipe ensembles and a threshold shift — results (written by `brain-mri transfer` from the "
           "run records)", "", "Plan: `experiments/batch11_ensemble_transfer/PLAN.md`.", "",
           "## Every evaluation: held-out sources, plain and brain-only view (each run's own operating point)", "",
           loco11_markdown(res), "", "## Scores and decision", "", scores_markdown(res, RECIPE_NAMES), "",
           f"Decision: **`{res.get('choice')}`**. {res.get('decision', '')}", "",
           f"## Threshold shift (nested over folds, on `{res.get('choice')}`)", "", shift_markdown(res), "",
           "## LOCO floors (what is adopted, mean of seeds; the honest estimate for a new collection)", "",
           floors_markdown(res.get("floors_loco", [])), "", "## Union models of this batch", ""]
    for c in res.get("candidates", []):
        out.append(f"- `{c['name']}` ({c['recipe']}): validation equal-weight score {_f(c['val_score'])}, call "
                   f"threshold {c['threshold']:.2f}" + (f" (shift {c['shift']:+g} logits)" if c.get("shift") else "")
                   + (" — **shipped**" if c["name"] == res.get("shipped") else ""))
    out.append("")
    for name, u in (res.get("union") or {}).items():
        if u:
            out += [union_markdown(u), ""]
    if res.get("shipped"):
        out += ["## Shipped model floors", "", shipped_floors_markdown({**res, "shipped": res["shipped"]}), ""]
    if w:
        out += ["## The unfamiliar-scan warning (batch 10's rule, re-measured)", "",
                f"Validation quantile {w['quantile']:.2f} or within {w['margin']:g} logits of the call threshold: on "
                f"the held-out collections of the chosen recipe's LOCO runs (both seeds, both views) it flags "
                f"{w['missed_flagged']} of {w['missed']} missed tumours ({_f(w.get('share'))}); on the shipped "
                f"model's familiar slices it fires on {_f(w.get('familiar_firing_val'))} of union validation and "
                f"{_f(w.get('familiar_firing'))} of union test.", ""]
    wr = res.get("warning_rechosen") or {}
    if wr:
        out += ["## The warning chosen again for the shipped ensemble (amendment 1)", "",
                warning_markdown({"warning": wr}), ""]
    return "\n".join(out) + "\n"


def cli_transfer(args) -> int:
    """`brain-mri transfer`: results.json and RESULTS.md of batch 11."""
    res = compute(with_models=not getattr(args, "records_only", False), apply=True)
    records.write_json(res, et.RESULTS)
    (et.BATCH11 / "RESULTS.md").write_text(results_markdown(res))
    print(f"wrote {et.RESULTS.relative_to(config.PROJ_ROOT).as_posix()} and RESULTS.md: choice {res['choice']}, "
          f"shift adopted {bool((res.get('shift') or {}).get('adopted'))}, shipped {res['shipped']}")
    return 0


def summary_lines(res: dict | None = None) -> list[str]:
    res = res or results()
    if not res or not res.get("choice"):
        return []
    s = res.get("shift") or {}
    out = [f"Batch 11 (recipe ensembles, a threshold shift chosen on held-out folds) chose "
           f"`{res['choice']}`: {res['decision']}."]
    if s:
        out.append(f"Threshold shift: nested primary score {_f(s['nested_primary'])} vs {_f(s['primary_at_0'])} "
                   f"at validation's threshold, " + ("adopted" if s["adopted"] else "not adopted") + ".")
    fl = res.get("floors_loco", [])
    if fl:
        miss = [f["floor"] for f in fl if f["met"] is False]
        out.append(f"Leave-sources-out floors for this choice: {sum(bool(f['met']) for f in fl)} of {len(fl)} met"
                   + (f"; not met: {', '.join(miss)}" if miss else "") + ".")
    w = res.get("warning") or {}
    if w.get("missed"):
        out.append(f"Batch 10's warning (quantile {w['quantile']:.2f}, margin {w['margin']:g}) flags {_f(w['share'])} "
                   f"of those held-out misses and fires on {_f(w.get('familiar_firing'))} of familiar test slices.")
    c = (res.get("warning_rechosen") or {}).get("choice")
    if c:
        out.append(f"Chosen again for the shipped ensemble (amendment 1): quantile {c['quantile']:.2f}, margin "
                   f"{c['margin']:g}; it flags {_f(c.get('test_share'))} of the seed-7 held-out misses and fires on "
                   f"{_f(c['familiar_firing_val'])} of familiar validation and {_f(c.get('familiar_firing'))} of "
                   "familiar test slices.")
    return out


def results16_markdown(res: dict) -> str:
    """Batch 16's RESULTS.md: the candidates with their firing, and the choice under the 4% validation cap."""
    c, prev = res.get("choice"), res.get("previous") or {}
    out = ["# Batch 16: the unfamiliar-scan warning with headroom — results (written by `brain-mri warning` from "
           "batch 11's measurements)", "", "Plan: `experiments/batch16_warning_headroom/PLAN.md`.", "",
           f"Model: `{res.get('model')}`. Cap: at most {_f(res['cap_val'], 0)} of familiar validation slices "
           "(batch 11's amendment 1 used 5%).", "",
           warning_markdown({"warning": {k: res[k] for k in ("rows", "familiar_firing", "familiar_firing_val")}
                             | {"choice": c}}), ""]
    if prev:
        out += [f"Before (batch 11, amendment 1, 5% cap): quantile {prev['quantile']:.2f}, margin {prev['margin']:g}: "
                f"{_f(prev['familiar_firing_val'])} of familiar validation, {_f(prev.get('familiar_firing'))} of "
                f"familiar test slices; {_f(prev.get('test_share'))} of the seed-7 held-out misses flagged.", ""]
    if not c:
        out.append("No candidate fires on at most the cap: the shipped rule stays.")
    return "\n".join(out) + "\n"


def cli_warning(args) -> int:
    """`brain-mri warning`: batch 16's results.json and RESULTS.md, and its rule written into the shipped model."""
    res = warning_rule.compute16(results())
    records.write_json(res, warning_rule.RESULTS16)
    (warning_rule.BATCH16 / "RESULTS.md").write_text(results16_markdown(res))
    c = res.get("choice")
    if c and res.get("model"):
        warning_rule.apply(res["model"], c["quantile"], c["margin"], batch=16)
    print(f"wrote {warning_rule.RESULTS16.relative_to(config.PROJ_ROOT).as_posix()} and RESULTS.md: "
          + (f"quantile {c['quantile']:.2f}, margin {c['margin']:g} written into {res['model']}" if c else
             "no candidate under the cap; the shipped rule stays"))
    return 0
