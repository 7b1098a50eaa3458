"""Batch 10 (healthy variety) in words: RESULTS.md, the chapter's tables and figure, the card of a batch-10 model,
the conclusions' and README's lines. Everything here reads the results file that `brain-mri healthy-variety`
computes (reporting.batch10) and the records, so the report prints the same numbers everywhere."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..evaluation import healthy_variety as hv
from ..formatting import pct
from .batch10 import results
from .tables import per_collection_markdown

SOURCE_NAMES = {"br35h": "Br35H", "sartaj": "Sartaj", "figshare": "figshare", "ixi-t2": "IXI T2",
                "open-ms": "open-ms", "niivue": "niivue", "ms-flair-iran": "MS FLAIR (Iran)", "dwi": "DWI"}
RECIPE_NAMES = {"he_sym": "healthy-extra in training (control)",
                "he_bo_inv": "+ look-balanced brain-only aug. + inversion",
                "he_bo_inv_bal": "+ collection-balanced weights"}


def pct_or_na(v, digits: int = 1) -> str:
    """pct, with "n/a" for None and NaN too."""
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else pct(v, digits)


_f = pct_or_na


# ------------------------------------------------------------------------------------------------ computing
def loco_markdown(res: dict, recipe: str | None = None, names: dict[str, str] | None = None) -> str:
    """Per held-out source and view, mean over seeds (each seed's score, balanced accuracy over the labels the
    source holds, beside it). `names`: recipe -> its name in the table, in table order (default: batch 10's)."""
    names = names or RECIPE_NAMES
    rank = list(names)
    loco = pd.DataFrame(res.get("loco", []))
    if loco.empty:
        return "(no batch-10 runs yet)"
    if recipe:
        loco = loco[loco["recipe"] == recipe]
    lines = ["| recipe | held out | view | tumour / healthy | sensitivity | specificity | ROC-AUC | score by seed |",
             "|---|---|---|---|---|---|---|---|"]
    order = {s: k for k, s in enumerate(union_split.FOLDS)}
    for (r, s, v), g in sorted(loco.groupby(["recipe", "source", "view"]),
                               key=lambda kv: (rank.index(kv[0][0]) if kv[0][0] in rank else 99,
                                               order.get(kv[0][1], 99), kv[0][2] != "plain")):
        sens = g["sensitivity"].dropna()
        spec = g["specificity"].dropna()
        auc = g["auc"].dropna()
        per = ", ".join(f"{int(sd)}: {_f(x)}" for sd, x in sorted(zip(g["seed"], g["score"]), key=lambda t: -t[0]))
        lines.append(f"| {names.get(r, r)} | {SOURCE_NAMES.get(s, s)} | {v} | {int(g['n_tumour'].iloc[0]):,} / "
                     f"{int(g['n_healthy'].iloc[0]):,} | {_f(sens.mean() if len(sens) else None)} | "
                     f"{_f(spec.mean() if len(spec) else None)} | "
                     f"{'n/a' if not len(auc) else f'{auc.mean():.3f}'} | {per} |")
    return "\n".join(lines)


def scores_markdown(res: dict, names: dict[str, str] | None = None) -> str:
    s = pd.DataFrame(res.get("scores", []))
    if s.empty:
        return "(no scores yet)"
    lines = ["| recipe | primary score (16 numbers, mean of complete seeds) | per seed | complete seeds |",
             "|---|---|---|---|"]
    for _, r in s.iterrows():
        per = ", ".join(f"seed {k}: {_f(v)}" for k, v in r["per_seed"].items())
        lines.append(f"| `{r['recipe']}` {(names or RECIPE_NAMES).get(r['recipe'], '')} | {_f(r['primary'])} | {per} | "
                     f"{', '.join(map(str, r['seeds'])) or 'none'} |")
    return "\n".join(lines)


def floors_markdown(items: list[dict]) -> str:
    if not items:
        return "(no floors evaluated yet)"
    lines = ["| floor | value | target | met |", "|---|---|---|---|"]
    for f in items:
        pts = "points" in f["floor"]
        v = "n/a" if f["value"] is None else (f"{f['value']:.1f}" if pts else _f(f["value"]))
        t = f"≤ {f['target']:.0f}" if pts else f"≥ {_f(f['target'], 0)}"
        lines.append(f"| {f['floor']} | {v} | {t} | {'n/a' if f['met'] is None else ('yes' if f['met'] else '**no**')} |")
    return "\n".join(lines)


def shipped_floors(res: dict) -> list[dict]:
    """Issue 21's floors on the shipped model's union test groups, from the results file."""
    u = (res.get("union") or {}).get(res.get("shipped") or "")
    if not u:
        return []
    out = []

    def add(what, value, target, ge=True):
        ok = None if value is None else bool(value >= target if ge else value <= target)
        out.append({"floor": what, "value": value, "target": target, "met": ok, "ge": ge})

    for col, m in u["metrics"].items():
        if col == "all":
            continue
        if m["n_tumour"]:
            add(f"{col}: sensitivity", m["sensitivity"], 0.95)
        if m["n_healthy"]:
            add(f"{col}: specificity", m["specificity"], 0.95 if col == "healthy-extra" else 0.90)
        add(f"{col}: ECE", m["ece"], 0.03, ge=False)
    add("Kaggle leak-free 4-class accuracy", u["leakfree_accuracy"], 0.93)
    add("Kaggle leak-free tumour sensitivity", u["leakfree_tumour_sensitivity"], 0.98)
    return out


def shipped_floors_markdown(res: dict) -> str:
    items = shipped_floors(res)
    if not items:
        return "(no shipped batch-10 model yet)"
    lines = ["| floor (union test groups) | value | target | met |", "|---|---|---|---|"]
    for f in items:
        lines.append(f"| {f['floor']} | {_f(f['value'])} | {'≥' if f['ge'] else '≤'} {_f(f['target'], 0)} | "
                     f"{'n/a' if f['met'] is None else ('yes' if f['met'] else '**no**')} |")
    return "\n".join(lines)


def warning_markdown(res: dict) -> str:
    w = (res.get("warning") or {})
    c = w.get("choice")
    rows = pd.DataFrame(w.get("rows", []))
    if not c or rows.empty:
        return "(the warning has not been chosen yet)"
    t = rows.groupby(["seed", "quantile", "margin"])[["missed", "missed_flagged"]].sum().reset_index()
    piv = t.assign(share=t["missed_flagged"] / t["missed"].clip(lower=1))
    lines = ["Share of held-out missed tumours flagged (plain and brain-only views together) and share of familiar "
             "slices flagged (union validation / test of the shipped model), per candidate:", "",
             "| quantile | margin (logits) | fires on familiar val / test | missed flagged, seed 42 | other seeds |",
             "|---|---|---|---|---|"]
    for (q, m), g in piv.groupby(["quantile", "margin"]):
        key = hv.warning_key(q, m)
        s42 = g[g["seed"] == config.SEED]
        oth = g[g["seed"] != config.SEED]
        fmt = lambda d: ("n/a" if d.empty else f"{int(d['missed_flagged'].sum())} of {int(d['missed'].sum())}")  # noqa: E731
        lines.append(f"| {q:.2f} | {m:g} | {_f(w.get('familiar_firing_val', {}).get(key))} / "
                     f"{_f(w.get('familiar_firing', {}).get(key))} | {fmt(s42)} | {fmt(oth)} |")
    share = c.get("test_share")
    lines += ["", f"Chosen on seed {c['chosen_on_seed']}: quantile {c['quantile']:.2f}, margin {c['margin']:g} logits "
              f"(fires on {_f(c['familiar_firing_val'])} of familiar validation slices, {_f(c.get('familiar_firing'))} "
              f"of familiar test slices; flags {_f(c['chosen_share_missed_flagged'])} of that seed's held-out missed "
              f"tumours). Tested on the other seed: {c['test_missed_flagged']} of {c['test_missed']} missed tumours "
              f"flagged ({_f(share)}; floor 50%: {'met' if share is not None and share >= 0.5 else '**not met**'})."]
    return "\n".join(lines)


def union_markdown(u: dict) -> str:
    lines = [f"`{u['name']}`, tumour call at P(tumour) ≥ {u['threshold']:.2f}:", "",
             per_collection_markdown({k: v for k, v in u["metrics"].items() if k != "all"}), "",
             f"Kaggle leak-free test ({u['leakfree_n']:,} images, union split v2): 4-class accuracy "
             f"{_f(u['leakfree_accuracy'])}, tumour sensitivity {_f(u['leakfree_tumour_sensitivity'])}.",
             "Healthy-extra test groups per source: " + "; ".join(
                 f"{SOURCE_NAMES.get(s, s)} {_f(v['specificity'])} specificity (n = {v['n']})"
                 for s, v in u["healthy_extra_sources"].items()) + "."]
    return "\n".join(lines)


def old_model_markdown(res: dict) -> str:
    o = res.get("old_model_on_healthy_extra")
    if not o:
        return "(not measured: needs the data)"
    lines = [f"`{o['name']}` (shipped before batch 10, never saw healthy-extra): specificity per source at its "
             f"dashboard's call threshold {o['screening_threshold']:.3f} (and at 0.5):", ""]
    lines += [f"- {SOURCE_NAMES.get(s, s)} (n = {v['n']:,}): {_f(v['specificity_at_screening'])} "
              f"({_f(v['specificity_at_0.5'])})" for s, v in o["sources"].items()]
    return "\n".join(lines)


def results_markdown(res: dict | None = None) -> str:
    res = res or results() or {}
    sp = res.get("split") or {}
    out = ["# Batch 10: healthy variety — results (written by `brain-mri healthy-variety` from the run records)", "",
           "Plan: `experiments/batch10_healthy_variety/PLAN.md` (with its two amendments).", "",
           "## Union split v2", ""]
    if sp:
        out += [f"Leak-free test pictures moved out of test by patient-level linking (whole-image cosine > "
                f"{sp['adjacent_threshold']}): {sp['moved']}. Test pictures left with a train/val neighbour above it: "
                f"{sp['adjacent_leaks']}. Split sha256 `{sp['sha256'][:12]}`.", ""]
    out += ["## Every run: held-out sources, plain and brain-only view (each run's own operating point)", "",
            loco_markdown(res), "", "## Scores and decision", "", scores_markdown(res), "",
            f"Decision: **`{res.get('choice')}`**. {res.get('decision', '')}", "",
            "## LOCO floors (chosen recipe, mean of seeds)", "", floors_markdown(res.get("floors_loco", [])), "",
            "## Union models of the chosen recipe (amendment 2: the higher validation score ships)", ""]
    for c in res.get("candidates", []):
        out.append(f"- `{c['name']}` ({c['recipe']}, {c['epochs']} epochs): validation equal-weight score "
                   f"{_f(c['val_score'])}, call threshold {c['threshold']:.2f}"
                   + (" — **shipped**" if c["name"] == res.get("shipped") else ""))
    out.append("")
    for name, u in (res.get("union") or {}).items():
        if u:
            out += [union_markdown(u), ""]
    out += ["## Shipped model floors", "", shipped_floors_markdown(res), "",
            "## The unfamiliar-scan warning", "", warning_markdown(res), "",
            "## The model shipped before, on healthy-extra", "", old_model_markdown(res), ""]
    return "\n".join(out) + "\n"


def cli_healthy_variety(args) -> int:
    """`brain-mri healthy-variety`: results.json and RESULTS.md of batch 10 (and the model cards)."""
    from .batch10 import compute

    res = compute(with_models=not getattr(args, "records_only", False))
    records.write_json(res, hv.RESULTS)
    (hv.BATCH10 / "RESULTS.md").write_text(results_markdown(res))
    print(f"wrote {hv.RESULTS.relative_to(config.PROJ_ROOT).as_posix()} and RESULTS.md: choice {res['choice']}, "
          f"shipped candidate {res['shipped']}")
    return 0


def loco_figure(res: dict):
    """Score per held-out source (balanced accuracy over the labels it holds), plain and brain-only view, one bar
    group per recipe (mean of seeds, the seeds as dots)."""
    import matplotlib.pyplot as plt

    loco = pd.DataFrame(res.get("loco", []))
    if loco.empty:
        return None
    sources = [s for s in union_split.FOLDS if s in set(loco["source"])]
    recipes = [r for r in hv.RECIPES10 if r in set(loco["recipe"])]
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
    width = 0.8 / max(1, len(recipes))
    for ax, view in zip(axes, ("plain", "brain-only")):
        for k, r in enumerate(recipes):
            g = loco[(loco["recipe"] == r) & (loco["view"] == view)]
            x = np.arange(len(sources)) + (k - (len(recipes) - 1) / 2) * width
            m = [g.loc[g["source"] == s, "score"].mean() for s in sources]
            ax.bar(x, m, width, color=plt.cm.tab10(k), edgecolor="black", linewidth=0.5,
                   label=RECIPE_NAMES.get(r, r))
            for xi, s in zip(x, sources):
                v = g.loc[g["source"] == s, "score"].to_numpy(float)
                ax.plot([xi] * len(v), v, "k.", markersize=3)
        ax.set_xticks(np.arange(len(sources)), [SOURCE_NAMES.get(s, s) for s in sources], rotation=30, ha="right")
        ax.set_title(f"{view} view of the held-out slices")
        ax.set_ylim(0, 1.05)
        ax.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    axes[0].set_ylabel("balanced accuracy at the run's\noperating point (held-out source)")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9, frameon=False)
    fig.tight_layout()
    return fig


