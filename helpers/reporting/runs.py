"""What a report run loads or computes: the models to show (load the shipped record, or train a stand-in in smoke
runs), current evaluations, baselines, saved predictions, scan-type tags and the capstone gaps.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Sequence
from .. import config, records
from ..records import trained_on
from .context import RunContext, show_path


# ------------------------------------------------------------------------------------------------ results
def evaluation_status(meta: dict | None, split_sha: str | None = None, synthetic: bool | None = None) -> tuple[bool, str]:
    """(usable, reason) for the "evaluation" block of a model record: missing, made on another split (sha256
    mismatch) or on the other kind of data (synthetic vs real) -> not usable."""
    if not meta:
        return False, "no model record"
    ev = meta.get("evaluation")
    if not ev:
        return False, "no evaluation recorded yet"
    if split_sha and ev.get("split_sha256") and ev["split_sha256"] != split_sha:
        return False, f"stale: evaluated on split {ev['split_sha256'][:12]}, current split is {split_sha[:12]}"
    if synthetic is not None and "synthetic" in ev and bool(ev["synthetic"]) != bool(synthetic):
        return False, "stale: evaluated on " + ("synthetic" if ev["synthetic"] else "real") + " data"
    if meta.get("keras_sha256") and ev.get("keras_sha256") and ev["keras_sha256"] != meta["keras_sha256"]:
        return False, "stale: the weights changed since the evaluation (keras_sha256 mismatch)"
    return True, f"recorded evaluation from {ev.get('evaluated_at', '?')}"


def get_baselines(ctx: RunContext, bootstrap: int | None = None, size: int | None = None,
                  refresh: bool | None = None) -> dict | None:
    """The baselines of helpers.evaluation.baselines for this run's data: <model_dir>/baselines.json when it was computed on
    the current split and the same kind of data, else computed now and written there (smoke runs: with a small
    bootstrap). None, with a printed reason, if helpers.evaluation.baselines is unavailable."""
    from ..data.split import load_split

    path = ctx.model_dir / "baselines.json"
    sha = load_split("leakfree", ctx.root).attrs.get("sha256")
    rec = records.read_json(path)
    if refresh is None:
        from ..evaluation.baselines import PROFILE_PREDICTIONS, VERSION

        refresh = (rec is None or rec.get("split_sha256") != sha or bool(rec.get("synthetic")) != ctx.synthetic
                   or rec.get("version") != VERSION or not (ctx.model_dir / PROFILE_PREDICTIONS).is_file())
    if rec is not None and not refresh:
        print(f"baselines: recorded in {ctx.show(path)} ({rec.get('computed_at', '?')})")
        return rec
    try:
        from ..evaluation import baselines
    except ImportError as e:
        print(f"helpers.evaluation.baselines is not available ({e}): baselines skipped")
        return None
    boot = bootstrap if bootstrap is not None else (100 if ctx.smoke else 1000)
    rec = baselines.run_baselines(ctx.root, bootstrap=boot, out=path, progress=False,
                                  size=size or config.IMG_SIZE)
    print(f"baselines: computed now in {rec.get('wall_s', '?')} s -> {ctx.show(path)}")
    return rec


# ------------------------------------------------------------------------------------------------ models (03)
MODEL_NAMES = {"brain_tumor_cnn": "our model", "capstone_cnn": "capstone CNN",
               "capstone_cnn_256": "capstone CNN at 256 px (as described)",
               "capstone_cnn_official": "capstone CNN, official split (contaminated: saw test pictures)"}

# What a smoke or synthetic run trains instead of the shipped models: seconds on 2 cores, on the data at hand.
SMOKE_RECIPES = {
    "brain_tumor_cnn": {"arch": "tiny", "max_train_images": 200, "epochs": 2, "img_size": 64},
    "capstone_cnn": {"arch": "capstone_cnn", "max_train_images": 200, "epochs": 1, "img_size": 64},
}

def model_names(ctx: RunContext) -> list[str]:
    """The models this run reports on: ours and the capstone CNN, plus, when their records exist in model_dir,
    `capstone_cnn_256` (the capstone's network at its own input size) and `capstone_cnn_official` (the capstone CNN
    trained on Kaggle's own Training folder, the published protocol)."""
    names = ["brain_tumor_cnn", "capstone_cnn"]
    names += [n for n in ("capstone_cnn_256", "capstone_cnn_official") if records.files(ctx.model_dir, n).record.is_file()]
    return names


def model_plan(name: str, ctx: RunContext, retrain: bool = False, epochs: int | None = None,
               img_size: int | None = None) -> dict:
    """What notebook 03 does for one model: {"name", "action": "load" | "train" | "missing", "json": Path,
    "config": dict | None, "why": str}.

    Real data: load <model_dir>/<name>.json; retrain=True re-runs its recorded recipe (`config`) into model_dir.
    Smoke or synthetic data: train a small stand-in (SMOKE_RECIPES) into <output>/models — the shipped models
    were trained on the real data and mean nothing on phantoms; with retrain=True the recorded recipe is used,
    cut down to the smoke budget.
    """
    jpath = records.files(ctx.model_dir, name).record
    shipped = records.read(config.MODELS_DIR, name)
    recorded = (shipped or {}).get("config")
    members = (shipped or {}).get("members") or []
    if ctx.real:
        if retrain:
            if not recorded:
                return {"name": name, "action": "missing", "json": jpath, "config": None,
                        "why": f"no recorded recipe in models/{name}.json to retrain from"}
            if members:  # retrain every member with its recorded recipe, then merge them again
                return {"name": name, "action": "train", "json": jpath,
                        "config": {**recorded, "member_configs": [dict(m["config"]) for m in members]},
                        "why": f"RETRAIN=True: the {len(members)} members' recorded recipes, then `brain-mri ensemble`"}
            where = trained_on(shipped)
            if where.endswith("GPU"):  # its time budget guarded a shared GPU; here it would cut the schedule short
                return {"name": name, "action": "train", "json": jpath, "config": {**recorded, "time_budget_min": 0},
                        "why": f"RETRAIN=True: the recorded recipe, on the real data (it was trained on {where}; "
                               "on a CPU it takes hours: see `make bench`)"}
            return {"name": name, "action": "train", "json": jpath, "config": dict(recorded),
                    "why": "RETRAIN=True: the recorded recipe, on the real data"}
        if jpath.is_file():
            return {"name": name, "action": "load", "json": jpath, "config": None, "why": "shipped model"}
        arch = "capstone_cnn" if name == "capstone_cnn" else "resnet_small"
        return {"name": name, "action": "missing", "json": jpath, "config": None,
                "why": f"{show_path(jpath)} not found: train it with `brain-mri train --arch {arch}`"}
    if name not in SMOKE_RECIPES:
        return {"name": name, "action": "load" if jpath.is_file() else "missing", "json": jpath, "config": None,
                "why": "recorded model" if jpath.is_file() else f"{show_path(jpath)} not found"}
    small = dict(SMOKE_RECIPES[name])
    if members:  # an ensemble: one member's recipe stands in for a smoke retrain
        recorded = members[0]["config"]
    if retrain and recorded:
        cfg = {**recorded, "max_train_images": small["max_train_images"], "epochs": small["epochs"],
               "img_size": small["img_size"], "time_budget_min": 2}
        why = "RETRAIN in a smoke/synthetic run: the recorded recipe on a small subset"
    else:
        cfg = small
        why = ("smoke run" if ctx.smoke else "synthetic data") + ": a small stand-in trained on the data at hand"
    if epochs:
        cfg["epochs"] = int(epochs)
    if img_size and ctx.smoke:
        cfg["img_size"] = int(img_size)
    cfg.update(name=name, seed=ctx.seed)
    return {"name": name, "action": "train", "json": jpath, "config": cfg, "why": why}


def run_plan(plan: dict, ctx: RunContext, verbose: int = 0) -> dict | None:
    """Carry out a model_plan: train if asked, then return the model's JSON record (None if missing)."""
    print(f"{plan['name']}: {plan['action']} — {plan['why']}")
    if plan["action"] == "missing":
        return None
    if plan["action"] == "train":
        import contextlib

        from ..modeling.train import train

        # train() prints where it saved; keep this machine's absolute paths out of the executed notebook.
        cfg = plan["config"]
        with contextlib.redirect_stdout(_Scrubbed(sys.stdout, ctx)):
            if cfg.get("arch") == "ensemble":
                from ..modeling.ensemble import build

                paths = [records.files(train(mc, data_dir=ctx.root, out_dir=ctx.model_dir, verbose=verbose)).weights
                         for mc in cfg["member_configs"]]
                build(paths, plan["name"], out_dir=ctx.model_dir, data_dir=ctx.root)
            else:
                train(cfg, data_dir=ctx.root, out_dir=ctx.model_dir, verbose=verbose)
    return records.read_json(plan["json"])


class _Scrubbed:
    """A text stream that forwards to `stream` with the run's absolute folders replaced by their short names."""

    def __init__(self, stream, ctx: RunContext):
        self.stream = stream
        pairs = [(ctx.model_dir, ctx.show(ctx.model_dir)), (ctx.out_dir, "<output>"), (ctx.root, "<data>"),
                 (config.PROJ_ROOT, ".")]
        self.subs = sorted(((str(Path(os.path.abspath(a))), b) for a, b in pairs), key=lambda t: -len(t[0]))

    def write(self, text: str) -> int:
        for a, b in self.subs:
            text = text.replace(a, b)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def member_records(meta: dict | None, model_dir: Path) -> dict[str, dict]:
    """{member name: its JSON record} for an ensemble record (members whose record is missing are left out)."""
    out = {}
    for mem in (meta or {}).get("members") or []:
        rec = records.read(model_dir, mem["name"]) or records.read(records.locate(mem["name"]).record)
        if rec:
            out[mem["name"]] = rec
    return out


def training_histories(meta: dict | None, model_dir: Path) -> dict:
    """What plots.training_curves draws for a record: its history, or for an ensemble {member: history}."""
    if meta and meta.get("members"):
        return {name: rec.get("history", {}) for name, rec in member_records(meta, model_dir).items()}
    return (meta or {}).get("history", {})


# ------------------------------------------------------------------------------------------------ evaluation (04)
def ensure_evaluations(ctx: RunContext, names: Sequence[str] = ("brain_tumor_cnn", "capstone_cnn"),
                       bootstrap: int = 1000, force: bool = False) -> dict[str, dict]:
    """{name: model record with a current "evaluation"} for the models present in ctx.model_dir.

    A recorded evaluation is reused when it matches the current split, data kind and weights; otherwise (or with
    force=True, as in smoke runs) helpers.evaluation.evaluate.evaluate_model runs now and writes it into the record and
    <name>.predictions.csv. Missing models are reported and left out."""
    from ..evaluation.evaluate import predictions_path
    from ..data.split import load_split

    sha = load_split("leakfree", ctx.root).attrs.get("sha256")
    out: dict[str, dict] = {}
    for name in names:
        jpath = records.files(ctx.model_dir, name).record
        meta = records.read(jpath)
        if meta is None:
            print(f"{name}: no model at {ctx.show(jpath)} — skipped")
            continue
        ok, why = evaluation_status(meta, sha, ctx.synthetic)
        if ok and not force:
            print(f"{name}: {why}")
            lt = meta["evaluation"].get("leakfree_test") or {}
            if lt and "cluster" not in lt and predictions_path(ctx.model_dir, name).is_file():
                from ..evaluation.evaluate import add_cluster_blocks

                add_cluster_blocks(jpath, ctx.root, seed=ctx.seed)  # recorded before cluster intervals existed
                print(f"{name}: cluster-bootstrap intervals added from its saved predictions")
                meta = records.read_json(jpath)
        else:
            from ..evaluation.evaluate import evaluate_model

            t0 = time.time()
            evaluate_model(records.files(jpath).weights, data_dir=ctx.root, bootstrap=bootstrap, progress=False,
                           seed=ctx.seed)
            print(f"{name}: evaluated now in {time.time() - t0:.0f} s ({why if not ok else 'smoke run: always fresh'})")
            meta = records.read_json(jpath)
        out[name] = meta
    return out


def predictions(ctx: RunContext, name: str) -> "pd.DataFrame | None":
    """<model_dir>/<name>.predictions.csv (one row per test image and split) with `confidence`, `correct` and the twin
    `group` of each file (leak-free split: galleries show one picture per group, not a mirror next to its copy)."""
    from ..evaluation.evaluate import predictions_path, read_predictions
    from ..data.split import load_split

    if not predictions_path(ctx.model_dir, name).is_file():
        return None
    df = read_predictions(ctx.model_dir, name, load_split("leakfree", ctx.root).set_index("path")["group"])
    if df is None:
        return None
    df["confidence"] = df[list(config.CLASSES)].max(axis=1)
    df["correct"] = df["label"] == df["prediction"]
    return df


# ------------------------------------------------------------------------------------------------ acquisition shortcut
def capstone_gaps(ctx: RunContext) -> dict[str, dict]:
    """helpers.evaluation.comparison.capstone_gaps for this run's models: our accuracy minus each capstone's on the same
    leak-free test images, paired cluster-bootstrap CI (twin groups of the leak-free split)."""
    from ..evaluation import comparison
    from ..evaluation.evaluate import predictions_path
    from ..data.split import load_split

    if not predictions_path(ctx.model_dir, comparison.OURS).is_file():
        return {}  # nothing to pair: do not build the split for it
    groups = load_split("leakfree", ctx.root).set_index("path")["group"]
    return comparison.capstone_gaps(ctx.model_dir, groups, seed=ctx.seed)


def profile_misses(ctx: RunContext, name: str = "brain_tumor_cnn") -> "tuple[dict, pd.DataFrame | None]":
    """(helpers.modeling.intensity_profile.misses_by_profile result, ranked tumour table) for one model, from its predictions
    and the intensity-profile baseline's (written beside baselines.json); ({}, None) when either is missing."""
    import pandas as pd

    from ..modeling import intensity_profile
    from ..evaluation.baselines import PROFILE_PREDICTIONS

    cnn, path = predictions(ctx, name), ctx.model_dir / PROFILE_PREDICTIONS
    if cnn is None or not path.is_file():
        return {}, None
    prof = pd.read_csv(path, keep_default_na=False)
    return intensity_profile.misses_by_profile(cnn, prof), intensity_profile.ranked_tumours(cnn, prof)


def scan_types(ctx: RunContext, size: int = config.IMG_SIZE) -> "tuple[pd.DataFrame | None, dict | str]":
    """(tags, info) from helpers.evaluation.scan_type for every image of the leak-free split, or (None, why not). The hand labels
    name files of the Kaggle set, so synthetic phantoms and small smoke subsets get the reason instead."""
    from ..evaluation import scan_type
    from ..data.split import load_split

    labels = scan_type.read_labels()
    if ctx.synthetic or scan_type.attach_rows(labels, load_split("leakfree", ctx.root)["path"]).empty:
        return None, "no hand-labelled file in this dataset (the scan-type labels name files of the Kaggle set)"
    X, ordered = scan_type.dataset_arrays(ctx.root, size)
    try:
        tags, info = scan_type.tag_dataset(X, ordered["path"], ordered["group"].to_numpy(), labels)
    except ValueError as e:  # e.g. a smoke subset holding too few labelled files to fit both classifiers
        return None, str(e)
    info["split"] = ordered
    return tags, info
