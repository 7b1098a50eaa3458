"""Load a trained model safely and predict calibrated class probabilities for prepared arrays, files or uploads.

Safety: a model is loaded only if its .keras file's sha256 equals the one recorded in the JSON beside it and
the JSON's class list is ours; Keras' safe_mode refuses pickled lambdas. Speed: one compiled tf.function per
model (a plain eager ``model(x)`` costs several times more per call on a CPU). `brain-mri predict` is in app.predict:
it goes through the dashboard's pipeline, so both give one call for one file.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from .. import config, records
from ..errors import ModelError

NOTUMOR_IDX = config.CLASSES.index(config.NO_TUMOUR)
_BATCH = 64
_CACHE: dict[tuple, "Predictor"] = {}
_LOCK = threading.Lock()


def _show(path: Path) -> str:
    """A path as the user should read it: relative to the project when inside it (models/x.keras)."""
    try:
        return Path(os.path.abspath(path)).relative_to(config.PROJ_ROOT).as_posix()
    except ValueError:
        return str(path)


def p_tumour(probs: np.ndarray) -> np.ndarray:
    """P(tumour) = 1 - P(notumor), per row (the binary screening score)."""
    probs = np.asarray(probs)
    return 1.0 - probs[..., NOTUMOR_IDX]


CALL = 0.5  # P(tumour) at or above it is a "tumour" call (calibrated probabilities; the LOCO runs use the same)


def decide(probs: np.ndarray, classes=config.CLASSES, threshold: float = CALL) -> str:
    """The class a prediction names, consistent with its tumour call: the most likely tumour type when P(tumour)
    (the three tumour classes summed) reaches `threshold`, else "notumor". A plain argmax could name "notumor" at
    42% beside P(tumour) 58%, which reads as a contradiction."""
    probs = np.asarray(probs)
    if float(p_tumour(probs)) >= threshold:
        tum = [i for i, c in enumerate(classes) if c != config.NO_TUMOUR]
        return classes[tum[int(np.argmax(probs[tum]))]]
    return config.NO_TUMOUR


def screening_threshold(meta: dict | None) -> float:
    """The P(tumour) threshold of the tumour / no-tumour call: the record's own `operating_point` when it has one (a
    model trained on several collections chooses it on their validation groups), else the evaluation's screening
    threshold (chosen on the leak-free validation split), else CALL (0.5)."""
    for keys in (("operating_point", "threshold"), ("evaluation", "leakfree_test", "screening", "threshold")):
        try:
            t = meta
            for k in keys:
                t = t[k]
            t = float(t)
        except (KeyError, TypeError, ValueError):
            continue
        if 0.0 < t < 1.0:
            return t
    return CALL


def screening_threshold_source(meta: dict | None) -> str:
    """Where screening_threshold's value comes from, in words (the Models tab and the model card print it)."""
    op = meta.get("operating_point") if isinstance(meta, dict) else None
    t = screening_threshold(meta)
    if isinstance(op, dict) and op.get("threshold") == t:
        return f"chosen on {op.get('chosen_on') or 'validation'}"
    try:
        if float(meta["evaluation"]["leakfree_test"]["screening"]["threshold"]) == t:
            return "chosen on the leak-free validation split"
    except (KeyError, TypeError, ValueError):
        pass
    return "default: no threshold chosen on validation"


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Predictor:
    """A loaded model plus its record. Probabilities are temperature-calibrated softmax(logits / T)."""

    def _read_meta(self, model, meta: dict, path: str | Path) -> None:
        """What every predictor takes from the record (this one and modeling.runtime's ONNX one)."""
        self.model = model
        self.meta = meta
        self.path = Path(path)
        self.name = str(meta.get("name") or self.path.stem)
        self.classes = tuple(meta["classes"])
        self.img_size = int(meta.get("img_size") or model.input_shape[1])
        self.temperature = float(meta.get("temperature") or 1.0)
        # Flip test-time augmentation, when validation chose it at training (helpers.modeling.train.calibrate): the
        # temperature was fitted on these mean logits, so every caller must get them.
        self.tta = meta.get("tta")
        if self.tta not in (None, "hflip"):
            raise ModelError(f"{self.path.name}: unknown test-time augmentation {self.tta!r} in its record")
        # the record's Grad-CAM choice, checked now (explain reads it from .meta when a heat map is asked for)
        from .explain import gradcam_choice

        try:
            gradcam_choice(meta)
        except ValueError as e:
            raise ModelError(f"{self.path.name}: {e}") from None
        # The unfamiliar-scan rule (modeling.familiarity), when the record names one: features of the same network.
        self.familiarity = None
        rule_file = meta.get("familiarity_file")
        if rule_file:
            self.familiarity = records.read_json(records.files(self.path).record.with_name(rule_file))
            if self.familiarity is None:
                raise ModelError(f"{self.path.name}: its record names {rule_file}, which is missing")

    def __init__(self, model, meta: dict, path: str | Path):
        import tensorflow as tf

        self._read_meta(model, meta, path)
        spec = tf.TensorSpec([None, self.img_size, self.img_size, 1], tf.float32)

        def logits(x):
            if not self.tta:
                return model(x, training=False)
            n = tf.shape(x)[0]  # image and mirror in one batch: one pass, ~15% faster than two on 2 cores
            out = model(tf.concat([x, tf.reverse(x, axis=[2])], 0), training=False)
            return (out[:n] + out[n:]) / 2

        # A fixed signature with a free batch axis: traced once, reused for any batch size.
        self._logits_fn = tf.function(logits, input_signature=[spec], reduce_retracing=True)
        # One image (the dashboard, `predict` on a file) also gets an XLA-compiled copy: fused kernels save another
        # ~10% of latency; its logits differ from the batch path's by ~1e-7 (summation order).
        one = tf.TensorSpec([1, self.img_size, self.img_size, 1], tf.float32)
        self._logits_one = tf.function(logits, input_signature=[one], jit_compile=True)
        if self.familiarity is not None:
            import keras

            from .familiarity import feature_model

            # logits and features in one forward pass (an upload needs both)
            both = keras.Model(model.inputs, [model.outputs[0], feature_model(model).outputs[0]])
            self._both_fn = tf.function(both, input_signature=[spec], reduce_retracing=True)

    def __repr__(self) -> str:
        tta = f", tta={self.tta}" if self.tta else ""
        return f"Predictor({self.name!r}, {self.meta.get('arch')}, {self.img_size}px, T={self.temperature:.3f}{tta})"

    @property
    def abstain_threshold(self) -> float | None:
        """Max-probability threshold below which the dashboard refers the case (from the evaluation record)."""
        try:
            return float(self.meta["evaluation"]["leakfree_test"]["abstain"]["threshold"])
        except (KeyError, TypeError, ValueError):
            return None

    def _as_batch(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 2:
            X = X[None]
        if X.ndim == 4 and X.shape[-1] == 1:
            X = X[..., 0]
        s = self.img_size
        if X.ndim != 3 or X.shape[1:] != (s, s):
            raise ValueError(f"expected prepared images of shape (N, {s}, {s}), got {X.shape}: "
                             "run helpers.preprocess.prepare(gray, size) first")
        return X

    def logits_arrays(self, X: np.ndarray, batch_size: int = _BATCH) -> np.ndarray:
        """Raw logits [N, n_classes] for prepared uint8 images [N, S, S] (or one image [S, S])."""
        import tensorflow as tf

        X = self._as_batch(X)
        out = np.empty((len(X), len(self.classes)), np.float32)
        if len(X) == 1:
            try:
                out[:] = self._logits_one(tf.convert_to_tensor(X[:, :, :, None].astype(np.float32))).numpy()
                return out
            except tf.errors.OpError:  # a model XLA cannot compile: the plain graph gives the same logits
                self._logits_one = self._logits_fn
                return self.logits_arrays(X, batch_size)
        for i in range(0, len(X), batch_size):
            xb = tf.convert_to_tensor(X[i : i + batch_size, :, :, None].astype(np.float32))
            out[i : i + batch_size] = self._logits_fn(xb).numpy()
        return out

    def predict_arrays(self, X: np.ndarray, batch_size: int = _BATCH) -> np.ndarray:
        """Calibrated probabilities [N, n_classes] (rows sum to 1), columns in config.CLASSES order."""
        return _softmax(self.logits_arrays(X, batch_size), self.temperature)

    def predict_one(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities [n_classes] for one prepared image (S, S)."""
        return self.predict_arrays(x)[0]

    def _logits_and_features(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Plain-image logits and pooled features of prepared images (N, S, S), one forward pass per batch."""
        import tensorflow as tf

        logits, feats = [], []
        for i in range(0, len(X), _BATCH):
            lg, f = self._both_fn(tf.convert_to_tensor(X[i:i + _BATCH, :, :, None].astype(np.float32)))
            logits.append(lg.numpy())
            feats.append(f.numpy())
        return np.concatenate(logits), np.concatenate(feats).astype(np.float64)

    def _familiarity(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from .familiarity import score, unfamiliar

        d = score(self.familiarity, F)
        return d, unfamiliar(self.familiarity, d)

    def familiarity_of(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(distance to the training collections, unfamiliar?) per prepared image; None without a rule."""
        return self.predict_with_familiarity(X)[1]

    def predict_with_familiarity(self, X: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
        """(calibrated probabilities [N, n_classes] as predict_arrays, (distance, unfamiliar?) or None without a
        rule), from one forward pass where the model allows it (flip TTA adds the mirror's pass)."""
        if self.familiarity is None:
            return self.predict_arrays(X), None
        X = self._as_batch(X)
        logits, F = self._logits_and_features(X)
        if self.tta == "hflip":  # the slice's own logits are here: only the mirror's pass is added (not two more)
            logits = (logits + self._logits_and_features(X[:, :, ::-1])[0]) / 2
        return _softmax(logits, self.temperature), self._familiarity(F)

    def warmup(self, explain: bool = True) -> "Predictor":
        """Trace the compiled functions now (~1-2 s each) so the first user request is fast."""
        x = np.zeros((self.img_size, self.img_size), np.uint8)
        self.predict_with_familiarity(x)
        if explain:
            from .explain import gradcam_and_logits

            gradcam_and_logits(self, x)  # on this model's own Grad-CAM grid (its record's choice)
        return self

    def predict_source(self, source, name: str | None = None, explain: bool = False,
                       class_idx: int | None = None) -> dict:
        """Decode + prepare one file/bytes exactly as in training, then predict. Raises ImageError on a bad image.

        Returns {"name", "probs": {cls: p}, "p_tumour", "prediction", "confidence", "refer" (confidence below the
        evaluated abstain threshold, None if the model was not evaluated), "warnings", "prepared" (S, S) uint8,
        "decoded" (preprocess.Decoded), and with explain=True "heat" (S, S) float32 in [0, 1] (Grad-CAM of
        `class_idx`, default the predicted class, on the model's own grid: explain.gradcam_choice) computed in the
        same forward pass}.
        """
        from ..data.prepare import decode_prepare

        if isinstance(source, (bytes, bytearray, memoryview)) and len(source) > config.MAX_UPLOAD_BYTES:
            from ..errors import ImageError

            raise ImageError(f"file too large ({len(source) / 2**20:.1f} MB; limit "
                             f"{config.MAX_UPLOAD_BYTES / 2**20:.0f} MB)")
        dec, x = decode_prepare(source, self.img_size, name=name)
        heat = None
        if explain:
            from .explain import gradcam_and_logits

            if self.tta:  # probabilities need the mirrored pass too; Grad-CAM explains the image as given
                probs = self.predict_one(x)
                heat, _ = gradcam_and_logits(self, x, int(probs.argmax()) if class_idx is None else class_idx)
            else:
                heat, logits = gradcam_and_logits(self, x, class_idx)
                probs = _softmax(logits[None], self.temperature)[0]
            fam = self.familiarity_of(x)
        else:
            P, fam = self.predict_with_familiarity(x)
            probs = P[0]
        k = int(probs.argmax())
        t = self.abstain_threshold
        warnings = list(dec.warnings)
        if fam is not None and fam[1][0]:
            from .familiarity import message

            warnings.append(message(float(fam[0][0]), self.familiarity))
        out = {
            "name": name or (Path(source).name if isinstance(source, (str, Path)) else None),
            "probs": {c: float(p) for c, p in zip(self.classes, probs)},
            "p_tumour": float(p_tumour(probs)),
            "prediction": decide(probs, self.classes),
            "confidence": float(probs[k]),
            "refer": (bool(probs[k] < t) if t is not None else None),
            "unfamiliar": None if fam is None else bool(fam[1][0]),
            "familiarity_score": None if fam is None else float(fam[0][0]),
            "warnings": warnings,
            "prepared": x,
            "decoded": dec,
        }
        if explain:
            out["heat"] = heat
        return out


def resolve_model_path(path: str | Path | None = None) -> Path:
    """`path`, a bare model name (-> models/<name>.keras), or the default model."""
    if path is None or str(path) == "":
        return Path(config.DEFAULT_MODEL)
    p = Path(path).expanduser()
    if p.suffix == "" and not p.exists() and len(p.parts) == 1:
        return records.files(config.MODELS_DIR, p.name).weights
    if p.suffix in (".json", "") :  # the record or the model's folder was given: the weights sit beside it
        return records.files(p).weights
    return p


def read_meta(path: str | Path) -> dict:
    """The JSON record beside a .keras file (ModelError if missing or unreadable)."""
    kpath = resolve_model_path(path)
    jpath = records.files(kpath).record
    if not jpath.is_file():
        raise ModelError(f"no model record {_show(jpath)} beside {_show(kpath)}: it holds the classes, temperature "
                         "and sha256; retrain with `brain-mri train`")
    try:
        meta = records.read_json(jpath)
    except (OSError, ValueError) as e:
        raise ModelError(f"unreadable model record {_show(jpath)}: {type(e).__name__}: {e}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"unreadable model record {_show(jpath)}: not a JSON object")
    return meta


def load_model(path: str | Path | None = None) -> Predictor:
    """Load models/<name>.keras after checking it against its JSON record; cached per (path, mtimes).

    Raises ModelError (one line) for a missing file or record, a sha256 mismatch, a foreign class list,
    or a file Keras cannot load in safe mode.
    """
    kpath = resolve_model_path(path)
    if not kpath.is_file():
        raise ModelError(f"no model at {_show(kpath)}: train one with `brain-mri train` (the default model ships "
                         f"in the repo as {_show(config.DEFAULT_MODEL)})")
    jpath = records.files(kpath).record
    try:
        key = (str(kpath.resolve()), kpath.stat().st_mtime_ns, jpath.stat().st_mtime_ns if jpath.exists() else 0)
    except OSError as e:
        raise ModelError(f"cannot read {_show(kpath)}: {e.strerror or e}") from None
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        meta = read_meta(kpath)
        want = meta.get("keras_sha256")
        if not want:
            raise ModelError(f"{_show(jpath)} has no keras_sha256: refusing to load {kpath.name} unverified")
        if records.sha256_file(kpath) != want:
            raise ModelError(f"sha256 mismatch for {kpath.name}: refusing to load (the file is not the one "
                             f"recorded in {jpath.name})")
        if list(meta.get("classes") or []) != list(config.CLASSES):
            raise ModelError(f"{jpath.name} lists classes {meta.get('classes')} but this project uses "
                             f"{list(config.CLASSES)}: refusing to load {kpath.name}")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        from . import architectures  # noqa: F401 - registers RandomAffineAugment, which newer models hold

        try:
            model = keras.saving.load_model(kpath, safe_mode=True, compile=False)
        except Exception as e:  # noqa: BLE001 - Keras raises many types; the user needs one line
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"cannot load {kpath.name}: {msg[:300]}") from None
        shape = tuple(model.input_shape)
        size = int(meta.get("img_size") or shape[1])
        if shape[1:] != (size, size, 1):
            raise ModelError(f"{kpath.name} takes input {shape[1:]} but {jpath.name} says img_size {size}")
        pred = Predictor(model, meta, kpath)
        for k in [k for k in _CACHE if k[0] == key[0]]:  # an older version of the same file
            del _CACHE[k]
        _CACHE[key] = pred
        return pred
