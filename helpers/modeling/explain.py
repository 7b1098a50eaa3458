"""Grad-CAM (Selvaraju et al., 2017) for our models, and a heat-map overlay for display.

Every model names its last convolution "last_conv" (helpers.modeling.architectures). The heat map is the ReLU of that layer's
rectified feature maps (after its BatchNorm/ReLU) weighted by the spatially pooled gradient of the chosen class's
logit, upsampled to the input size and scaled to [0, 1]. It shows where the network looked, not where a tumour is: the report treats it as a
sanity check, never as a segmentation.

Which score and which maps are each model's own choice, made on validation outlines and kept in its record
(``"gradcam": {"target", "grid", "chosen_in"}``; ``gradcam_choice`` reads it, ``adopt_choice`` writes it). A model
whose record has no such choice gets the plain Grad-CAM the project started with (FALLBACK): the predicted class's
logit on the "last_conv" maps.
"""
from __future__ import annotations

import re

import threading
import weakref

import numpy as np

_FNS: dict[tuple, tuple] = {}  # (id(model), grid) -> (weakref to model, compiled function)
_LOCK = threading.Lock()
CONV_LAYER = "last_conv"
# class_idx TUMOUR explains the log-odds of P(tumour): logsumexp(tumour logits) - no-tumour logit, the dashboard's
# headline and what Br35H's partial labels trained.
TUMOUR = -2
# A model's Grad-CAM choice (target, grid). target: what a tumour call's heat map explains, "type" (the most likely
# tumour type's logit; for any other call the predicted class's) or "p_tumour" (TUMOUR). grid: which maps are weighed,
# None = "last_conv" (4x4 at 128 px in resnet_small), or an int g = the last layer whose maps are g x g.
# experiments/batch7_symmetry/gradcam_variants.py scores the six variants of a model on validation outlines and
# adopts the best into the model's record (adopt_choice): e.g. brain_tumor_hv_bo2, P(tumour) on the 8x8 maps;
# brain_tumor_hv_bo40, the type logit on the 16x16 maps. A record without one gets FALLBACK.
TARGETS = ("type", "p_tumour")
FALLBACK: tuple[str, int | None] = ("type", None)
CHOICE_KEY = "gradcam"  # the record's key


def _checked(block, where: str) -> tuple[str, int | None]:
    if not isinstance(block, dict) or block.get("target") not in TARGETS:
        raise ValueError(f"{where}: Grad-CAM choice {block!r} needs a target in {TARGETS}")
    grid = block.get("grid")
    if grid is not None and (isinstance(grid, bool) or not isinstance(grid, int) or grid < 1):
        raise ValueError(f"{where}: Grad-CAM grid {grid!r} is neither null (last_conv) nor a positive map size")
    return block["target"], grid


def gradcam_choice(source) -> tuple[str, int | None]:
    """(target, grid) of a model's own Grad-CAM: its record's "gradcam" block, else FALLBACK. The one place that
    answers it. `source`: a model record (dict) or a predictor (its ``.meta``, the record it was loaded with);
    anything else (a bare Keras model, an ONNX session) carries no record and gets FALLBACK.
    A malformed block is a ValueError."""
    meta = source if isinstance(source, dict) else getattr(source, "meta", None)
    if not isinstance(meta, dict) or meta.get(CHOICE_KEY) is None:
        return FALLBACK
    return _checked(meta[CHOICE_KEY], f"model {meta.get('name')!r}")


def variants_file(name: str):
    """experiments/batch7_symmetry/gradcam_variants.<name>.json: where gradcam_variants.py writes a model's six
    variants and its choice."""
    from .. import config

    return config.EXPERIMENTS_DIR / "batch7_symmetry" / f"gradcam_variants.{name}.json"


def adopt_choice(variants, model=None) -> dict:
    """Store a gradcam_variants file's "chosen" in its model's record as ``"gradcam": {"target", "grid",
    "chosen_in"}`` (chosen_in: the file's path relative to the project), every other key kept; returns the block.

    `model`: the model's folder, record or weights (anything records.files accepts); default the model the file
    names (its "model" key, found by records.locate). The record's name must be the one the file scored."""
    from pathlib import Path

    from .. import records
    from ..formatting import shown_path

    path = Path(variants)
    res = records.read_json(path)
    if res is None:
        raise FileNotFoundError(path)
    target, grid = _checked(res.get("chosen"), shown_path(path))
    rec_path = records.files(model).record if model is not None else records.locate(res["model"]).record
    rec = records.read_json(rec_path)
    if rec is None:
        raise FileNotFoundError(rec_path)
    if (rec.get("name") or records.files(rec_path).name) != res.get("model"):
        raise ValueError(f"{shown_path(path)} scored {res.get('model')!r}, not {rec.get('name')!r}")
    block = {"target": target, "grid": grid, "chosen_in": shown_path(path)}
    records.update(rec_path, **{CHOICE_KEY: block})
    return block


