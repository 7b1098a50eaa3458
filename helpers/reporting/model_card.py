"""The model card of the report's in-dataset model and the README's results block, rendered from the saved run records, so that
every number quoted in prose comes from code (`brain-mri docs`, run by `make report` after the notebooks).
"""
from __future__ import annotations

import json
from pathlib import Path
from .. import config, records
from ..modeling import intensity_profile
from ..evaluation.evaluate import read_predictions
from ..formatting import auc, fmt_metric, num_ci, pct, pct_ci, shown_path, threshold
from .recipes import net_label, recipe_rows, recipes_markdown, seed_spread, seed_spread_markdown


def _load(name: str, models_dir: Path = config.MODELS_DIR) -> dict | None:
    return records.read(models_dir, name)


def headline_rows(models_dir: Path = config.MODELS_DIR) -> list[tuple[str, str, str, str]]:
    """(model, leak-free test accuracy, official Testing accuracy, official images never seen in training).

    Our models train on the pooled leak-free split, so most official Testing images were in their training data:
    the third column is contaminated for them, the fourth is not. Baselines fit within each split."""
    rows = []
    for name in (config.REPORT_MODEL_NAME, "capstone_cnn_256", "capstone_cnn"):
        meta = _load(name, models_dir)
        ev = (meta or {}).get("evaluation")
        if not ev:
            continue
        off = ev["official_test"]
        unseen = off.get("unseen_subset") or {}
        seen = off.get("n_in_training_split")
        rows.append((f"{name} ({meta['params'] / 1e6:.2f}M params, {meta['img_size']} px)",
                     pct_ci(ev["leakfree_test"]["accuracy"]),
                     pct_ci(off["accuracy"]) + (f", {seen} of {off['n']} seen in training" if seen else ""),
                     f"{pct_ci(unseen.get('accuracy'))} (n={unseen.get('n', '?')})" if unseen else "n/a"))
    meta = _load("capstone_cnn_official", models_dir)
    ev = (meta or {}).get("evaluation")
    if ev:  # the published protocol: trained on Kaggle's Training folder, so the official figure is its own test
        lf = ev["leakfree_test"]
        rows.append(("capstone_cnn trained on official Training (published protocol)",
                     f"contaminated: {lf.get('n_in_training_split')} of {lf['n']} seen in training"
                     + (f"; the {lf['unseen_subset']['n']} unseen: {pct_ci(lf['unseen_subset']['accuracy'])}"
                        if lf.get("unseen_subset") else ""),
                     pct_ci(ev["official_test"]["accuracy"]) + " (its own test split)",
                     f"{pct_ci(ev['official_test']['accuracy'])} (all {ev['official_test']['n']} unseen)"))
    base = _load("baselines", models_dir) or {}
    for key, label in (("nearest_class_mean", "nearest class mean (pixels)"),
                       ("metadata_only", "metadata only (size, mode, bytes)"),
                       ("intensity_only", "intensity profile only (grey-level histograms, no layout)")):
        b = base.get(key)
        if b:
            rows.append((label, pct_ci(b["leakfree_test"]["accuracy"]),
                         pct_ci(b["official_test"]["accuracy"]) + " (fitted on official Training)", "—"))
    return rows


def _selection_lines(meta: dict, models_dir: Path) -> list[str]:
    """For a model picked among several runs: how the same recipe did with its other seeds (from the saved records),
    so the headline is read as one draw of the recipe, not as what the recipe always gives."""
    for row in seed_spread(models_dir):
        names = [r["name"] for r in row["runs"]]
        if meta.get("selection") and meta["name"] in names and row.get("test"):
            t = row["test"]
            return [f"`{meta['name']}` is one of {len(names)} seeds of its recipe, {net_label(row['recipe'])}, "
                    f"picked on validation accuracy (`experiments/SELECTION.md`); over the "
                    f"{len(names)} seeds the leak-free test accuracy averages {100 * t['mean']:.1f}% (SD "
                    f"{100 * t['sd']:.1f} points, range {100 * t['min']:.1f}–{100 * t['max']:.1f}%).", ""]
    return []


