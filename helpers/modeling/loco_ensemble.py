"""Score a logit-mean ensemble of trained leave-sources-out models exactly as a trained run is scored (batch 11,
experiments/batch11_ensemble_transfer/PLAN.md).

The members are merged with `ensemble.merge` (what ships), the operating point is chosen on the fold's validation
rows with every collection weighted equally, the unfamiliar-scan rule is fitted on the merged features of the fold's
training and validation rows, and the held-out rows are scored plain and on their brain-only view. The record and
predictions have the columns of a `train-union` run, so the batch-10 readers score them unchanged; the merged
weights are not written (the members' records name them and `merge` rebuilds them in seconds).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import config, records
from ..data import union_split
from . import familiarity, operating_point, partial_labels
from .calibrate import probs_from_logits


def _rel(p: Path) -> str:
    p = Path(p).resolve()
    return p.relative_to(config.PROJ_ROOT).as_posix() if p.is_relative_to(config.PROJ_ROOT) else p.name


def score_fold(member_paths: list[Path], recipe: str, fold: str, seed: int, u: union_split.Union, X: np.ndarray,
               folder: Path, name: str, command: str) -> records.ModelFiles:
    """Merge the members (each trained on `fold` with `seed`), score the fold, write <name>.json, predictions and
    familiarity rule in `folder`."""
    import keras

    from . import architectures  # noqa: F401 - registers the custom layers the members use
    from .ensemble import merge
    from .train_union import logits_of, view_arrays

    models = [keras.saving.load_model(p, compile=False) for p in member_paths]
    for p in member_paths:  # each member must be a run of this very fold and seed
        cfg = (records.read(records.files(p).record) or {}).get("config", {})
        if cfg.get("fold") != fold or int(cfg.get("seed", -1)) != seed:
            raise ValueError(f"{Path(p).name} is a run of fold {cfg.get('fold')!r} seed {cfg.get('seed')}, "
                             f"not {fold!r} seed {seed}")
    model = merge(models, name=name.replace("+", "_"))
    tr, va, te = union_split.fold_rows(u.table, fold)
    Mva = partial_labels.label_masks(va["label"])
    op = operating_point.choose(logits_of(model, X[va.index]), Mva, va["collection"].to_numpy())
    fit_rows = tr.index.to_numpy()
    if len(fit_rows) > 4000:  # as train_union.train_fold
        fit_rows = np.sort(np.random.default_rng(0).choice(fit_rows, 4000, replace=False))
    rule = familiarity.fit(familiarity.features(model, X[fit_rows]), u.table.loc[fit_rows, "label"].to_numpy(),
                           familiarity.features(model, X[va.index]))
    V = view_arrays(X)[u.table.index.get_indexer(te.index)]
    P, P_bo = (probs_from_logits(logits_of(model, A), op["temperature"]) for A in (X[te.index], V))
    dist, dist_bo = (familiarity.score(rule, familiarity.features(model, A)) for A in (X[te.index], V))

    f = records.files(Path(folder), name)
    f.record.parent.mkdir(parents=True, exist_ok=True)
    nt = config.CLASSES.index(config.NO_TUMOUR)
    pred = te[["collection", "path", "label", "group", "source", "sources", "split", "old_split"]].copy()
    for k, c in enumerate(config.CLASSES):
        pred[f"p_{c}"] = P[:, k].round(5)
    pred["p_tumour"] = (1 - P[:, nt]).round(5)
    pred["familiarity_ratio"] = (dist / rule["threshold"]).round(4)
    pred["unfamiliar"] = familiarity.unfamiliar(rule, dist).astype(int)
    pred["p_tumour_brain_only"] = (1 - P_bo[:, nt]).round(5)
    pred["familiarity_ratio_brain_only"] = (dist_bo / rule["threshold"]).round(4)
    for c in ("plane", "sequence", "skull"):
        if c in te:
            pred[c] = te[c].to_numpy()
    pred.to_csv(f.predictions, index=False)
    rule_path = familiarity.path_for(f)
    records.write_json(rule, rule_path, compact=True)
    rec = {"name": name, "arch": "ensemble", "classes": list(config.CLASSES), "img_size": int(X.shape[1]),
           "config": {"arch": "ensemble", "recipe": recipe, "fold": fold, "seed": seed, "split": "union",
                      "members": [_rel(p) for p in member_paths]},
           "temperature": op["temperature"], "operating_point": op, "familiarity_file": rule_path.name,
           "params": int(model.count_params()), "train_wall_s": 0.0,
           "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "data": {"split": "union", "n_train": int(len(tr)), "n_val": int(len(va)), "n_test": int(len(te)),
                    "split_sha256": union_split.split_sha256(u.table)},
           "versions": records.versions(), "command": command}
    records.write(rec, f.record)
    return f