_ELEMENTWISE = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "ELU", "PReLU")


def _grid_maps(model, grid: int) -> list:
    """Outputs of the model's layers whose maps are grid x grid, in layer order."""
    return [ly.output for ly in model.layers
            if len(getattr(ly.output, "shape", ())) == 4 and ly.output.shape[1] == grid == ly.output.shape[2]]


def target_tensor(model, grid: int | None = None):
    """The feature maps Grad-CAM weighs: the output of "last_conv" after the per-pixel layers that follow it
    (BatchNormalization, ReLU, ...), i.e. the rectified maps the classifier head actually pools.

    Why not the raw convolution: in resnet_small it is followed by BatchNorm, whose per-channel shift the
    gradient does not see; on the real data the raw maps' weighted sum is negative almost everywhere and the
    normalised heat collapses onto one border cell.

    `grid` g: instead, the output of the last layer whose maps are g x g (finer maps than last_conv's).
    """
    if grid is not None:
        found = _grid_maps(model, grid)
        if not found:
            raise ValueError(f"model {model.name!r} has no {grid}x{grid} feature maps for Grad-CAM")
        return found[-1]
    try:
        layer = model.get_layer(CONV_LAYER)
    except ValueError:
        raise ValueError(f"model {model.name!r} has no layer named {CONV_LAYER!r}: Grad-CAM needs it") from None
    out = layer.output
    layers = list(model.layers)
    i = layers.index(layer)
    while i + 1 < len(layers):
        nxt = layers[i + 1]
        if type(nxt).__name__ not in _ELEMENTWISE or nxt.input is not out:
            break
        out, i = nxt.output, i + 1
    return out


_MEMBER = re.compile(r"^m(\d+)_")  # modeling.ensemble.MEMBER_PREFIX: a merged ensemble's member layers


def target_tensors(model, grid: int | None = None) -> list:
    """The maps Grad-CAM weighs, as a list: [target_tensor] for one network; for a merged ensemble on a finer
    grid, each member's last g x g maps (all on the path to the merged logits). Their channels, weighted by their
    own gradients, sum to the ensemble's map: Grad-CAM of the mean logit over the members' maps side by side."""
    if grid is not None:
        groups: dict[str, list] = {}
        for ly in model.layers:
            m = _MEMBER.match(ly.name)
            out = getattr(ly, "output", None)
            if m and len(getattr(out, "shape", ())) == 4 and out.shape[1] == grid == out.shape[2]:
                groups.setdefault(m.group(1), []).append(out)
        if len(groups) > 1:
            return [v[-1] for _, v in sorted(groups.items(), key=lambda kv: int(kv[0]))]
    return [target_tensor(model, grid)]


def resolve_grid(model, grid: int | None | str = "default") -> int | None:
    """The grid Grad-CAM uses: "default" is the model's own choice (gradcam_choice: a predictor's record; a bare
    Keras model has none, so last_conv); an int or None as given."""
    return gradcam_choice(model)[1] if grid == "default" else grid


def _gradcam_fn(model, grid: int | None | str = None):
    """The compiled Grad-CAM function of Keras `model` on `grid` (an int, None for last_conv, or "default": see
    resolve_grid), built once per model object and grid (tracing costs ~1 s)."""
    with _LOCK:
        hit = _FNS.get((id(model), grid))
        if hit is not None and hit[0]() is model:
            return hit[1]
    import keras
    import tensorflow as tf

    from .. import config

    key = grid = resolve_grid(model, grid)  # "default" on a bare Keras model (no record): the fallback
    targets = target_tensors(model, grid)
    sub = keras.Model(model.inputs, [*targets, model.outputs[0]], name=f"{model.name}_gradcam")
    s = int(model.input_shape[1])
    n_cls = int(model.outputs[0].shape[-1])
    # P(tumour) log-odds needs the project's 4 classes; other heads (tests' toy models) fall back to the argmax
    tumour = ([config.CLASSES.index(c) for c in config.TUMOUR_CLASSES], config.CLASSES.index(config.NO_TUMOUR)) \
        if n_cls == len(config.CLASSES) else None

    @tf.function(input_signature=[tf.TensorSpec([1, s, s, 1], tf.float32), tf.TensorSpec([], tf.int32)])
    def fn(x, k):
        with tf.GradientTape() as tape:
            out = sub(x, training=False)
            acts, logits = list(out[:-1]), out[-1]
            for a in acts:
                tape.watch(a)
            top = tf.argmax(logits[0], output_type=tf.int32)
            score = tf.gather(logits[0], tf.where(k < 0, top, k))  # -1: the predicted class
            if tumour is not None:
                odds = tf.reduce_logsumexp(tf.gather(logits[0], tumour[0])) - logits[0][tumour[1]]
                score = tf.where(tf.equal(k, TUMOUR), odds, score)
        grads = tape.gradient(score, acts)
        # (1, 1, 1, C) channel importance per map; an ensemble's members' maps are weighed side by side
        cam = tf.add_n([tf.reduce_sum(a * tf.reduce_mean(g, axis=(1, 2), keepdims=True), axis=-1, keepdims=True)
                        for a, g in zip(acts, grads)])
        cam = tf.nn.relu(cam)
        cam = tf.image.resize(cam, (s, s), method="bilinear")[0, :, :, 0]
        top = tf.reduce_max(cam)
        cam = tf.where(top > 0, cam / tf.maximum(top, 1e-12), tf.zeros_like(cam))
        return cam, logits[0]

    with _LOCK:
        for key in [k for k, (ref, _) in _FNS.items() if ref() is None]:  # drop functions of dead models
            del _FNS[key]
        _FNS[(id(model), key)] = (weakref.ref(model), fn)
    return fn


