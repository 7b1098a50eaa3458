"""Leave one source out: train without a collection, test on it. The honest estimate of how a model does on a
collection nobody has shown it (experiments/batch4_cross_collection/PLAN.md says what "leaving out" means).

Metrics are of the binary call P(tumour) >= 0.5 (calibrated by the run's own validation temperature), with 95%
intervals from a bootstrap over twin groups (copies of one picture move together).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..modeling.predictor import CALL  # one call threshold for the records, `predict` and the dashboard

BATCH4 = config.PROJ_ROOT / "experiments" / "batch4_cross_collection"
BATCH5 = config.PROJ_ROOT / "experiments" / "batch5_lesion_synthesis"
BATCH7 = config.PROJ_ROOT / "experiments" / "batch7_symmetry"
BATCH8 = config.PROJ_ROOT / "experiments" / "batch8_asymmetry_only"
BATCH9 = config.PROJ_ROOT / "experiments" / "batch9_ensembles"
SEEDS8 = (config.SEED, 7)  # batch 8 scores a recipe by its mean over these seeds
ORDER = ("old", "multi", "multi_var", "multi_var_bal")  # ingredients in the pre-registered order
LINK_THRESHOLDS = (0.975, 0.96, 0.95, 0.94, 0.92, 0.90)


def binary_metrics(y_tumour, p_tumour, groups, thr: float = CALL, n_boot: int = 1000, seed: int = 0) -> dict:
    """Sensitivity, specificity, ROC-AUC and ECE (10 bins) of P(tumour), each with a group-bootstrap 95% CI.
    A metric the rows cannot define (no healthy slice: specificity, AUC) is None."""
    from sklearn.metrics import roc_auc_score

    y, p = np.asarray(y_tumour, bool), np.asarray(p_tumour, float)

    def stats(idx):
        yy, q = y[idx], p[idx]
        bins = np.minimum((q * 10).astype(int), 9)
        return {"sensitivity": (q[yy] >= thr).mean() if yy.any() else np.nan,
                "specificity": (q[~yy] < thr).mean() if (~yy).any() else np.nan,
                "auc": roc_auc_score(yy, q) if 0 < yy.sum() < len(yy) else np.nan,
                "ece": sum(abs(q[bins == b].mean() - yy[bins == b].mean()) * (bins == b).mean()
                           for b in range(10) if (bins == b).any())}

    point = stats(np.arange(len(p)))
    ug, inv = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[order], np.arange(len(ug)))
    members = np.split(order, starts[1:])
    rng = np.random.default_rng(seed)
    boots = [stats(np.concatenate([members[k] for k in rng.integers(0, len(ug), len(ug))])) for _ in range(n_boot)]
    out = {"n_tumour": int(y.sum()), "n_healthy": int((~y).sum()), "n_groups": int(len(ug))}
    for k, v in point.items():
        b = np.array([s[k] for s in boots], float)
        b = b[~np.isnan(b)]
        out[k] = None if np.isnan(v) else float(v)
        out[f"{k}_ci"] = (None if np.isnan(v) or not len(b)
                          else [float(np.percentile(b, 2.5)), float(np.percentile(b, 97.5))])
    return out


def metrics_by_collection(pred: pd.DataFrame, n_boot: int = 1000, thr: float = CALL) -> dict:
    """{"all": ..., "<collection>": ...} for a predictions table (label, group, p_tumour), calls at `thr`."""
    y = (pred["label"] != config.NO_TUMOUR).to_numpy()
    out = {"all": binary_metrics(y, pred["p_tumour"], pred["group"], thr=thr, n_boot=n_boot)}
    for col, sub in pred.groupby("collection"):
        out[col] = binary_metrics(sub["label"] != config.NO_TUMOUR, sub["p_tumour"], sub["group"], thr=thr,
                                  n_boot=n_boot)
    return out


def in_dataset_accuracy(pred: pd.DataFrame) -> float | None:
    """4-class accuracy (argmax) on the Kaggle set's leak-free test pictures among the predictions: the number of
    chapters 03-04, comparable because the union split keeps that test set whole."""
    rows = pred[(pred["old_split"] == "test") & pred["label"].isin(config.CLASSES)]
    if not len(rows):
        return None
    P = rows[[f"p_{c}" for c in config.CLASSES]].to_numpy(float)
    return float((np.array(config.CLASSES)[P.argmax(1)] == rows["label"].to_numpy()).mean())


def warning_counts(pred: pd.DataFrame, thr: float = CALL) -> dict:
    """Missed tumours (P(tumour) below the call threshold) and how many carried the unfamiliar-scan warning."""
    tum = (pred["label"] != config.NO_TUMOUR).to_numpy()
    missed = tum & (pred["p_tumour"].to_numpy() < thr)
    unf = pred["unfamiliar"].to_numpy(bool)
    return {"n_tumour": int(tum.sum()), "missed": int(missed.sum()), "missed_warned": int((missed & unf).sum()),
            "missed_unwarned": int((missed & ~unf).sum()), "warned": float(unf.mean())}


def call_threshold(rec: dict | None) -> float:
    """A run's tumour-call threshold: its operating point (batch 10 on) or the fixed 0.5 of batches 4-9."""
    t = ((rec or {}).get("operating_point") or {}).get("threshold")
    return float(t) if t else CALL


