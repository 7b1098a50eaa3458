"""Batch 44 in words: its RESULTS.md and the conclusions' line, from the results file that
evaluation.intensity_net computes from this batch's and batch 37's views.csv.gz."""
from __future__ import annotations

from ..formatting import pct
from .healthy_variety import SOURCE_NAMES, floors_markdown, loco_markdown
from .tables import results_head

TITLE44 = "a random shallow network's grey levels in training (GIN), he_bo_gin against he_bo, seeds 1 and 2"
NAMES44 = {"he_bo_gin": "he_bo + GIN (a random network's grey levels)", "he_bo": "he_bo (shipped recipe)"}


def _pct(v) -> str:
    return "n/a" if v is None or v != v else pct(v)  # no tumours (or no healthy slices) in a source: n/a


def _drop(r: dict) -> str:
    return "n/a" if r.get("drop") is None else f"{r['drop']:.1f} points"


def results44_markdown(res: dict) -> str:
    out = results_head(44, TITLE44, "batch44_intensity_net", "this folder's and batch 37's `views.csv.gz`",
                       "Both recipes at 40 epochs, seeds 1 and 2, the three folds, read in the plain view (what "
                       "ships); the merge of the two seeds has its logits averaged per slice and its operating point "
                       "refitted on validation.", res.get("decision", "not measured yet"))
    if not res.get("gin"):
        return "\n".join(out) + "\n"
    g, b = res["gin"], res["bo"]
    out += ["| recipe | merge: primary score (16 numbers) | merge: largest brain-only drop | merge: mean drop | "
            "seed 1 single runs | seed 2 single runs |", "|---|---|---|---|---|---|"]
    for key, side in (("he_bo_gin", g), ("he_bo", b)):
        m = side["merged"]
        mean = "n/a" if m.get("mean_drop") is None else f"{m['mean_drop']:.1f} points"
        seeds = " | ".join(pct(side["per_seed"].get(str(s), side["per_seed"].get(s))) for s in (1, 2))
        out.append(f"| {NAMES44[key]} | {pct(m['primary'])} | {_drop(m)} | {mean} | {seeds} |")
    out += ["", "## Per held-out source, the merges (plain slices and their brain-only view)", "",
            "| source | view | he_bo_gin sensitivity | he_bo sensitivity | he_bo_gin specificity | he_bo specificity |",
            "|---|---|---|---|---|---|"]
    for r in res["per_source"]:
        out.append(f"| {SOURCE_NAMES.get(r['source'], r['source'])} | {r['view']} | {_pct(r['sensitivity_gin'])} | "
                   f"{_pct(r['sensitivity_bo'])} | {_pct(r['specificity_gin'])} | {_pct(r['specificity_bo'])} |")
    out += ["", "## Every evaluation of the single runs", "", loco_markdown({"loco": res["loco"]}, names=NAMES44), ""]
    for key, fl in res.get("floors_merged", {}).items():
        out += [f"## LOCO floors, {NAMES44[key]}, merge of seeds 1 and 2", "", floors_markdown(fl), ""]
    return "\n".join(out)


def summary_line(res: dict | None) -> str | None:
    """Batch 44 in one sentence, with Br35H's held-out sensitivity on both merges (the shortcut it aims at)."""
    if not res or not res.get("gin"):
        return None
    br = next((r for r in res["per_source"] if r["source"] == "br35h" and r["view"] == "plain"), None)
    extra = (f"; held-out Br35H sensitivity on the merges {pct(br['sensitivity_gin'])} with GIN, "
             f"{pct(br['sensitivity_bo'])} without" if br else "")
    return f"Batch 44 ({TITLE44}): {res['decision']}{extra}."
