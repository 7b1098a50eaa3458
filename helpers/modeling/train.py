"""Training on the leak-free split: seeded, class-weighted, one-cycle-style schedule, best weights restored,
temperature fitted on validation, and a JSON record (config, data hash, history, sha256) beside the .keras file."""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import config, records
from ..data.arrays import load_train_val
from ..data.split import train_val_rows

# The recipe of the shipped model; `brain-mri train --config models/brain_tumor_cnn/record.json` reproduces it.
DEFAULTS: dict = {
    "arch": "resnet_small",
    "name": None,
    "img_size": config.IMG_SIZE,
    "epochs": 80,
    "batch_size": 64,
    "lr": 3e-3,
    "weight_decay": 0.05,
    "warmup_epochs": 2,
    "label_smoothing": 0.1,
    "ema_momentum": None,  # e.g. 0.998: validate, stop early and ship with an exponential moving average of weights
    "mixup_alpha": None,  # e.g. 0.4: train on pairwise blends of images and labels (TensorFlow feeder only)
    "patience": 12,
    # Early stopping watches only epochs from this fraction of the schedule on: before the cosine has annealed,
    # val loss swings by 0.1 from epoch to epoch, and a seed-7 repeat that watched from half-way stopped at epoch 55.
    "early_stop_from": 0.75,
    "seed": config.SEED,
    "split": "leakfree",
    "model_kwargs": {},
    "max_train_images": None,  # subsample for smoke runs
    "time_budget_min": 80,  # stop early (best weights kept) if a run must fit a budget
    # "intensity_profile": per-image loss weights from a histogram-only model (profile_weights), against the
    # acquisition shortcut; replaces class_weight (the weights include it)
    "reweight": None,
    "init_from": None,  # a .keras model of the same architecture whose weights start the run (a fine-tune)
}
ARCH_DEFAULTS = {
    "capstone_cnn": {"epochs": 10, "lr": 1e-3, "weight_decay": 1e-4, "warmup_epochs": 0, "label_smoothing": 0.0,
                     "patience": 3, "early_stop_from": 0.5},
    "tiny": {"img_size": 64, "epochs": 3, "batch_size": 32, "early_stop_from": 0.5},
}
REWEIGHTS = ("intensity_profile",)
# The bias-only model's P(true class) is floored here before inverting: one image weighs at most 20x an image the
# histograms classify with certainty, so a few odd or mislabelled slices cannot dominate the loss.
REWEIGHT_P_FLOOR = 0.05
REWEIGHT_FOLDS = 5


def resolve_config(overrides: dict | None = None) -> dict:
    """DEFAULTS, then the architecture's own defaults, then the caller's overrides (None means 'not given')."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    arch = overrides.get("arch", DEFAULTS["arch"])
    cfg = {**DEFAULTS, **ARCH_DEFAULTS.get(arch, {}), **overrides}
    cfg["name"] = cfg["name"] or (config.REPORT_MODEL_NAME if arch == "resnet_small" else arch)
    return cfg


def _budget_callback(minutes: float | None):
    """Keras callback: stop when the wall-clock budget is spent (early stopping still restores the best weights)."""
    import keras

    class Budget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            if minutes and time.time() - self.t0 > minutes * 60:
                print(f"time budget of {minutes} min spent after epoch {epoch + 1}: stopping", flush=True)
                self.model.stop_training = True

    return Budget()


def profile_weights(X: np.ndarray, y: np.ndarray, seed: int, n_folds: int = REWEIGHT_FOLDS) -> np.ndarray:
    """Per-image training weights [N] (mean 1) that down-weight the images the acquisition shortcut alone gets right.

    The bias-only model (helpers.modeling.intensity_profile: gradient boosting on grey-level histograms) is cross-fitted on
    the training images: each image's P(its true class) comes from a model that never saw it (StratifiedKFold, fewer
    folds when a class has fewer than `n_folds` images, at least 2). Weight 1 / max(P, REWEIGHT_P_FLOOR), times the
    balanced class weight (Keras takes sample weights or class weights, not both), normalised to mean 1."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.utils.class_weight import compute_class_weight

    from . import intensity_profile

    y = np.asarray(y).astype(int)
    present, counts = np.unique(y, return_counts=True)
    F = intensity_profile.features(X)
    p_true = np.empty(len(y))
    folds = StratifiedKFold(max(2, min(n_folds, int(counts.min()))), shuffle=True, random_state=seed)
    for fit_rows, held in folds.split(F, y):
        p = intensity_profile.fit_predict(F[fit_rows], y[fit_rows], F[held])
        p_true[held] = p[np.arange(len(held)), y[held]]
    cw = compute_class_weight("balanced", classes=present, y=y)
    w = cw[np.searchsorted(present, y)] / np.clip(p_true, REWEIGHT_P_FLOOR, 1.0)
    return (w / w.mean()).astype(np.float32)


