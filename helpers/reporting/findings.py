"""The report's prose with numbers: findings, notes under tables and the headline facts, filled from the records.

The numbered findings of notebook 05 are Markdown templates (templates/findings.md) whose fields are filled here.
"""
from __future__ import annotations

import re
from pathlib import Path

from .. import records
from ..formatting import auc, duration, fmt_metric, metric, pct, threshold, value
from ..records import trained_on
from .context import RunContext
from .runs import MODEL_NAMES, capstone_gaps, member_records, predictions, profile_misses
from .tables import missed_tumours



def architecture_markdown(meta: dict, model_dir: Path) -> str:
    """One line on what the loaded model is: a single network, or an ensemble and its members."""
    c = meta.get("config") or {}
    if meta.get("members"):
        mems = "; ".join(f"`{m['name']}` (seed {(m.get('config') or {}).get('seed')}, {m.get('epochs_run')} epochs"
                         + (f", val accuracy {m['val_accuracy']:.1%}" if isinstance(m.get("val_accuracy"), float) else "")
                         + ")" for m in meta["members"])
        return (f"`{meta['name']}` is an **ensemble**: the mean logits of {len(meta['members'])} networks trained "
                f"with the same recipe and different seeds — {mems} — merged into one model of {meta['params']:,} "
                f"parameters by `brain-mri ensemble` (the members' feature maps are concatenated as `last_conv`, so "
                f"Grad-CAM explains the whole ensemble).")
    from .recipes import net_label
    kw = c.get("model_kwargs") or {}
    arch = str(meta.get("arch"))
    label = f"`{arch}`" + net_label({"arch": arch, **c})[len(arch):]  # "`resnet_small` (width 32, ...)"
    aug = (", augmentation by one resampling (`RandomAffineAugment`)" if kw.get("augment_layer") == "affine" else "")
    run = f" (run `{meta['run_name']}`)" if meta.get("run_name") else ""
    return (f"`{meta['name']}`{run}: {label}, {meta.get('params', 0):,} parameters, seed {c.get('seed')}{aug}; "
            f"trained on {trained_on(meta)}.")


def training_notes(records: dict[str, dict | None], model_dir: Path | None = None) -> str:
    """Markdown bullets of each model's training facts (best epoch, final train-val gap, cost), from its record;
    an ensemble's members each get a bullet (their records are read from model_dir)."""
    out = []
    for name, m in records.items():
        if not m:
            out.append(f"* **{MODEL_NAMES.get(name, name)}**: not available in this run.")
            continue
        if m.get("members") and model_dir is not None:
            out.append(f"* **{MODEL_NAMES.get(name, name)}** (`ensemble` of {len(m['members'])}, "
                       f"{m.get('params', 0):,} parameters, {duration(m.get('train_wall_s'))} of training in all):")
            out += ["  " + line for line in training_notes(member_records(m, model_dir)).splitlines()]
            continue
        h = m.get("history", {})
        va = h.get("val_accuracy") or []
        best = int(max(range(len(va)), key=lambda i: va[i])) if va else None
        gap = (h["accuracy"][-1] - va[-1]) if va and h.get("accuracy") else None
        parts = [f"{m.get('params', 0):,} parameters", f"{len(h.get('loss', []))} epochs"]
        if best is not None:
            parts.append(f"best epoch-end validation accuracy in the training log {pct(va[best])} at epoch {best + 1} "
                         "(uncalibrated, before any weight averaging or flip test-time augmentation; the table above "
                         "gives the saved model's)")
        if gap is not None:
            parts.append(f"last-epoch train − validation accuracy {gap:+.1%}")
        parts.append(f"{duration(m.get('train_wall_s'))} of training at {m.get('train_images_per_s', 'n/a')} images/s "
                     f"on {trained_on(m)}")  # the training cost, whether or not the history has train accuracy
        out.append(f"* **{MODEL_NAMES.get(name, name)}** (`{m.get('arch')}`): " + "; ".join(parts) + ".")
    return "\n".join(out)