def model_card(name: str) -> str | None:
    """MODEL_CARD.md of a batch-10 union model: every number from its record and the batch's results file."""
    from ..formatting import duration

    rec = records.read(config.MODELS_DIR, name)
    if not rec or rec.get("config", {}).get("recipe") not in hv.RECIPES10:
        return None
    res = results() or {}
    cfg, data = rec["config"], rec["data"]
    u = (res.get("union") or {}).get(name) or {}
    op = rec.get("operating_point") or {}
    w = (res.get("warning") or {}).get("choice") or {}
    counts = "; ".join(f"{k} {v:,}" for k, v in sorted(data.get("train_counts", {}).items()))
    shipped = name == config.DEFAULT_MODEL_NAME
    out = [f"# Model card: `{name}`", "",
           "Brain MRI slice → calibrated probabilities of glioma, meningioma, no tumour and pituitary tumour, and "
           "P(tumour) = their three tumour classes summed. "
           + ("The model `brain-mri predict` and the dashboard use. " if shipped else
              f"Not the shipped model (`{config.DEFAULT_MODEL_NAME}` is). ")
           + "A research artefact, not a medical device: it has never been validated on patients.", "",
           "## Training", "",
           f"Recipe `{cfg['recipe']}` ({RECIPE_NAMES.get(cfg['recipe'], '')}; "
           "`experiments/batch10_healthy_variety/PLAN.md`): "
           f"`{cfg['arch']}` width {cfg['model_kwargs']['width']} with the asymmetry channel, {cfg['img_size']} px, "
           f"{rec['epochs_run']} epochs, batch {cfg['batch_size']}, AdamW {cfg['lr']} cosine, label smoothing "
           f"{cfg['label_smoothing']}, seed {cfg['seed']}; {rec['params']:,} parameters; "
           f"{duration(rec['train_wall_s'])} on a 2-core CPU.",
           f"Data: union split v2 of the four collections (`data/splits/union.csv`, sha256 "
           f"`{data['split_sha256'][:12]}`), training groups only: {counts}."
           + (f" Brain-only augmentation probability per slice: tumour {data['brain_only_p']['tumour']}, "
              f"healthy with skull {data['brain_only_p']['healthy']} (the brain-only look equally common "
              f"in both labels); contrast inversion inside the head p {cfg.get('invert')}."
              if data.get("brain_only_p") else ""),
           f"Operating point ({op.get('chosen_on', 'n/a')}): temperature {op.get('temperature', float('nan')):.3f}, "
           f"**tumour call at P(tumour) ≥ {op.get('threshold', float('nan')):.2f}**.", "",
           "## Results on pictures it never saw", ""]
    if u:
        out += [union_markdown(u), ""]
    out += ["**On a collection nobody has shown it** (batch 10's LOCO runs of the same recipe, 10 epochs, each held-out "
            "source scored at the run's own operating point; the numbers to expect on a new collection):", "",
            loco_markdown(res, cfg["recipe"]), "", "## Warnings the predictions carry", ""]
    if w:
        out.append(f"An \"unfamiliar scan\" warning when a slice's feature-space distance to the training classes "
                   f"exceeds the {w['quantile']:.0%} quantile of validation slices, and the call \"uncertain\" when "
                   f"P(tumour) lies within {w['margin']:g} logits of the call threshold (both chosen on the LOCO folds "
                   f"of seed {w['chosen_on_seed']}): together they flag {_f(w.get('familiar_firing'))} of the union test "
                   f"slices and, on the other seed's held-out collections, {w['test_missed_flagged']} of "
                   f"{w['test_missed']} missed tumours ({_f(w.get('test_share'))}).")
    out += ["No verdict is given for colour pictures, for pictures the pixel checks find unlike any MRI slice, or for "
            "pictures farther from the training slices than any held-out MRI slice came.", "",
            "## What it lacks", "",
            "- Tumour types outside the four classes (metastases, schwannomas, ...) are not in training; read P(tumour) "
            "for them, never the type.",
            "- Some looks still belong to one label: diffusion-weighted (DWI) slices are all healthy in training.",
            "- 2-D slices at 128 px; one slice says nothing about the rest of the scan.", "",
            f"Reproduce: `{rec.get('command', '')}` (needs the four collections; `make data`)."]
    return "\n".join(out) + "\n"