def init_path(path: str | Path) -> Path:
    """The init_from file: as given, else relative to the repository (a recorded config run from elsewhere)."""
    p = Path(path).expanduser()
    if not p.is_file() and not p.is_absolute() and (config.PROJ_ROOT / p).is_file():
        p = config.PROJ_ROOT / p
    if not p.is_file() and p.suffix == ".keras" and p.parent.name == config.MODELS_DIR.name:
        # records written before models/ held one folder per model name models/<name>.keras
        p = records.files(config.MODELS_DIR, p.stem).weights
    if not p.is_file():
        raise FileNotFoundError(f"init_from: no model file {path}")
    return p


def _shown_path(p: Path) -> str:
    """A path for a record: relative to the repository if inside it, else only the file name (no home folders)."""
    try:
        return p.resolve().relative_to(config.PROJ_ROOT.resolve()).as_posix()
    except ValueError:
        return p.name


def _first_difference(got: list, want: list) -> tuple[int, object, object]:
    """(index, got item, wanted item) where two lists first differ; "none" past the end of the shorter."""
    i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return i, (got[i] if i < len(got) else "none"), (want[i] if i < len(want) else "none")


def init_weights(model, path: str | Path) -> None:
    """Copy the weights of the saved model at `path` into `model`; same architecture and options required."""
    import keras

    from . import architectures  # noqa: F401 - registers RandomAffineAugment for deserialisation

    p = init_path(path)
    saved = keras.saving.load_model(p, safe_mode=True, compile=False)
    # layer types too: weight shapes alone do not see a pooling layer or an augmentation layer of another kind
    kinds_got, kinds_want = ([type(layer).__name__ for layer in m.layers] for m in (saved, model))
    if kinds_got != kinds_want:
        i, a, b = _first_difference(kinds_got, kinds_want)
        raise ValueError(f"init_from {p.name} does not fit the configured model (layer #{i}: {a} vs {b}): "
                         "same arch and model_kwargs needed")
    src = saved.get_weights()
    got, want = [tuple(w.shape) for w in src], [tuple(v.shape) for v in model.weights]
    if got != want:
        i, a, b = _first_difference(got, want)
        raise ValueError(f"init_from {p.name} does not fit the configured model ({len(got)} weight arrays vs "
                         f"{len(want)}, first difference at #{i}: {a} vs {b}): same arch and model_kwargs needed")
    model.set_weights(src)


def _mixup(tf, x, y, alpha: float):
    """Blend each image (and its one-hot label) with another of the batch, weight lam ~ Beta(alpha, alpha) per image.
    lam is folded to >= 0.5 so each blend keeps its own image dominant (class weights follow argmax of the label)."""
    n = tf.shape(x)[0]
    y = tf.cast(y, x.dtype)  # one-hot labels arrive as float64 from to_categorical
    g1 = tf.random.gamma([n], alpha)
    g2 = tf.random.gamma([n], alpha)
    lam = g1 / (g1 + g2 + 1e-12)
    lam = tf.maximum(lam, 1.0 - lam)
    perm = tf.random.shuffle(tf.range(n))
    lx = tf.reshape(lam, [-1, 1, 1, 1])
    return lx * x + (1 - lx) * tf.gather(x, perm), lam[:, None] * y + (1 - lam[:, None]) * tf.gather(y, perm)


def lr_schedule(cfg: dict, n_train: int):
    """Cosine decay over the run, after `warmup_epochs` of linear warm-up from lr/10 (none: plain cosine), down to
    `lr_floor` (a fraction of the peak; default 0)."""
    import keras

    steps = int(np.ceil(n_train / cfg["batch_size"]))
    warm = cfg["warmup_epochs"] * steps
    total = max(1, cfg["epochs"] * steps - warm)
    alpha = float(cfg.get("lr_floor") or 0.0)
    if warm:
        return keras.optimizers.schedules.CosineDecay(cfg["lr"] / 10, total, alpha=alpha, warmup_target=cfg["lr"],
                                                      warmup_steps=warm)
    return keras.optimizers.schedules.CosineDecay(cfg["lr"], total, alpha=alpha)


