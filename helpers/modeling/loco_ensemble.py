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
from . import familiarity


def _rel(p: Path) -> str:
    p = Path(p).resolve()
    return p.relative_to(config.PROJ_ROOT).as_posix() if p.is_relative_to(config.PROJ_ROOT) else p.name


MIRROR = "~mirror"  # a member key ending so reads the mirrored slice (batch 21: a model merged with its mirror)
SEED_AT = "@"  # "he_bo_e40@7": that recipe's seed-7 run, whatever seed is being scored (batch 24: seed ensembles)


def member_key(key: str, seed: int) -> tuple[str, int, bool]:
    """A member key -> (recipe, the seed of its run, reads the mirrored slice)."""
    mirrored = key.endswith(MIRROR)
    recipe, at, pinned = key.removesuffix(MIRROR).partition(SEED_AT)
    if at and not pinned.isdigit():
        raise ValueError(f"member {key!r}: expected RECIPE{SEED_AT}SEED with a whole-number seed")
    return recipe, int(pinned) if at else seed, mirrored


def score_fold(member_paths: list[Path], recipe: str, fold: str, seed: int, u: union_split.Union, X: np.ndarray,
               folder: Path, name: str, command: str, mirrored: list[bool] | None = None,
               member_seeds: list[int] | None = None) -> records.ModelFiles:
    """Merge the members (each trained on `fold` with `seed`, or with member_seeds[i]; mirrored[i]: member i reads
    the mirrored slice), score the fold, write <name>.json, predictions and familiarity rule in `folder`."""
    import keras

    from . import architectures  # noqa: F401 - registers the custom layers the members use
    from .ensemble import merge
    from .train_union import predictions_frame, score

    models = [keras.saving.load_model(p, compile=False) for p in member_paths]
    for p, want in zip(member_paths, member_seeds or [seed] * len(member_paths)):  # each a run of this fold and seed
        cfg = (records.read(records.files(p).record) or {}).get("config", {})
        if cfg.get("fold") != fold or int(cfg.get("seed", -1)) != want:
            raise ValueError(f"{Path(p).name} is a run of fold {cfg.get('fold')!r} seed {cfg.get('seed')}, "
                             f"not {fold!r} seed {want}")
    model = merge(models, name=name.replace("+", "_"), mirrored=mirrored)
    tr, va, te = union_split.fold_rows(u.table, fold)
    run = score(model, u, X, tr, va, te)
    op, rule = run["operating_point"], run["rule"]
    f = records.files(Path(folder), name)
    f.record.parent.mkdir(parents=True, exist_ok=True)
    predictions_frame(run).to_csv(f.predictions, index=False)
    rule_path = familiarity.path_for(f)
    records.write_json(rule, rule_path, compact=True)
    rec = {"name": name, "arch": "ensemble", "classes": list(config.CLASSES), "img_size": int(X.shape[1]),
           "config": {"arch": "ensemble", "recipe": recipe, "fold": fold, "seed": seed, "split": "union",
                      "members": [_rel(p) for p in member_paths],
                      **({"member_seeds": [int(x) for x in member_seeds]} if member_seeds else {}),
                      **({"mirrored": [bool(m) for m in mirrored]} if mirrored and any(mirrored) else {})},
           "temperature": op["temperature"], "operating_point": op, "familiarity_file": rule_path.name,
           "params": int(model.count_params()), "train_wall_s": 0.0,
           "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "data": {"split": "union", "n_train": int(len(tr)), "n_val": int(len(va)), "n_test": int(len(te)),
                    "split_sha256": union_split.split_sha256(u.table)},
           "versions": records.versions(), "command": command}
    records.write(rec, f.record)
    return f


def run_name(recipe: str, fold: str, seed: int) -> str:
    """A LOCO run's file stem, as the batches' shell scripts name them."""
    return f"{recipe}__{fold}" if seed == config.SEED else f"{recipe}_s{seed}__{fold}"


def score_candidates(candidates: dict[str, dict[str, Path]], folds: tuple[str, ...], out_dir: Path,
                     command: str, seeds: tuple[int, ...] = (config.SEED, 7)) -> None:
    """Every candidate ({name: {member key: folder holding its LOCO runs}}; a key ending in MIRROR names a member
    reading the mirrored slice, one with @SEED that recipe's run of that seed) on every fold and seed, each written
    to out_dir as <name>__<fold> (seed 42) or <name>_s<seed>__<fold>; runs already written are kept (resumable)."""
    u = union_split.build()
    X = union_split.union_arrays(u)
    for seed in seeds:
        for name, members in candidates.items():
            for fold in folds:
                out = run_name(name, fold, seed)
                if (Path(out_dir) / f"{out}.json").is_file():
                    continue
                keys = [member_key(m, seed) for m in members]
                paths = [Path(where) / f"{run_name(r, fold, sd)}.keras" for (r, sd, _), where in zip(keys, members.values())]
                pinned = [sd for _, sd, _ in keys] if any(SEED_AT in m for m in members) else None
                f = score_fold(paths, name, fold, seed, u, X, Path(out_dir), out, command, [k[2] for k in keys], pinned)
                print(f"{f.record.name}: written", flush=True)


FOLDS = ("br35h+ixi-t2+dwi", "sartaj+ms-flair-iran+niivue", "figshare+open-ms")  # batches 10-23's three folds


def parse_members(specs: list[str]) -> dict[str, Path]:
    """["he_bo_e40=experiments/batch20_brain_only_ensemble", ...] -> {recipe: folder}; a clear error otherwise."""
    out = {}
    for spec in specs:
        recipe, sep, folder = spec.partition("=")
        if not sep or not recipe or not folder:
            raise ValueError(f"--member {spec!r}: expected RECIPE=FOLDER")
        if not Path(folder).is_dir():
            raise ValueError(f"--member {spec!r}: no folder {folder}")
        if recipe in out:
            raise ValueError(f"--member {recipe!r} given twice (a mirrored member ends in {MIRROR!r}, another seed's "
                             f"run is RECIPE{SEED_AT}SEED)")
        member_key(recipe, 0)  # a malformed @SEED fails here, before any model loads
        out[recipe] = Path(folder)
    if len(out) < 2:
        raise ValueError("an ensemble needs at least two members (a model and its mirror count as two)")
    return out


def cli_loco_ensemble(args) -> int:
    import sys

    from ..data import collections as cx

    try:
        members = parse_members(args.member)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if "brain-tumor-mri" not in cx.available():
        print(f"error: {cx.missing_message('brain-tumor-mri')}", file=sys.stderr)
        return 1
    command = (f"brain-mri loco-ensemble --name {args.name} " + " ".join(f"--member {m}={_rel(f)}" for m, f in
                                                                         members.items()) + f" --out-dir {args.out_dir}"
               + "".join(f" --fold {f}" for f in args.fold or ()) + "".join(f" --seed {sd}" for sd in args.seed or ()))
    score_candidates({args.name: members}, tuple(args.fold or FOLDS), Path(args.out_dir), command,
                     tuple(args.seed or (config.SEED, 7)))
    return 0