def summary_lines(res: dict | None = None) -> list[str]:
    """Short bullets for the conclusions and the README: what batch 10 chose, what the shipped model meets, what
    a new collection should expect. [] without results."""
    res = res or results()
    if not res or not res.get("choice"):
        return []
    out = [f"Batch 10 (healthy variety) chose `{res['choice']}` ({RECIPE_NAMES.get(res['choice'], '')}): "
           f"{res['decision']}."]
    fl = res.get("floors_loco", [])
    if fl:
        met = [f for f in fl if f["met"]]
        miss = [f["floor"] for f in fl if f["met"] is False]
        out.append(f"Leave-sources-out floors (the estimate for a new collection): {len(met)} of {len(fl)} met"
                   + (f"; not met: {', '.join(miss)}" if miss else "") + ".")
    sf = shipped_floors(res)
    if sf:
        miss = [f["floor"] for f in sf if f["met"] is False]
        out.append(f"Batch 10's model `{res.get('shipped')}` on the union test groups: {sum(bool(f['met']) for f in sf)} "
                   f"of {len(sf)} floors met" + (f"; not met: {', '.join(miss)}" if miss else "") + ".")
    w = (res.get("warning") or {}).get("choice")
    if w:
        out.append(f"The unfamiliar-scan warning with the uncertain band (validation quantile {w['quantile']:.2f}, "
                   f"margin {w['margin']:g} logits) flagged "
                   f"{w['test_missed_flagged']} of {w['test_missed']} missed tumours on held-out collections "
                   f"({_f(w.get('test_share'))}) while firing on {_f(w['familiar_firing'])} of familiar test slices.")
    return out