def run(recipe: str, fold: str | None, out_dir: Path, epochs: int | None = None, name: str | None = None,
        shipped: bool = False, verbose: int = 2, seed: int | None = None) -> records.ModelFiles:
    """Train one recipe on one fold (or the whole union split), save it, add its metrics to its record."""
    from ..modeling import train_union

    u = union_split.build()
    X = union_split.union_arrays(u)
    over = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
    cfg = train_union.config_for(recipe, fold, **over)
    result = train_union.train_fold(cfg, u, X, verbose=verbose)
    f = train_union.save_run(result, Path(out_dir), name or f"{recipe}__{fold or 'union'}", shipped=shipped)
    pred = pd.read_csv(train_union.union_predictions_path(f), keep_default_na=False)
    if shipped:  # a shipped model's folder holds the ONNX export the dashboard and the CLI run (issue 23)
        from ..modeling.export import export_model

        export_model(f.weights)
    thr = call_threshold(records.read(f.record))
    records.update(f.record, metrics=metrics_by_collection(pred, thr=thr), warnings=warning_counts(pred, thr),
                   leakfree_accuracy=in_dataset_accuracy(pred), call_threshold=thr)
    return f


# ------------------------------------------------------------------------------------------------ tables
def read_batch(folder: Path) -> list[dict]:
    """The run records of a batch folder, each with its predictions attached as "pred"."""
    out, seen = [], set()
    for f in records.find(folder, experiments=False):  # this batch's runs only
        if f.record in seen:  # a run is named once per file it holds
            continue
        seen.add(f.record)
        rec = records.read(f.record)
        if rec and rec.get("config", {}).get("split") == "union":
            rec["pred"] = pd.read_csv(f.predictions, keep_default_na=False) if f.predictions.is_file() else None
            out.append(rec)
    return out


def loco_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per (recipe, fold): the held-out source's metrics over all its files."""
    rows = []
    for r in runs:
        fold = r["config"].get("fold")
        if not fold:
            continue
        m, w = r["metrics"]["all"], r.get("warnings", {})
        rows.append({"recipe": r["config"]["recipe"], "fold": fold, "seed": r["config"].get("seed", config.SEED),
                     **{k: m[k] for k in (
            "n_tumour", "n_healthy", "sensitivity", "sensitivity_ci", "specificity", "specificity_ci", "auc",
            "auc_ci", "ece")},
            "balanced": None if m["specificity"] is None else (m["sensitivity"] + m["specificity"]) / 2,
            "missed": w.get("missed"), "missed_unwarned": w.get("missed_unwarned"),
            "train_images": r["data"]["n_train"], "minutes": r["train_wall_s"] / 60})
    return pd.DataFrame(rows)


def recipe_scores(loco: pd.DataFrame, seed: int = config.SEED) -> pd.DataFrame:
    """Pre-registered scores: primary = mean balanced accuracy over the br35h and sartaj folds; secondary =
    figshare-fold sensitivity. `seed`: the runs of that seed only (the rules were written for seed 42)."""
    out = []
    if "seed" in loco:
        loco = loco[loco["seed"] == seed]
    for recipe, sub in loco.groupby("recipe", sort=False):
        both = sub[sub["fold"].isin(["br35h", "sartaj"])]
        fig = sub[sub["fold"] == "figshare"]
        out.append({"recipe": recipe, "primary": both["balanced"].mean() if len(both) == 2 else np.nan,
                    "secondary": float(fig["sensitivity"].iloc[0]) if len(fig) else np.nan})
    return pd.DataFrame(out, columns=["recipe", "primary", "secondary"]).set_index("recipe")