def inflation_markdown(table: "pd.DataFrame", records: dict[str, dict]) -> str:
    """Bullets: official − leak-free accuracy per model/baseline, and for models trained on the leak-free pool,
    how many official test images they had seen in training (their official figure is contaminated)."""
    lines = []
    order = list(dict.fromkeys(table["model"]))
    w = table.pivot(index="model", columns="test", values="accuracy").reindex(order)
    for model, r in w.iterrows():
        if {"leak-free", "official (leaky)"} <= set(r.index) and r.notna().all():
            lines.append(f"* **{model}**: official {r['official (leaky)']:.1%} vs leak-free {r['leak-free']:.1%} "
                         f"({100 * (r['official (leaky)'] - r['leak-free']):+.1f} points)")
    for name, m in records.items():
        off = (m.get("evaluation") or {}).get("official_test") or {}
        if off.get("n_in_training_split"):
            acc = metric(off, "unseen_subset", "accuracy")
            lines.append(f"* {MODEL_NAMES.get(name, name)}: {off['n_in_training_split']} of the {off['n']} official "
                         f"test images were in its own training/validation data, so its official figure measures "
                         f"memory as well as leakage; on the {off['unseen_subset']['n']} official test images it never "
                         f"saw: {acc}")
    return "\n".join(lines)


def profile_markdown(res: dict, baselines: dict | None) -> str:
    """What the intensity-profile baseline and the misses' ranks say, every number from the records."""
    b = (baselines or {}).get("intensity_only") or {}
    if not b.get("leakfree_test"):
        return "_No intensity-profile baseline recorded._"
    out = [f"A classifier that sees only grey-level histograms (no layout, no anatomy) reaches "
           f"**{metric(b, 'leakfree_test', 'accuracy')}** on the leak-free test split"
           + (f" and {metric(b, 'size512_subset', 'accuracy')} on its 512×512-only subset" if b.get("size512_subset") else "")
           + f" (metadata only: {metric(baselines, 'metadata_only', 'leakfree_test', 'accuracy')}; majority class: "
           f"{metric(baselines, 'majority_class', 'leakfree_test', 'accuracy', ci=False)}): a sign that the classes "
           "differ in how they were acquired, not only in what the slices show."]
    if res and res.get("n_missed"):
        from ..modeling import intensity_profile

        ranks = ", ".join(f"{v:g}" for v in res["missed_rank_percentiles"])
        auc = res.get("auc_low_profile_for_misses")
        grp = (f" ({res['n_missed_groups']} distinct pictures)" if res.get("n_missed_groups") not in (None, res["n_missed"])
               else "")
        fisher = res.get("fisher_p_lowest_vs_rest")
        out.append(
            f"Ranking the {res['n_tumours']} test tumours by that classifier's P(tumour), the model's "
            f"{res['n_missed']} missed tumours{grp} sit at percentiles {ranks} (0 = the most no-tumour-like profile): "
            f"{res['missed_in_lowest']} of {res['n_missed']} in the lowest "
            f"{intensity_profile.stratum_name(res['n_strata'])}, where sensitivity is "
            f"{pct(res['sensitivity_lowest'])} against {pct(res.get('sensitivity_rest'))} in the rest"
            + (f"; AUC {auc:.2f} for telling misses from hits by a low profile P(tumour)" if auc is not None else "")
            + (f"; one-sided Fisher p = {fisher:.1g}, counting images as independent" if fisher is not None else "")
            + ". The missed tumours are slices whose grey levels resemble the no-tumour collection's.")
    elif res:
        out.append(f"The model misses none of the {res['n_tumours']} test tumours, so there is no miss to rank.")
    return " ".join(out)


