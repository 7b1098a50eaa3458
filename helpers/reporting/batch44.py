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


TITLE45 = "he_bo and he_bo_gin merged, two seeds each, against the shipped recipe's four-seed replicate B"


def results45_markdown(res: dict) -> str:
    out = results_head(45, TITLE45, "batch45_mixed_merge", "batches 37's and 44's `views.csv.gz` and batch 39's "
                       "results", "Four members against four members, two of them the same (he_bo seeds 1 and 2); the "
                       "plain view; each merge's operating point refitted on validation.",
                       res.get("decision", "not measured yet"))
    if not res.get("mix4"):
        return "\n".join(out) + "\n"
    out += ["| merge | primary score (16 numbers) | largest brain-only drop | mean drop |", "|---|---|---|---|"]
    for name, m in (("mix4: he_bo seeds 1, 2 + he_bo_gin seeds 1, 2", res["mix4"]),
                    ("replicate B: he_bo seeds 1, 2, 3, 4", res["replicate_b"])):
        mean = "n/a" if m.get("mean_drop") is None else f"{m['mean_drop']:.1f} points"
        out.append(f"| {name} | {pct(m['primary'])} | {_drop(m)} | {mean} |")
    out += ["", "## Per held-out source", "", "| source | view | sensitivity: mix4 | replicate B | specificity: mix4 | "
            "replicate B | ROC-AUC: mix4 | replicate B |", "|---|---|---|---|---|---|---|---|"]
    auc = lambda v: "n/a" if v is None or v != v else f"{v:.3f}"  # noqa: E731
    for r in res["per_source"]:
        out.append(f"| {SOURCE_NAMES.get(r['source'], r['source'])} | {r['view']} | {_pct(r['sensitivity_mix'])} | "
                   f"{_pct(r['sensitivity_b'])} | {_pct(r['specificity_mix'])} | {_pct(r['specificity_b'])} | "
                   f"{auc(r['auc_mix'])} | {auc(r['auc_b'])} |")
    out += ["", "## LOCO floors, mix4", "", floors_markdown(res.get("floors", [])), ""]
    return "\n".join(out)


def summary_line45(res: dict | None) -> str | None:
    return f"Batch 45 ({TITLE45}): {res['decision']}." if res and res.get("mix4") else None
