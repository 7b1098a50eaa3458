"""Export a trained Keras model to ONNX, so that the dashboard and the CLI predict and explain without TensorFlow
(helpers.modeling.runtime runs the file with onnxruntime; TensorFlow stays for training and the report).

The exported graph takes one raw image (1, S, S, 1) float32 0..255, as the Keras model, and returns:
- ``logits`` (1, n_classes);
- ``features`` (1, D): the global-average-pooled maps, the unfamiliar-scan rule's input (modeling.familiarity);
- ``cam_maps`` (1, g, g, C): the maps Grad-CAM weighs (explain.target_tensor on the model's own grid: the Grad-CAM
  choice in its record, explain.gradcam_choice; the grid is stored in the file as ``cam_grid``);
- ``cam_grads`` (1, n_classes, C): d logit_k / d cam_maps, averaged over space (Grad-CAM's channel weights).
Every Grad-CAM target is a linear mix of these per-class weights (P(tumour) log-odds: softmax-weighted tumour
classes minus no-tumour), so the runtime computes any of them from one pass.

Why gradients and not the plain class activation map (CAM) from the features and the dense weights: for a
global-average-pool + dense head, Grad-CAM at the pooled maps (last_conv, 4x4 at 128 px) *is* that CAM, but the
shipped model's heat map is Grad-CAM at the last 8x8 maps (its record's choice, made on validation outlines), two
residual blocks before the pool, where no such identity holds. tests/test_export.py checks both.

The graph has a fixed batch of one: with static shapes TensorFlow folds the gradient's shape arithmetic, and tf2onnx
needs two small handlers only (ReluGrad, ShapeN). The export is written beside the weights (models/<name>/model.onnx)
and its sha256 goes into the record, as the .keras file's does.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np

from .. import records
from ..errors import ModelError

OPSET = 17
OUTPUTS = ("logits", "features", "cam_maps", "cam_grads")


def onnx_path(model_path: str | Path) -> Path:
    """Where a model's export lives: beside its weights, same stem (models/<name>/model.onnx, <run>.onnx)."""
    return records.files(model_path).weights.with_suffix(".onnx")


def graph_function(model, grid: int | None | str = "default"):
    """(tf.function image -> dict of OUTPUTS, the grid it explains: an int or None for last_conv). `grid` "default":
    explain.resolve_grid's (a bare Keras model has no record: last_conv); export_model passes the record's."""
    import keras
    import tensorflow as tf

    from .explain import resolve_grid, target_tensors

    grid = resolve_grid(model, grid)
    pool = next((ly for ly in model.layers if type(ly).__name__ == "GlobalAveragePooling2D"), None)
    targets = target_tensors(model, grid)  # one network: one; a merged ensemble: each member's maps
    outs = [model.outputs[0], *targets] + ([pool.output] if pool is not None else [])
    sub = keras.Model(model.inputs, outs, name=f"{model.name}_export")
    s, n_cls = int(model.input_shape[1]), int(model.outputs[0].shape[-1])
    eye = tf.eye(n_cls)

    @tf.function(input_signature=[tf.TensorSpec([1, s, s, 1], tf.float32, name="image")])
    def fn(x):
        with tf.GradientTape(persistent=True) as tape:
            out = sub(x, training=False)
            logits, maps = out[0], list(out[1:1 + len(targets)])
            for m in maps:
                tape.watch(m)
            # a product with a one-hot row, not logits[:, k]: slicing's gradient (StridedSliceGrad) has no ONNX form
            scores = [tf.reduce_sum(logits * eye[k]) for k in range(n_cls)]
        # several maps (an ensemble's members) are the channels of one map side by side, gradients alike
        grads = tf.stack([tf.concat([tf.reduce_mean(g, axis=(1, 2)) for g in tape.gradient(sc, maps)], axis=-1)
                          for sc in scores], axis=1)
        res = {"logits": logits, "cam_maps": tf.concat(maps, axis=-1), "cam_grads": grads}
        if pool is not None:
            res["features"] = out[1 + len(targets)]
        return res

    return fn, grid


def _relu_grad(ctx, node, name, args):
    """tf2onnx handler: ReluGrad(g, y) = g * (y > 0)."""
    from onnx import TensorProto
    from tf2onnx import utils

    g, y = node.input
    zero = ctx.make_const(utils.make_name("zero"), np.zeros((), np.float32)).output[0]
    mask = ctx.make_node("Cast", [ctx.make_node("Greater", [y, zero]).output[0]], attr={"to": TensorProto.FLOAT})
    node.type = "Mul"
    ctx.replace_inputs(node, [g, mask.output[0]])
    return node