# ------------------------------------------------------------------------------------------------ conclusions (05)
def eda_facts(ctx: RunContext) -> dict:
    """The EDA numbers notebook 02 saved (<output>/eda.json); recomputed from the (cached) audit if it is missing."""
    rec = records.read_json(ctx.out_dir / "eda.json")
    if rec is not None and bool(rec.get("synthetic")) == ctx.synthetic:
        return rec
    from ..data import audit
    from . import eda
    from ..data.layouts import build_manifest
    from ..data.split import load_split

    m = build_manifest(ctx.root, progress=False)
    a = audit.audit(m, ctx.root, progress=False)
    lf = load_split("leakfree", ctx.root)
    return {"synthetic": ctx.synthetic, "smoke": ctx.smoke, "n_files": int(len(m)),
            "frac_512x512": eda.fingerprint_table(m)["frac_512x512"].to_dict(),
            "n_distinct_sizes": int((m["width"].astype(str) + "x" + m["height"].astype(str)).nunique()),
            "audit": {k: a[k] for k in ("n_images", "n_groups", "exact", "n_label_conflicts")},
            "test_with_train_twin": a["near"]["test_with_train_twin"], "n_official_test": a["near"]["n_test"],
            "leakfree_cross_split_twins": eda.cross_split_twins(lf)}


def _model_summary(m: dict) -> dict:
    ev = m.get("evaluation") or {}
    lf, off, rob = ev.get("leakfree_test") or {}, ev.get("official_test") or {}, ev.get("robustness") or {}
    cal, ab = lf.get("calibration") or {}, lf.get("abstain") or {}

    def blk(*keys):
        cur = ev
        for k in keys:
            cur = cur.get(k) if isinstance(cur, dict) else None
        return cur if isinstance(cur, dict) and "value" in cur else None

    return {
        "arch": m.get("arch"), "params": m.get("params"), "img_size": m.get("img_size"),
        "temperature": m.get("temperature"), "train_wall_s": m.get("train_wall_s"),
        "train_images_per_s": m.get("train_images_per_s"), "evaluated_at": ev.get("evaluated_at"),
        "n_leakfree_test": lf.get("n"),
        "leakfree_accuracy": blk("leakfree_test", "accuracy"),
        "leakfree_macro_f1": blk("leakfree_test", "macro_f1"),
        "tumour_sensitivity": blk("leakfree_test", "tumour", "sensitivity"),
        "tumour_specificity": blk("leakfree_test", "tumour", "specificity"),
        "tumour_roc_auc": blk("leakfree_test", "tumour", "roc_auc"),
        "tumour_threshold": (lf.get("tumour") or {}).get("threshold"),
        "missed_tumours": missed_tumours(m),
        "screening": ({**{k: lf["screening"].get(k) for k in ("threshold", "sensitivity", "specificity", "n_missed",
                                                                "n_tumour")},
                       "target": (ev.get("screening_rule") or {}).get("target_val_sensitivity")}
                      if lf.get("screening") else None),
        "ece_raw": cal.get("ece_raw"), "ece_calibrated": cal.get("ece_calibrated"),
        "abstain": {k: ab.get(k) for k in ("threshold", "coverage", "accuracy", "n_referred")} if ab else None,
        "leakfree_seen_in_training": lf.get("n_in_training_split"),
        "leakfree_unseen_accuracy": (lf.get("unseen_subset") or {}).get("accuracy"),
        "official_accuracy": blk("official_test", "accuracy"),
        "official_seen_in_training": off.get("n_in_training_split"),
        "official_unseen_accuracy": (off.get("unseen_subset") or {}).get("accuracy"),
        "resolution": [{"px": r["px"], "accuracy": value(r, "accuracy")} for r in rob.get("resolution", [])],
        "size512_accuracy": (rob.get("size512_subset") or {}).get("accuracy"),
        "size512_n": (rob.get("size512_subset") or {}).get("n"),
    }