def fit(cfg: dict, Xtr, ytr, Xva, yva, verbose: int = 2):
    """Build and fit the configured model; returns (model, history dict, seconds, images/s)."""
    import keras
    from sklearn.utils.class_weight import compute_class_weight

    from .architectures import build_model

    keras.utils.set_random_seed(cfg["seed"])
    n_cls = len(config.CLASSES)
    model = build_model(cfg["arch"], cfg["img_size"], n_cls, **cfg.get("model_kwargs", {}))
    if cfg.get("init_from"):
        init_weights(model, cfg["init_from"])
    lr = lr_schedule(cfg, len(Xtr))
    ema = cfg.get("ema_momentum")
    model.compile(
        optimizer=keras.optimizers.AdamW(lr, weight_decay=cfg["weight_decay"], use_ema=bool(ema),
                                         ema_momentum=float(ema or 0.99)),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg["label_smoothing"]),
        metrics=["accuracy"],
    )
    present = np.unique(ytr)
    cw = compute_class_weight("balanced", classes=present, y=ytr)
    class_weight = {int(c): float(w) for c, w in zip(present, cw)}

    weights = None
    if cfg.get("reweight"):
        if cfg["reweight"] not in REWEIGHTS:
            raise ValueError(f"unknown reweight {cfg['reweight']!r}; known: {', '.join(REWEIGHTS)}")
        weights = profile_weights(Xtr, ytr, cfg["seed"])
        print(f"reweight {cfg['reweight']}: sample weights {weights.min():.2f} to {weights.max():.2f}, median "
              f"{np.median(weights):.2f} (mean 1)", flush=True)

    tf_backend = keras.backend.backend() == "tensorflow"
    alpha = cfg.get("mixup_alpha")
    if alpha and not tf_backend:
        raise ValueError("mixup_alpha is implemented in the TensorFlow data pipeline only")

    def ds(X, y, shuffle, w=None):
        """(x, y) or, with per-sample weights w, (x, y, w): Keras reads a third element as sample weights."""
        Y = keras.utils.to_categorical(y, n_cls)
        extra = () if w is None else (w,)
        if not tf_backend:  # JAX / PyTorch (e.g. on a GPU box): Keras batches and shuffles numpy arrays itself
            return (X[..., None].astype("float32"), Y, *extra)
        import tensorflow as tf  # uint8 in memory, cast per batch: a quarter of the RAM of float32 arrays

        d = tf.data.Dataset.from_tensor_slices((X[..., None], Y, *extra))
        if shuffle:
            d = d.shuffle(len(X), seed=cfg["seed"], reshuffle_each_iteration=True)
        d = d.batch(cfg["batch_size"]).map(lambda a, *rest: (tf.cast(a, tf.float32), *rest))
        if shuffle and alpha:  # a blend keeps its dominant image's weight, as class weights follow its label
            d = d.map(lambda a, b, *rest: (*_mixup(tf, a, b, float(alpha)), *rest))
        return d.prefetch(2)

    callbacks = [
        # With EMA on, validation and the best-epoch choice use the averaged weights (swapped in before EarlyStopping).
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema else []),
        # Watch only the annealed part of the schedule (early_stop_from): early on, high learning rates make
        # validation loss noisy, and stopping there cuts the cosine before it anneals.
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg["patience"], restore_best_weights=True,
                                      start_from_epoch=int(cfg["epochs"] * cfg["early_stop_from"])),
        _budget_callback(cfg.get("time_budget_min")),
    ]
    t0 = time.time()
    train_data, val_data = ds(Xtr, ytr, True, weights), ds(Xva, yva, False)
    if tf_backend:  # the tf.data pipeline batches and shuffles; shuffle=False silences Keras' "ignored" warning
        fit_kw = {"x": train_data, "shuffle": False}
    else:
        fit_kw = {"x": train_data[0], "y": train_data[1], "batch_size": cfg["batch_size"], "shuffle": True,
                  **({"sample_weight": weights} if weights is not None else {})}
    hist = model.fit(**fit_kw, validation_data=val_data, epochs=cfg["epochs"],
                     class_weight=class_weight if weights is None else None, callbacks=callbacks, verbose=verbose)
    secs = time.time() - t0
    n_epochs = len(hist.history["loss"])
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return model, history, secs, len(Xtr) * n_epochs / secs


def save_inference_model(model, path: str | Path) -> Path:
    """Save weights and architecture without the optimizer state (a third of the size; nobody resumes training).

    Rebuilt from its config, not `clone_model`: Keras 3.15's clone keeps the compiled optimizer, whose AdamW
    moments then tripled the file (8.8 MB instead of 3 MB)."""
    import keras

    fresh = keras.Model.from_config(model.get_config())
    fresh.set_weights(model.get_weights())
    fresh.save(path)
    return Path(path)


