"""Bring the batch-4/5 runs into the project's record format.

The runs were trained by the prototype of helpers/modeling/train_union.py (same recipes, data, seeds and schedule,
written while helpers/ was being restructured) and saved as <name>.keras, <name>.json and <name>.predictions.csv.
This script re-reads each, recomputes everything derived with the package's own code (the unfamiliar-scan rule
from the run's training and validation pictures, the metrics and their group-bootstrap CIs) and writes the records
beside the batch's PLAN.md. Usage: python experiments/batch4_cross_collection/import_prototype_runs.py SRC_DIR DEST_DIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def main(src: Path, dest: Path) -> None:
    import keras

    from helpers import config, records
    from helpers.data import union_split
    from helpers.evaluation import cross_collection as xc
    from helpers.modeling import augmentation, familiarity, train_union  # noqa: F401 - augmentation registers the layers

    u = union_split.build()
    X = union_split.union_arrays(u)
    for rec_path in sorted(src.glob("*.json")):
        if rec_path.name.endswith((".analysis.json", ".familiarity.json")):
            continue
        old = json.loads(rec_path.read_text())
        recipe, fold = old["config"]["recipe"], old["config"]["fold"]
        cfg = train_union.config_for(recipe, fold, epochs=old["config"]["epochs"])
        tr, va, te = union_split.fold_rows(u.table, fold, cfg["collections"])
        pred = pd.read_csv(rec_path.with_name(rec_path.stem + ".predictions.csv"), keep_default_na=False)
        if list(pred["path"]) != list(te["path"]) or list(pred["collection"]) != list(te["collection"]):
            raise SystemExit(f"{rec_path.name}: its test rows differ from the package's fold rows")
        model = keras.saving.load_model(rec_path.with_suffix(".keras"), compile=False)
        fit_rows = tr.index.to_numpy()
        if len(fit_rows) > 4000:
            fit_rows = np.sort(np.random.default_rng(0).choice(fit_rows, 4000, replace=False))
        rule = familiarity.fit(familiarity.features(model, X[fit_rows]), u.table.loc[fit_rows, "label"].to_numpy(),
                               familiarity.features(model, X[va.index]))
        P = pred[[f"p_{c}" for c in config.CLASSES]].to_numpy(float)
        part = {"config": cfg, "temperature": old["temperature"], "tta": None, "params": int(model.count_params()),
                "trained_at": None, "train_wall_s": old["train_wall_s"],
                "train_images_per_s": old["train_images_per_s"], "epochs_run": len(old["history"]["loss"]),
                "history": old["history"],
                "data": {"split": "union", "n_train": old["train_images"], "n_val": old["val_images"],
                         "n_test": old["test_images"], "split_sha256": union_split.split_sha256(u.table),
                         "train_counts": old["train_counts"], "old_test_moved": old["old_test_moved"],
                         "synthetic": False, **({"synthesised": old["synthetic"]} if old.get("synthetic") else {})},
                "versions": {**records.versions(), "trained_by": "prototype of modeling/train_union.py"}}
        run = {"model": model, "record": part, "rule": rule, "test": te, "probs": P,
               "distance": familiarity.score(rule, familiarity.features(model, X[te.index]))}
        f = train_union.save_run(run, dest, old["name"])
        p = pd.read_csv(f.predictions, keep_default_na=False)
        records.update(f.record, metrics=xc.metrics_by_collection(p), warnings=xc.warning_counts(p))
        print(f"{old['name']}: {xc.warning_counts(p)}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