def select(scores: pd.DataFrame, order=ORDER, secondary: bool = False) -> tuple[str, list[str]]:
    """Walk the ingredients in order; keep one when the primary score rises by >= 1 point against the recipe
    without it (and, secondary=True, the rule as first written: the figshare sensitivity falls by <= 2 points; the
    plan's amendment says why that criterion was dropped). Returns (chosen recipe, one line per decision)."""
    chosen, notes = order[0], []
    for nxt in order[1:]:
        if nxt not in scores.index or chosen not in scores.index:
            notes.append(f"{nxt}: not run")
            continue
        a, b = scores.loc[chosen], scores.loc[nxt]
        gain, drop = (b["primary"] - a["primary"]) * 100, (a["secondary"] - b["secondary"]) * 100
        keep = bool(gain >= 1 and (drop <= 2 or not secondary))
        notes.append(f"`{nxt}` against `{chosen}`: primary {gain:+.1f} points, figshare sensitivity {-drop:+.1f} "
                     f"points: {'kept' if keep else 'not kept'}")
        if keep:
            chosen = nxt
    return chosen, notes


def synthesis_decision(loco4: pd.DataFrame, loco5: pd.DataFrame, base: str = "multi_var_bal") -> tuple[bool, str]:
    """Batch 5's rule: lesion synthesis kept if sartaj-fold balanced accuracy rises >= 1 point and figshare-fold
    sensitivity falls <= 2 points, against `base` on the same folds."""
    def get(df, recipe, fold, col):
        row = df[(df["recipe"] == recipe) & (df["fold"] == fold)]
        return float(row[col].iloc[0]) if len(row) else np.nan

    synth = base + "_synth"
    gain = (get(loco5, synth, "sartaj", "balanced") - get(loco4, base, "sartaj", "balanced")) * 100
    drop = (get(loco4, base, "figshare", "sensitivity") - get(loco5, synth, "figshare", "sensitivity")) * 100
    keep = bool(gain >= 1 and drop <= 2)
    return keep, (f"lesion synthesis against `{base}`: sartaj-fold balanced accuracy {gain:+.1f} points, figshare "
                  f"sensitivity {-drop:+.1f} points: {'kept' if keep else 'not kept'}")


def symmetry_decision(loco4: pd.DataFrame, loco7: pd.DataFrame) -> tuple[bool, str]:
    """Batch 7's rule: the asymmetry channel is kept if `multi_sym`'s primary score is >= 1 point above `multi`'s
    (the figshare-fold sensitivity is printed and does not decide)."""
    a, b = recipe_scores(loco4).loc["multi"], recipe_scores(loco7).loc["multi_sym"]
    gain, fig = (b["primary"] - a["primary"]) * 100, (b["secondary"] - a["secondary"]) * 100
    keep = bool(gain >= 1)
    return keep, (f"`multi_sym` against `multi`: primary {gain:+.1f} points, figshare sensitivity {fig:+.1f} "
                  f"points: {'kept' if keep else 'not kept'}")


def seed_mean_primary(loco: pd.DataFrame, recipe: str, seeds=SEEDS8) -> float:
    """A recipe's primary score averaged over seeds (NaN when a seed's two folds are not both there)."""
    vals = [recipe_scores(loco, sd)["primary"].get(recipe, np.nan) for sd in seeds]
    return float(np.mean(vals)) if vals else np.nan


def seed_mean_decision(loco_base: pd.DataFrame, loco_new: pd.DataFrame, base: str = "multi_sym",
                       bar: float = 4.0) -> tuple[str | None, str]:
    """Batches 8 and 9's rule: the best recipe of `loco_new` by the primary score averaged over seeds 42 and 7, kept
    if that is >= `bar` points above `base`'s (in `loco_base`, the same seeds). (kept recipe or None, one line)."""
    base_score = seed_mean_primary(loco_base, base)
    scores = {r: seed_mean_primary(loco_new, r) for r in dict.fromkeys(loco_new["recipe"])}
    scores = {r: v for r, v in scores.items() if not np.isnan(v)}
    if not scores:
        return None, "no recipe has both seeds on both folds"
    best = max(scores, key=scores.get)
    gain = (scores[best] - base_score) * 100
    keep = bool(gain >= bar)
    listed = ", ".join(f"`{r}` {100 * v:.1f}%" for r, v in scores.items())
    return (best if keep else None), (f"primary score, mean of seeds {' and '.join(map(str, SEEDS8))}: {listed}, "
                                      f"against `{base}` {100 * base_score:.1f}%: {gain:+.1f} points, "
                                      f"{'kept' if keep else 'not kept'} (rule: at least {bar:g} points)")


def collapse_table(pred: pd.DataFrame, kaggle_groups) -> pd.DataFrame:
    """Share called tumour per collection and label, by whether the picture's twin group is in the Kaggle set."""
    d = pred.assign(seen=pred["group"].isin(set(kaggle_groups)), called=pred["p_tumour"] >= CALL)
    return (d.groupby(["collection", "label", "seen"]).agg(n=("called", "size"), called_tumour=("called", "mean"))
            .reset_index())


