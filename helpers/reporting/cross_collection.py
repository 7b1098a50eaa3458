"""The cross-collection chapter (notebook 05): tables and figures from the saved batch records and the chapter's
results file (experiments/batch4_cross_collection/chapter.json, written by `brain-mri cross-collection`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records
from ..evaluation import cross_collection as xc
from ..formatting import pct
from .tables import fmt, per_collection_markdown  # noqa: F401 - the chapter's tables use both

CHAPTER = xc.BATCH4 / "chapter.json"
FOLD_NAMES = {"br35h": "Br35H", "sartaj": "Sartaj", "figshare": "figshare"}
RECIPE_NAMES = {"old": "old (Kaggle only)", "multi": "+ all collections", "multi_var": "+ variety augmentation",
                "multi_var_bal": "+ balanced weights", "multi_var_bal_synth": "+ lesion synthesis",
                "multi_sym": "+ asymmetry channel", "multi_asym": "asymmetry map alone",
                "ens_multi_sym": "ensemble: all collections + asymmetry channel",
                "ens_sym_asym": "ensemble: asymmetry channel + map alone"}
PLANS = {"multi_sym": "experiments/batch7_symmetry/PLAN.md", "multi_asym": "experiments/batch8_asymmetry_only/PLAN.md"}  # recipes planned outside batch 4's PLAN.md


def all_loco() -> pd.DataFrame:
    """Every leave-one-source-out run of batches 4, 5, 7, 8 and 9, one row per recipe, fold and seed."""
    return xc.loco_frame(sum((xc.read_batch(b) for b in (xc.BATCH4, xc.BATCH5, xc.BATCH7, xc.BATCH8, xc.BATCH9)),
                             []))


def loco_markdown(loco: pd.DataFrame) -> str:
    """The leave-one-source-out table, one row per recipe and fold."""
    lines = ["| recipe | held out | tumour / healthy | sensitivity | specificity | ROC-AUC | ECE | missed, no warning |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in loco.iterrows():
        missed = "n/a" if pd.isna(r["missed"]) else f"{int(r['missed_unwarned']):,} of {int(r['missed']):,}"
        seed = "" if r.get("seed", config.SEED) == config.SEED else f" (seed {int(r['seed'])})"
        lines.append(f"| {RECIPE_NAMES.get(r['recipe'], r['recipe'])}{seed} | {FOLD_NAMES.get(r['fold'], r['fold'])} | "
                     f"{r['n_tumour']:,} / {r['n_healthy']:,} | {fmt('sensitivity', r['sensitivity'], r['sensitivity_ci'])} | "
                     f"{fmt('specificity', r['specificity'], r['specificity_ci'])} | {fmt('roc_auc', r['auc'], r['auc_ci'])} | "
                     f"{fmt('ece', r['ece'])} | "
                     f"{missed} |")
    return "\n".join(lines)


def union_test_cells(rec: dict) -> str:
    """'sensitivity | specificity | Kaggle leak-free 4-class accuracy' of a union-trained run, in the house style:
    the columns the batch decisions print beside their validation criterion."""
    m = rec["metrics"]["all"]
    return (f"{fmt('sensitivity', m['sensitivity'])} | {fmt('specificity', m['specificity'])} | "
            f"{fmt('accuracy', rec.get('leakfree_accuracy'))}")


def collapse_markdown(table: pd.DataFrame) -> str:
    lines = ["| collection | label | picture in the Kaggle set? | files | called tumour |", "|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['collection']} | {r['label']} | {'yes (seen or a twin)' if r['seen'] else 'no'} | "
                     f"{int(r['n']):,} | {pct(r['called_tumour'])} |")
    return "\n".join(lines)


def chapter() -> dict | None:
    return records.read_json(CHAPTER)


def confident_misses(pred: pd.DataFrame, table: pd.DataFrame, n: int = 8) -> pd.DataFrame:
    """The v1 model's most confident "no tumour" calls on tumour slices it never saw (for the gallery)."""
    kag = set(table.loc[table["collection"] == "brain-tumor-mri", "group"])
    cand = pred[(pred["label"] != config.NO_TUMOUR) & ~pred["group"].isin(kag)]
    return cand.sort_values("p_tumour").drop_duplicates("group").head(n)  # one picture per twin group


