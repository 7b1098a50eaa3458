"""Batch 15 (does a longer schedule transfer? experiments/batch15_schedule/PLAN.md) and the issue-21 scoreboard:
every floor of the issue, for what ships, in one table (chapter 05 section 9, the conclusions). Everything is read
from the results files and run records."""
from __future__ import annotations


from .. import config, records
from ..evaluation import cross_collection as xc
from ..evaluation import ensemble_transfer as et
from ..evaluation import healthy_variety as hv
from ..evaluation import warning_rule
from . import batch10, batch11, batch12
from .shipped import card_block, results15, shipped_here, warning_tested  # noqa: F401 - re-exported
from .healthy_variety import floors_markdown, loco_markdown, scores_markdown, union_markdown, warning_markdown
from .healthy_variety import pct_or_na as _f

RECIPE_NAMES = {"ens_he2": "ensemble he_sym + he_bo_inv, 10 epochs (shipped recipe's LOCO estimate so far)",
                "ens_he2_e20": "ensemble he_sym + he_bo_inv, 20 epochs",
                "he_sym": "he_sym, 10 epochs", "he_sym_e20": "he_sym, 20 epochs",
                "he_bo_inv": "he_bo_inv, 10 epochs", "he_bo_inv_e20": "he_bo_inv, 20 epochs",
                "ens_he2_e40": "ensemble he_sym + he_bo_inv, 40 epochs (the shipped schedule)",
                "he_sym_e40": "he_sym, 40 epochs", "he_bo_inv_e40": "he_bo_inv, 40 epochs",
                "he_bo_e20": "he_sym + brain-only augmentation (no inversion), 20 epochs"}


def compute15(with_models: bool = True) -> dict:
    """Batch 15's results from the records: every run beside its 10-epoch counterpart, the PLAN's outcome, and
    amendment 2's ensemble-or-single choice with, when the single model ships, its warning chosen by batch 16's
    procedure. with_models: measure the warning's firing on union validation (needs the data and TensorFlow); else
    it is carried over from the last results file."""
    ens10 = [r for r in et.runs11() if r["config"].get("recipe") == "ens_he2"]
    r10 = [r for r in xc.read_batch(hv.BATCH10) if r["config"].get("recipe") in ("he_sym", "he_bo_inv")]
    r15 = et.runs15()
    lo = et.loco(ens10 + r10 + r15)
    scores = et.primary_scores(lo)
    outcome, basis, note = et.decide15(scores)
    shipped, single_note = et.decide_single15(scores)
    out = {"loco": lo.to_dict("records"), "scores": scores.to_dict("records"),
           "outcome": outcome, "basis": basis, "decision": note, "shipped": shipped,
           "single_vs_ensemble": single_note,
           "floors_loco_e20": hv.floors_loco(lo, et.ENS_E20),
           "floors_loco_e20_single": hv.floors_loco(lo, et.SINGLE_E20),
           "floors_loco_e10": hv.floors_loco(lo, "ens_he2")}
    if shipped == et.SINGLE_MODEL:
        prev = results15() or {}
        rows = hv.warning_rows(r15, et.SINGLE_E20, et.BATCH15)
        firing, firing_val = batch11.shipped_firing(shipped, with_models,
                                                    (prev.get("warning") or {}).get("familiar_firing_val"))
        out["warning"] = {"rows": rows.to_dict("records"), "familiar_firing": firing,
                          "familiar_firing_val": firing_val, "cap_val": warning_rule.CAP16,
                          "choice": hv.choose_warning(rows, firing_val, firing, cap=warning_rule.CAP16)}
        out["union"] = {shipped: batch10.union_block(shipped)}
    return records.jsonable(out)


def opening(batch: int, title: str, folder: str, res: dict, names: dict[str, str] | None = None) -> list[str]:
    """A batch's RESULTS.md head: title, plan, every evaluation, the scores (recipes named by `names`)."""
    names = names or RECIPE_NAMES
    return [f"# Batch {batch}: {title} — results (written by `python experiments/{folder}/results.py` from the run "
            "records)", "", f"Plan: `experiments/{folder}/PLAN.md`.", "",
            "## Every evaluation: held-out sources, plain and brain-only view (each run's own operating point)", "",
            loco_markdown(res, names=names), "", "## Scores and decision", "", scores_markdown(res, names), ""]


