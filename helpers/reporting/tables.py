"""Tables and picture selections for the report notebooks, built from the run records and saved predictions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence
from .. import config
from ..formatting import duration, fmt_metric, metric, pct
from .runs import MODEL_NAMES, profile_misses
from .context import RunContext


# ------------------------------------------------------------------------------------------------ baselines
BASELINE_NAMES = {"nearest_class_mean": "nearest class mean (pixels)", "metadata_only": "metadata only (no pixels)",
                  "majority_class": "majority class (floor)", "nearest_class_mean_cosine": "nearest class mean (cosine)",
                  "intensity_only": "intensity profile only (no layout)"}

def baseline_table(rec: dict | None, names: Sequence[str] | None = None):
    """Accuracy and macro-F1 (with CIs when recorded) of the baselines on the leak-free and official test sets."""
    import pandas as pd

    if not rec:
        print("no baseline results")
        return None
    rows = []
    default = [k for k in ("majority_class", "metadata_only", "intensity_only", "nearest_class_mean") if k in rec]
    for key in names or default:
        b = rec.get(key)
        if not isinstance(b, dict):
            continue
        rows.append({"baseline": BASELINE_NAMES.get(key, key),
                     "leak-free accuracy": metric(b, "leakfree_test", "accuracy"),
                     "leak-free macro-F1": metric(b, "leakfree_test", "macro_f1", fmt="{:.3f}"),
                     "official accuracy": metric(b, "official_test", "accuracy")})
    return pd.DataFrame(rows).set_index("baseline") if rows else None


def model_table(records: dict[str, dict | None]) -> "pd.DataFrame":
    """One column per model: architecture, size, recipe, data, cost and validation results from its JSON record."""
    import pandas as pd

    cols = {}
    for name, m in records.items():
        if not m:
            continue
        c, d, v = m.get("config", {}), m.get("data", {}), m.get("validation", {})
        cols[MODEL_NAMES.get(name, name)] = {
            "architecture": m.get("arch"),
            "parameters": f"{m['params']:,}" if m.get("params") else "n/a",
            "input": f"{m.get('img_size')}×{m.get('img_size')}×1",
            "epochs run / planned": f"{m.get('epochs_run', len(m.get('history', {}).get('loss', [])))} / {c.get('epochs')}",
            "batch, learning rate": f"{c.get('batch_size')}, {c.get('lr')}",
            "label smoothing": c.get("label_smoothing"),
            "weight decay": c.get("weight_decay"),
            "width, stem pooling": (f"{(c.get('model_kwargs') or {}).get('width', 16)}, "
                                    f"{'yes' if (c.get('model_kwargs') or {}).get('stem_pool', True) else 'no'}"
                                    if c.get("arch") == "resnet_small" else "n/a"),
            "augmentation": "none" if c.get("arch") == "capstone_cnn" or (c.get("model_kwargs") or {}).get("augment") == 0
                            or c.get("arch") == "tiny" else "flips, rotation, shift, zoom, contrast, brightness"
                            + (" (one resampling)" if (c.get("model_kwargs") or {}).get("augment_layer") == "affine"
                               else ""),
            "train / val images": f"{d.get('n_train', 'n/a'):,} / {d.get('n_val', 'n/a'):,}"
                                  if isinstance(d.get("n_train"), int) else "n/a",
            "training wall time": duration(m.get("train_wall_s")),
            "training images/s": (round(m["train_images_per_s"]) if isinstance(m.get("train_images_per_s"), (int, float))
                                   else None),
            "val accuracy (saved model, calibrated)": pct(v["accuracy"]) if "accuracy" in v else "n/a",
            "temperature": f"{m['temperature']:.2f}" if m.get("temperature") else "n/a",
            "test-time augmentation": m.get("tta") or "none",
            "val ECE raw → calibrated": (f"{pct(v['ece_raw'])} → {pct(v['ece_calibrated'])}"
                                         if "ece_raw" in v else "n/a"),
            "synthetic data": d.get("synthetic"),
            "split sha256": (d.get("split_sha256") or "")[:12],
            "trained at": m.get("trained_at"),
            "Keras / backend": "{} / {} {}".format(m.get("versions", {}).get("keras"),
                                                   m.get("versions", {}).get("backend", "tensorflow"),
                                                   m.get("versions", {}).get(m.get("versions", {}).get("backend",
                                                                                                      "tensorflow"))),
        }
    return pd.DataFrame(cols)


def summary_text(model) -> str:
    """keras model.summary() captured as text (for a compact print in the notebook)."""
    lines: list[str] = []
    model.summary(print_fn=lambda s, **kw: lines.append(s), line_length=96)
    return "\n".join(lines)


def layer_table(model) -> "pd.DataFrame":
    """Layers grouped by type: how many and how many parameters (a one-screen view of an architecture)."""
    import pandas as pd

    rows = [{"type": type(layer).__name__, "params": layer.count_params()} for layer in model.layers]
    t = pd.DataFrame(rows).groupby("type", sort=False).agg(layers=("params", "size"), params=("params", "sum"))
    return t.sort_values("params", ascending=False)


def metrics_table(records: dict[str, dict], split_key: str = "leakfree_test") -> "pd.DataFrame":
    """One row per model: accuracy, macro-F1, tumour sensitivity/specificity/AUC (95% CIs), ECE, abstain point."""
    import pandas as pd

    rows = {}
    for name, m in records.items():
        b = (m.get("evaluation") or {}).get(split_key)
        if not b:
            continue
        cal, ab = b.get("calibration", {}), b.get("abstain", {})
        rows[MODEL_NAMES.get(name, name)] = {
            "n": b.get("n"),
            "accuracy": metric(b, "accuracy"),
            "macro-F1": metric(b, "macro_f1"),
            # two decimals: the target is 99.5%, and 99.47% must not print as 99.5%
            "tumour sensitivity": metric(b, "tumour", "sensitivity"),
            "tumour specificity": metric(b, "tumour", "specificity"),
            "tumour AUC": metric(b, "tumour", "roc_auc"),
            "ECE raw → calibrated": (f"{pct(cal['ece_raw'])} → {pct(cal['ece_calibrated'])}"
                                     if cal.get("ece_raw") is not None else "n/a"),
            "answered (abstain)": (f"{pct(ab['coverage'])} at {pct(ab['accuracy'])}"
                                   if ab.get("coverage") is not None and ab.get("accuracy") is not None else "n/a"),
        }
    return pd.DataFrame(rows).T


def cluster_table(records: dict[str, dict], split_key: str = "leakfree_test") -> "pd.DataFrame":
    """One row per model: the test split's images vs its twin groups, accuracy with the image-bootstrap CI and
    with the cluster-bootstrap CI (whole groups resampled), and accuracy counting each group once."""
    import pandas as pd

    rows = {}
    for name, m in records.items():
        b = (m.get("evaluation") or {}).get(split_key) or {}
        cl = b.get("cluster")
        if not cl:
            continue
        rows[MODEL_NAMES.get(name, name)] = {
            "images": b.get("n") if not b.get("contaminated")
            else f"{b.get('n')} ({b.get('n_in_training_split')} seen in training: contaminated)",
            "twin groups": cl.get("n_groups"),
            "accuracy (images resampled)": metric(b, "accuracy"),
            "accuracy (groups resampled)": metric(cl, "accuracy"),
            "macro-F1 (groups resampled)": metric(cl, "macro_f1", fmt="{:.3f}"),
            "sensitivity (groups resampled)": metric(cl, "sensitivity", fmt="{:.2%}"),
            "accuracy per twin group": metric(cl, "per_group_accuracy"),
        }
    return pd.DataFrame(rows).T


def per_class_table(meta: dict, split_key: str = "leakfree_test") -> "pd.DataFrame":
    """Precision, recall, F1 (95% CIs) and support per class for one model."""
    import pandas as pd

    pc = ((meta.get("evaluation") or {}).get(split_key) or {}).get("per_class", {})
    return pd.DataFrame({c: {"precision": metric(v, "precision"), "recall": metric(v, "recall"),
                             "F1": metric(v, "f1", fmt="{:.3f}"), "support": v.get("support")}
                         for c, v in pc.items()}).T


def missed_tumours(meta: dict, split_key: str = "leakfree_test") -> dict:
    """False negatives from the confusion matrix: tumour images predicted `notumor`, per tumour class and in all."""
    b = ((meta.get("evaluation") or {}).get(split_key) or {})
    cm = b.get("confusion")
    if not cm:
        return {}
    k = config.CLASSES.index(config.NO_TUMOUR)
    per = {c: int(cm[i][k]) for i, c in enumerate(config.CLASSES) if c != config.NO_TUMOUR}
    n_t = sum(sum(cm[i]) for i, c in enumerate(config.CLASSES) if c != config.NO_TUMOUR)
    return {"missed": sum(per.values()), "of": int(n_t), "per_class": per}


def leakage_table(records: dict[str, dict], baselines: dict | None = None) -> "pd.DataFrame":
    """Long table model, test ('leak-free' | 'official (leaky)'), accuracy, lo, hi — for plots.accuracy_comparison —
    covering the models and the baselines."""
    import pandas as pd

    rows = []

    def add(label, block_lf, block_off):
        for test, b in (("leak-free", block_lf), ("official (leaky)", block_off)):
            if b and isinstance(b.get("accuracy"), dict):
                ci = b["accuracy"].get("ci") or [None, None]
                rows.append({"model": label, "test": test, "accuracy": b["accuracy"]["value"],
                             "lo": ci[0] if ci[0] is not None else float("nan"),
                             "hi": ci[1] if ci[1] is not None else float("nan")})

    for name, m in records.items():
        ev = m.get("evaluation") or {}
        add(MODEL_NAMES.get(name, name), ev.get("leakfree_test"), ev.get("official_test"))
    for key in ("nearest_class_mean", "intensity_only", "metadata_only", "majority_class"):
        b = (baselines or {}).get(key)
        if b:
            add(BASELINE_NAMES.get(key, key), b.get("leakfree_test"), b.get("official_test"))
    return pd.DataFrame(rows, columns=["model", "test", "accuracy", "lo", "hi"])


def gradcam_items(predictor, preds: "pd.DataFrame", root: str | Path, n_correct: int = 4, n_wrong: int = 4,
                  split_key: str = "leakfree_test", seed: int = config.SEED) -> list[dict]:
    """Grad-CAM overlays for a gallery: one correct prediction per class (seeded) and the most confident wrong ones.
    Each heat map is the one the dashboard shows for that call: the model's own Grad-CAM choice (its record's;
    without one, the predicted class on last_conv)."""
    from ..modeling.explain import call_target, gradcam, gradcam_choice, overlay
    from ..data.prepare import preprocess

    df = preds[preds["eval_split"] == split_key]
    ok = df[df["correct"]]
    picks = [g.sample(1, random_state=seed) for _, g in ok.groupby("label")][:n_correct]
    wrong = _one_per_group(df[~df["correct"]].sort_values("confidence", ascending=False)).head(n_wrong)
    items = []
    for row in [r for p in picks for _, r in p.iterrows()] + [r for _, r in wrong.iterrows()]:
        x = preprocess(Path(root) / row["path"], predictor.img_size)
        k, _ = call_target(predictor.classes, list(predictor.classes).index(row["prediction"]), row["prediction"],
                           gradcam_choice(predictor)[0])
        heat = gradcam(predictor, x, k)
        items.append({"image": overlay(x, heat), "ok": bool(row["correct"]),
                      "title": f"true {row['label']}\npred {row['prediction']} {row['confidence']:.0%}"})
    return items


def _one_per_group(df: "pd.DataFrame") -> "pd.DataFrame":
    """First row of each twin group (rows without a group are all kept)."""
    if "group" not in df.columns:
        return df
    return df[(df["group"] < 0) | ~df["group"].duplicated()]


def worst_rows(preds: "pd.DataFrame", n: int = 10, split_key: str = "leakfree_test") -> "pd.DataFrame":
    """The `n` most confident wrong predictions of a split, one per twin group (rows of report.predictions)."""
    df = preds[(preds["eval_split"] == split_key) & ~preds["correct"]]
    return _one_per_group(df.sort_values("confidence", ascending=False)).head(n)


def worst_errors(preds: "pd.DataFrame", n: int = 10, split_key: str = "leakfree_test") -> "pd.DataFrame":
    """The most confident wrong predictions (one per twin group): file, true class, predicted class, confidence,
    P(tumour)."""
    df = worst_rows(preds, n, split_key)
    out = df[["path", "label", "prediction", "confidence", "p_tumour"]].copy()
    out["path"] = out["path"].map(lambda p: Path(p).name)
    return out.rename(columns={"path": "file", "label": "true"}).round(3).reset_index(drop=True)


def size512_table(records: dict[str, dict], baselines: dict | None = None) -> "pd.DataFrame":
    """Accuracy on the leak-free test images that are exactly 512x512 vs on all of them, per model (and for the
    metadata-only baseline, which loses its size cue there)."""
    import pandas as pd

    rows = {}
    for name, m in records.items():
        ev = m.get("evaluation") or {}
        s = (ev.get("robustness") or {}).get("size512_subset")
        if s:
            rows[MODEL_NAMES.get(name, name)] = {"n (512×512)": s["n"], "accuracy on 512×512 only": metric(s, "accuracy"),
                                                 "accuracy on all": metric(ev, "leakfree_test", "accuracy")}
    for key in ("metadata_only", "intensity_only"):
        s = ((baselines or {}).get(key) or {}).get("size512_subset")
        if s:
            rows[BASELINE_NAMES[key]] = {"n (512×512)": s["n"], "accuracy on 512×512 only": metric(s, "accuracy"),
                                         "accuracy on all": metric(baselines, key, "leakfree_test", "accuracy")}
    return pd.DataFrame(rows).T


def profile_table(ctx: RunContext, records: dict[str, dict]) -> "pd.DataFrame":
    """Per model: missed tumours, how many of them fall in the lowest stratum by profile P(tumour), sensitivity
    there and elsewhere, and the AUC of a low profile P(tumour) for the model's misses. Models that saw some of the
    leak-free test images in training (the capstone CNN trained the published way) are left out: their hits there
    are partly memory."""
    import pandas as pd

    rows = {}
    for n, rec in records.items():
        if ((rec.get("evaluation") or {}).get("leakfree_test") or {}).get("n_in_training_split"):
            continue
        r, _ = profile_misses(ctx, n)
        if not r:
            continue
        auc = r.get("auc_low_profile_for_misses")
        rows[MODEL_NAMES.get(n, n)] = {
            "missed tumours": f"{r['n_missed']} of {r['n_tumours']}",
            "of them in the lowest stratum": f"{r['missed_in_lowest']} of {r['n_missed']}",
            f"sensitivity, lowest stratum (n={r['lowest_n']})": pct(r["sensitivity_lowest"]),
            "sensitivity, the rest": pct(r.get("sensitivity_rest")),
            "AUC, low profile → missed": "n/a" if auc is None else f"{auc:.2f}"}
    return pd.DataFrame(rows).T


def lowest_profile_tumours(ctx: RunContext, ranked: "pd.DataFrame | None", n: int = 12) -> tuple[list, list[str]]:
    """(raw grey images, titles) of the `n` test tumours with the most no-tumour-like profile, one per twin group."""
    from .eda import load_gray

    if ranked is None or ranked.empty:
        return [], []
    low = _one_per_group(ranked).head(n)
    titles = [f"{lbl}{' MISSED' if m else ''}\nprofile {pp:.2f} · model {pt:.2f}"
              for lbl, m, pp, pt in zip(low["label"], low["missed"], low["profile_p"], low["p_tumour"])]
    return [load_gray(ctx.root, p) for p in low["path"]], titles


def ct_examples(ctx: RunContext, tags: "pd.DataFrame", n: int = 6) -> tuple[list, list[str]]:
    """(raw grey images, titles) of up to `n` CT slices, one per twin group, hand-labelled ones first, classes in turn."""
    from .eda import load_gray
    from ..data.split import load_split

    groups = load_split("leakfree", ctx.root).set_index("path")
    ct = tags[tags["is_ct"].astype(bool)].assign(label=lambda d: d["path"].map(groups["label"]),
                                                 group=lambda d: d["path"].map(groups["group"]))
    ct = ct.sort_values("ct_source", key=lambda s: s != "hand", kind="stable").drop_duplicates("group")
    ct = ct.assign(turn=ct.groupby("label").cumcount()).sort_values(["turn", "label"], kind="stable").head(n)
    titles = [f"{lbl} · CT ({src})" for lbl, src in zip(ct["label"], ct["ct_source"])]
    return [load_gray(ctx.root, p) for p in ct["path"]], titles


def strata_display(res: dict) -> "pd.DataFrame":
    """The intensity-profile strata (intensity_profile.misses_by_profile) for reading: the profile's P(tumour) range
    as log-odds (most strata sit above P = 0.999, where "1.000–1.000" told them apart from nothing), sensitivity in
    the house style, the model's mean P(tumour) as a percentage."""
    import numpy as np
    import pandas as pd

    if not res or not res.get("strata"):
        return pd.DataFrame()
    df = pd.DataFrame(res["strata"])

    def logit(p):
        p = float(np.clip(p, 1e-6, 1 - 1e-6))
        return np.log(p / (1 - p))

    df["profile log-odds of tumour"] = [f"{logit(a):+.1f} to {logit(b):+.1f}"
                                        for a, b in zip(df["profile_p_min"], df["profile_p_max"])]
    df["sensitivity"] = df["sensitivity"].map(pct)
    df["mean model P(tumour)"] = df["mean_model_p_tumour"].map(pct)
    return df.set_index("stratum")[["profile log-odds of tumour", "tumours", "missed", "sensitivity",
                                    "mean model P(tumour)"]]