def predict_logits(model, X: np.ndarray, batch_size: int = 128) -> np.ndarray:
    return np.asarray(model.predict(X[..., None].astype("float32"), batch_size=batch_size, verbose=0))


def calibrate(model, Xva: np.ndarray, yva: np.ndarray) -> dict:
    """Choose test-time augmentation and fit the temperature on validation (never on test).

    Flip TTA (mean logits of the image and its mirror; the model trained on flips) is kept only when it does not
    lower val accuracy and lowers val NLL after temperature scaling. Returns {"temperature", "tta", "validation"}.
    """
    from .calibrate import fit_temperature, nll, probs_from_logits, reliability

    plain = predict_logits(model, Xva)
    mirrored = (plain + predict_logits(model, Xva[:, :, ::-1])) / 2

    def acc(lg):
        return float((lg.argmax(1) == yva).mean())

    t_plain, t_tta = fit_temperature(plain, yva), fit_temperature(mirrored, yva)
    nll_plain, nll_tta = nll(plain, yva, t_plain), nll(mirrored, yva, t_tta)
    use = acc(mirrored) >= acc(plain) and nll_tta < nll_plain
    logits, temperature = (mirrored, t_tta) if use else (plain, t_plain)
    p_raw, p_cal = probs_from_logits(logits), probs_from_logits(logits, temperature)
    val = {"accuracy": acc(logits), "ece_raw": reliability(p_raw, yva)["ece"],
           "ece_calibrated": reliability(p_cal, yva)["ece"], "n": int(len(yva)),
           "accuracy_plain": acc(plain), "accuracy_hflip_tta": acc(mirrored),
           "nll_plain": nll_plain, "nll_hflip_tta": nll_tta}
    print(f"val accuracy {val['accuracy_plain']:.4f} plain, {val['accuracy_hflip_tta']:.4f} with flip TTA "
          f"(NLL {nll_plain:.4f} vs {nll_tta:.4f}): {'flip TTA kept' if use else 'no TTA'}; temperature "
          f"{temperature:.3f}; ECE {val['ece_raw']:.4f} -> {val['ece_calibrated']:.4f}", flush=True)
    return {"temperature": float(temperature), "tta": "hflip" if use else None, "validation": val}


def recalibrate(model_path: str | Path, data_dir=None) -> Path:
    """Re-run `calibrate` for a saved model (e.g. one trained before TTA existed) and update its JSON. The weights
    are untouched; an evaluation made with the old temperature is dropped, since its numbers no longer hold."""
    from .predictor import load_model

    predictor = load_model(model_path)
    meta = dict(predictor.meta)
    from ..data.layouts import resolve_data_dir
    from ..data.arrays import load_arrays
    from ..data.split import load_split

    cfg = resolve_config(meta.get("config") or {"arch": meta.get("arch"), "img_size": predictor.img_size})
    root = resolve_data_dir(data_dir, allow_synthetic=False)
    _, va = train_val_rows(load_split(cfg["split"], root), cfg["seed"])
    Xva, yva = load_arrays(root, va, predictor.img_size, progress=False)
    cal = calibrate(predictor.model, Xva, yva)
    changed = cal["tta"] != meta.get("tta") or abs(cal["temperature"] - float(meta.get("temperature") or 1)) > 1e-6
    meta.update(temperature=cal["temperature"], tta=cal["tta"], validation=cal["validation"])
    if changed and meta.pop("evaluation", None) is not None:
        print(f"dropped the stale evaluation of {predictor.name}: run `brain-mri evaluate {model_path}`", flush=True)
    return records.write(meta, predictor.path)