def headline(ctx: RunContext, records: dict[str, dict], baselines: dict | None, eda_rec: dict) -> dict:
    """The report's headline numbers in one JSON-ready dict (written to <output>/summary.json for the README)."""
    from datetime import datetime, timezone

    bl = {}
    for key in ("majority_class", "nearest_class_mean", "metadata_only", "intensity_only"):
        b = (baselines or {}).get(key)
        if b:
            bl[key] = {"leakfree_accuracy": value(b, "leakfree_test", "accuracy"),
                       "official_accuracy": value(b, "official_test", "accuracy"),
                       "size512_accuracy": value(b, "size512_subset", "accuracy")}
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "synthetic": ctx.synthetic, "smoke": ctx.smoke,
        "note": ("SYNTHETIC DEMO DATA: says nothing about real MRI" if ctx.synthetic else
                 "smoke run: subsample and tiny models, not results" if ctx.smoke else
                 "full run on the Kaggle Brain Tumor MRI dataset"),
        "data": {k: eda_rec.get(k) for k in ("n_files", "n_distinct_sizes", "frac_512x512", "test_with_train_twin",
                                             "n_official_test", "leakfree_cross_split_twins")}
                | {"n_groups": (eda_rec.get("audit") or {}).get("n_groups"),
                   "n_label_conflicts": (eda_rec.get("audit") or {}).get("n_label_conflicts"),
                   "exact_duplicates": ((eda_rec.get("audit") or {}).get("exact") or {}).get("n_duplicate_files")},
        "models": {name: _model_summary(m) for name, m in records.items()},
        "baselines": bl,
        "profile_misses": {name: {k: v for k, v in res.items() if k not in ("strata", "missed_files")}
                           for name in records if (res := profile_misses(ctx, name)[0])},
        "capstone_gaps": capstone_gaps(ctx),
        "scan_types": scan_type_summary(ctx),
    }


def scan_type_summary(ctx: RunContext, name: str = "brain_tumor_cnn") -> dict:
    """Per-plane test counts of one model (from the test tags saved with the shipped tagger, when they were made on
    this run's split) and the hand-labelled MRI weighting per class; {} when either does not apply."""
    from ..evaluation import scan_type
    from ..data.split import load_split

    shipped, preds = scan_type.load_shipped(), predictions(ctx, name)
    if shipped is None or preds is None:
        return {}  # checked first: without predictions the split is not built at all
    split_df = load_split("leakfree", ctx.root)
    if shipped["doc"].get("split_sha256") != split_df.attrs.get("sha256"):
        return {}
    try:
        t = scan_type.metrics_by_scan_type(preds, scan_type.shipped_test_tags(), n_boot=200)
    except ValueError:
        return {}
    seq = scan_type.sequence_table(scan_type.read_labels(), split_df)
    return {"model": name, "by_plane": t.to_dict(orient="index"), "sequence": seq.to_dict(orient="index")}


def _screening_text(ours: dict) -> str:
    """The validation-chosen tumour threshold and what it gives on test, or "" when the record has none."""
    sc = ours.get("screening")
    if not sc or sc.get("target") is None:
        return ""
    out = f" The P(tumour) threshold chosen on validation to keep >= {sc['target']:.1%} sensitivity there is {sc['threshold']:.3g}"
    if sc["threshold"] == ours.get("tumour_threshold"):
        return out + " (validation needs no lower one)."
    return (out + f": sensitivity {fmt_metric('sensitivity', sc['sensitivity'])}, specificity {fmt_metric('specificity', sc['specificity'])}, "
            f"{sc['n_missed']} of {sc['n_tumour']} missed.")


def _ci_text(b: dict | None, digits: int = 1) -> str:
    return metric(b, fmt=f"{{:.{digits}%}}") if b else "n/a"


def _official_vs_leakfree(ms: dict, bl: dict) -> str:
    """Finding on the official test folder, phrased from the numbers (gaps can go either way)."""
    parts = ["**Official vs leak-free test.**"]
    base = []
    for key, label in (("metadata_only", "metadata only"), ("nearest_class_mean", "nearest class mean")):
        b = bl.get(key) or {}
        if b.get("official_accuracy") is not None and b.get("leakfree_accuracy") is not None:
            base.append(f"{label} {pct(b['official_accuracy'])} vs {pct(b['leakfree_accuracy'])}")
    if base:
        parts.append("Baselines that cannot memorise pictures, each fitted within its split, score "
                     + "; ".join(base) + " (official vs leak-free).")
    for name in ("brain_tumor_cnn", "capstone_cnn"):
        m = ms.get(name) or {}
        if m.get("official_accuracy") and m.get("official_seen_in_training"):
            label = MODEL_NAMES.get(name, name)
            parts.append(
                f"{label[0].upper()}{label[1:]}: {pct(m['official_accuracy']['value'])} on the official folder, but "
                f"{m['official_seen_in_training']:,} of its images were in the model's own training data; on the "
                f"others it scores {_ci_text(m.get('official_unseen_accuracy'))}.")
    off = ms.get("capstone_cnn_official") or {}
    if off.get("official_accuracy"):
        clean = off.get("leakfree_unseen_accuracy") or off.get("leakfree_accuracy")
        parts.append(
            f"Trained the published way (Kaggle's Training → Testing), the capstone CNN scores "
            f"{_ci_text(off['official_accuracy'])} on the official folder but {_ci_text(clean)} on leak-free test "
            "images that have no twin in its training folder.")
    return " ".join(parts)


