"""Predict and explain with a model's ONNX export (helpers.modeling.export) in onnxruntime: no TensorFlow, so a
dashboard kernel stays small and starts fast.

``load_model(path)`` is predictor.load_model's twin: the same checks (the record's class list, the file's sha256
against the record) and a ``Predictor`` with the same interface. A model without an up-to-date export (none written
yet, one made from other weights than the record's .keras file, or one whose Grad-CAM maps are not the grid of the
record's choice, explain.gradcam_choice) falls back to the TensorFlow predictor, with a logged warning:
`brain-mri export MODEL` writes one.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from .. import config, records
from ..errors import ModelError
from ..formatting import shown_path
from . import predictor as tfp
from .explain import TUMOUR, gradcam_choice

log = logging.getLogger(__name__)

THREADS_ENV = "BRAIN_MRI_ORT_THREADS"
_CACHE: dict[tuple, object] = {}
_LOCK = threading.Lock()


def resize_bilinear(a: np.ndarray, size: int) -> np.ndarray:
    """(h, w) -> (size, size), bilinear with half-pixel centres and clamped edges: tf.image.resize's "bilinear"."""
    def axis(n_in: int):
        x = np.clip((np.arange(size) + 0.5) * n_in / size - 0.5, 0, n_in - 1)
        i0 = np.floor(x).astype(int)
        return i0, np.minimum(i0 + 1, n_in - 1), (x - i0).astype(np.float32)

    (r0, r1, fr), (c0, c1, fc) = axis(a.shape[0]), axis(a.shape[1])
    rows = a[r0] * (1 - fr)[:, None] + a[r1] * fr[:, None]
    return rows[:, c0] * (1 - fc) + rows[:, c1] * fc


