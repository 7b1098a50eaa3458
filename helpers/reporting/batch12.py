"""Batch 12 (procedural lesions in healthy slices of every look): its results file
(experiments/batch12_procedural_lesions/results.json) and RESULTS.md, computed from the run records and batch 11's
results (`brain-mri procedural`). The last batch decides what ships: `shipped` here is the model the README, the
CLI and the dashboard name (config.DEFAULT_MODEL_NAME; a test holds them equal)."""
from __future__ import annotations

import pandas as pd

from .. import config, records
from ..evaluation import cross_collection as xc
from ..evaluation import ensemble_transfer as et
from ..evaluation import healthy_variety as hv
from . import batch11
from .batch10 import union_block, validation_firing
from .healthy_variety import floors_markdown, loco_markdown, shipped_floors_markdown, union_markdown
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
           "warning": batch11.warning_measure(runs, choice, use_shift, _folder_of)}
    rule = records.read_json(config.MODELS_DIR / shipped / "familiarity.json")
    pred = pd.read_csv(config.MODELS_DIR / shipped / "union_predictions.csv", keep_default_na=False)
    t = xc.call_threshold(records.read(config.MODELS_DIR, shipped))
    key = f"{batch11.WARNING[0]:.2f}|{batch11.WARNING[1]}"
    out["warning"]["familiar_firing"] = hv.familiar_firing(pred["p_tumour"].to_numpy(float),
                                                           pred["familiarity_ratio"].to_numpy(float), rule, t)[key]
    val = (validation_firing(shipped, rule, t) or {}) if with_models else {}
    out["warning"]["familiar_firing_val"] = val.get(key, (prev.get("warning") or {}).get("familiar_firing_val"))
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
