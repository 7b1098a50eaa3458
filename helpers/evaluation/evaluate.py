"""Evaluate a trained model: the leak-free test split (headline), the official Testing split (for comparison with
published work), calibration, an abstain band, and robustness to resolution and to the image-size shortcut.

Every number comes with a percentile bootstrap 95 % CI (test images resampled with replacement, seeded, all
metrics of one split computed on the same resamples; helpers.stats, evaluation.metrics). Results go into the
"evaluation" block of the model's run record and per-image rows into its predictions CSV (helpers.records).
"""
from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
import pandas as pd
from .. import config, records
from .metrics import (ABSTAIN_MIN_ACCEPTED, ABSTAIN_TARGET, NOTUMOR, SCREEN_TARGET_SENSITIVITY, abstain_curve,
                      best_accepted_accuracy, choose_abstain_threshold, choose_screening_threshold,
                      classification_metrics, cluster_metrics, screening_block, split_metrics)
from .robustness import RESOLUTIONS, robustness_arrays
from ..formatting import value_ci
from ..stats import bootstrap_indices, ci_block


OFFICIAL_NOTE = "leaky: official Testing split, for comparison with published work"

# ------------------------------------------------------------------------------------------- driver
def _log(msg: str, progress: bool) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def evaluate_model(predictor, data_dir=None, bootstrap: int = 1000, write: bool = True, robustness: bool = True,
                   progress: bool = True, seed: int = config.SEED) -> dict:
    """Evaluate `predictor` (helpers.modeling.predictor.Predictor or a model path) and return the "evaluation" block.

    With write=True it is stored in the model's JSON (other keys untouched) and per-image predictions in
    models/<name>.predictions.csv beside it.
    """
    from ..modeling.calibrate import fit_temperature, probs_from_logits
    from ..data.layouts import build_manifest, resolve_data_dir
    from ..modeling.predictor import Predictor, load_model
    from ..data.arrays import load_arrays
    from ..data.split import load_split, split_sha256
    from ..data.synthetic import is_synthetic
    from ..data.split import train_val_rows

    if not isinstance(predictor, Predictor):
        predictor = load_model(predictor)
    t_start = time.time()
    root = resolve_data_dir(data_dir)
    S, T = predictor.img_size, predictor.temperature
    meta = predictor.meta
    train_kind = (meta.get("data") or {}).get("split") or (meta.get("config") or {}).get("split") or "leakfree"
    lf = load_split("leakfree", root)
    off = load_split("official", root)
    lf_sha = split_sha256(lf)
    trained_sha = (meta.get("data") or {}).get("split_sha256")
    # A union-split model (chapter 05) trained on the Kaggle set's leak-free train/val rows plus other collections,
    # none of them twins of its test pictures: on the Kaggle set it is evaluated exactly as a leak-free one.
    seen_df = lf if train_kind in ("leakfree", "union") else load_split(train_kind, root)
    seen = set(seen_df.loc[seen_df["split"].isin(["train", "val"]), "path"])
    if train_kind == "union":
        # Union split v2 links adjacent slices of one scan: the leak-free test pictures it moved into train/val are
        # not test pictures of a union model. Its Kaggle test = leak-free test rows still in the union's test.
        lf = union_leakfree(lf)
        lf_sha = split_sha256(lf)
        seen |= set(lf.loc[lf["split"].isin(["train", "val"]), "path"])
    if train_kind == "leakfree" and trained_sha and trained_sha != lf_sha:
        print(f"warning: {predictor.name} was trained on split {trained_sha[:12]} but the current leak-free split "
              f"is {lf_sha[:12]}: test images may have been seen in training", file=sys.stderr)

    # Validation: refit the temperature (a check of the recorded one) and choose the abstain threshold.
    _, va = train_val_rows(seen_df, int((meta.get("config") or {}).get("seed", seed)))
    _log(f"evaluating {predictor.name} on {root.name}: val {len(va)} images", progress)
    Xva, yva = load_arrays(root, va, S, progress=progress)
    lg_va = predictor.logits_arrays(Xva)
    t_refit = fit_temperature(lg_va, yva)
    p_va = probs_from_logits(lg_va, T)
    abstain_t, found = choose_abstain_threshold(p_va, yva)
    val_row = abstain_curve(p_va, yva, [abstain_t])[0]
    best_t, best_acc = best_accepted_accuracy(p_va, yva)
    screen_t = choose_screening_threshold(1 - p_va[:, NOTUMOR], yva != NOTUMOR)
    op = meta.get("operating_point") or {}
    if op.get("threshold"):  # one call everywhere: the threshold chosen with every collection weighted equally
        screen_t = float(op["threshold"])
    screen_val = screening_block(yva, p_va, screen_t, 0)

    blocks, pred_rows, arrays = {}, [], {}
    for key, df in (("leakfree_test", lf[lf["split"] == "test"]), ("official_test", off[off["split"] == "test"])):
        df = df.reset_index(drop=True)
        if df.empty:
            continue
        _log(f"{key}: {len(df)} images", progress)
        X, y = load_arrays(root, df, S, progress=progress)
        logits = predictor.logits_arrays(X)
        block = split_metrics(y, logits, T, abstain_t, bootstrap, seed)
        probs = probs_from_logits(logits, T)
        groups = df["group"].to_numpy() if "group" in df.columns else None
        in_train = df["path"].isin(seen).to_numpy()
        if groups is not None:
            block["cluster"] = cluster_metrics(y, probs, groups, bootstrap, seed)
        selected_on = "leakfree val" if train_kind in ("leakfree", "union") else f"{train_kind} val"  # union: its Kaggle val rows
        screen_on = op.get("chosen_on") if op.get("threshold") else selected_on
        block["screening"] = {**screening_block(y, probs, screen_t, bootstrap, seed, groups), "selected_on": screen_on}
        block["n_in_training_split"] = int(in_train.sum())
        if in_train.any():
            block["contaminated"] = True
            p = probs_from_logits(logits[~in_train], T)
            acc = classification_metrics(y[~in_train], p, bootstrap, seed)["accuracy"] if (~in_train).any() else None
            block["unseen_subset"] = {"n": int((~in_train).sum()), "accuracy": acc}
        if key == "official_test":
            note = OFFICIAL_NOTE
            if in_train.any():
                note += (f"; {int(in_train.sum())} of its {len(df)} images were in this model's training/validation "
                         f"split, so this figure is contaminated (see unseen_subset)")
            block["note"] = note
        block["abstain"]["selected_on"] = selected_on
        blocks[key] = block
        arrays[key] = (df, X, y)
        for i, r in df.iterrows():
            pr = probs[i]
            pred_rows.append({"path": r["path"], "eval_split": key, "label": r["label"],
                              **{c: round(float(v), 6) for c, v in zip(config.CLASSES, pr)},
                              "p_tumour": round(float(1 - pr[NOTUMOR]), 6),
                              "prediction": config.CLASSES[int(pr.argmax())]})

    result: dict = {
        "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": predictor.name,
        "keras_sha256": meta.get("keras_sha256"),
        "data_dir": root.name,
        "synthetic": bool(is_synthetic(root)),
        "split_sha256": lf_sha,
        "split_matches_training": (trained_sha == lf_sha) if (trained_sha and train_kind == "leakfree") else None,
        "trained_on_split": train_kind,
        "temperature": T,
        "temperature_refit_val": t_refit,
        "tta": predictor.tta,
        "bootstrap": int(bootstrap),
        "ci": f"percentile bootstrap 95% (test images resampled, seed {seed})",
        "abstain_rule": {"target_val_accuracy": ABSTAIN_TARGET, "threshold": abstain_t, "found": found,
                         "min_accepted": ABSTAIN_MIN_ACCEPTED, "val_n": int(len(yva)),
                         "val_coverage": val_row["coverage"], "val_accuracy": val_row["accuracy"],
                         "val_best": {"threshold": best_t, "accuracy": best_acc},
                         "advice": "max calibrated probability below the threshold: refer to a radiologist"},
        "screening_rule": {"target_val_sensitivity": SCREEN_TARGET_SENSITIVITY, "threshold": screen_t,
                           "val_sensitivity": screen_val["sensitivity"]["value"],
                           "val_specificity": screen_val["specificity"]["value"], "val_n_missed": screen_val["n_missed"],
                           "advice": "P(tumour) at or above the threshold: treat as a possible tumour"},
        **blocks,
    }

    if robustness and "leakfree_test" in arrays:
        df, X, y = arrays["leakfree_test"]
        rob: dict = {"method": "decoded original downsampled with Pillow (BILINEAR, antialiased) so its longest "
                               "side is px, then prepared at the model's size; leak-free test",
                     "resolution": []}
        _log(f"robustness: {len(df)} images at {', '.join(map(str, RESOLUTIONS))} px", progress)
        R = robustness_arrays(root, df, S, RESOLUTIONS, progress=progress)
        idx = bootstrap_indices(len(y), bootstrap, seed) if bootstrap else None
        for px, Xr in zip(RESOLUTIONS, R):
            correct = predictor.predict_arrays(Xr).argmax(1) == y
            rob["resolution"].append({"px": px, "accuracy": ci_block(correct.mean(),
                                                                    correct[idx].mean(1) if idx is not None else None)})
        man = build_manifest(root, progress=False).set_index("path")
        wh = man.reindex(df["path"])[["width", "height"]].to_numpy()
        sel = (wh[:, 0] == 512) & (wh[:, 1] == 512)
        sub: dict = {"n": int(sel.sum()), "per_class_n": {c: int(((y == i) & sel).sum()) for i, c in enumerate(config.CLASSES)},
                     "note": "leak-free test images of exactly 512x512 px: the file-size shortcut is absent within it"}
        absent = [c for c, k in sub["per_class_n"].items() if k == 0]
        if absent and sel.any():  # e.g. the Kaggle data has no 512x512 no-tumour scan: still a 3-class shortcut
            sub["note"] += f"; no {', '.join(absent)} image has this size, so size still rules those classes out"
        if sel.any():
            p = predictor.predict_arrays(X[sel])
            sub["accuracy"] = classification_metrics(y[sel], p, bootstrap, seed)["accuracy"]
        else:
            sub["accuracy"] = {"value": float("nan"), "ci": [float("nan")] * 2}
        rob["size512_subset"] = sub
        result["robustness"] = rob
    result["wall_s"] = round(time.time() - t_start, 1)
    result = records.jsonable(result)

    if write:
        write_evaluation(predictor.path, result, pred_rows)
    return result


