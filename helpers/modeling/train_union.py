"""The cross-collection recipe: every collection, partial labels, balanced weights, variety augmentation, JPEG
re-encoding and (optionally) lesion synthesis from the Br35H outlines. Used for the leave-one-source-out folds and
for the shipped model (`brain-mri train-union`)."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records
from ..data import outlines, union_split
from . import familiarity, lesion_synthesis, operating_point, partial_labels
from .calibrate import probs_from_logits
from .train import lr_schedule, save_inference_model

# Recipes of batch 4/5 (experiments/batch4_cross_collection/PLAN.md, batch5_lesion_synthesis/PLAN.md)
RECIPES: dict[str, dict] = {
    "old": {"collections": ["brain-tumor-mri"], "augment_layer": "affine", "balance": None, "jpeg_p": 0.0},
    "multi": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0},
    "multi_var": {"collections": None, "augment_layer": "variety", "balance": None, "jpeg_p": 0.3},
    "multi_var_bal": {"collections": None, "augment_layer": "variety", "balance": "collection", "jpeg_p": 0.3},
    "multi_var_bal_synth": {"collections": None, "augment_layer": "variety", "balance": "collection",
                            "jpeg_p": 0.3, "synth": True},
    "multi_synth": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "synth": True},
    # batch 7 (experiments/batch7_symmetry/PLAN.md): multi + the left-right asymmetry channel
    "multi_sym": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True},
    # batch 8 (experiments/batch8_asymmetry_only/PLAN.md): the asymmetry map alone, no grey levels of the slice itself
    "multi_asym": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": "only"},
    # batch 10 (experiments/batch10_healthy_variety/PLAN.md): union split v2 with healthy-extra in training
    "he_sym": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True},
    "he_bo_inv": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                  "brain_only": 0.3, "invert": 0.25},
    "he_bo_inv_bal": {"collections": None, "augment_layer": "affine", "balance": "collection", "jpeg_p": 0.0,
                      "mirror": True, "brain_only": 0.3, "invert": 0.25},
    # batch 18 (experiments/batch18_brain_only/PLAN.md): he_sym + the look-balanced brain-only augmentation alone
    "he_bo": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
              "brain_only": 0.3},
    # batch 21 (experiments/batch21_style_and_flip/PLAN.md): he_bo + MixStyle after the first two stages
    "he_bo_ms": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                 "brain_only": 0.3, "mixstyle": 0.5},
    # batch 23 (experiments/batch23_wider/PLAN.md): he_bo at width 24
    "he_bo_w24": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                  "brain_only": 0.3, "width": 24},
    # batch 27 (experiments/batch27_plane_balance/PLAN.md): he_bo + tumour and healthy of equal weight in each plane
    "he_bo_pb": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                 "brain_only": 0.3, "plane_balance": 4.0},
    # batch 34 (experiments/batch34_weight_averaging/PLAN.md): he_bo + a learning-rate floor and a moving average
    # of the weights over the tail (SWA-like)
    "he_bo_swa": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                  "brain_only": 0.3, "lr_floor": 0.1, "ema": 0.999},
    # batch 44 (experiments/batch44_intensity_net/PLAN.md): he_bo + a random shallow network's grey levels (GIN)
    "he_bo_gin": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                  "brain_only": 0.3, "gin": 0.5},
    # batch 48 (experiments/batch48_mixup/PLAN.md): he_bo + mixup across the shuffled batch
    "he_bo_mix": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                  "brain_only": 0.3, "mixup": 0.5},
    # batch 49 (experiments/batch49_domain_adversary/PLAN.md): he_bo + a class-conditional domain adversary
    "he_bo_dann": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                   "brain_only": 0.3, "dann": 1.0},
    # batch 50 (experiments/batch50_admitted_share/PLAN.md): he_bo with a tenth of the held-out source's groups in
    # training (a measurement of how much of a missing look's data moves the held-out rest)
    "he_bo_adm10": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                    "brain_only": 0.3, "admit": 0.1},
    # batch 46 (experiments/batch46_no_mirror/PLAN.md): he_bo without the asymmetry channel
    "he_bo_nm": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "brain_only": 0.3},
    # batch 12 (experiments/batch12_procedural_lesions/PLAN.md): he_sym + procedural masses in healthy slices
    "he_sym_proc": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                    "procedural": 0.5},
    # batch 14 (experiments/batch14_spots/PLAN.md): + small bright tumour-free spots labelled healthy
    "he_sym_proc2": {"collections": None, "augment_layer": "affine", "balance": None, "jpeg_p": 0.0, "mirror": True,
                     "procedural": 0.5, "spots": 0.3},
}
BASE = {"arch": "resnet_small", "img_size": config.IMG_SIZE, "epochs": 10, "batch_size": 64, "lr": 3e-3,
        "weight_decay": 0.05, "warmup_epochs": 1, "label_smoothing": 0.1, "seed": config.SEED, "width": 16}


def config_for(recipe: str, fold: str | None = None, **overrides) -> dict:
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
    r = RECIPES[recipe]
    cfg = {**BASE, **({"width": r["width"]} if r.get("width") else {}), **overrides, "recipe": recipe, "fold": fold, "split": "union", "jpeg_p": r["jpeg_p"],
           "balance": r["balance"], "synth": bool(r.get("synth")), "collections": r["collections"]}
    for k in ("brain_only", "invert", "gin", "mixup", "dann", "admit", "procedural", "spots", "plane_balance", "lr_floor", "ema"):  # only when asked, so the records of earlier recipes keep their exact config
        if r.get(k):
            cfg[k] = r[k]
    cfg["model_kwargs"] = {"width": cfg.pop("width"), "stem_pool": True, "augment_layer": r["augment_layer"]}
    if r.get("mixstyle"):  # only when asked, as mirror below
        cfg["model_kwargs"]["mixstyle"] = r["mixstyle"]
    if r.get("mirror"):  # only when asked, so the records of earlier recipes keep their exact config
        cfg["model_kwargs"]["mirror"] = r["mirror"]
    return cfg


def training_set(u: union_split.Union, X: np.ndarray, tr: pd.DataFrame, cfg: dict, seed: int = 0):
    """(images, label masks, weights, counts): the fold's training rows, plus synthetic slices if the recipe asks."""
    Xtr, labels, cols = X[tr.index], list(tr["label"]), list(tr["collection"])
    counts = {f"{c}/{lbl}": int(n) for (c, lbl), n in tr.groupby(["collection", "label"]).size().items()}
    if cfg.get("synth"):
        rows, masks = outlines.union_masks(u.table, u.roots, cfg["img_size"])
        keep = np.isin(rows, tr.index)
        healthy = X[tr.index[(tr["label"] == config.NO_TUMOUR).to_numpy()]]
        if keep.any() and len(healthy):
            S, sl = lesion_synthesis.synthesise(X[rows[keep]], masks[keep], healthy, 2 * int(keep.sum()), seed=seed)
            Xtr = np.concatenate([Xtr, S])
            labels += sl
            cols += ["synthetic"] * len(sl)
            counts["synthetic/notumor"], counts["synthetic/tumour"] = sl.count("notumor"), sl.count("tumour")
    if cfg.get("procedural"):  # batch 12: synthetic masses in healthy slices of every look
        hosts = tr.index[(tr["label"] == config.NO_TUMOUR).to_numpy()].to_numpy()
        rng = np.random.default_rng(1000 + seed + int(cfg["seed"]))
        hosts = np.sort(rng.choice(hosts, int(round(cfg["procedural"] * len(hosts))), replace=False))
        S, _ = lesion_synthesis.procedural_many(X[hosts], seed=int(cfg["seed"]) + seed)
        Xtr = np.concatenate([Xtr, S])
        labels += ["tumour"] * len(S)
        cols += ["synthetic"] * len(S)
        counts["synthetic/tumour"] = len(S)
    if cfg.get("spots"):  # batch 14: small bright tumour-free spots, labelled healthy, in other healthy slices
        hosts = tr.index[(tr["label"] == config.NO_TUMOUR).to_numpy()].to_numpy()
        rng = np.random.default_rng(2000 + seed + int(cfg["seed"]))
        hosts = np.sort(rng.choice(hosts, int(round(cfg["spots"] * len(hosts))), replace=False))
        out = [lesion_synthesis.small_spots(h, rng) for h in X[hosts]]
        S = np.stack([o for o in out if o is not None]) if any(o is not None for o in out) else X[:0]
        Xtr = np.concatenate([Xtr, S])
        labels += [config.NO_TUMOUR] * len(S)
        cols += ["synthetic"] * len(S)
        counts["synthetic/notumor"] = len(S)
    W = partial_labels.balance_weights(labels, cols, cfg["balance"])
    if cfg.get("plane_balance"):  # batch 27: synthetic rows (none in its recipe) would keep their weight
        planes = list(union_split.plane_tags(tr)) + [""] * (len(labels) - len(tr))
        W = partial_labels.plane_balance(W, np.array(labels) != config.NO_TUMOUR, planes, float(cfg["plane_balance"]))
    return Xtr, partial_labels.label_masks(labels), W, counts