def results15_markdown(res: dict | None = None) -> str:
    res = res or results15() or {}
    out = opening(15, "does a longer schedule transfer?", "batch15_schedule", res) + [
           f"Outcome: **{res.get('outcome')}**. {res.get('decision', '')}", "",
           "## Ensemble or single at 20 epochs (amendment 2)", "", f"**{res.get('single_vs_ensemble', '')}**.", "",
           "## LOCO floors at 20 epochs, `he_sym_e20` (mean of the seeds run)", "",
           floors_markdown(res.get("floors_loco_e20_single", [])), "",
           "## LOCO floors at 20 epochs, `ens_he2_e20` (mean of the seeds run)", "", floors_markdown(res.get("floors_loco_e20", [])),
           "", "## LOCO floors at 10 epochs (the estimate quoted so far)", "",
           floors_markdown(res.get("floors_loco_e10", [])), ""]
    if res.get("warning"):
        out += [f"## The shipped single model's warning (batch 16's procedure, {_f(res['warning']['cap_val'], 0)} cap, "
                "on the 20-epoch `he_sym_e20` runs)", "", warning_markdown(res), ""]
    for u in (res.get("union") or {}).values():
        if u:
            out += ["## The shipped model on the union test groups", "", union_markdown(u), ""]
    return "\n".join(out) + "\n"


def results17() -> dict | None:
    return records.read_json(et.RESULTS17)


def compute17() -> dict:
    """Batch 17's results: the seed-42 runs at 10, 20 and 40 epochs side by side (a measurement, no decision)."""
    ens10 = [r for r in et.runs11() if r["config"].get("recipe") == "ens_he2"]
    r10 = [r for r in xc.read_batch(hv.BATCH10) if r["config"].get("recipe") in ("he_sym", "he_bo_inv")]
    runs = [r for r in ens10 + r10 + et.runs15() + et.runs_by_schedule(et.BATCH17, 40)
            if int(r["config"].get("seed", -1)) == config.SEED]
    lo = et.loco(runs)
    folds = sorted({r["config"]["fold"] for r in runs if r["config"].get("recipe") == et.ENS_E40})
    scores = et.primary_scores(lo)
    s42 = {r["recipe"]: r["per_seed"].get(config.SEED) for _, r in scores.iterrows() if config.SEED in r["seeds"]}
    chain = lambda a, b, c: ", ".join(f"{s42[k]:.1%} at {e}" for k, e in ((a, 10), (b, 20), (c, 40)) if k in s42)  # noqa: E731
    comparison = None
    if all(k in s42 for k in (et.ENS_E40, "he_sym_e40")):
        d = s42[et.ENS_E40] - s42["he_sym_e40"]
        comparison = (f"seed-42 primary scores, he_sym alone: {chain('he_sym', et.SINGLE_E20, 'he_sym_e40')} epochs; "
                      f"the ensemble: {chain('ens_he2', et.ENS_E20, et.ENS_E40)} epochs. At 40 epochs the ensemble "
                      f"scores {d * 100:+.1f} points against he_sym alone on this one seed"
                      + (", the opposite of batch 15's two-seed result at 20 epochs that shipped he_sym alone; by its "
                         "plan this measurement changes nothing, and a two-seed comparison at 40 epochs is the next "
                         "step" if d > 0 else ""))
    return records.jsonable({"loco": lo.to_dict("records"), "scores": scores.to_dict("records"),
                             "comparison": comparison,
                             "folds_done": folds, "complete": len(folds) == len(hv.FOLDS10),
                             "floors_loco_e40": hv.floors_loco(lo, et.ENS_E40) if len(folds) == len(hv.FOLDS10)
                             else [],
                             "floors_loco_e40_single": hv.floors_loco(lo, "he_sym_e40")
                             if len(folds) == len(hv.FOLDS10) else []})


def results17_markdown(res: dict | None = None) -> str:
    res = res or results17() or {}
    done = res.get("folds_done", [])
    out = ["# Batch 17: the LOCO estimate at the shipped schedule — results (written by "
           "`python experiments/batch17_shipped_schedule/results.py` from the run records)", "",
           "Plan: `experiments/batch17_shipped_schedule/PLAN.md`. Seed 42 only, beside the seed-42 runs at 10 and 20 "
           "epochs.", "", f"Folds finished at 40 epochs: {', '.join(done) if done else 'none'}"
           + ("" if res.get("complete") else " (the others were not run in the session)") + ".", "",
           (f"**{res['comparison']}.**" if res.get("comparison") else ""), "",
           "## Every evaluation: held-out sources, plain and brain-only view (seed 42)", "",
           loco_markdown(res, names=RECIPE_NAMES), "", "## Seed-42 primary scores", "",
           scores_markdown(res, RECIPE_NAMES), ""]
    if res.get("complete"):
        out += ["## LOCO floors at 40 epochs, `he_sym_e40` (seed 42 only; the floors ask for the mean of two seeds)",
                "", floors_markdown(res.get("floors_loco_e40_single", [])), "",
                "## LOCO floors at 40 epochs, `ens_he2_e40` (seed 42 only)", "",
                floors_markdown(res.get("floors_loco_e40", [])), ""]
    return "\n".join(out) + "\n"