def gradcam_and_logits(model, x: np.ndarray, class_idx: int | None = None,
                       grid: int | None | str = "default") -> tuple[np.ndarray, np.ndarray]:
    """(heat (S, S) float32 in [0, 1], logits [n_classes]) for one prepared image, in one forward pass.

    `class_idx` None explains the predicted class, TUMOUR the log-odds of P(tumour). An all-zero heat map means no
    region raised that score. `grid`: "default" is the model's own choice (resolve_grid), else an int or None.

    `model`: a predictor (its record gives "default"; its network is used), a Keras model (no record: "default" is
    the fallback's last_conv), or an exported model (helpers.modeling.runtime: "default" is the grid baked into it),
    which computes the same map without TensorFlow.
    """
    inner = getattr(model, "model", None)
    if inner is not None:  # a predictor: its record's grid, its network
        grid, model = resolve_grid(model, grid), inner
    exported = getattr(model, "gradcam_and_logits", None)
    if exported is not None:
        return exported(x, class_idx, grid)
    import tensorflow as tf

    x = np.asarray(x)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    s = int(model.input_shape[1])
    if x.shape != (s, s):
        raise ValueError(f"expected one prepared image of shape ({s}, {s}), got {x.shape}")
    n_cls = int(model.outputs[0].shape[-1])
    k = -1 if class_idx is None else int(class_idx)
    if not (-1 <= k < n_cls or k == TUMOUR):
        raise ValueError(f"class_idx {class_idx} out of range for {n_cls} classes")
    cam, logits = _gradcam_fn(model, grid)(tf.convert_to_tensor(x[None, :, :, None].astype(np.float32)),
                                     tf.constant(k, tf.int32))
    return cam.numpy().astype(np.float32), logits.numpy()


def call_target(classes, predicted_idx: int, predicted: str, target: str) -> tuple[int, str]:
    """(class_idx for gradcam, what it explains) for a call, given the model's target (gradcam_choice): P(tumour)
    for a tumour call when the target is "p_tumour", else the predicted class."""
    from .. import config

    if target not in TARGETS:
        raise ValueError(f"unknown Grad-CAM target {target!r}: one of {TARGETS}")
    if target == "p_tumour" and predicted in config.TUMOUR_CLASSES and len(classes) == len(config.CLASSES):
        return TUMOUR, "P(tumour)"
    return predicted_idx, str(classes[predicted_idx])


def gradcam(model, x: np.ndarray, class_idx: int | None = None, grid: int | None | str = "default") -> np.ndarray:
    """Grad-CAM heat map (S, S) float32 in [0, 1] of `class_idx` (default: predicted class; TUMOUR: P(tumour)) for
    one prepared uint8 image (S, S). `model` is a Keras model or a helpers.modeling.predictor.Predictor (whose record
    gives grid "default": gradcam_and_logits)."""
    return gradcam_and_logits(model, x, class_idx, grid)[0]


def _resize_heat(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if heat.shape == shape:
        return heat
    from PIL import Image

    im = Image.fromarray(np.asarray(heat, np.float32), mode="F").resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(im)


def overlay(gray: np.ndarray, heat: np.ndarray, alpha: float = 0.4, cmap: str = "jet") -> np.ndarray:
    """RGB uint8 (H, W, 3): `gray` (H, W) uint8 under the colour-mapped heat map (resized to H, W).

    Opacity is alpha * heat, so cold regions show the plain image instead of a blue wash.
    """
    from matplotlib import colormaps

    g = np.asarray(gray)
    if g.ndim == 3:  # already RGB: use its luminance
        g = g[..., :3].mean(axis=-1)
    g = g.astype(np.float32)
    h = np.clip(np.nan_to_num(_resize_heat(np.asarray(heat, np.float32), g.shape)), 0.0, 1.0)
    colour = colormaps[cmap](h)[..., :3].astype(np.float32) * 255.0
    a = (float(alpha) * h)[..., None]
    out = (1.0 - a) * g[..., None] + a * colour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