def in_dataset_note() -> str:
    """What the report's in-dataset model is, beside any number of it: a finding, not the model users get."""
    return (f"Kaggle set only, report chapters 03–04: a finding about shortcut learning, not the model "
            f"`brain-mri predict` and the dashboard use, `{config.DEFAULT_MODEL_NAME}`; that one's card is "
            f"`models/{config.DEFAULT_MODEL_NAME}/{records.CARD}`")


def results_markdown(models_dir: Path = config.MODELS_DIR) -> str:
    meta = _load(config.REPORT_MODEL_NAME, models_dir)
    if not meta or not meta.get("evaluation"):
        return "_No evaluated model yet: run `brain-mri train` then `brain-mri evaluate`._"
    ev = meta["evaluation"]
    lf = ev["leakfree_test"]
    t = lf["tumour"]
    cal = lf["calibration"]
    ab = lf.get("abstain", {})
    rob = ev.get("robustness", {})
    lines = [
        f"On the leak-free test split ({lf['n']} images whose pictures and mirror/flip/rotation twins never appear in "
        f"training), the in-dataset model `{meta['name']}` ({in_dataset_note()}) reaches "
        f"**{pct_ci(lf['accuracy'])} accuracy** and macro-F1 "
        f"{num_ci(lf['macro_f1'])}. As a tumour detector (P(tumour) = 1 − P(no tumour) ≥ {t['threshold']}) its "
        f"sensitivity is **{fmt_metric('sensitivity', t['sensitivity'])}** and specificity "
        f"{fmt_metric('specificity', t['specificity'])}, ROC-AUC {auc(t['roc_auc'])}. After temperature scaling (T = {meta['temperature']:.2f}, fitted on validation) "
        f"the expected calibration error is {pct(cal['ece_calibrated'])} (before: {pct(cal['ece_raw'])}).",
        "",
    ]
    sc, rule = lf.get("screening"), ev.get("screening_rule") or {}
    if sc and sc["threshold"] == t["threshold"] and rule.get("val_sensitivity") is not None:
        lines[-2] += (f" The screening threshold chosen on validation (the highest that keeps at least "
                      f"{100 * rule['target_val_sensitivity']:.1f}% sensitivity there, never above "
                      f"{t['threshold']}) stays at {t['threshold']}: validation sensitivity there is "
                      f"{100 * rule['val_sensitivity']:.1f}% ({rule['val_n_missed']} missed), so test sensitivity is "
                      f"{fmt_metric('sensitivity', sc['sensitivity'], ci=False)} ({sc['n_missed']} of {sc['n_tumour']} missed).")
    elif sc and rule:
        lines[-2] += (f" At a P(tumour) threshold chosen on validation to keep at least "
                      f"{100 * rule['target_val_sensitivity']:.1f}% sensitivity "
                      f"there ({sc['threshold']:.3g} instead of {t['threshold']}), test sensitivity is "
                      f"{fmt_metric('sensitivity', sc['sensitivity'])} and specificity {fmt_metric('specificity', sc['specificity'])} ({sc['n_missed']} of "
                      f"{sc['n_tumour']} tumour images missed, {sc['n_false_alarm']} of {sc['n_no_tumour']} "
                      f"no-tumour images flagged).")
    cl = lf.get("cluster")
    if cl:
        lines += [f"Those {cl['n']} test images form only {cl['n_groups']} twin groups (the audit joins copies, "
                  f"mirrors, rotations and near-identical slices; each group sits whole in one split), and a model "
                  f"tends to be right or wrong on a whole group at once. Resampling whole groups gives the more "
                  f"honest intervals: accuracy {pct_ci(cl['accuracy'])}, sensitivity {fmt_metric('sensitivity', cl['sensitivity'])}; "
                  f"counting each group once (mean accuracy per group) gives {pct_ci(cl['per_group_accuracy'])}.", ""]
    lines += _selection_lines(meta, models_dir)
    if ab and ab.get("accuracy") is not None:
        lines += [f"Abstaining below a confidence of {threshold(ab['threshold'])} (chosen on validation; \"refer to a "
                  f"radiologist\") keeps "
                  f"{pct(ab['coverage'])} of test images at {pct(ab['accuracy'])} accuracy.", ""]
    if rob.get("size512_subset"):
        s = rob["size512_subset"]
        lines += [f"On the {s['n']} test images of 512×512 pixels (where file size no longer tells the tumour "
                  f"types apart; no no-tumour image has that size) accuracy is {pct_ci(s['accuracy'])}.", ""]
    if rob.get("resolution"):
        res = ", ".join(f"{r['px']} px: {pct_ci(r['accuracy'])}" for r in rob["resolution"])
        lines += [f"Accuracy when test images are first downsampled: {res}.", ""]
    prof = _profile_line(models_dir, meta["name"])
    if prof:
        lines += [prof[0].removeprefix("- "), ""]
    scan = _scan_type_lines(models_dir, meta["name"])
    if scan:  # the plane and CT cues (report notebook 02 §9, 04 §11)
        lines += [" ".join(x.removeprefix("- ") for x in scan) + " (report notebook 02, section 9; 04, section 11)", ""]
    lines += ["| model | leak-free test accuracy | official Testing accuracy (leaky) | official Testing, never seen in training |",
              "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in headline_rows(models_dir)]
    gap = _gap_line(models_dir)
    if gap:
        lines += ["", gap]
    lines += ["", f"Trained in {meta['train_wall_s'] / 60:.0f} min on {records.trained_on(meta)} "
              f"({meta['train_images_per_s']:.0f} images/s, {meta['epochs_run']} epochs, {meta['params']:,} parameters); "
              f"split sha256 `{meta['data']['split_sha256'][:12]}`."]
    return "\n".join(lines)


def _retrain_lines(meta: dict, bench_json: Path = config.PROJ_ROOT / "bench" / "results.json") -> list[str]:
    """How to reproduce the shipped model: the recorded config, and for a GPU-trained one the bundle route and the
    measured CPU cost of the same recipe (from `make bench`)."""
    name = meta["name"]
    plain = (f"`brain-mri train --config models/{name}.json` then `brain-mri evaluate models/{name}.keras`, "
             "or `make report RETRAIN=1`.")
    where = records.trained_on(meta)
    if not where.endswith("GPU"):
        return [plain]
    b = (meta.get("data") or {}).get("bundle") or {}
    lines = [f"It was trained on {where} with the {_backend(meta['versions'])} backend of the same "
             "Keras code, from a "
             "`brain-mri bundle` file (the split's preprocessed train and val images"
             + (f", JPEG quality {b['jpeg_quality']}: mean absolute error {b['train_mean_abs_error']} grey levels"
                if b.get("jpeg_quality") else "") + "), several runs sharing the GPU (`experiments/batch1_gpu_recipes/train_gpu.sh`), then "
             "calibrated and evaluated here on the CPU with TensorFlow. To repeat it: `brain-mri bundle "
             "data/processed/bundle.npz`, then on the GPU machine `KERAS_BACKEND=jax brain-mri train --bundle "
             f"data/processed/bundle.npz --config models/{name}.json --time-budget-min 0` (the recorded budget was a "
             "guard for a shared machine), then `brain-mri calibrate` and `brain-mri evaluate` here."]
    try:
        t = json.loads(bench_json.read_text())["training"]["resnet_small"]
        if t.get("model_kwargs") == (meta.get("config") or {}).get("model_kwargs") and t.get("full_run_min"):
            lines.append(f"The same command without `--bundle` trains it on a CPU with TensorFlow; at the "
                         f"{t['images_per_s']:.1f} images/s that `make bench` measured on this 2-core machine, "
                         f"{t['full_run_epochs']} epochs take about {t['full_run_min'] / 60:.1f} h. Runs on different "
                         "backends and devices are not bit-identical; expect a seed-sized difference (see the seed spread).")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return [" ".join(lines)]


def _commonest_confusion(cm: list[list[int]]) -> str:
    """The largest off-diagonal cell of the confusion matrix, in words."""
    cells = [(cm[i][j], i, j) for i in range(len(cm)) for j in range(len(cm)) if i != j]
    n, i, j = max(cells)
    return (f"- The commonest error on the leak-free test: {config.CLASSES[i]} predicted as {config.CLASSES[j]} "
            f"({n} of {sum(cm[i])} {config.CLASSES[i]} images).")


def _groups(splits_dir: Path) -> "pd.Series | None":
    """path -> twin group from the committed leak-free split CSV, or None when it is missing or unreadable."""
    from ..data.split import read_split_csv

    try:
        return read_split_csv(splits_dir / "leakfree.csv").set_index("path")["group"]
    except (OSError, ValueError):
        return None


def _missed_tumours(models_dir: Path, name: str, splits_dir: Path = config.SPLITS_DIR) -> list[str]:
    """A failure-mode line from the saved leak-free test predictions: how many tumours were called no tumour, how
    confidently, and the best specificity any threshold would give at 99.5% sensitivity (descriptive, not a choice)."""
    import numpy as np

    from ..evaluation.metrics import SCREEN_TARGET_SENSITIVITY as SENS, SCREEN_TARGET_SPECIFICITY as SPEC

    groups = _groups(splits_dir)
    te = read_predictions(models_dir, name, groups)
    if te is None:
        return []
    te = te[te["eval_split"] == "leakfree_test"]
    tum = te["label"] != config.NO_TUMOUR
    if te.empty or not tum.any() or tum.all():
        return []
    score = te["p_tumour"].to_numpy()
    miss = te[tum & (te["prediction"] == config.NO_TUMOUR)]
    distinct = (f" ({miss['group'].nunique()} distinct pictures; near-copies inside the test split count each)"
                if groups is not None else "")
    confident = int((miss["p_tumour"] < 0.1).sum())
    s_t, s_n = np.sort(score[tum.to_numpy()]), score[~tum.to_numpy()]
    t = s_t[int(np.floor(len(s_t) * (1 - SENS)))]  # the highest threshold that keeps >= the target share of tumours
    spec = float((s_n < t).mean())
    sens_t, spec_t = f"{100 * SENS:g}%", f"{100 * SPEC:g}%"
    verdict = (f"so no threshold reaches {sens_t} sensitivity with {spec_t} specificity on this split" if spec < SPEC else
               f"so a threshold exists that reaches both {sens_t} sensitivity and {spec_t} specificity on this split")
    return [f"- Missed tumours: {len(miss)} of {int(tum.sum())} tumour images called no tumour{distinct}, {confident} "
            f"of them with P(tumour) < 0.1. At {sens_t} sensitivity the best specificity any threshold gives on this "
            f"test split is {100 * spec:.1f}%, {verdict} (a description of the test, not a threshold we use)."]


def _gap_line(models_dir: Path) -> str:
    """Our model against the capstone records, paired on the same leak-free test images (helpers.evaluation.comparison), with
    the twin groups of the committed split; empty when no comparison is possible."""
    from ..evaluation import comparison
    from ..data.split import read_split_csv

    try:
        groups = read_split_csv(config.LEAKFREE_SPLIT).set_index("path")["group"]
    except (OSError, ValueError):
        return ""
    gaps = comparison.capstone_gaps(models_dir, groups)
    return comparison.gap_markdown(gaps) if gaps else ""


def _profile_line(models_dir: Path, name: str) -> list[str]:
    """A failure-mode line from the intensity-profile baseline (baselines.json and its predictions file): how much
    grey levels alone give away, and where the model's missed tumours rank by that baseline's P(tumour)."""
    import pandas as pd

    from ..evaluation.baselines import PROFILE_PREDICTIONS

    b = (_load("baselines", models_dir) or {}).get("intensity_only") or {}
    if not b.get("leakfree_test"):
        return []
    line = (f"- Sequence and source shortcut: a classifier on grey-level histograms alone (no layout) reaches "
            f"{pct_ci(b['leakfree_test']['accuracy'])} on the leak-free test"
            + (f" ({pct_ci(b['size512_subset']['accuracy'])} on the 512×512-only images)" if b.get("size512_subset") else "")
            + ", a sign that the classes come from collections scanned differently.")
    try:
        res = intensity_profile.misses_by_profile(read_predictions(models_dir, name),
                                                  pd.read_csv(models_dir / PROFILE_PREDICTIONS))
    except (OSError, ValueError, KeyError, TypeError):  # TypeError: no predictions saved
        res = {}
    if res.get("n_missed"):
        share = ("All" if res["missed_in_lowest"] == res["n_missed"] else f"{res['missed_in_lowest']} of the")
        line += (f" {share} {res['n_missed']} missed tumours are among the lowest "
                 f"{intensity_profile.stratum_name(res['n_strata'])} of "
                 f"test tumours by that classifier's P(tumour) (sensitivity there "
                 f"{100 * res['sensitivity_lowest']:.1f}%, elsewhere {100 * (res.get('sensitivity_rest') or 0):.1f}%): "
                 "tumour slices whose grey levels look like the no-tumour scans' are the ones at risk "
                 "(report notebook 04, section 10).")
    return [line]


def _scan_type_lines(models_dir: Path, name: str, splits_dir: Path = config.SPLITS_DIR) -> list[str]:
    """Failure-mode lines from the plane/CT tags saved with the shipped tagger (models/scan_type.json) and the
    model's saved leak-free test predictions."""
    from ..evaluation import scan_type

    tags = scan_type.shipped_test_tags(models_dir / scan_type.SHIPPED.name)
    groups = _groups(splits_dir)
    preds = read_predictions(models_dir, name, groups)
    if tags is None or preds is None or groups is None:
        return []
    try:
        t = scan_type.metrics_by_scan_type(preds, tags)
    except ValueError:
        return []
    doc = scan_type.load_shipped(models_dir / scan_type.SHIPPED.name)["doc"]
    ct = t.loc["CT slices"]
    ct_counts = (doc.get("train_counts") or {}).get("ct") or {}
    ct_no, ct_all = ct_counts.get(config.NO_TUMOUR, 0), sum(ct_counts.values())
    return [f"- Plane (tags from `helpers.evaluation.scan_type`: hand labels plus a classifier, "
            f"{100 * doc['cv_accuracy']['plane']:.1f}% accurate out-of-fold): "
            + scan_type.by_plane_markdown(t, "on the leak-free test").replace("on the leak-free test: of", "of")
            + " " + scan_type.plane_rule_markdown(t),
            f"- CT slices: the set is published as MRI but holds CT slices ({ct_no} of the {ct_all} in the training "
            f"split are filed as no tumour); {int(ct['images'])} "
            f"are in the leak-free test split ({int(ct['no_tumour'])} no tumour), where the model scores "
            f"{100 * ct['accuracy']:.1f}%. The dashboard warns on CT uploads and on no-tumour calls for coronal or "
            "sagittal slices.",
            *_sequence_line(splits_dir)]


def _sequence_line(splits_dir: Path) -> list[str]:
    """The hand-labelled MRI weighting per class (data/labels/scan_type.csv and the committed split)."""
    from ..evaluation import scan_type
    from ..data.split import read_split_csv

    try:
        text = scan_type.sequence_markdown(scan_type.sequence_table(scan_type.read_labels(),
                                                                    read_split_csv(splits_dir / "leakfree.csv")))
    except (OSError, ValueError, KeyError):
        return []
    return [f"- {text.replace('**', '')}"] if text else []


def _backend(v: dict) -> str:
    name = v.get("backend", "tensorflow")
    label = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}.get(name, name)
    return f"{label} {v.get(name, '?')}"  # the device, where not a CPU, is named by trained_on