def results18() -> dict | None:
    return records.read_json(et.RESULTS18)


def compute18() -> dict:
    """Batch 18's results: he_bo at 20 epochs beside he_sym at 20 epochs (batch 15), and the PLAN's decision."""
    runs = [r for r in et.runs15() if r["config"].get("recipe") == et.SINGLE_E20] + et.runs_by_schedule(et.BATCH18, 20)
    lo = et.loco(runs)
    scores = et.primary_scores(lo)
    choice, note = et.decide18(scores)
    return records.jsonable({"loco": lo.to_dict("records"), "scores": scores.to_dict("records"), "choice": choice,
                             "decision": note, "floors_loco": hv.floors_loco(lo, et.BO_E20),
                             "floors_loco_he_sym": hv.floors_loco(lo, et.SINGLE_E20)})


def results18_markdown(res: dict | None = None) -> str:
    res = res or results18() or {}
    out = opening(18, "brain-only augmentation without inversion, 20 epochs", "batch18_brain_only", res) + [
           f"Decision: **`{res.get('choice')}`**. {res.get('decision', '')}", "",
           "## LOCO floors, `he_bo_e20` (mean of the seeds run)", "", floors_markdown(res.get("floors_loco", [])), "",
           "## LOCO floors, `he_sym_e20` (batch 15; the shipped recipe)", "",
           floors_markdown(res.get("floors_loco_he_sym", [])), ""]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ scoreboard
def loco_floors_for_shipped() -> tuple[list[dict], str]:
    """The LOCO floors of the shipped recipe: its 40-epoch runs on both seeds when batch 19 or 20 chose it; before
    that (batch 15, amendment 1) the runs whose schedule is closest to the shipped 40 epochs among those complete on
    every fold (40, else 20, else 10 epochs)."""
    from .shipped import BLOCK_BATCHES, decision

    batch, res = decision()
    blk = res.get("block") or {}
    if batch in BLOCK_BATCHES and blk.get("floors_loco"):
        return blk["floors_loco"], (f"LOCO estimate ({blk['choice']}, 40-epoch runs, the shipped schedule; "
                                    f"{blk.get('seeds_note', 'seeds 42 and 7')})")
    r17, r15 = results17() or {}, results15() or {}
    single = shipped_here()
    what = "he_sym" if single else "ens_he2"
    e40 = r17.get("floors_loco_e40_single" if single else "floors_loco_e40")
    if r17.get("complete") and e40:
        return e40, f"LOCO estimate ({what}, 40-epoch runs, the shipped schedule; seed 42 only)"
    sc = {r["recipe"]: r for r in r15.get("scores", [])}
    e20 = sc.get(et.SINGLE_E20 if single else et.ENS_E20) or {}
    floors20 = r15.get("floors_loco_e20_single" if single else "floors_loco_e20")
    if e20.get("complete") and floors20:
        seeds = " and ".join(str(s) for s in sorted(e20["seeds"], reverse=True))
        return floors20, f"LOCO estimate ({what}, 20-epoch runs, seeds {seeds})"
    if single:
        return (batch10.results() or {}).get("floors_loco", []), "LOCO estimate (he_sym, 10-epoch runs, seeds 42 and 7)"
    return (batch12.results() or {}).get("floors_loco", []), "LOCO estimate (ens_he2, 10-epoch runs, seeds 42 and 7)"