def union_leakfree(lf: pd.DataFrame) -> pd.DataFrame:
    """The leak-free split as a union-split model sees it: a leak-free test picture that union split v2 put in
    train or val (an adjacent slice of a training scan) takes that split."""
    from ..data.union_split import UNION_SPLIT

    if not UNION_SPLIT.is_file():
        return lf
    u = pd.read_csv(UNION_SPLIT, keep_default_na=False)
    u = u[u["collection"] == "brain-tumor-mri"].set_index("path")["split"]
    out = lf.copy()
    v2 = out["path"].map(u).fillna(out["split"])
    out["split"] = out["split"].where(~((out["split"] == "test") & (v2 != "test")), v2)  # only ever out of test
    return out


def predictions_path(models_dir: str | Path, name: str) -> Path:
    """Where write_evaluation puts a model's per-image rows (records.files: <name>/predictions.csv or
    <name>.predictions.csv)."""
    return records.files(models_dir, name).predictions


def read_predictions(models_dir: str | Path, name: str, groups: "pd.Series | None" = None) -> pd.DataFrame | None:
    """A model's saved per-image rows (None when missing or unreadable); with `groups` (path -> twin group) a `group`
    column is added, -1 for a path it does not name. Class names are read as text: "NA" stays "NA"."""
    try:
        df = pd.read_csv(predictions_path(models_dir, name), keep_default_na=False)
    except (OSError, ValueError):
        return None
    if groups is not None:
        df["group"] = df["path"].map(groups).fillna(-1).astype(int)
    return df