def model_card(models_dir: Path = config.MODELS_DIR) -> str:
    meta = _load(config.REPORT_MODEL_NAME, models_dir)
    if not meta:
        return "# Model card\n\nNo model trained yet.\n"
    ev = meta.get("evaluation") or {}
    members = meta.get("members") or []
    cfg = {**(members[0]["config"] if members else meta["config"])}  # an ensemble's members share one recipe
    seeds = ", ".join(str(m["config"].get("seed")) for m in members) if members else str(cfg["seed"])
    if members:
        names = ", ".join(f"`{m['name']}`" for m in members)
        arch_line = (f"- An ensemble of {len(members)} networks trained with the same recipe and different seeds "
                     f"({names}), merged into one Keras model by "
                     f"`brain-mri ensemble`: its logits are exactly the mean of the members' logits, and its "
                     f"`last_conv` is the members' concatenated feature maps, so Grad-CAM explains the ensemble. "
                     f"Each member is `{cfg['arch']}`")
    else:
        kw = cfg.get("model_kwargs") or {}
        arch_line = (f"- Architecture {net_label({'arch': meta['arch'], **cfg})}"
                     + (", augmented by `RandomAffineAugment` (flip, rotation, zoom, shift in one resampling; contrast, "
                        "brightness)" if kw.get("augment_layer") == "affine" else ""))
    stop_from = float(cfg.get("early_stop_from", 0.5))
    stop_window = "the second half" if stop_from == 0.5 else f"the last {1 - stop_from:.0%}"
    out = [
        f"# Model card: `{meta['name']}`",
        "",
        "_Generated by `brain-mri docs` from `" + shown_path(records.files(models_dir, meta["name"]).record)
        + "`; every number below is read from it._",
        "",
        f"**Not the shipped model.** This is the in-dataset model ({in_dataset_note()}).",
        "",
        "## Intended use",
        "Research and teaching: how well a small CNN separates glioma, meningioma, pituitary tumour and no tumour on "
        "2-D brain MRI slices once dataset leakage is removed. **Not for diagnosis**, triage or any clinical decision.",
        "",
        "## Model",
        arch_line + f" (Keras 3 Functional; input {meta['img_size']}×{meta['img_size']} grayscale, "
        f"head-cropped and padded square; rescaling and augmentation inside the model; last convolution `last_conv`), "
        f"{meta['params']:,} parameters; output logits, calibrated by temperature T = {meta['temperature']:.3f}"
        + (" on the mean logits of the image and its mirror (flip test-time augmentation, kept because it lowered "
           f"validation NLL: {meta['validation']['nll_plain']:.3f} → {meta['validation']['nll_hflip_tta']:.3f})."
           if meta.get("tta") == "hflip" and (meta.get("validation") or {}).get("nll_hflip_tta") is not None else
           " on the mean logits of the image and its mirror (flip test-time augmentation, chosen by batch 35's rule "
           "on held-out collections: `experiments/batch35_test_time_views/RESULTS.md`)."
           if meta.get("tta") == "hflip" else "."),
        *([f"- Selection: {meta['selection']} (run `{meta.get('run_name', meta['name'])}`); the same recipe's other "
            "seeds are under \"Recipes compared\"."] if meta.get("selection") else []),
        f"- File `{shown_path(records.files(models_dir, meta['name']).weights)}`, sha256 `{meta['keras_sha256']}` (checked on every load).",
        f"- Trained {meta['trained_at']} with Keras {meta['versions']['keras']} / {_backend(meta['versions'])} on {records.trained_on(meta)}: {meta['epochs_run']} "
        f"epochs in {meta['train_wall_s'] / 60:.1f} min ({meta['train_images_per_s']:.0f} images/s).",
        f"- Recipe: AdamW (lr {cfg['lr']}, weight decay {cfg['weight_decay']}), {cfg['warmup_epochs']} warm-up "
        f"epochs then cosine decay, batch {cfg['batch_size']}, label smoothing {cfg['label_smoothing']}, balanced "
        f"class weights, early stopping on validation loss over {stop_window} of the schedule (patience "
        f"{cfg['patience']}, best weights restored), "
        + (f"validated and saved as an exponential moving average of the weights (momentum {cfg['ema_momentum']}), "
           if cfg.get("ema_momentum") else "")
        + (f"mixup of image pairs (alpha {cfg['mixup_alpha']}), " if cfg.get("mixup_alpha") else "")
        + (f"seeds {seeds}." if members else f"seed {seeds}."),
        "",
        "## Data",
        "Kaggle \"Brain Tumor MRI Dataset\" (Masoud Nickparvar; 7,023 JPEGs built from figshare (Cheng et al. 2015), "
        "Sartaj Bhuvaji et al. (2020) and Br35H). It is leaky: about half the files are copies, mirrors, flips, "
        "rotations or re-contrasted versions of others, and most official Testing images have a twin in Training "
        "(see `brain-mri audit`). We pool both folders and split by twin group (`data/splits/leakfree.csv`): "
        f"{meta['data']['n_train']} training and {meta['data']['n_val']} validation images; split sha256 "
        f"`{meta['data']['split_sha256']}`. Groups whose copies carry two labels stay in training.",
        "",
    ]
    if ev:
        lf, off = ev["leakfree_test"], ev["official_test"]
        out += ["## Results (leak-free test split — the headline)", results_markdown(models_dir), "",
                "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for c, m in lf["per_class"].items():
            out.append(f"| {c} | {pct_ci(m['precision'])} | {pct_ci(m['recall'])} | {num_ci(m['f1'])} | {m['support']} |")
        out += ["", "Confusion matrix (rows: true, columns: predicted; " + ", ".join(config.CLASSES) + "):", "",
                "```", *("  ".join(f"{v:5d}" for v in row) for row in lf["confusion"]), "```", "",
                f"Official Testing split ({off['n']} images, **leaky**, for comparison with published work only): "
                f"accuracy {pct_ci(off['accuracy'])}, macro-F1 {num_ci(off['macro_f1'])}.", ""]
    else:
        out += ["## Results", "Not evaluated yet: run `brain-mri evaluate`.", ""]
    others = recipe_rows(models_dir)
    if len(others) > 1:
        out += ["## Recipes compared (every evaluated model in `models/` and `experiments/`)",
                "This model was chosen on **validation** accuracy; test figures are shown for the record (picking by "
                "the test column would be selecting on the test set: validation and test each hold ~1,060 images, so "
                "one point is about 11 images and the two can disagree by that much).", "",
                recipes_markdown(others), ""]
        spread = seed_spread_markdown(models_dir)
        if spread:
            out += [spread, ""]
    out += [
        "## Known failure modes and limits",
        "- Slices, not patients: the dataset has no patient IDs, so two slices of one patient can still fall on both "
        "sides of the split when they are not near-copies; the grouped split only removes copies and their "
        "mirror/flip/rotation/contrast variants.",
        "- Label noise: a few pictures appear under two labels (meningioma vs pituitary).",
        "- Acquisition shortcut: image size and borders nearly reveal the class in the raw files; head-cropping "
        "removes most of it, and the 512×512-only figure above shows what remains.",
        "- Out of distribution: colour photographs, other organs, other modalities (CT), or heavy annotations get "
        "confident but meaningless outputs; the dashboard warns on simple measured criteria only.",
        *([_commonest_confusion(ev["leakfree_test"]["confusion"])] if ev else []),
        *(_missed_tumours(models_dir, meta["name"]) if ev else []),
        *(_profile_line(models_dir, meta["name"]) if ev else []),
        *(_scan_type_lines(models_dir, meta["name"]) if ev else []),
        "",
        "## How to retrain",
        *_retrain_lines(meta),
        "",
    ]
    return "\n".join(out)