class Exported:
    """One ONNX export in an onnxruntime session: raw outputs, and Grad-CAM from them (explain.gradcam_and_logits
    calls ``gradcam_and_logits`` on this object, so the app's code path is the same for both runtimes)."""

    def __init__(self, path: Path, classes: tuple[str, ...]):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # One image is ~2 ms on one core. Many kernels share the CPU: one thread each, and no busy-waiting after a
        # run (onnxruntime's threads spin by default, which a room of idle viewers would pay for).
        opts.intra_op_num_threads = int(os.environ.get(THREADS_ENV) or 1)
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.props = dict(self.session.get_modelmeta().custom_metadata_map)
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = tuple(self.session.get_inputs()[0].shape)
        self.classes = tuple(classes)
        grid = self.props.get("cam_grid")
        self.grid = None if grid in (None, "last_conv") else int(grid)
        tum = [i for i, c in enumerate(classes) if c in config.TUMOUR_CLASSES]
        self._tumour = (tum, classes.index(config.NO_TUMOUR)) if len(classes) == len(config.CLASSES) else None

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs for one prepared image (S, S) uint8 (or float)."""
        x = np.asarray(x, np.float32).reshape(1, *self.input_shape[1:])
        return dict(zip(self.outputs, self.session.run(None, {self.input_name: x})))

    def cam(self, out: dict[str, np.ndarray], class_idx: int | None = None) -> np.ndarray:
        """Grad-CAM (S, S) float32 in [0, 1] from one run's outputs, as explain's TensorFlow function computes it."""
        logits, grads, maps = out["logits"][0].astype(np.float64), out["cam_grads"][0], out["cam_maps"][0]
        k = int(np.argmax(logits)) if class_idx is None or class_idx == -1 else int(class_idx)
        if k == TUMOUR:
            if self._tumour is None:
                raise ValueError("the P(tumour) target needs the project's four classes")
            tum, no = self._tumour
            s = np.exp(logits[tum] - logits[tum].max())
            w = (s / s.sum()) @ grads[tum] - grads[no]  # d/dA [logsumexp(tumour logits) - no-tumour logit]
        else:
            w = grads[k]
        cam = np.maximum(maps.astype(np.float64) @ w, 0.0)
        cam = resize_bilinear(cam, int(self.input_shape[1]))
        top = cam.max()
        return (cam / top if top > 0 else np.zeros_like(cam)).astype(np.float32)

    def gradcam_and_logits(self, x: np.ndarray, class_idx: int | None = None,
                           grid: int | None | str = "default") -> tuple[np.ndarray, np.ndarray]:
        """explain.gradcam_and_logits for this export: (heat (S, S), logits [n_classes]) in one pass. Its grid is the
        one baked in at export ("default"; load_model serves it only when that is the record's choice)."""
        if grid != "default" and grid != self.grid:
            raise ValueError(f"this export explains the {self.props.get('cam_grid')} maps, not grid {grid}: use the "
                             "Keras model (helpers.modeling.explain) for other grids")
        x = np.asarray(x)
        n_cls = len(self.classes)
        if class_idx is not None and not (-1 <= int(class_idx) < n_cls or int(class_idx) == TUMOUR):
            raise ValueError(f"class_idx {class_idx} out of range for {n_cls} classes")
        out = self.run(x[..., 0] if x.ndim == 3 else x)
        return self.cam(out, class_idx), out["logits"][0]


class Predictor(tfp.Predictor):
    """predictor.Predictor's interface on an ONNX export; ``model`` is the Exported session (it explains itself)."""

    def __init__(self, exported: Exported, meta: dict, path: str | Path):
        self._read_meta(exported, meta, path)
        if self.familiarity is not None and "features" not in exported.outputs:
            raise ModelError(f"{self.path.name}: its export has no pooled features for the unfamiliar-scan rule")

    def __repr__(self) -> str:
        return super().__repr__().replace("Predictor(", "Predictor[onnx](", 1)

    def logits_arrays(self, X: np.ndarray, batch_size: int = 64) -> np.ndarray:
        X = self._as_batch(X)
        out = np.stack([self.model.run(x)["logits"][0] for x in X]) if len(X) else np.empty((0, len(self.classes)))
        if self.tta:  # the mirror's logits averaged in, as the TensorFlow predictor does
            out = (out + np.stack([self.model.run(x[:, ::-1])["logits"][0] for x in X])) / 2
        return out.astype(np.float32)

    def _logits_and_features(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        runs = [self.model.run(x) for x in X]
        return (np.concatenate([r["logits"] for r in runs]).astype(np.float32),
                np.concatenate([r["features"] for r in runs]).astype(np.float64))


def _exported(kpath: Path, meta: dict) -> Path | None:
    """The export's path when the record names one that matches its weights; None (and why, logged) otherwise."""
    name, want = meta.get("onnx_file"), meta.get("onnx_sha256")
    if not name or not want:
        log.warning("%s has no ONNX export: using TensorFlow (write one with `brain-mri export`)", shown_path(kpath))
        return None
    opath = kpath.with_name(name)
    if not opath.is_file():
        log.warning("%s names %s, which is missing: using TensorFlow", shown_path(kpath), name)
        return None
    if records.sha256_file(opath) != want:
        raise ModelError(f"sha256 mismatch for {opath.name}: refusing to load (the file is not the one recorded in "
                         f"{records.files(kpath).record.name})")
    return opath


def load_model(path: str | Path | None = None):
    """predictor.load_model through the ONNX export when there is a valid one (see the module docstring); cached per
    (path, modification times). Raises ModelError (one line) as predictor.load_model does."""
    kpath = tfp.resolve_model_path(path)
    jpath = records.files(kpath).record
    if not kpath.is_file():  # the same one-line message as predictor.load_model, before the record is read
        return tfp.load_model(kpath)
    try:
        key = (str(kpath.resolve()), kpath.stat().st_mtime_ns if kpath.exists() else 0,
               jpath.stat().st_mtime_ns if jpath.exists() else 0)
    except OSError as e:
        raise ModelError(f"cannot read {shown_path(kpath)}: {e.strerror or e}") from None
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    meta = tfp.read_meta(kpath)
    if list(meta.get("classes") or []) != list(config.CLASSES):
        raise ModelError(f"{jpath.name} lists classes {meta.get('classes')} but this project uses "
                         f"{list(config.CLASSES)}: refusing to load it")
    opath = _exported(kpath, meta)
    if opath is None:
        return tfp.load_model(kpath)
    try:
        exp = Exported(opath, tuple(meta["classes"]))
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types; the user needs one line
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise ModelError(f"cannot load {opath.name}: {msg}") from None
    if exp.props.get("keras_sha256") != meta.get("keras_sha256"):
        log.warning("%s was exported from other weights than %s: using TensorFlow (run `brain-mri export`)",
                    opath.name, shown_path(kpath))
        return tfp.load_model(kpath)
    try:
        want = gradcam_choice(meta)[1]
    except ValueError as e:
        raise ModelError(f"{jpath.name}: {e}") from None
    if exp.grid != want:
        log.warning("%s explains the %s maps, not those of %s's Grad-CAM choice (%s): using TensorFlow (run "
                    "`brain-mri export`)", opath.name, exp.props.get("cam_grid"), shown_path(kpath),
                    "last_conv" if want is None else f"{want}x{want}")
        return tfp.load_model(kpath)
    pred = Predictor(exp, meta, kpath)
    with _LOCK:
        for k in [k for k in _CACHE if k[0] == key[0]]:
            del _CACHE[k]
        _CACHE[key] = pred
    return pred