def _template(name: str) -> dict[str, str]:
    """{section: text} of helpers/reporting/templates/<name>.md: '## section' headings, each section one paragraph
    (its lines joined with single spaces); the leading HTML comment is the file's own documentation."""
    text = (Path(__file__).with_name("templates") / f"{name}.md").read_text(encoding="utf-8")
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    out = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        out[head.strip()] = " ".join(line.strip() for line in body.strip().splitlines())
    return out


def findings_markdown(h: dict) -> str:
    """The findings as Markdown, from templates/findings.md with every number taken from `h` (headline())."""
    T = _template("findings")
    d, ms, bl = h["data"], h["models"], h["baselines"]
    ours = ms.get("brain_tumor_cnn") or {}
    cap = ms.get("capstone_cnn") or {}
    out = []
    if d.get("n_official_test"):
        out.append(T["leak"].format(
            test_with_train_twin=f"{d['test_with_train_twin']:,}", n_official_test=f"{d['n_official_test']:,}",
            twin_share=f"{d['test_with_train_twin'] / d['n_official_test']:.0%}", n_files=f"{d['n_files']:,}",
            n_groups=f"{d.get('n_groups') or 0:,}", n_label_conflicts=d.get("n_label_conflicts") or 0,
            cross_split_twins=d.get("leakfree_cross_split_twins")))
    f512 = d.get("frac_512x512") or {}
    meta = bl.get("metadata_only") or {}
    if f512:
        hi, lo = max(f512, key=f512.get), min(f512, key=f512.get)
        size_text = T["size_differs" if f512[hi] - f512[lo] > 0.05 else "size_same"].format(
            share_hi=pct(f512[hi], 0), class_hi=hi, share_lo=pct(f512[lo], 0), class_lo=lo)
        out.append(T["size"].format(size_text=size_text, metadata_accuracy=pct(meta.get("leakfree_accuracy")),
                                    majority_accuracy=pct((bl.get("majority_class") or {}).get("leakfree_accuracy"))))
    if ours.get("leakfree_accuracy"):
        cmp_ = ""
        if cap.get("leakfree_accuracy"):
            cmp_ = T["capstone"].format(capstone_accuracy=_ci_text(cap["leakfree_accuracy"]),
                                        capstone_params=f"{cap.get('params') or 0:,}", our_params=f"{ours.get('params') or 0:,}")
            c256 = ms.get("capstone_cnn_256") or {}
            if c256.get("leakfree_accuracy"):
                cmp_ += " " + T["capstone_256"].format(capstone_256_accuracy=_ci_text(c256["leakfree_accuracy"]),
                                                       capstone_256_params=f"{c256.get('params') or 0:,}")
        from ..evaluation import comparison

        gaps = h.get("capstone_gaps") or {}
        if gaps:
            cmp_ += ". " + comparison.gap_markdown(gaps).rstrip(".")
        ncm = (bl.get("nearest_class_mean") or {}).get("leakfree_accuracy")
        out.append(T["accuracy"].format(our_accuracy=_ci_text(ours["leakfree_accuracy"]),
                                        n_leakfree_test=ours.get("n_leakfree_test"),
                                        our_macro_f1=fmt_metric("macro_f1", ours.get("leakfree_macro_f1")),
                                        comparison=cmp_, ncm_accuracy=pct(ncm)))
        mt = ours.get("missed_tumours") or {}
        out.append(T["sensitivity"].format(
            sensitivity=fmt_metric("sensitivity", ours.get("tumour_sensitivity")),
            specificity=fmt_metric("specificity", ours.get("tumour_specificity")),
            auc=auc(ours.get("tumour_roc_auc")), missed=mt.get("missed", "n/a"), tumours=mt.get("of", "n/a"),
            screening=_screening_text(ours)))
        ab = ours.get("abstain") or {}
        if ours.get("ece_raw") is not None:
            abst = ""
            if ab.get("coverage") is not None:
                abst = " " + T["abstain"].format(threshold=threshold(ab['threshold']), coverage=pct(ab["coverage"]),
                                                 accuracy=pct(ab.get("accuracy")), n_referred=ab.get("n_referred"))
            out.append(T["calibration"].format(temperature=f"{ours.get('temperature') or float('nan'):.2f}",
                                               ece_raw=pct(ours['ece_raw']),
                                               ece_calibrated=pct(ours['ece_calibrated']), abstain=abst))
        out.append("6. " + _official_vs_leakfree(ms, bl))
        res = ours.get("resolution") or []
        if res:
            lo_r, hi_r = min(res, key=lambda r: r["px"]), max(res, key=lambda r: r["px"])
            s512 = ""
            if ours.get("size512_accuracy"):
                s512 = " " + T["size512"].format(size512_n=ours.get("size512_n"),
                                                 size512_accuracy=_ci_text(ours["size512_accuracy"]))
            out.append(T["resolution"].format(accuracy_hi=pct(hi_r["accuracy"]), px_hi=hi_r["px"],
                                              accuracy_lo=pct(lo_r["accuracy"]), px_lo=lo_r["px"], size512=s512))
    prof = bl.get("intensity_only") or {}
    if prof.get("leakfree_accuracy") is not None:
        pm = (h.get("profile_misses") or {}).get("brain_tumor_cnn") or {}
        miss = ""
        if pm.get("n_missed"):
            share = "all" if pm["missed_in_lowest"] == pm["n_missed"] else f"{pm['missed_in_lowest']} of the"
            from ..modeling.intensity_profile import stratum_name

            miss = " " + T["profile_misses"].format(
                share=f"{share[0].upper()}{share[1:]}", n_missed=pm["n_missed"], stratum=stratum_name(pm["n_strata"]),
                sensitivity_lowest=pct(pm["sensitivity_lowest"]), sensitivity_rest=pct(pm.get("sensitivity_rest")))
        out.append(T["shortcut"].format(profile_accuracy=pct(prof["leakfree_accuracy"]),
                                        profile_size512_accuracy=pct(prof.get("size512_accuracy")),
                                        metadata_accuracy=pct(meta.get("leakfree_accuracy")), misses=miss))
    st = h.get("scan_types") or {}
    if st.get("by_plane"):
        import pandas as pd

        from ..evaluation import scan_type

        t = pd.DataFrame.from_dict(st["by_plane"], orient="index")
        ct = t.loc["CT slices"]
        seq = scan_type.sequence_markdown(pd.DataFrame.from_dict(st["sequence"], orient="index")).replace("**", "")
        out.append(T["scan_types"].format(by_plane=scan_type.by_plane_markdown(t, "Our model").replace("Our model: of", "Of"),
                                          plane_rule=scan_type.plane_rule_markdown(t), n_ct=int(ct["images"]),
                                          n_ct_no_tumour=int(ct["no_tumour"]), sequence=seq))
    return "\n".join(out) if out else T["none"]