# ------------------------------------------------------------------------------------------------ cross-collection
def fmt(key: str, v, ci=None) -> str:
    """A metric in the house style (formatting.fmt_metric: digits by name, '81.60% (95% CI 66.80–94.00)'); 'n/a'
    for a missing one (pandas turns None into NaN in a frame)."""
    if v is None or (isinstance(v, float) and v != v):  # NaN
        return "n/a"
    return fmt_metric(key, {"value": float(v), "ci": ci if isinstance(ci, (list, tuple)) else None})


def per_collection_markdown(metrics: dict, title: str = "collection") -> str:
    lines = [f"| {title} | tumour / healthy | sensitivity | specificity | ROC-AUC | ECE |", "|---|---|---|---|---|---|"]
    for col, m in metrics.items():
        lines.append(f"| {col} | {m['n_tumour']:,} / {m['n_healthy']:,} | "
                     f"{fmt('sensitivity', m['sensitivity'], m['sensitivity_ci'])} | "
                     f"{fmt('specificity', m['specificity'], m['specificity_ci'])} | {fmt('roc_auc', m['auc'], m['auc_ci'])} | "
                     f"{fmt('ece', m['ece'], m.get('ece_ci'))} |")
    return "\n".join(lines)


def results_head(batch: int, title: str, folder: str, written_from: str, note: str, decision: str,
                 script: str = "results.py") -> list[str]:
    """A results-only batch's RESULTS.md head (batches 40-48): title, the script and files it was written from, the
    plan with a note, the decision."""
    src = f" from {written_from}" if written_from else ""
    return [f"# Batch {batch}: {title} — results (written by `python experiments/{folder}/{script}`{src})", "",
            f"Plan: `experiments/{folder}/PLAN.md`. {note}", "", f"Decision: **{decision}**.", ""]