def write_evaluation(keras_path: str | Path, evaluation: dict, pred_rows: list[dict]) -> tuple[Path, Path]:
    """Put `evaluation` into <model>.json (every other key kept) and rows into <model>.predictions.csv."""
    f = records.files(keras_path)
    records.update(keras_path, evaluation=evaluation)
    jpath, cpath = f.record, f.predictions
    cols = ["path", "eval_split", "label", *config.CLASSES, "p_tumour", "prediction"]
    pd.DataFrame(pred_rows, columns=cols).to_csv(cpath, index=False, float_format="%.6f")
    return jpath, cpath


def add_cluster_blocks(json_path: str | Path, data_dir=None, bootstrap: int | None = None,
                       seed: int = config.SEED) -> dict:
    """Add the "cluster" block to each split of a recorded evaluation, from its saved predictions CSV and the
    split's groups: for records evaluated before cluster intervals existed, or whose weights are not committed.
    The rest of the record is untouched. Returns the updated evaluation."""
    from ..data.layouts import resolve_data_dir
    from ..data.split import load_split

    f = records.files(json_path)
    ev = records.read(json_path)["evaluation"]
    try:
        preds = pd.read_csv(f.predictions, keep_default_na=False)
    except (OSError, ValueError):
        raise FileNotFoundError(f"{f.predictions.name} is missing: run `brain-mri evaluate`") from None
    root = resolve_data_dir(data_dir)
    n_boot = int(ev.get("bootstrap", 1000) if bootstrap is None else bootstrap)
    for key, kind in (("leakfree_test", "leakfree"), ("official_test", "official")):
        if key not in ev:
            continue
        rows = preds[preds["eval_split"] == key].merge(load_split(kind, root)[["path", "group"]], on="path",
                                                       how="left", validate="one_to_one")
        if len(rows) != ev[key]["n"] or rows["group"].isna().any():
            raise ValueError(f"{f.name}: its {key} predictions do not match the current {kind} split")
        y = rows["label"].map(config.CLASSES.index).to_numpy()
        ev[key]["cluster"] = records.jsonable(cluster_metrics(y, rows[list(config.CLASSES)].to_numpy(), rows["group"].to_numpy(),
                                                    n_boot, seed))
    records.update(json_path, evaluation=ev)
    return ev