def abstain_markdown(ev: dict) -> str:
    """One paragraph on the abstain band of an evaluation: the rule's outcome on validation and the test result."""
    a, rule = (ev.get("leakfree_test") or {}).get("abstain") or {}, ev.get("abstain_rule") or {}
    if not a:
        return "_No abstain band recorded._"
    target = rule.get("target_val_accuracy")
    if rule.get("found"):
        how = f"the smallest threshold whose answered validation images reach {pct(target)} accuracy"
    elif target is not None:
        how = f"no threshold reached {pct(target)} on validation, so the rule's fallback is used"
    else:
        how = "set on validation"
    test = (f"it answers **{pct(a.get('coverage'))}** of leak-free test images with "
            f"**{pct(a.get('accuracy'))}** accuracy and refers {a.get('n_referred')} to a radiologist"
            if a.get("accuracy") is not None else
            f"it answers none of the leak-free test images (all {a.get('n_referred')} referred)")
    val = (f" On validation it answered {pct(rule['val_coverage'], 0)} at {pct(rule.get('val_accuracy'))}."
           if rule.get("val_coverage") is not None and rule.get("val_accuracy") is not None else "")
    return f"Threshold **{threshold(a['threshold'])}** ({how}): {test}.{val}"


def recipes_markdown(ctx: RunContext) -> str:
    """Every evaluated model record in the run's model folder as a Markdown table (helpers.reporting.recipes.recipe_rows):
    what was tried, its validation accuracy (the selection criterion) and its leak-free test accuracy (for the record)."""
    from . import recipes

    rows = recipes.recipe_rows(ctx.model_dir)
    if not rows:
        return "_No evaluated model records yet._"
    spread = recipes.seed_spread_markdown(ctx.model_dir)
    return recipes.recipes_markdown(rows) + (f"\n\n{spread}" if spread else "")