def linking_table(nearest: np.ndarray, correct: np.ndarray, thresholds=LINK_THRESHOLDS) -> pd.DataFrame:
    """In-dataset accuracy on the test pictures whose nearest train/val picture lies at or below each cosine:
    what the number becomes if pictures that close were one patient and left the test set."""
    rows = []
    for t in thresholds:
        keep = nearest <= t
        rows.append({"threshold": t, "n_test": int(keep.sum()), "dropped": int((~keep).sum()),
                     "accuracy": float(correct[keep].mean()) if keep.any() else None})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------- the chapter's results
def _union_predictions(predictor, u, X) -> pd.DataFrame:
    P = predictor.predict_arrays(X)
    pred = u.table[["collection", "path", "label", "group", "sources", "split", "old_split"]].copy()
    pred["p_tumour"] = (1 - P[:, config.CLASSES.index(config.NO_TUMOUR)]).round(5)
    pred["pred"] = [config.CLASSES[k] for k in P.argmax(1)]
    return pred


def compute_chapter(v1: str | Path, shipped: str | Path, out: Path = BATCH4 / "chapter.json") -> dict:
    """Everything notebook 05 shows that is not already in a run record: the collapse of the v1 model on pictures
    it never saw, the LOCO tables and selection, localisation of v1 and the shipped model on held-out outlined Br35H
    slices (and of the br35h-fold runs whose weights are present), and the linking-threshold table."""
    from ..data import audit, outlines
    from ..modeling import explain
    from ..modeling.predictor import load_model
    from . import localisation

    u = union_split.build()
    X = union_split.union_arrays(u)
    res = records.read_json(out) or {}
    old_p, new_p = load_model(v1), load_model(shipped)
    v1_pred = _union_predictions(old_p, u, X)
    v1_pred.to_csv(BATCH4 / f"{old_p.name}.union.predictions.csv", index=False)
    kag_groups = set(u.table.loc[u.table["collection"] == "brain-tumor-mri", "group"])
    res["collapse"] = collapse_table(v1_pred, kag_groups).to_dict("records")
    res["v1"] = {"name": old_p.name, "unseen_tumour_called": float(
        (v1_pred.loc[(v1_pred["label"] != config.NO_TUMOUR) & ~v1_pred["group"].isin(kag_groups), "p_tumour"]
         >= CALL).mean())}
    # LOCO and the selection
    loco4 = loco_frame(read_batch(BATCH4))
    loco5 = loco_frame(read_batch(BATCH5))
    scores = recipe_scores(loco4)
    chosen, notes = select(scores)
    as_written, notes_written = select(scores, secondary=True)
    res["selection"] = {"batch4_choice": chosen, "batch4_notes": notes, "rule_as_written_choice": as_written,
                        "rule_as_written_notes": notes_written, "scores": scores.reset_index().to_dict("records")}
    if len(loco5):
        keep, note = synthesis_decision(loco4, loco5, base=chosen if chosen.startswith("multi_var") else "multi_var_bal")
        res["selection"].update(synthesis_kept=keep, synthesis_note=note)
    final = chosen + "_synth" if res["selection"].get("synthesis_kept") else chosen
    loco7 = loco_frame(read_batch(BATCH7))
    if len(loco7) and final == "multi":
        keep, note = symmetry_decision(loco4, loco7)
        res["selection"].update(symmetry_kept=keep, symmetry_note=note,
                                scores7=recipe_scores(loco7).reset_index().to_dict("records"))
        final = "multi_sym" if keep else final
    for batch, folder in (("asymmetry_only", BATCH8), ("ensemble", BATCH9)):
        loco_new = loco_frame(read_batch(folder))
        if len(loco_new) and final == "multi_sym":
            kept, note = seed_mean_decision(loco7, loco_new)
            res["selection"].update({f"{batch}_kept": kept, f"{batch}_note": note})
            final = kept or final
    res["selection"]["final_choice"] = final
    # localisation on held-out outlined Br35H slices: the union test split's, for v1 and the shipped model
    rows, masks = outlines.union_masks(u.table, u.roots)
    test = np.isin(rows, u.table.index[u.table["split"] == "test"])
    if test.any():
        # each model's own Grad-CAM choice (its record's; the predictor carries it)
        res["localisation_test"] = {p.name: {k: v for k, v in localisation.score(p, X[rows[test]], masks[test])
                                             .items() if k != "hits"} | {"n": int(test.sum())}
                                    for p in (old_p, new_p)}
    # and every br35h-fold run whose weights are here (models that never saw a Br35H picture: all 801 outlines)
    fold_loc = res.get("localisation_br35h_fold", {})
    runs = {f.record: f for b in (BATCH4, BATCH5, BATCH7, BATCH8)
            for f in records.find(b, experiments=False)}
    for f in runs.values():
        rec = records.read(f.record)
        if rec and rec.get("config", {}).get("fold") == "br35h" and f.weights.is_file() and len(rows):
            import keras

            from ..modeling import architectures  # noqa: F401 - registers the custom layers for loading

            m = keras.saving.load_model(f.weights, compile=False)
            target, grid = explain.gradcam_choice(rec)  # the run's own choice; fold runs have none: the fallback
            s = localisation.score(m, X[rows], masks, target=target, grid=grid)
            fold_loc[f.name] = {k: v for k, v in s.items() if k != "hits"}
    res["localisation_br35h_fold"] = fold_loc
    # linking threshold: the Kaggle leak-free test pictures by their nearest train/val picture
    t = u.table
    kag = t["collection"] == "brain-tumor-mri"
    te = kag & (t["old_split"] == "test")
    trv = kag & t["old_split"].isin(["train", "val"])
    th = u.thumbs[:, 0].astype(np.float32)
    nearest = audit.max_cross_similarity(th[te.to_numpy()], th[trv.to_numpy()])
    truth = t.loc[te, "label"].to_numpy()
    res["linking"] = {}
    for p, pred in ((old_p, v1_pred), (new_p, _union_predictions(new_p, u, X))):
        correct = (pred.loc[te, "pred"].to_numpy() == truth)
        res["linking"][p.name] = linking_table(nearest, correct).to_dict("records")
    res["linking_neighbours"] = {"0.95-0.975": int(((nearest > 0.95) & (nearest <= 0.975)).sum()),
                                 "above 0.975": int((nearest > 0.975).sum()), "n_test": int(len(nearest))}
    records.write_json(res, out)
    return res