def miss_gallery(rows: pd.DataFrame, roots: dict[str, Path]):
    """Prepared images of the rows with their P(tumour), one figure."""
    from ..data.prepare import preprocess
    from . import plots

    imgs = [preprocess(roots[c] / p) for c, p in zip(rows["collection"], rows["path"])]
    titles = [f"{c}\nP(tumour) {pct(v)}" for c, v in zip(rows["collection"], rows["p_tumour"])]
    fig = plots.image_grid(imgs, titles, ncols=min(4, len(imgs)))
    fig.subplots_adjust(top=0.86)  # room for the caller's suptitle above the per-image titles
    return fig


def loco_figure(loco: pd.DataFrame):
    """Sensitivity and specificity per fold and recipe (the seed-42 runs; other seeds are in the table), with the
    CIs as error bars."""
    import matplotlib.pyplot as plt

    loco = loco[loco["seed"] == config.SEED] if "seed" in loco else loco

    folds = [f for f in xc.union_split.FOLDS if f in set(loco["fold"])]
    recipes = list(dict.fromkeys(loco["recipe"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    width = 0.8 / max(1, len(recipes))
    styles = ["//", "", "..", "xx", "\\\\"]
    for ax, metric in zip(axes, ("sensitivity", "specificity")):
        for k, rec in enumerate(recipes):
            sub = loco[loco["recipe"] == rec].set_index("fold")
            vals = [sub[metric].get(f) if f in sub.index else None for f in folds]
            cis = [sub[f"{metric}_ci"].get(f) if f in sub.index else None for f in folds]
            x = np.arange(len(folds)) + (k - (len(recipes) - 1) / 2) * width
            v = np.array([np.nan if a is None else a for a in vals], float)
            err = np.array([[0, 0] if (c is None or a is None) else [a - c[0], c[1] - a] for a, c in zip(vals, cis)]).T
            ax.bar(x, v, width, yerr=err, label=RECIPE_NAMES.get(rec, rec), hatch=styles[k % len(styles)],
                   color=plt.cm.tab10(k), edgecolor="black", linewidth=0.5, capsize=2)
            for xi, vi in zip(x, v):  # a fold without healthy slices (figshare) has no specificity: say so
                if np.isnan(vi):
                    ax.text(xi, 0.03, "n/a", rotation=90, ha="center", va="bottom", fontsize=7, color="grey")
        ax.set_xticks(np.arange(len(folds)), [f"{FOLD_NAMES.get(f, f)}\nheld out" for f in folds])
        ax.set_title(metric.capitalize())
        ax.set_ylim(0, 1.05)
        ax.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    axes[0].set_ylabel("share of the held-out slices")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9, frameon=False)
    fig.tight_layout()
    return fig


def scores_by_seed(loco: pd.DataFrame) -> pd.DataFrame:
    """Primary score per recipe (rows) and seed (columns, 42 first) of the recipes run with two or more seeds;
    an empty frame when every run has one seed."""
    if "seed" not in loco or loco["seed"].nunique() < 2:
        return pd.DataFrame()
    seeds = sorted(set(loco["seed"]), key=lambda sd: (sd != config.SEED, sd))
    t = pd.DataFrame({sd: xc.recipe_scores(loco, sd)["primary"] for sd in seeds})
    t = t[t.notna().sum(axis=1) >= 2]
    return t.reindex([r for r in dict.fromkeys(loco["recipe"]) if r in t.index])  # in the order the runs were made


def seed_markdown(loco: pd.DataFrame | None = None) -> str | None:
    """The primary score per seed of the recipes run with more than one seed (batch 7's addendum 2, batches 8, 9)."""
    t = scores_by_seed(all_loco() if loco is None else loco)
    if t.empty:
        return None
    lines = ["Primary score (mean balanced accuracy on the Br35H and Sartaj folds) per seed. Batch 7 decided on seed "
             "42 alone, batches 8 and 9 on the mean:", "",
             "| recipe | " + " | ".join(f"seed {sd}" for sd in t.columns) + " | mean |",
             "|---|" + "---|" * (len(t.columns) + 1)]
    for recipe, row in t.iterrows():
        lines.append(f"| `{recipe}` | " + " | ".join(pct(_num(v)) for v in row) + f" | {pct(_num(row.mean()))} |")
    return "\n".join(lines)


def gradcam_variants_markdown(name: str | None = None) -> str | None:
    """Batch 7 addendum's table: the pointing game of each Grad-CAM variant of a model (default the shipped one) on
    the validation outlines (which chose) and the test outlines. None before
    experiments/batch7_symmetry/gradcam_variants.py scored it."""
    from ..modeling.explain import variants_file

    res = records.read_json(variants_file(name or config.DEFAULT_MODEL_NAME))
    if not res:
        return None
    target = {"type": "most likely type's logit", "p_tumour": "P(tumour) log-odds"}
    lines = [f"Grad-CAM variants of `{res['model']}` (pointing game; the validation column chose):", "",
             "| explained score | maps | validation | test |", "|---|---|---|---|"]
    for v in res["variants"]:
        chosen = " (chosen)" if {"target": v["target"], "grid": v["grid"]} == res["chosen"] else ""
        maps = "last_conv (4×4)" if v["grid"] is None else f"{v['grid']}×{v['grid']}"
        lines.append(f"| {target.get(v['target'], v['target'])}{chosen} | "
                     f"{maps} | "
                     f"{pct(v['val']['pointing_game'])} (n = {v['val']['n']}) | "
                     f"{pct(v['test']['pointing_game'])} (n = {v['test']['n']}) |")
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _num(v):
    """A metric as a float, or None for a missing one (pandas turns None into NaN in a frame)."""
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def summary_facts(loco: pd.DataFrame, shipped: dict, ch: dict | None) -> dict:
    """The numbers the summary, the conclusions and the README quote about generalisation (one place)."""
    sel = (ch or {}).get("selection", {})
    choice = sel.get("final_choice") or sel.get("batch4_choice")
    loco = loco[loco["seed"] == config.SEED] if "seed" in loco else loco  # the pre-registered runs
    rows = loco[loco["recipe"] == choice] if choice else loco.iloc[0:0]
    old = loco[loco["recipe"] == "old"]
    per = {k: v for k, v in (shipped.get("metrics") or {}).items() if k != "all"}
    return {"recipe": shipped.get("config", {}).get("recipe"), "choice": choice,
            "loco": {r["fold"]: {k: _num(r[k]) for k in ("sensitivity", "specificity", "auc")}
                     for _, r in rows.iterrows()},
            "loco_old": {r["fold"]: {k: _num(r[k]) for k in ("sensitivity", "specificity", "auc")}
                         for _, r in old.iterrows()},
            "per_collection": {k: {m: v[m] for m in ("sensitivity", "specificity", "ece")} for k, v in per.items()},
            "leakfree_accuracy": shipped.get("leakfree_accuracy"),
            "pointing": {k: v["pointing_game"] for k, v in (ch or {}).get("localisation_test", {}).items()}}


def seed_spread(loco: pd.DataFrame) -> str | None:
    """One sentence: how far each recipe run with two seeds moved between them (primary score)."""
    t = scores_by_seed(loco)
    if t.empty:
        return None
    parts = [f"`{recipe}` " + " / ".join(pct(v) for v in row) + f" (seeds {' / '.join(map(str, t.columns))})"
             for recipe, row in t.iterrows()]
    return "the primary score of " + "; ".join(parts) + ". Differences between recipes smaller than these spreads are noise."


def max_seed_spread(loco: pd.DataFrame) -> float | None:
    """The largest change of a recipe's primary score between two seeds, in points (None with one seed)."""
    t = scores_by_seed(loco)
    return None if t.empty else float((t.max(axis=1) - t.min(axis=1)).max() * 100)


def summary_markdown(loco: pd.DataFrame, shipped: dict, ch: dict | None) -> str:
    loco_all = loco
    f = summary_facts(loco, shipped, ch)
    out = []
    for fold, m in f["loco"].items():
        o = f["loco_old"].get(fold, {})
        both = m["specificity"] is not None
        ok = m["sensitivity"] >= 0.9 and (not both or m["specificity"] >= 0.9)
        out.append(f"- **{FOLD_NAMES.get(fold, fold)} never seen** (`{f['choice']}`): sensitivity {fmt('sensitivity', m['sensitivity'])}"
                   + (f", specificity {fmt('specificity', m['specificity'])}" if both else "")
                   + f" (old recipe: {fmt('sensitivity', o.get('sensitivity'))}"
                   + (f", {fmt('specificity', o.get('specificity'))}" if both else "") + f"). Target 90/90: {_met(ok)}.")
    spread = seed_spread(loco_all)
    if spread:
        out.append(f"- **One seed is not enough to rank recipes**: {spread}")
    for col, m in f["per_collection"].items():
        sens = ("n/a (no tumours)" if m["sensitivity"] is None else
                f"{fmt('sensitivity', m['sensitivity'])} (target 95%: {_met(m['sensitivity'] >= 0.95)})")
        out.append(f"- Shipped model, held-out groups of **{col}**: sensitivity {sens}, specificity "
                   f"{fmt('specificity', m['specificity'])}, ECE {fmt('ece', m['ece'])} (target 2%: {_met(m['ece'] <= 0.02)}).")
    if f["leakfree_accuracy"] is not None:
        out.append(f"- In-dataset 4-class accuracy on the leak-free test images: {fmt('accuracy', f['leakfree_accuracy'])} "
                   f"(target 97%: {_met(f['leakfree_accuracy'] >= 0.97)}).")
    for name, v in f["pointing"].items():
        out.append(f"- Grad-CAM pointing game of `{name}` on held-out outlined Br35H slices: {pct(v)} "
                   f"(target 80%: {_met(v is not None and v >= 0.8)}).")
    return "\n".join(out)


def model_card(name: str = config.DEFAULT_MODEL_NAME) -> str | None:
    """models/<name>/MODEL_CARD.md of the shipped cross-collection model, every number from its record, the batch
    records and the chapter's file. None when the model has no record."""
    from ..formatting import duration

    rec = records.read(config.MODELS_DIR, name)
    if not rec or rec.get("config", {}).get("split") != "union":
        return None
    from . import batch12, healthy_variety
    from .shipped import shipped_here

    if shipped_here(name):  # chosen by a deciding batch (15, 19 or 20): batch 12's card with that batch's numbers
        return batch12.model_card(name)
    if rec["config"].get("recipe") in healthy_variety.hv.RECIPES10:  # batch 10's models: their own card
        return healthy_variety.model_card(name)

    if rec["config"].get("recipe") in batch12.CARD_RECIPES:  # batches 11-12: theirs
        return batch12.model_card(name)
    cfg, data = rec["config"], rec["data"]
    loco = all_loco()
    mine = loco[loco["recipe"] == cfg["recipe"]]
    ch = chapter() or {}
    counts = "; ".join(f"{k} {v:,}" for k, v in sorted(data.get("train_counts", {}).items()))
    w = rec.get("warnings", {})
    out = [f"# Model card: `{name}`", "",
           "Brain MRI slice → calibrated probabilities of glioma, meningioma, no tumour and pituitary tumour, and "
           "P(tumour) = their three tumour classes summed. "
           + ("The model `brain-mri predict` and the dashboard use. " if name == config.DEFAULT_MODEL_NAME else
              f"No longer the shipped model: `{config.DEFAULT_MODEL_NAME}` replaced it (see its card). ")
           + "A research artefact, not a medical device: it has never been validated on patients.", "",
           "## Training", "",
           f"Recipe `{cfg['recipe']}` ({PLANS.get(cfg['recipe'], 'experiments/batch4_cross_collection/PLAN.md')}): "
           f"`{cfg['arch']}` width "
           f"{cfg['model_kwargs']['width']}, {cfg['img_size']} px, {rec['epochs_run']} epochs, batch {cfg['batch_size']}, "
           f"AdamW {cfg['lr']} with cosine decay, label smoothing {cfg['label_smoothing']}, seed {cfg['seed']}; "
           f"{rec['params']:,} parameters; {duration(rec['train_wall_s'])} on this 2-core CPU "
           f"({rec['train_images_per_s']:.0f} images/s).",
           f"Data: the union split of the three collections (`data/splits/union.csv`, sha256 "
           f"`{data['split_sha256'][:12]}`), training groups only: {counts}. Br35H tumour slices carry no type and "
           "train through −log P(tumour) (partial labels). Temperature "
           f"{rec['temperature']:.3f}, fitted on the {data['n_val']:,} validation slices.", "",
           "## Results on pictures it never saw", "",
           "Test groups of the union split (no twin of any of them in training), per collection:", "",
           per_collection_markdown({k: v for k, v in rec.get("metrics", {}).items() if k != "all"}), "",
           f"4-class accuracy on the Kaggle set's leak-free test images (chapters 03-04's test set): "
           f"{fmt('accuracy', rec.get('leakfree_accuracy'))}.", "",
           "**On a collection nobody has shown it** (leave one source out, the same recipe trained without it):", "",
           loco_markdown(mine) if len(mine) else "(no LOCO records)", "",
           "These are the numbers to expect on a new collection, not the in-dataset ones above."
           + (f" One seed is not enough to rank recipes: {seed_spread(loco)}" if seed_spread(loco) else ""), "",
           "## Warnings the predictions carry", "",
           f"An \"unfamiliar scan\" warning when a slice's feature-space distance to the training collections exceeds "
           f"the 99th percentile of validation slices. On the union test split it fires on {pct(w.get('warned'))} of "
           f"slices; {w.get('missed_unwarned', 'n/a')} of its {w.get('missed', 'n/a')} missed tumours carried none. "
           "In the dashboard no verdict is given for colour pictures, for pictures the pixel checks find unlike any "
           "MRI slice (no black background round a head, unusual intensities), or for pictures farther than any "
           "held-out MRI slice.", ""]
    loc = ch.get("localisation_test", {})
    if loc:
        out += ["## Where it looks", "",
                "Grad-CAM pointing game on the outlined Br35H slices of the test split: "
                + "; ".join(f"`{k}` {pct(v['pointing_game'])} (heat inside the outline {pct(v['heat_inside'])}, "
                            f"n = {v['n']})" for k, v in loc.items()) + ".", ""]
    out += ["## Limitations", "",
            "- Healthy slices come from two sources (Br35H, Sartaj): a healthy slice from another scanner or sequence "
            "is the case the LOCO table shows failing most.",
            "- Tumour types outside the four classes (metastases, schwannomas, ...) are not in training; P(tumour) is "
            "the quantity to read for them, never the type.",
            "- 2-D slices at 128 px; one slice says nothing about the rest of the scan.", "",
            f"Reproduce: `{rec.get('command', '')}` (needs the three collections; `make data`)."]
    return "\n".join(out) + "\n"


def write_model_cards() -> list[Path]:
    """The cards of every cross-collection model in models/ (the shipped one and those it replaced): they quote the
    same chapter, so they are rewritten together."""
    names = sorted(p.parent.name for p in config.MODELS_DIR.glob(f"*/{records.RECORD}"))
    return [p for p in (write_model_card(n) for n in names) if p is not None]


def write_model_card(name: str = config.DEFAULT_MODEL_NAME) -> Path | None:
    text = model_card(name)
    if text is None:
        return None
    path = records.files(config.MODELS_DIR, name).record.with_name(records.CARD)
    path.write_text(text)
    return path


def readme_lines() -> list[str]:
    """The README's first-screen bullets on unseen collections: the shipped model, what the leave-one-collection-out
    estimate says to expect on a new collection, and the in-dataset number beside it. [] without the records."""
    shipped = records.read(config.MODELS_DIR, config.DEFAULT_MODEL_NAME)
    from . import healthy_variety

    from . import batch12
    from .shipped import shipped_here

    if shipped_here():  # a deciding batch (15, 19 or 20) chose it: its block
        return batch12.readme_lines()
    if shipped and shipped.get("config", {}).get("recipe") in healthy_variety.hv.RECIPES10:
        return healthy_variety.readme_lines()

    if shipped and shipped.get("config", {}).get("recipe") in batch12.CARD_RECIPES:
        return batch12.readme_lines()
    loco = all_loco()
    if not shipped or not shipped.get("metrics") or not len(loco):
        return []
    f = summary_facts(loco, shipped, chapter())
    lines = [f"The shipped model `{config.DEFAULT_MODEL_NAME}` (`brain-mri predict`, the dashboard) trains on all three "
             "collections; on their held-out groups it finds " + ", ".join(f"{fmt('sensitivity', m['sensitivity'])} of {c} tumours"
                                              for c, m in f["per_collection"].items()) + "."]
    parts = []
    for fold, m in f["loco"].items():
        s = f"{FOLD_NAMES.get(fold, fold)}: sensitivity {fmt('sensitivity', m['sensitivity'])}"
        if m["specificity"] is not None:
            s += f", specificity {fmt('specificity', m['specificity'])}"
        parts.append(s)
    if parts:
        spread = max_seed_spread(loco)
        lines.append("On a collection it never saw, **expect much less** (leave one collection out, same recipe): "
                     + "; ".join(parts)
                     + (f" (one training run; with another seed a recipe's score moved by up to {spread:.1f} points)"
                        if spread is not None else "")
                     + ". Read P(tumour) as a screening aid on familiar scans only; the "
                     "\"unfamiliar scan\" warning flags the others.")
    if f["leakfree_accuracy"] is not None:
        lines.append(f"In-dataset (Kaggle leak-free test) 4-class accuracy: {fmt('accuracy', f['leakfree_accuracy'])}.")
    return lines


def results_markdown() -> str:
    """RESULTS.md of batches 4 and 5: every run, the scores and the selection, from the records."""
    loco4 = xc.loco_frame(xc.read_batch(xc.BATCH4))
    loco5 = xc.loco_frame(xc.read_batch(xc.BATCH5))
    loco7 = xc.loco_frame(xc.read_batch(xc.BATCH7))
    loco8 = xc.loco_frame(xc.read_batch(xc.BATCH8))
    loco9 = xc.loco_frame(xc.read_batch(xc.BATCH9))
    ch = chapter() or {}
    s = ch.get("selection", {})
    out = ["# Batches 4, 5, 7, 8 and 9: results (written by `brain-mri cross-collection` from the run records)", "",
           "Plans: `experiments/batch4_cross_collection/PLAN.md` (with its amendment), "
           "`experiments/batch5_lesion_synthesis/PLAN.md` (with its addendum), "
           "`experiments/batch7_symmetry/PLAN.md`, `experiments/batch8_asymmetry_only/PLAN.md`, "
           "`experiments/batch9_ensembles/PLAN.md`.", "",
           "## Every leave-one-source-out run", "",
           loco_markdown(pd.concat([loco4, loco5, loco7, loco8, loco9], ignore_index=True)), ""]
    if s:
        scores = pd.DataFrame(s.get("scores", []) + s.get("scores7", []))
        if len(scores):
            out += ["## Scores", "", "| recipe | primary (mean balanced accuracy, Br35H and Sartaj folds) | "
                    "figshare-fold sensitivity |", "|---|---|---|"]
            out += [f"| `{r['recipe']}` | {pct(r['primary'])} | {pct(r['secondary'])} |" for _, r in scores.iterrows()]
            out.append("")
        out += ["## Selection", "", *[f"- {n}" for n in s.get("batch4_notes", [])],
                f"- Chosen (amended rule): `{s.get('batch4_choice')}`. The rule as first written: "
                f"`{s.get('rule_as_written_choice')}`.", *([f"- {s['synthesis_note']}."] if "synthesis_note" in s else []),
                "- `multi_synth` (the addendum's two runs) was not run: synthesis was not kept, so it would not ship.",
                *([f"- Batch 7: {s['symmetry_note']}."] if "symmetry_note" in s else []),
                *([f"- Batch 8: {s['asymmetry_only_note']}."] if "asymmetry_only_note" in s else []),
                *([f"- Batch 9: {s['ensemble_note']}."] if "ensemble_note" in s else []),
                *(["", seed_markdown(), ""] if seed_markdown() else []),
                f"- Shipped recipe: `{s.get('final_choice', s.get('batch4_choice'))}`.", ""]
    return "\n".join(out) + "\n"


def cli_cross_collection(args) -> int:
    """`brain-mri cross-collection`: recompute the chapter's file, then RESULTS.md and the shipped model's card."""
    import sys

    from ..data import collections as cx

    if "brain-tumor-mri" not in cx.available():
        print(f"error: {cx.missing_message('brain-tumor-mri')}", file=sys.stderr)
        return 1
    res = xc.compute_chapter(args.v1, args.model)
    (xc.BATCH4 / "RESULTS.md").write_text(results_markdown())
    cards = write_model_cards()
    print(f"wrote experiments/batch4_cross_collection/chapter.json ({len(res)} sections), RESULTS.md"
          + "".join(f", {c.relative_to(config.PROJ_ROOT).as_posix()}" for c in cards))
    return 0