def _shape_n(ctx, node, name, args):
    """tf2onnx handler: ShapeN (a convolution gradient's input sizes) = one Shape per input."""
    from onnx import TensorProto

    for inp, out in zip(list(node.input), list(node.output)):
        dtype = ctx.get_dtype(out)
        shape = ctx.make_node("Shape", [inp]).output[0]
        if dtype != TensorProto.INT64:
            shape = ctx.make_node("Cast", [shape], attr={"to": dtype}).output[0]
        ctx.replace_all_inputs(out, shape)
    ctx.remove_node(node.name)


def _half_gradient_weights(proto) -> int:
    """Store the kernels that only the backward pass reads (ConvTranspose weights: the gradient of the maps after the
    Grad-CAM grid, with BatchNorm not folded in, so no forward kernel equals them) as float16, each cast back to float32
    in the graph. They only set Grad-CAM's channel weights, where float16's ~5e-4 relative error is invisible; the
    logits and features keep float32 weights. It halves what the gradient adds to the file (a four-member ensemble's
    export: 20.2 MB to 16.2 MB). Returns the bytes saved."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    g = proto.graph
    readers: dict[str, set] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, set()).add(n.op_type)
    saved, casts = 0, []
    for t in list(g.initializer):
        if t.data_type != onnx.TensorProto.FLOAT or readers.get(t.name) != {"ConvTranspose"}:
            continue
        a = numpy_helper.to_array(t)
        half = numpy_helper.from_array(a.astype(np.float16), t.name + "_f16")
        g.initializer.remove(t)
        g.initializer.append(half)
        casts.append(onnx.helper.make_node("Cast", [half.name], [t.name], to=onnx.TensorProto.FLOAT))
        saved += a.nbytes // 2
    for c in reversed(casts):  # before every reader (nodes must stay in topological order)
        g.node.insert(0, c)
    return saved


def export(model, path: str | Path, grid: int | None | str = "default", metadata: dict | None = None) -> str:
    """Write `model`'s ONNX graph (module docstring) on `grid` (see graph_function) to `path` atomically; returns its
    sha256.

    `metadata` (str -> str) is stored in the file (onnxruntime reads it back): the runtime checks the Keras file's
    sha256 there against the record, so a retrained model with a stale export is never served."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    import onnx
    import tf2onnx

    fn, grid = graph_function(model, grid)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=OPSET,
                                             custom_op_handlers={"ReluGrad": (_relu_grad, []),
                                                                 "ShapeN": (_shape_n, [])})
    used = {i for n in proto.graph.node for i in n.input} | {"image"}
    for dangling in [i for i in proto.graph.input if i.name not in used]:  # left by the ShapeN rewrite
        proto.graph.input.remove(dangling)
    _half_gradient_weights(proto)
    meta = {"cam_grid": "last_conv" if grid is None else str(grid), **(metadata or {})}
    onnx.helper.set_model_props(proto, {str(k): str(v) for k, v in meta.items()})
    onnx.checker.check_model(proto)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(proto.SerializeToString())
    os.replace(tmp, path)
    return records.sha256_file(path)


def export_model(model_dir: str | Path | None = None) -> str:
    """Export a saved model (its folder, record, .keras file or name; default the shipped model) to model.onnx beside
    its weights, record ``onnx_file`` and ``onnx_sha256`` in its record, and return that sha256.

    The graph explains the grid of the record's Grad-CAM choice (explain.gradcam_choice; the fallback's last_conv
    without one): runtime.load_model serves the file only while the two agree, so after adopting a new choice
    re-export. The .keras file is loaded through predictor.load_model, i.e. only after its own sha256 check."""
    from .explain import gradcam_choice
    from .predictor import load_model, resolve_model_path

    kpath = resolve_model_path(model_dir)
    pred = load_model(kpath)
    out = onnx_path(kpath)
    sha = export(pred.model, out, grid=gradcam_choice(pred.meta)[1],
                 metadata={"keras_sha256": pred.meta["keras_sha256"], "classes": ",".join(pred.classes),
                           "img_size": pred.img_size})
    records.update(records.files(kpath).record, onnx_file=out.name, onnx_sha256=sha)
    return sha


def cli_export(args) -> int:
    """`brain-mri export [MODEL_DIR]`: write model.onnx beside the model and its sha256 into the record."""
    try:
        sha = export_model(getattr(args, "model", None))
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from ..formatting import shown_path
    from .predictor import resolve_model_path

    print(f"wrote {shown_path(onnx_path(resolve_model_path(getattr(args, 'model', None))))} (sha256 {sha[:12]}…)")
    return 0