# ------------------------------------------------------------------------------------------------ closing summaries
def eda_summary_markdown(s: dict) -> str:
    """The closing summary of notebook 02, from the summary it writes (eda.json)."""
    audit = s.get("audit") or {}
    n_test, twins = s.get("n_official_test") or 0, s.get("test_with_train_twin") or 0
    meta = ((s.get("metadata_baseline") or {}).get("leakfree_test") or {}).get("accuracy")
    lines = ["## Summary",
             f"- {s.get('n_files', 0):,} files fall into {audit.get('n_groups', 0):,} twin groups (copies, mirrors, "
             f"rotations); {twins:,} of the {n_test:,} official test images ({pct(twins / n_test if n_test else None)}) "
             "have a twin in the official training folder, so the official test measures recall of seen pictures.",
             f"- The files come in {s.get('n_distinct_sizes', 0):,} distinct sizes, and size, colour mode and file "
             "size differ by class: metadata alone reaches "
             + (fmt_metric("accuracy", meta) if meta else "n/a") + " on the leak-free test (section 7).",
             "- Preparation (head crop, square, resize) removes the border cue the model could read; plane and MRI "
             "weighting still differ by class (section 9).",
             "- The leak-free split keeps each twin group on one side; notebook 03 trains on it, notebook 04 "
             "evaluates on its test part."]
    return "\n".join(lines)


def modeling_summary_markdown(records: dict[str, dict | None]) -> str:
    """The closing summary of notebook 03: each model's size and validation accuracy (saved model, calibrated)."""
    lines = ["## Summary"]
    for name, m in records.items():
        if not m:
            continue
        v = (m.get("validation") or {}).get("accuracy")
        lines.append(f"- {MODEL_NAMES.get(name, name)}: {m.get('params', 0):,} parameters, validation accuracy "
                     f"{pct(v)} (saved model, calibrated), {duration(m.get('train_wall_s'))} of training.")
    lines.append("- Validation numbers chose the models and their settings; the test numbers, on pictures with no twin "
                 "in training, are in notebook 04.")
    return "\n".join(lines)


def evaluation_summary_markdown(records: dict[str, dict]) -> str:
    """The closing summary of notebook 04: the leak-free test headline of every model, in the house style, with
    contaminated records labelled."""
    lines = ["## Summary"]
    for name, m in records.items():
        lf = ((m or {}).get("evaluation") or {}).get("leakfree_test")
        if not lf:
            continue
        t = lf.get("tumour") or {}
        label = MODEL_NAMES.get(name, name)
        if lf.get("contaminated") and "contaminated" not in label:
            label += " (contaminated: saw test pictures)"
        lines.append(f"- {label}: accuracy {fmt_metric('accuracy', lf.get('accuracy'))}; sensitivity "
                     f"{fmt_metric('sensitivity', t.get('sensitivity'))}, specificity "
                     f"{fmt_metric('specificity', t.get('specificity'))}, ROC-AUC {auc(t.get('roc_auc'))}.")
    lines.append("- Thresholds (screening, abstain) were chosen on validation; intervals are 95% bootstrap CIs, and "
                 "the twin-group CIs (section 1) are the more honest ones. The conclusions notebook puts them together.")
    return "\n".join(lines)