def train(overrides: dict | None = None, data_dir=None, out_dir: str | Path = config.MODELS_DIR,
          verbose: int = 2, bundle: str | Path | None = None) -> Path:
    """Train, calibrate on val, save models/<name>.keras and .json. Returns the JSON path.

    `bundle` trains from a file written by `brain-mri bundle` instead of the dataset (another machine, e.g. a GPU)."""
    cfg = resolve_config(overrides)
    from .architectures import check_options

    check_options(cfg["arch"], **(cfg.get("model_kwargs") or {}))  # before minutes of data loading
    print(f"training {cfg['name']} ({cfg['arch']}, {cfg['img_size']}px, {cfg['epochs']} epochs)", flush=True)
    init = None
    if cfg.get("init_from"):  # hashed before training: the run may overwrite the file it starts from
        ipath = init_path(cfg["init_from"])
        init = {"path": _shown_path(ipath), "sha256": records.sha256_file(ipath)}
        if ipath.resolve().is_relative_to(config.PROJ_ROOT.resolve()):
            cfg["init_from"] = init["path"]  # the record reproduces from the repository, on any machine
    if bundle:
        from ..data import bundle as bundles

        Xtr, ytr, Xva, yva, bmeta = bundles.load(bundle)
        for key in ("split", "img_size"):
            if bmeta[key] != cfg[key]:
                raise ValueError(f"bundle {Path(bundle).name} holds {key}={bmeta[key]!r}, config asks {cfg[key]!r}")
        if cfg.get("max_train_images"):
            keep = np.random.default_rng(cfg["seed"]).permutation(len(Xtr))[: int(cfg["max_train_images"])]
            Xtr, ytr = Xtr[keep], ytr[keep]
        data_meta = {"split_sha256": bmeta["split_sha256"], "synthetic": bmeta["synthetic"],
                     "bundle": {k: bmeta[k] for k in ("jpeg_quality", "preprocess_version", "train_mean_abs_error")
                                if k in bmeta}}
    else:
        from ..data.split import split_sha256
        from ..data.synthetic import is_synthetic

        Xtr, ytr, Xva, yva, split, root = load_train_val(cfg, data_dir)
        data_meta = {"split_sha256": split_sha256(split), "synthetic": bool(is_synthetic(root))}
    print(f"train {len(Xtr)} images, val {len(Xva)} images", flush=True)
    model, history, secs, ips = fit(cfg, Xtr, ytr, Xva, yva, verbose=verbose)

    cal = calibrate(model, Xva, yva)
    temperature, val = cal["temperature"], cal["validation"]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kpath = records.destination(out_dir, cfg["name"]).weights
    save_inference_model(model, kpath)
    meta = {
        "name": cfg["name"],
        "arch": cfg["arch"],
        "classes": list(config.CLASSES),
        "img_size": cfg["img_size"],
        "params": int(model.count_params()),
        "temperature": temperature,
        "tta": cal["tta"],
        "keras_file": kpath.name,
        "keras_sha256": records.sha256_file(kpath),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_wall_s": round(secs, 1),
        "train_images_per_s": round(ips, 1),
        "epochs_run": len(history["loss"]),
        "config": cfg,
        **({"init_from": init} if init else {}),
        "data": {"split": cfg["split"], "n_train": int(len(Xtr)), "n_val": int(len(Xva)), **data_meta,
                 "cpu_count": os.cpu_count()},
        "validation": val,
        "history": history,
        "versions": records.versions(),
        "command": "brain-mri train --config models/" + f"{cfg['name']}.json",
    }
    old = records.read(kpath) or {}
    if old.get("evaluation") and old.get("keras_sha256") == meta["keras_sha256"]:
        meta["evaluation"] = old["evaluation"]  # same weights: the evaluation still holds
    jpath = records.write(meta, kpath)
    print(f"saved {kpath} and {jpath.name} in {secs / 60:.1f} min ({ips:.1f} train images/s)", flush=True)
    return jpath


def cli_calibrate(args) -> int:
    from ..errors import DataError
    from ..errors import ModelError

    try:
        print(f"updated {recalibrate(args.model, data_dir=args.data_dir)}")
    except (DataError, ModelError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def cli_train(args) -> int:
    from ..errors import DataError

    overrides: dict = {}
    if args.config:
        recorded = records.read_json(args.config)
        if recorded is None:
            print(f"error: no config file at {args.config}", file=sys.stderr)
            return 1
        overrides.update(recorded.get("config", recorded))
    for key in ("arch", "name", "img_size", "epochs", "batch_size", "seed", "split", "time_budget_min",
                "ema_momentum", "mixup_alpha", "reweight", "init_from"):
        val = getattr(args, key, None)
        if val is not None and not (key == "arch" and args.config and val == "resnet_small"):
            # "none" switches off a recorded config's option
            overrides[key] = None if key in ("reweight", "init_from") and val == "none" else val
    if getattr(args, "gamma", None) is not None:
        kw = {k: v for k, v in (overrides.get("model_kwargs") or {}).items() if k != "gamma"}
        overrides["model_kwargs"] = {**kw, **({"gamma": args.gamma} if args.gamma else {})}
    try:
        train(overrides, data_dir=args.data_dir, out_dir=args.out_dir, bundle=getattr(args, "bundle", None))
    except (DataError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