def ensemble_union(member_paths: list, name: str, out_dir: Path = config.MODELS_DIR, shift: float = 0.0,
                   recipe: str | None = None, mirror: bool = False, tta: str | None = None) -> records.ModelFiles:
    """Merge union models (modeling.ensemble.build_union) and add the per-collection metrics, as `run` does for
    a trained one."""
    from ..modeling.ensemble import build_union
    from ..modeling.train_union import union_predictions_path

    f = records.files(build_union(member_paths, name, out_dir=out_dir, shift=shift, recipe=recipe, mirror=mirror,
                                  tta=tta))
    pred = pd.read_csv(union_predictions_path(f), keep_default_na=False)
    thr = call_threshold(records.read(f.record))
    records.update(f.record, metrics=metrics_by_collection(pred, thr=thr), warnings=warning_counts(pred, thr),
                   leakfree_accuracy=in_dataset_accuracy(pred), call_threshold=thr)
    return f


def cli_ensemble_union(args) -> int:
    import sys

    from ..errors import ModelError

    try:
        f = ensemble_union(args.models, args.name, Path(args.out_dir), shift=args.shift, recipe=args.recipe,
                           mirror=getattr(args, "mirror", False), tta=getattr(args, "tta", None))
    except (ModelError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = records.read(f.record)["metrics"]["all"]
    print(f"{f.name}: sensitivity {m['sensitivity']}, specificity {m['specificity']} -> {f.record.name}")
    return 0


def cli_train_union(args) -> int:
    import sys

    from ..data import collections as cx

    if "brain-tumor-mri" not in cx.available():
        print(f"error: {cx.missing_message('brain-tumor-mri')}", file=sys.stderr)
        return 1
    try:
        f = run(args.recipe, args.fold, Path(args.out_dir), epochs=args.epochs, name=args.name, shipped=args.shipped,
                seed=getattr(args, "seed", None))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = records.read(f.record)["metrics"]["all"]
    print(f"{f.name}: sensitivity {m['sensitivity']}, specificity {m['specificity']} -> {f.record.name}")
    return 0


def no_verdict_ratio(runs: list[dict]) -> float | None:
    """The largest distance-over-threshold that a real MRI slice of a held-out collection reached in the LOCO
    runs, rounded up to a tenth: modeling.familiarity.NO_VERDICT_RATIO, beyond which no verdict is given."""
    ratios = [r["pred"]["familiarity_ratio"].max() for r in runs
              if r["config"].get("fold") and r.get("pred") is not None and "familiarity_ratio" in r["pred"]]
    return float(np.ceil(max(ratios) * 10) / 10) if ratios else None
