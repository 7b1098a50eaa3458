"""Batch 50 in words: its RESULTS.md and the conclusions' line, from the results file that
evaluation.admitted_share computes."""
from __future__ import annotations

from .. import config, records
from ..evaluation import admitted_share as adm
from ..formatting import fmt_metric, pct
from .healthy_variety import SOURCE_NAMES

NAMES = {"he_bo": "he_bo (shipped recipe)", "he_bo_adm10": "he_bo + a tenth of the held-out source's groups"}
TITLE = "a tenth of the held-out collection's twin groups admitted to training, a measurement"


def _cell(m: dict, key: str) -> str:  # binary_metrics keeps the value and its CI under two keys
    return fmt_metric(key, {"value": m[key], "ci": m[f"{key}_ci"]})


def fold_markdown(fold: str, f: dict) -> list[str]:
    a = f["admitted"]
    lines = [f"## Fold `{fold}`", "",
             f"Admitted to training: {a['rows']:,} rows of {a['groups']:,} twin groups (tumour {a['tumour']:,}, "
             f"healthy {a['healthy']:,}); every run is scored on the {f['n_evaluation_rows']:,} held-out rows that "
             "were not admitted, at its own threshold, in the plain view (95% CIs resample twin groups).", "",
             "| recipe | seed | threshold | source | tumour / healthy | sensitivity | specificity | ROC-AUC |",
             "|---|---|---|---|---|---|---|---|"]
    for r in f["runs"]:
        for src in (s for s in f["sources"] if r[s] is not None):  # a source with no row in the fold: no line
            m = r[src]
            lines.append(f"| {NAMES[r['recipe']]} | {r['seed']} | {r['threshold']:.2f} | {SOURCE_NAMES.get(src, src)}"
                         f" | {m['n_tumour']:,} / {m['n_healthy']:,} | {_cell(m, 'sensitivity')} | "
                         f"{_cell(m, 'specificity')} | {_cell(m, 'auc')} |")
    if f["missing"]:
        lines += ["", "Runs missing (not finished or not found): " + ", ".join(f"`{m}`" for m in f["missing"])]
    lines += ["", "Mean of the seeds:", "", "| recipe | source | sensitivity | specificity | ROC-AUC |",
              "|---|---|---|---|---|"]
    for recipe, by_src in f["means"].items():
        for src, m in by_src.items():
            auc = f"{m['auc']:.3f}" if "auc" in m else "n/a"
            lines.append(f"| {NAMES[recipe]} | {SOURCE_NAMES.get(src, src)} | {pct(m.get('sensitivity'))} | "
                         f"{pct(m.get('specificity'))} | {auc} |")
    return lines + [""]


def results_markdown(res: dict) -> str:
    lines = ["# Batch 50: how much of a missing look's data moves the held-out rest? — results (written by "
             "`python experiments/batch50_admitted_share/results.py` from the runs' predictions)", "",
             "Plan: `experiments/batch50_admitted_share/PLAN.md` (the Br35H fold; amendment 1: the Sartaj fold). "
             "A measurement: nothing ships from it. Against `he_bo`'s runs of batch 37 on the same folds and seeds.",
             ""]
    for fold, f in res["folds"].items():
        lines += fold_markdown(fold, f)
    lines += ["## Outcome", "", res["decision"] + "."]
    return "\n".join(lines) + "\n"


def summary_line(res: dict | None) -> str | None:
    """The conclusions' line, once a fold has both recipes at both seeds."""
    if not res or not any(not f["missing"] for f in res.get("folds", {}).values()):
        return None
    return f"Batch 50 ({TITLE}): {res['decision']}."


def write() -> str:
    """results.json and RESULTS.md (the batch folder's results.py); returns the line to print."""
    res = adm.compute()
    records.write_json(res, adm.RESULTS)
    (adm.FOLDER / "RESULTS.md").write_text(results_markdown(res))
    return f"wrote {adm.RESULTS.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}"