def readme_lines(res: dict | None = None) -> list[str]:
    """The README's first-screen bullets when the shipped model is a batch-10 model: its union test numbers at its
    call threshold, and the leave-sources-out estimate (mean of seeds) for a new collection."""
    res = res or results()
    name = config.DEFAULT_MODEL_NAME
    u = ((res or {}).get("union") or {}).get(name)
    if not res or not u:
        return []
    per = {k: v for k, v in u["metrics"].items() if k != "all"}
    lines = [f"The shipped model `{name}` (`brain-mri predict`, the dashboard) trains on all {len(per)} collections, "
             f"healthy-extra's tumour-free slices of every plane, level and sequence among them; calling tumour at "
             f"P(tumour) ≥ {u['threshold']:.2f} (chosen on validation with every collection weighted equally), on their "
             "held-out groups it finds " + ", ".join(f"{_f(m['sensitivity'])} of {c} tumours" for c, m in per.items()
                                                    if m["n_tumour"])
             + " and calls " + ", ".join(f"{_f(m['specificity'])} of {c} healthy slices healthy" for c, m in per.items()
                                          if m["n_healthy"]) + "."]
    loco = pd.DataFrame(res.get("loco", []))
    if res.get("choice") and len(loco):
        g = loco[(loco["recipe"] == res["choice"]) & (loco["view"] == "plain")].groupby("source")[
            ["sensitivity", "specificity"]].mean()
        parts = []
        for s in union_split.FOLDS:
            if s in g.index:
                m = g.loc[s]
                bits = [f"sensitivity {_f(m['sensitivity'])}" if not pd.isna(m["sensitivity"]) else None,
                        f"specificity {_f(m['specificity'])}" if not pd.isna(m["specificity"]) else None]
                parts.append(f"{SOURCE_NAMES.get(s, s)}: " + ", ".join(b for b in bits if b))
        lines.append("On a collection it never saw, **expect less** (leave sources out, the same recipe, mean of "
                     f"{loco.loc[loco['recipe'] == res['choice'], 'seed'].nunique()} seeds): " + "; ".join(parts)
                     + "." + (f" The \"unfamiliar scan\" warning and the uncertain band flagged "
                              f"{_f(w.get('test_share'))} of the missed tumours there (chapter 05, section 7)."
                              if (w := (res.get("warning") or {}).get("choice")) else ""))
    if u.get("leakfree_accuracy") is not None:
        lines.append(f"In-dataset (Kaggle leak-free test, {u['leakfree_n']:,} images of union split v2) 4-class "
                     f"accuracy: {_f(u['leakfree_accuracy'])}; tumour sensitivity {_f(u['leakfree_tumour_sensitivity'])}.")
    return lines
