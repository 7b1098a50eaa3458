"""Batch 50 in words: its RESULTS.md from the results file that evaluation.admitted_share computes."""
from __future__ import annotations

from .. import config, records
from ..evaluation import admitted_share as adm
from ..formatting import fmt_metric, pct
from .healthy_variety import SOURCE_NAMES

NAMES = {"he_bo": "he_bo (shipped recipe)", "he_bo_adm10": "he_bo + a tenth of Br35H's groups in training"}


def results_markdown(res: dict) -> str:
    a = res["admitted"]
    lines = ["# Batch 50: how much of a missing look's data moves the held-out rest? — results (written by "
             "`python experiments/batch50_admitted_share/results.py` from the runs' predictions)", "",
             "Plan: `experiments/batch50_admitted_share/PLAN.md`. A measurement: nothing ships from it.", "",
             f"Fold `{res['fold']}`. Admitted to training: {a['rows']:,} rows of {a['groups']} twin groups "
             f"({', '.join(f'{k} {v:,}' for k, v in sorted(a['by_label'].items()))}); every run below is scored on "
             f"the {res['n_evaluation_rows']:,} held-out rows that were not admitted, at its own threshold, in the "
             "plain view (95% CIs resample twin groups).", "",
             "## Every run", "",
             "| recipe | seed | threshold | source | tumour / healthy | sensitivity | specificity | ROC-AUC |",
             "|---|---|---|---|---|---|---|---|"]
    def cell(m: dict, key: str) -> str:  # binary_metrics keeps the value and its CI under two keys
        return fmt_metric(key, {"value": m[key], "ci": m[f"{key}_ci"]})

    for r in res["runs"]:
        for src in (s for s in adm.SOURCES if r[s] is not None):  # a source with no row in the fold: no line
            m = r[src]
            lines.append(f"| {NAMES[r['recipe']]} | {r['seed']} | {r['threshold']:.2f} | {SOURCE_NAMES.get(src, src)}"
                         f" | {m['n_tumour']:,} / {m['n_healthy']:,} | {cell(m, 'sensitivity')} | "
                         f"{cell(m, 'specificity')} | {cell(m, 'auc')} |")
    if res["missing"]:
        lines += ["", "Runs missing (not finished or not found): " + ", ".join(f"`{m}`" for m in res["missing"])]
    lines += ["", "## Mean of the seeds", "", "| recipe | source | sensitivity | specificity | ROC-AUC |",
              "|---|---|---|---|---|"]
    for recipe, by_src in res["means"].items():
        for src, m in by_src.items():
            auc = f"{m['auc']:.3f}" if "auc" in m else "n/a"
            lines.append(f"| {NAMES[recipe]} | {SOURCE_NAMES.get(src, src)} | {pct(m.get('sensitivity'))} | "
                         f"{pct(m.get('specificity'))} | {auc} |")
    lines += ["", "## Outcome", "", res["decision"] + "."]
    return "\n".join(lines) + "\n"


def write() -> str:
    """results.json and RESULTS.md (the batch folder's results.py); returns the line to print."""
    res = adm.compute()
    records.write_json(res, adm.RESULTS)
    (adm.FOLDER / "RESULTS.md").write_text(results_markdown(res))
    return f"wrote {adm.RESULTS.relative_to(config.PROJ_ROOT).as_posix()}: {res['decision']}"


TITLE = "a tenth of the held-out Br35H's twin groups admitted to training, a measurement"


def summary_line(res: dict | None) -> str | None:
    """The conclusions' line, once both recipes have both seeds."""
    if not res or res.get("missing"):
        return None
    return f"Batch 50 ({TITLE}): {res['decision']}."
