"""Batch 9 (PLAN.md): logit-mean ensembles of trained LOCO fold models, scored like the trained runs.
Writes one run record (<name>.json), its predictions (<name>.predictions.csv) and familiarity rule per candidate,
fold and seed beside this file. Usage: python experiments/batch9_ensembles/run.py"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from helpers import config, records
from helpers.data import union_split
from helpers.evaluation import cross_collection as xc
from helpers.modeling import architectures, familiarity, partial_labels, train_union  # noqa: F401 - registers layers
from helpers.modeling.calibrate import probs_from_logits

HERE = Path(__file__).resolve().parent
EXP = config.PROJ_ROOT / "experiments"
CANDIDATES = {"ens_multi_sym": ("multi", "multi_sym"), "ens_sym_asym": ("multi_sym", "multi_asym")}
RUNS = (("br35h", 42), ("sartaj", 42), ("br35h", 7), ("sartaj", 7), ("figshare", 42))
WHERE = {"multi": (EXP / "batch4_cross_collection", EXP / "batch7_symmetry"), "multi_sym": (EXP / "batch7_symmetry",) * 2,
         "multi_asym": (EXP / "batch8_asymmetry_only",) * 2}


def member_path(recipe: str, fold: str, seed: int) -> Path:
    folder = WHERE[recipe][0 if seed == config.SEED else 1]
    return folder / (f"{recipe}__{fold}.keras" if seed == config.SEED else f"{recipe}_s{seed}__{fold}.keras")


def main() -> None:
    u = union_split.build()
    X = union_split.union_arrays(u)
    for name, recipes in CANDIDATES.items():
        for fold, seed in RUNS:
            paths = [member_path(r, fold, seed) for r in recipes]
            models = [keras.saving.load_model(p, compile=False) for p in paths]
            tr, va, te = union_split.fold_rows(u.table, fold)

            def mean_logits(rows):
                return np.mean([train_union.logits_of(m, X[rows]) for m in models], axis=0)

            def feats(rows):  # the merged model's pooled features: the members' side by side
                return np.concatenate([familiarity.features(m, X[rows]) for m in models], axis=1)

            t = partial_labels.fit_temperature(mean_logits(va.index), partial_labels.label_masks(va["label"]))
            P = probs_from_logits(mean_logits(te.index), t)
            fit_rows = tr.index.to_numpy()
            if len(fit_rows) > 4000:  # as train_union.train_fold
                fit_rows = np.sort(np.random.default_rng(0).choice(fit_rows, 4000, replace=False))
            rule = familiarity.fit(feats(fit_rows), u.table.loc[fit_rows, "label"].to_numpy(), feats(va.index))
            dist = familiarity.score(rule, feats(te.index))
            pred = te[["collection", "path", "label", "group", "source", "sources", "split", "old_split"]].copy()
            for k, c in enumerate(config.CLASSES):
                pred[f"p_{c}"] = P[:, k].round(5)
            pred["p_tumour"] = (1 - P[:, config.CLASSES.index(config.NO_TUMOUR)]).round(5)
            pred["familiarity_ratio"] = (dist / rule["threshold"]).round(4)
            pred["unfamiliar"] = familiarity.unfamiliar(rule, dist).astype(int)
            run = f"{name}__{fold}" if seed == config.SEED else f"{name}_s{seed}__{fold}"
            f = records.files(HERE, run)
            pred.to_csv(f.predictions, index=False)
            records.write_json(rule, familiarity.path_for(f), compact=True)
            rec = {"name": run, "config": {"recipe": name, "fold": fold, "seed": seed, "split": "union",
                                           "members": [p.relative_to(config.PROJ_ROOT).as_posix() for p in paths]},
                   "temperature": t, "familiarity_file": familiarity.path_for(f).name, "train_wall_s": 0.0,
                   "data": {"split": "union", "n_train": int(len(tr)), "n_val": int(len(va)), "n_test": int(len(te))},
                   "metrics": xc.metrics_by_collection(pred), "warnings": xc.warning_counts(pred),
                   "command": "python experiments/batch9_ensembles/run.py"}
            records.write(rec, f.record)
            m = rec["metrics"]["all"]
            print(f"{run}: sensitivity {m['sensitivity']:.4f} specificity {m['specificity']} auc {m['auc']}",
                  flush=True)


if __name__ == "__main__":
    main()