def brain_only_probabilities(tr: pd.DataFrame, target: float) -> np.ndarray:
    """Per-row probability of the brain-only augmentation such that the brain-only look is equally common among
    tumour and healthy training slices (`target` of each): healthy-extra's skull-stripped slices already carry it and
    are all healthy, which would otherwise teach "brain-only look => healthy"."""
    tum = (tr["label"] != config.NO_TUMOUR).to_numpy()
    stripped = (tr.get("skull", pd.Series("", index=tr.index)).astype(str) == "no").to_numpy()
    p = np.zeros(len(tr), np.float32)
    for lab in (True, False):
        k = tum == lab
        native = stripped[k].mean() if k.any() else 0.0
        p_rest = max(0.0, (target - native) / (1 - native)) if native < 1 else 0.0
        p[k & ~stripped] = p_rest
    return p


def _cached(X: np.ndarray, tag: str, compute) -> dict[str, np.ndarray]:
    """compute(X) -> {name: array}, cached under the cache folder by a content key of X and `tag`."""
    import hashlib

    key = hashlib.sha256(X[:, ::8, ::8].tobytes()).hexdigest()[:12] + f"-{len(X)}-{tag}"
    cache = config.cache_dir() / f"looks-{key}.npz"
    if cache.is_file():
        return dict(np.load(cache))
    out = compute(X)
    np.savez(cache, **out)
    return out