def scoreboard() -> list[dict]:
    """Every floor of issue 21 for what ships today: the LOCO estimate of the shipped recipe (closest schedule,
    `loco_floors_for_shipped`), the shipped model on union test, the warning (batch 16, else batch 11) and the
    split."""
    r12 = batch12.results() or {}
    floors, part = loco_floors_for_shipped()
    out = [{**f, "part": part} for f in floors]
    name = config.DEFAULT_MODEL_NAME
    blk = {"shipped": name, "union": {name: (card_block().get("union") or {}).get(name)
                                      or ((results15() or {}).get("union") or {}).get(name)
                                      or (r12.get("union") or {}).get(name)}}
    out += [{**f, "part": f"shipped `{name}`, union test groups"} for f in batch12.shipped_floors(blk)]
    c = warning_rule.choice_of(name)  # the shipped model's warning, as the batch that chose it measured it
    if c:
        kind = "cell distance, " if c.get("score") == "colcls" else ""
        part = f"warning ({kind}quantile {c['quantile']:g}, margin {c['margin']:g})"
        t = warning_tested(name)
        out.append({"floor": f"held-out missed tumours flagged ({t['short']})", "value": t["share"],
                    "target": 0.5, "met": None if t["share"] is None else t["share"] >= 0.5, "ge": True, "part": part})
        fire = c.get("familiar_firing")
        out.append({"floor": "fires on familiar union test slices", "value": fire, "target": 0.05,
                    "met": None if fire is None else fire <= 0.05, "ge": False, "part": part})
    sp = (batch10.results() or {}).get("split") or {}
    if sp:
        out.append({"floor": "leak-free test images with an adjacent-slice neighbour in train/val",
                    "value": sp.get("adjacent_leaks"), "target": 0, "met": sp.get("adjacent_leaks") == 0,
                    "ge": False, "part": "union split v2", "count": True})
    return out


def scoreboard_markdown(items: list[dict] | None = None) -> str:
    items = scoreboard() if items is None else items
    if not items:
        return "(no floors evaluated yet)"
    lines = ["| part | floor | value | target | met |", "|---|---|---|---|---|"]
    for f in items:
        pts = "points" in f["floor"]
        fmt = (lambda v: f"{v:.0f}") if f.get("count") else ((lambda v: f"{v:.1f}") if pts else _f)
        v = "n/a" if f["value"] is None else fmt(f["value"])
        ge = f.get("ge", not pts)
        tgt = (f"within {f['target']:g}" if pts else
               f"{'≥' if ge else '≤'} {fmt(f['target']) if f.get('count') else _f(f['target'], 0)}")
        met = "n/a" if f["met"] is None else ("yes" if f["met"] else "**no**")
        lines.append(f"| {f['part']} | {f['floor']} | {v} | {tgt} | {met} |")
    n = [f for f in items if f["met"] is not None]
    lines += ["", f"**{sum(bool(f['met']) for f in n)} of {len(n)} floors met.**"]
    return "\n".join(lines)


def summary_lines() -> list[str]:
    """The conclusions' lines for batches 15 and 16 and the scoreboard's count."""
    out = []
    r15 = results15()
    if r15 and r15.get("outcome") not in (None, "none"):
        out.append(f"Batch 15 (20-epoch LOCO runs of the ensemble's recipes): {r15['decision']}. Amendment 2 "
                   f"(ensemble or single at 20 epochs): {r15.get('single_vs_ensemble', '')}.")
    r17 = results17()
    if r17 and r17.get("folds_done"):
        out.append("Batch 17 (the shipped 40-epoch schedule, seed 42 only, a measurement): "
                   + (f"{r17['comparison']}." if r17.get("complete") else
                      f"{len(r17['folds_done'])} of 3 folds finished in the session."))
    b16 = warning_rule.results16()
    if b16 and b16.get("choice"):
        c = b16["choice"]
        out.append(f"Batch 16 chose the ensemble's warning again under a {_f(b16['cap_val'], 0)} validation cap"
                   + (" (the ensemble no longer ships)" if config.DEFAULT_MODEL_NAME != et.ENSEMBLE_MODEL else "") + ": quantile "
                   f"{c['quantile']:.2f}, margin {c['margin']:g} logits; it fires on {_f(c.get('familiar_firing'))} of "
                   f"familiar test slices and flags {_f(c.get('test_share'))} of the seed-7 held-out misses.")
    r18 = results18()
    if r18:
        out.append(f"Batch 18 (brain-only augmentation without inversion, 20 epochs): {r18['decision']}.")
    sb = [f for f in scoreboard() if f["met"] is not None]
    if sb:
        out.append(f"Issue 21's floors for what ships: {sum(bool(f['met']) for f in sb)} of {len(sb)} met "
                   "(chapter 05, section 9).")
    return out