def format_table(ev: dict) -> str:
    lines = [f"model {ev.get('model')}  data {ev.get('data_dir')}{' (SYNTHETIC phantoms)' if ev.get('synthetic') else ''}"
             f"  split {str(ev.get('split_sha256'))[:12]}  T={ev.get('temperature', float('nan')):.3f} "
             f"(refit on val {ev.get('temperature_refit_val', float('nan')):.3f})  bootstrap {ev.get('bootstrap')}"
             + (f"  TTA {ev['tta']}" if ev.get("tta") else "")]
    for key, title in (("leakfree_test", "leak-free test (headline)"), ("official_test", "official Testing (leaky)")):
        b = ev.get(key)
        if not b:
            continue
        t = b["tumour"]
        lines.append(f"\n{title}: n={b['n']}" + (f", {b['n_in_training_split']} seen in training" if b.get("n_in_training_split") else ""))
        lines.append(f"  accuracy      {value_ci(b['accuracy'])}")
        lines.append(f"  macro-F1      {value_ci(b['macro_f1'], False)}")
        for c, pc in b["per_class"].items():
            lines.append(f"  {c:<12}  P {value_ci(pc['precision'])}  R {value_ci(pc['recall'])}  F1 {value_ci(pc['f1'], False)}  n={pc['support']}")
        lines.append(f"  tumour vs none @0.5: sensitivity {value_ci(t['sensitivity'], key='sensitivity')}  specificity {value_ci(t['specificity'], key='specificity')}  "
                     f"AUC {value_ci(t['roc_auc'], key='roc_auc')}")
        c = b["calibration"]
        lines.append(f"  ECE (15 bins) raw {c['ece_raw']:.4f} -> calibrated {c['ece_calibrated']:.4f}")
        a = b["abstain"]
        acc = "n/a" if a["accuracy"] is None else f"{100 * a['accuracy']:.1f}%"
        lines.append(f"  abstain below {a['threshold']:.3f}: coverage {100 * a['coverage']:.1f}%, accuracy on accepted {acc}, "
                     f"{a['n_referred']} referred")
        sc = b.get("screening")
        if sc:
            how = (f"chosen on val for >= {100 * SCREEN_TARGET_SENSITIVITY:.1f}% sensitivity"
                   if str(sc.get("selected_on", "")).endswith("val") else f"the operating point: {sc['selected_on']}")
            lines.append(f"  screening @{sc['threshold']:.3g} ({how}): sensitivity {value_ci(sc['sensitivity'], key='sensitivity')}  specificity {value_ci(sc['specificity'], key='specificity')}  "
                         f"missed {sc['n_missed']} of {sc['n_tumour']}")
        cl = b.get("cluster")
        if cl:
            lines.append(f"  twin groups resampled whole ({cl['n_groups']} groups): accuracy {value_ci(cl['accuracy'])}  "
                         f"macro-F1 {value_ci(cl['macro_f1'], False)}  sensitivity {value_ci(cl['sensitivity'], key='sensitivity')}")
            lines.append(f"  per twin group (each group once): accuracy {value_ci(cl['per_group_accuracy'])}")
        if b.get("unseen_subset"):
            lines.append(f"  unseen subset (n={b['unseen_subset']['n']}): accuracy {value_ci(b['unseen_subset']['accuracy'])}")
        if b.get("note"):
            lines.append(f"  note: {b['note']}")
    ar = ev.get("abstain_rule") or {}
    if ar and not ar.get("found"):
        best = ar.get("val_best") or {}
        how = (f" (best {100 * best['accuracy']:.1f}% at >= {best['threshold']:.3f})"
               if best.get("accuracy") is not None else "")
        lines.append(f"\nabstain rule: no threshold reaches {100 * ar['target_val_accuracy']:.0f}% accuracy on >= "
                     f"{ar['min_accepted']} val images{how}; fallback threshold {ar['threshold']}")
    r = ev.get("robustness")
    if r:
        lines.append("\nrobustness (leak-free test): " + ", ".join(f"{x['px']}px {value_ci(x['accuracy'])}" for x in r["resolution"]))
        s = r["size512_subset"]
        lines.append(f"  512x512-only subset n={s['n']}: accuracy {value_ci(s['accuracy'])}")
    lines.append(f"\n({ev.get('wall_s')} s)")
    return "\n".join(lines)


def cli_evaluate(args) -> int:
    from ..errors import DataError
    from ..errors import ModelError
    from ..modeling.predictor import load_model
    from ..errors import ImageError

    try:
        predictor = load_model(getattr(args, "model", None))
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        ev = evaluate_model(predictor, data_dir=getattr(args, "data_dir", None),
                            bootstrap=int(getattr(args, "bootstrap", 1000) or 0))
    except (DataError, ImageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(format_table(ev))
    f = records.files(predictor.path)
    print(f"wrote evaluation into {f.record.name} and "
          f"{f.predictions.name}")
    return 0
