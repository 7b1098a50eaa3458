"""Average trained models into one: a single Functional .keras whose logits are exactly the mean of its members'
logits, so prediction, calibration, evaluation, Grad-CAM and the dashboard treat it like any other model.

How: each member's rectified feature maps (what its global pooling reads) are concatenated in a layer named
"last_conv" (Grad-CAM then explains the ensemble as a whole); one global pooling and one Dense layer holding the
members' stacked head weights divided by n follow. Pooling and the Dense head are linear, so
mean_i(W_i · pool(f_i) + b_i) = [W_1; ...; W_n] / n · pool([f_1, ..., f_n]) + mean_i(b_i), up to float rounding.

`brain-mri ensemble A.keras B.keras ... --name NAME` builds it from models trained on the same split, chooses flip
test-time augmentation and fits the temperature on validation (helpers.modeling.train.calibrate), and writes
models/NAME.keras and NAME.json with each member's recipe and sha256; `brain-mri evaluate` does the rest.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import config, records


def _feature_tensor(model, prefix: str = ""):
    """The tensor a member's head pools: input of its only GlobalAveragePooling2D, which must feed the Dense
    "logits" layer through nothing but Dropout (otherwise averaging the heads would not be exact)."""
    from keras import layers

    pools = [layer for layer in model.layers if isinstance(layer, layers.GlobalAveragePooling2D)]
    if len(pools) != 1:
        raise ValueError(f"{model.name}: an ensemble member needs exactly one global average pooling layer")
    try:
        head = model.get_layer(prefix + "logits")
    except ValueError:
        raise ValueError(f"{model.name}: an ensemble member needs a Dense layer named 'logits'") from None
    if not isinstance(head, layers.Dense) or head.activation.__name__ != "linear":
        raise ValueError(f"{model.name}: its 'logits' layer must be a linear Dense layer")
    t = head.input
    while t is not pools[0].output:
        layer = t._keras_history.operation
        if not isinstance(layer, layers.Dropout):
            raise ValueError(f"{model.name}: only Dropout may sit between its pooling and its 'logits' layer")
        t = layer.input
    return pools[0].input


MEMBER_PREFIX = "m{}_"  # member i's layers are renamed m<i>_<name> in the merged graph


def _flat_copy(model, i: int, inp):
    """Member `model` rebuilt on the tensor `inp` with its own weights and every layer renamed m<i>_<name>: its
    layers become layers of the merged graph (not a nested model), so Grad-CAM can read each member's finer maps
    (explain.target_tensors) on the path to the merged logits."""
    import keras

    def clone(layer):
        cfg = layer.get_config()
        cfg["name"] = MEMBER_PREFIX.format(i) + layer.name
        return layer.__class__.from_config(cfg)

    copy = keras.models.clone_model(model, input_tensors=inp, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def merge(models: list, name: str = "ensemble", mirrored: list[bool] | None = None):
    """One Keras model computing the mean logits of `models` (same input shape and number of classes). mirrored[i]:
    member i reads the left-right mirror of the slice (flip test-time augmentation when a model is merged with
    itself); its feature maps are mirrored back, which pooling ignores and Grad-CAM needs."""
    import keras
    from keras import layers

    from .architectures import Mirror

    if len(models) < 2:
        raise ValueError("an ensemble needs at least two models")
    shape = tuple(models[0].input_shape[1:])
    k = int(models[0].get_layer("logits").units)
    for m in models[1:]:
        if tuple(m.input_shape[1:]) != shape or int(m.get_layer("logits").units) != k:
            raise ValueError(f"{m.name}: input {m.input_shape[1:]} / {m.get_layer('logits').units} classes differ "
                             f"from the first member's {shape} / {k}")
    for m in models:
        _feature_tensor(m)  # refuses a head that is not pooling + (Dropout) + linear Dense
    mirrored = list(mirrored or [False] * len(models))
    if len(mirrored) != len(models):
        raise ValueError(f"mirrored names {len(mirrored)} members, the ensemble has {len(models)}")
    inp = keras.Input(shape, name="image")
    feats = []
    for i, (m, flip) in enumerate(zip(models, mirrored)):
        pre = MEMBER_PREFIX.format(i)
        f = _feature_tensor(_flat_copy(m, i, Mirror(name=pre + "mirror_in")(inp) if flip else inp), pre)
        feats.append(Mirror(name=pre + "mirror_out")(f) if flip else f)
    x = layers.Concatenate(name="last_conv")(feats)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(k, name="logits")(x)
    merged = keras.Model(inp, out, name=name)
    kernels, biases = zip(*(m.get_layer("logits").get_weights() for m in models))
    merged.get_layer("logits").set_weights([np.concatenate(kernels, 0) / len(models), np.mean(biases, 0)])
    return merged


def _totals(members: list, member_paths: list) -> tuple[float, float | None, list[str]]:
    """(training seconds of all members, their images per second overall, their paths relative to the project)."""
    secs = sum(float(p.meta.get("train_wall_s") or 0) for p in members)
    images = sum(float(p.meta.get("train_images_per_s") or 0) * float(p.meta.get("train_wall_s") or 0) for p in members)
    rel = [os.path.relpath(Path(p).resolve(), config.PROJ_ROOT) if Path(p).resolve().is_relative_to(config.PROJ_ROOT)
           else Path(p).name for p in member_paths]
    return secs, (round(images / secs, 1) if secs else None), rel


def build(member_paths: list[str | Path], name: str, out_dir: str | Path = config.MODELS_DIR,
          data_dir=None) -> Path:
    """Merge saved models (sha256-checked), calibrate on val, write out_dir/name.keras and .json. Returns the JSON."""
    from ..data.layouts import resolve_data_dir
    from .predictor import load_model
    from ..data.arrays import load_arrays
    from ..data.split import load_split, split_sha256
    from ..data.split import train_val_rows
    from .train import calibrate, save_inference_model

    members = [load_model(p) for p in member_paths]
    first = members[0].meta
    split_kind = first["data"]["split"]
    for p in members[1:]:
        for key in ("split", "split_sha256"):
            if p.meta["data"].get(key) != first["data"].get(key):
                raise ValueError(f"{p.name} was trained on another split ({key} differs from {members[0].name}'s): "
                                 "its validation images may be another member's training images")
        if p.classes != members[0].classes or p.img_size != members[0].img_size:
            raise ValueError(f"{p.name}: classes or input size differ from {members[0].name}'s")
    if split_kind != "leakfree" and len({p.meta["config"]["seed"] for p in members}) > 1:
        raise ValueError("on the official split each seed holds out another validation tenth: use one seed")

    root = resolve_data_dir(data_dir, allow_synthetic=False)
    split = load_split(split_kind, root)
    if split_sha256(split) != first["data"]["split_sha256"]:
        raise ValueError(f"the members were trained on split {first['data']['split_sha256'][:12]}, the current "
                         f"{split_kind} split differs")
    _, va = train_val_rows(split, int(first["config"]["seed"]))
    Xva, yva = load_arrays(root, va, members[0].img_size)

    model = merge([p.model for p in members], name=name)
    cal = calibrate(model, Xva, yva)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kpath = records.destination(out_dir, name).weights
    save_inference_model(model, kpath)
    secs, ips, rel = _totals(members, member_paths)
    meta = {
        "name": name,
        "arch": "ensemble",
        "classes": list(members[0].classes),
        "img_size": members[0].img_size,
        "params": int(model.count_params()),
        "temperature": cal["temperature"],
        "tta": cal["tta"],
        "keras_file": kpath.name,
        "keras_sha256": records.sha256_file(kpath),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_wall_s": round(secs, 1),
        "train_images_per_s": ips,
        "epochs_run": "+".join(str(p.meta.get("epochs_run", "?")) for p in members),
        "config": {"arch": "ensemble", "name": name, "img_size": members[0].img_size, "split": split_kind,
                   "seed": int(first["config"]["seed"]), "members": [p.name for p in members]},
        "members": [{"name": p.name, "keras_sha256": p.meta["keras_sha256"], "config": p.meta.get("config"),
                     "epochs_run": p.meta.get("epochs_run"), "train_wall_s": p.meta.get("train_wall_s"),
                     "val_accuracy": (p.meta.get("validation") or {}).get("accuracy")} for p in members],
        "data": dict(first["data"]),
        "validation": cal["validation"],
        "history": {},
        "versions": records.versions(),
        "command": "brain-mri ensemble " + " ".join(rel) + f" --name {name}",
    }
    jpath = records.write(meta, kpath)
    print(f"saved {kpath.name} and {jpath.name}: {len(members)} members, {meta['params']:,} parameters", flush=True)
    return jpath


def build_union(member_paths: list[str | Path], name: str, out_dir: str | Path = config.MODELS_DIR,
                shift: float = 0.0, recipe: str | None = None, mirror: bool = False, tta: str | None = None) -> Path:
    """Merge union-split models (batch 11) and treat the result as `train-union --shipped` treats a trained run:
    temperature and threshold on union validation with every collection weighted equally (then the threshold moved
    by `shift` logits, the shift chosen on held-out folds), the unfamiliar-scan rule, union test predictions plain
    and brain-only, the ONNX export (evaluation.cross_collection.ensemble_union adds the metrics). mirror: one
    model merged with itself reading the mirrored slice (batch 21's flip test-time augmentation). tta "hflip": the
    merged model's logits averaged with its mirror's at prediction time (batch 35), in the record, so every
    predictor does the same; temperature and threshold are fitted on those mean logits. Returns the record's path."""
    from ..data import union_split
    from .export import export_model
    from .predictor import load_model
    from .train_union import save_run, score

    if mirror and len(member_paths) != 1:
        raise ValueError("--mirror merges one model with its mirror: give exactly one model")
    if mirror and tta:
        raise ValueError("--mirror already reads the mirrored slice: --tta hflip would count it twice")
    members = [load_model(p) for p in member_paths] * (2 if mirror else 1)
    member_paths = list(member_paths) * (2 if mirror else 1)
    first = members[0].meta
    for p in members:
        cfg = p.meta.get("config", {})
        if p.meta["data"].get("split") != "union" or cfg.get("fold"):
            raise ValueError(f"{p.name} is not a model of the whole union split")
        if p.meta["data"].get("split_sha256") != first["data"].get("split_sha256"):
            raise ValueError(f"{p.name} was trained on another union split than {members[0].name}")
    u = union_split.build()
    if union_split.split_sha256(u.table) != first["data"]["split_sha256"]:
        raise ValueError("the members were trained on another union split than data/splits/union.csv")
    X = union_split.union_arrays(u)
    model = merge([p.model for p in members], name=name, mirrored=[False, True] if mirror else None)
    tr, va, te = union_split.fold_rows(u.table, None)
    scored = score(model, u, X, tr, va, te, shift=shift, tta=tta)
    op = scored["operating_point"]
    k = 1 if mirror else len(members)  # one model's training, not twice
    secs, ips, rel = _totals(members[:k], member_paths[:k])
    cfg = {"arch": "ensemble", "recipe": recipe or "ensemble", "fold": None, "split": "union",
           "img_size": members[0].img_size, "seed": int(first["config"]["seed"]),
           "members": [p.name for p in members], **({"mirrored": [False, True]} if mirror else {})}
    rec = {"config": cfg, "temperature": op["temperature"], "tta": tta, "operating_point": op,
           "params": int(model.count_params()), "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "train_wall_s": round(secs, 1), "epochs_run": "+".join(str(p.meta.get("epochs_run", "?")) for p in members),
           "train_images_per_s": ips,
           "history": {},
           "members": [{"name": p.name, "recipe": p.meta["config"].get("recipe"), "config": p.meta.get("config"),
                        "keras_sha256": p.meta["keras_sha256"],
                        "epochs_run": p.meta.get("epochs_run"), "train_wall_s": p.meta.get("train_wall_s"),
                        "val_score": (p.meta.get("operating_point") or {}).get("val_score")} for p in members],
           "data": {k: v for k, v in first["data"].items() if k != "brain_only_p"},  # one member's look rate
           "versions": records.versions()}
    run = {"model": model, "record": rec, **scored}
    f = save_run(run, Path(out_dir), name, shipped=True)
    export_model(f.weights)
    records.update(f.record, command="brain-mri ensemble-union " + " ".join(rel) + (" --mirror" if mirror else "")
                   + (f" --tta {tta}" if tta else "") + f" --name {name}"
                   + (f" --recipe {recipe}" if recipe else "") + (f" --shift {shift:g}" if shift else ""))
    print(f"saved {f.weights.parent.name}/: {len(members)} members, {rec['params']:,} parameters, call at "
          f"P(tumour) >= {op['threshold']}", flush=True)
    return f.record


def cli_ensemble(args) -> int:
    from ..errors import DataError
    from ..errors import ModelError

    try:
        from .predictor import load_model

        if load_model(args.models[0]).meta.get("data", {}).get("split") == "union":
            raise ValueError("union-split members are merged by `brain-mri ensemble-union` (it adds the "
                             "per-collection metrics train-union records)")
        else:
            build(args.models, args.name, out_dir=args.out_dir, data_dir=args.data_dir)
    except (DataError, ModelError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