def look_arrays(X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(brain-only views with a random erosion per slice, head masks, brain masks) for the training augmentation."""
    from ..data import brain_only

    def compute(X):
        bo = brain_only.brain_only_many(X, seed=seed)
        return {"bo": bo, "mh": brain_only.head_masks(X), "mb": brain_only.head_masks(bo)}

    z = _cached(X, f"train-{seed}", compute)
    return z["bo"], z["mh"], z["mb"]


def view_arrays(X: np.ndarray) -> np.ndarray:
    """The brain-only evaluation view (fixed 8-px erosion)."""
    from ..data import brain_only

    return _cached(X, "view", lambda X: {"view": brain_only.brain_only_many(X, seed=None)})["view"]


def fit(cfg: dict, Xtr, Mtr, Wtr, Xva, Mva, verbose: int = 2, looks=None, domains=None):
    """Build and fit; returns (model, history, seconds, images/s). Images uint8 (N, S, S); masks (N, 4).
    looks: (brain-only views, head masks, brain masks, per-row brain-only probability) of the training rows, for
    the brain-only and contrast-inversion augmentations (drawn per slice and epoch, before the model's own).
    domains: (training, validation) `domain_adversary.targets`, for a recipe with "dann" (batch 49)."""
    import keras
    import tensorflow as tf

    from . import augmentation, domain_adversary
    from .architectures import build_model

    keras.utils.set_random_seed(cfg["seed"])
    model = build_model(cfg["arch"], cfg["img_size"], len(config.CLASSES), **cfg["model_kwargs"])
    # "ema": a moving average of the weights, which model.fit writes into the model when training ends
    ema = {"use_ema": True, "ema_momentum": float(cfg["ema"])} if cfg.get("ema") else {}
    loss, net, callbacks = partial_labels.partial_label_loss(cfg["label_smoothing"]), model, []
    if cfg.get("dann"):  # batch 49: trains a wrapper with the adversary's head; `model` shares its weights
        if looks is None or domains is None or cfg.get("mixup"):
            raise ValueError("dann needs the looks' batch map and the rows' domain targets, and no mixup")
        net, callbacks = domain_adversary.attach(model, float(cfg["dann"]), cfg["epochs"])
        loss = [loss, domain_adversary.conditional_loss()]
    net.compile(optimizer=keras.optimizers.AdamW(lr_schedule(cfg, len(Xtr)), weight_decay=cfg["weight_decay"], **ema),
                loss=loss)
    jpeg, shape = float(cfg.get("jpeg_p") or 0), Xtr.shape[1:] + (1,)

    def maybe_jpeg(x, m, w):  # JPEG re-encoding at a random quality, as uploads and web copies are
        q = tf.image.random_jpeg_quality(x, 30, 90)
        x = tf.cond(tf.random.uniform(()) < jpeg, lambda: q, lambda: x)
        return tf.ensure_shape(x, shape), m, w  # tf.cond forgets the static shape the augmentation layer needs

    p_inv, p_gin, p_mix = (float(cfg.get(k) or 0) for k in ("invert", "gin", "mixup"))
    if p_mix and looks is None:
        raise ValueError("mixup is drawn in the looks' batch map: give the recipe brain_only, invert or gin")
    if looks is not None:
        bo, mh, mb, pbo = looks

        def look(x, xb, hm, bm, pb, m, w, dom=None):  # on a batch: brain-only view, then inversion inside the head
            pick = tf.random.uniform(tf.shape(pb)) < pb
            x = tf.where(pick[:, None, None], xb, x)
            inside = tf.where(pick[:, None, None], bm, hm)
            inv = (tf.random.uniform(tf.shape(pb)) < p_inv)[:, None, None]
            x = tf.where(inv, tf.where(inside, 255 - x, tf.zeros_like(x)), x)
            x = tf.cast(x, tf.float32)
            if p_gin:  # batch 44: another sequence's look from a random shallow network, inside the head
                x = augmentation.random_intensity_net(x, inside, p_gin)
            if p_mix:  # batch 48: blends across the shuffled batch, labels blended in the loss
                x, m, w = augmentation.mixup(x, m, w, p_mix)
            return x[..., None], (m if dom is None else (m, dom)), w  # dom: batch 49's domain targets

        extra = () if domains is None else (domains[0],)
        d = tf.data.Dataset.from_tensor_slices((Xtr, bo, mh, mb, pbo, Mtr, Wtr, *extra))
        d = d.shuffle(len(Xtr), seed=cfg["seed"])
        d = d.batch(cfg["batch_size"]).map(look, num_parallel_calls=2).prefetch(2)
    else:
        d = tf.data.Dataset.from_tensor_slices((Xtr[..., None], Mtr, Wtr)).shuffle(len(Xtr), seed=cfg["seed"])
        if jpeg:
            d = d.map(maybe_jpeg, num_parallel_calls=2)
        d = d.batch(cfg["batch_size"]).map(lambda a, m, w: (tf.cast(a, tf.float32), m, w)).prefetch(2)
    yva = Mva if not cfg.get("dann") else (Mva, domains[1])
    v = tf.data.Dataset.from_tensor_slices((Xva[..., None].astype("float32"), yva)).batch(256)
    t0 = time.time()
    hist = net.fit(d, validation_data=v, epochs=cfg["epochs"], verbose=verbose, callbacks=callbacks)
    secs = time.time() - t0
    history = {k: [float(x) for x in vals] for k, vals in hist.history.items()}
    return model, history, secs, len(Xtr) * cfg["epochs"] / secs


def logits_of(model, X: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(X[..., None].astype("float32"), batch_size=256, verbose=0))


def score(model, u: union_split.Union, X: np.ndarray, tr: pd.DataFrame, va: pd.DataFrame, te: pd.DataFrame,
          shift: float = 0.0, tta: str | None = None) -> dict:
    """What every union run is judged by, a trained network or a merged ensemble alike: the operating point on its
    validation rows (every collection weighted equally; the threshold then moved `shift` logits where a batch
    adopted a shift), the unfamiliar-scan rule from its training and validation pictures (never its test), and the
    test rows' probabilities and distances, plain and on their brain-only view. tta "hflip": every probability
    from the mean logits of the slice and its mirror, as the predictor computes them for such a record (batch 35);
    the distances stay the slice's own."""
    def logits(A):
        return logits_of(model, A) if tta != "hflip" else (logits_of(model, A) + logits_of(model, A[:, :, ::-1])) / 2

    if tta not in (None, "hflip"):
        raise ValueError(f"score: unknown test-time augmentation {tta!r}")
    op = operating_point.choose(logits(X[va.index]), partial_labels.label_masks(va["label"]),
                                va["collection"].to_numpy())
    if shift:
        op = {**op, "threshold_at_validation": op["threshold"], "shift": float(shift),
              "threshold": round(operating_point.shifted(op["threshold"], shift), 4),
              "chosen_on": op["chosen_on"] + f", then moved {shift:+g} logits (chosen on held-out folds)"}
    fit_rows = tr.index.to_numpy()
    if len(fit_rows) > 4000:
        fit_rows = np.sort(np.random.default_rng(0).choice(fit_rows, 4000, replace=False))
    rule = familiarity.fit(familiarity.features(model, X[fit_rows]), u.table.loc[fit_rows, "label"].to_numpy(),
                           familiarity.features(model, X[va.index]))
    # the brain-only view of the same test rows: how far the calls move when the skull is removed
    views = (X[te.index], view_arrays(X)[u.table.index.get_indexer(te.index)])
    P, P_bo = (probs_from_logits(logits(A), op["temperature"]) for A in views)
    dist, dist_bo = (familiarity.score(rule, familiarity.features(model, A)) for A in views)
    return {"operating_point": op, "rule": rule, "test": te, "probs": P, "distance": dist,
            "probs_brain_only": P_bo, "distance_brain_only": dist_bo}


def predictions_frame(run: dict) -> pd.DataFrame:
    """One row per test file of a scored run (`score`): calibrated probabilities, P(tumour), the distance over the
    warning threshold, and the same for the brain-only view."""
    te, P = run["test"], run["probs"]
    pred = te[["collection", "path", "label", "group", "source", "sources", "split", "old_split"]].copy()
    for k, c in enumerate(config.CLASSES):
        pred[f"p_{c}"] = P[:, k].round(5)
    pred["p_tumour"] = (1 - P[:, config.CLASSES.index(config.NO_TUMOUR)]).round(5)
    ratio = np.asarray(run["distance"]) / run["rule"]["threshold"]
    pred["familiarity_ratio"] = ratio.round(4)  # distance to the training collections over the warning threshold
    pred["unfamiliar"] = familiarity.unfamiliar(run["rule"], run["distance"]).astype(int)
    if run.get("probs_brain_only") is not None:  # the same rows with the skull removed (brain-only view)
        Pb = run["probs_brain_only"]
        pred["p_tumour_brain_only"] = (1 - Pb[:, config.CLASSES.index(config.NO_TUMOUR)]).round(5)
        pred["familiarity_ratio_brain_only"] = (np.asarray(run["distance_brain_only"])
                                                / run["rule"]["threshold"]).round(4)
    for c in ("plane", "sequence", "skull"):
        if c in te:
            pred[c] = te[c].to_numpy()
    return pred


def train_fold(cfg: dict, u: union_split.Union, X: np.ndarray, verbose: int = 2) -> dict:
    """Train one run (a fold, or fold None: the union split) and return model, temperature, familiarity rule,
    test rows and test probabilities, plus the record's training part."""
    tr, va, te = union_split.fold_rows(u.table, cfg["fold"], cfg["collections"], float(cfg.get("admit") or 0))
    Xtr, Mtr, Wtr, counts = training_set(u, X, tr, cfg)
    Mva = partial_labels.label_masks(va["label"])
    print(f"[{cfg['recipe']} / {cfg['fold'] or 'union'}] train {len(Xtr)} val {len(va)} test {len(te)}", flush=True)
    looks, brain_only_p = None, None
    if cfg.get("brain_only") or cfg.get("invert") or cfg.get("gin"):
        if len(Xtr) != len(tr):
            raise ValueError("the brain-only and inversion looks cover real training rows only: not with synthetic ones")
        bo, mh, mb = look_arrays(X, seed=cfg["seed"])
        pos = u.table.index.get_indexer(tr.index)
        pbo = brain_only_probabilities(tr, float(cfg.get("brain_only") or 0))
        looks = (bo[pos], mh[pos], mb[pos], pbo)
        tum = (tr["label"] != config.NO_TUMOUR).to_numpy()
        brain_only_p = {"tumour": round(float(pbo[tum].max(initial=0)), 3),
                        "healthy": round(float(pbo[~tum].max(initial=0)), 3)}
    domains = None
    if cfg.get("dann"):
        from . import domain_adversary  # Keras on import: only for the recipe that uses it

        domains = (domain_adversary.targets(tr), domain_adversary.targets(va))
    model, history, secs, ips = fit(cfg, Xtr, Mtr, Wtr, X[va.index], Mva, verbose=verbose, looks=looks,
                                    domains=domains)
    scored = score(model, u, X, tr, va, te)
    op = scored["operating_point"]
    rec = {"config": cfg, "temperature": op["temperature"], "tta": None,
           "operating_point": op, "params": int(model.count_params()),
           "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "train_wall_s": round(secs, 1),
           "train_images_per_s": round(ips, 1), "epochs_run": len(history["loss"]), "history": history,
           "data": {"split": "union", "n_train": int(len(Xtr)), "n_val": int(len(va)), "n_test": int(len(te)),
                    "split_sha256": union_split.split_sha256(u.table), "train_counts": counts,
                    "old_test_moved": u.moved, "synthetic": False,  # phantom data: never for union runs
                    **({"brain_only_p": brain_only_p} if looks is not None else {}),
                    "cpu_count": os.cpu_count()},
           "versions": records.versions()}
    return {"model": model, "record": rec, **scored}


def command_for(cfg: dict, folder: Path, name: str, shipped: bool) -> str:
    """The `brain-mri train-union` line that reproduces a run (flags only where they differ from the defaults)."""
    parts = [f"brain-mri train-union --recipe {cfg['recipe']}"]
    if cfg.get("fold"):
        parts.append(f"--fold {cfg['fold']}")
    if cfg.get("epochs", BASE["epochs"]) != BASE["epochs"]:
        parts.append(f"--epochs {cfg['epochs']}")
    if cfg.get("seed") != BASE["seed"]:
        parts.append(f"--seed {cfg['seed']}")
    try:
        out = Path(folder).resolve().relative_to(config.PROJ_ROOT).as_posix()
    except ValueError:
        out = Path(folder).name
    parts.append(f"--out-dir {out} --name {name}" + (" --shipped" if shipped else ""))
    return " ".join(parts)


def union_predictions_path(f: records.ModelFiles):
    """Where a run's union-split (or held-out fold) predictions are: <name>.predictions.csv for an experiment,
    union_predictions.csv in a shipped model's folder."""
    return f.record.with_name("union_predictions.csv") if f.record.name == records.RECORD else f.predictions


def save_run(run: dict, folder: Path, name: str, shipped: bool = False) -> records.ModelFiles:
    """Weights, record, predictions and the familiarity rule of a run: a shipped model's folder or a flat batch."""
    folder.mkdir(parents=True, exist_ok=True)
    f = records.files(folder / name) if shipped else records.files(folder, name)
    f.weights.parent.mkdir(parents=True, exist_ok=True)
    save_inference_model(run["model"], f.weights)
    pred = predictions_frame(run)
    # a shipped model's predictions.csv belongs to `brain-mri evaluate` (Kaggle leak-free and official test): the
    # union test split's rows go beside it
    pred.to_csv(union_predictions_path(f) if shipped else f.predictions, index=False)
    rule_path = familiarity.path_for(f)
    records.write_json(run["rule"], rule_path, compact=True)
    rec = {"name": name, "arch": run["record"]["config"]["arch"], "classes": list(config.CLASSES),
           "img_size": run["record"]["config"]["img_size"], "keras_file": f.weights.name,
           "keras_sha256": records.sha256_file(f.weights), "familiarity_file": rule_path.name,
           **run["record"], "command": command_for(run["record"]["config"], folder, name, shipped)}
    records.write(rec, f.record)
    return f
