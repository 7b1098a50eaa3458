"""helpers.modeling.export + runtime: the ONNX export predicts and explains as the TensorFlow model does, on 50 slices
(real ones from $BRAIN_MRI_DATA when set, else synthetic phantoms), and the runtime never imports TensorFlow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import config, records

N_SLICES = 50
PROB_TOL = 1e-4  # the bar: identical probabilities to 1e-4
MIN_CORR = 0.99  # Grad-CAM correlation, per slice


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if a.std() == 0 and b.std() == 0:
        return 1.0 if np.allclose(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _slices(size: int) -> tuple[np.ndarray, str]:
    """N_SLICES prepared slices, every class in turn, and where they came from."""
    from helpers.data.prepare import decode_prepare, prepare

    root = os.environ.get("BRAIN_MRI_DATA")
    test_dir = Path(root) / "Testing" if root else None
    if test_dir is not None and test_dir.is_dir():
        files = [sorted((test_dir / c).glob("*.jpg"))[i * 7] for i in range(N_SLICES // 4 + 1) for c in config.CLASSES]
        return np.stack([decode_prepare(f, size)[1] for f in files[:N_SLICES]]), "real slices ($BRAIN_MRI_DATA)"
    from helpers.data.synthetic import make_phantom

    X = [prepare(make_phantom(config.CLASSES[i % 4], seed=100 + i, size=192)[0], size) for i in range(N_SLICES)]
    return np.stack(X), "synthetic phantoms"


@pytest.fixture(scope="module")
def shipped():
    """(TensorFlow predictor, ONNX predictor) of the shipped model, which ships its export."""
    from helpers.modeling import predictor, runtime

    meta = records.read(config.DEFAULT_MODEL)
    if not meta or not meta.get("onnx_sha256"):
        pytest.skip("the shipped model has no ONNX export yet (brain-mri export)")
    onnx_pred = runtime.load_model(config.DEFAULT_MODEL)
    assert isinstance(onnx_pred, runtime.Predictor)
    return predictor.load_model(config.DEFAULT_MODEL), onnx_pred


def test_export_matches_tensorflow_on_50_slices(shipped):
    from helpers.modeling import explain

    tf_pred, onnx_pred = shipped
    X, source = _slices(tf_pred.img_size)
    P_tf, fam_tf = tf_pred.predict_with_familiarity(X)
    P_ox, fam_ox = onnx_pred.predict_with_familiarity(X)
    assert np.abs(P_tf - P_ox).max() <= PROB_TOL, source
    # one pass fewer with the familiarity (flip TTA reuses the slice's own logits), the same probabilities
    assert np.abs(P_tf - tf_pred.predict_arrays(X)).max() <= PROB_TOL
    assert np.abs(P_ox - onnx_pred.predict_arrays(X)).max() <= PROB_TOL
    np.testing.assert_allclose(fam_ox[0], fam_tf[0], rtol=1e-4)
    assert (fam_ox[1] == fam_tf[1]).all()
    corrs = []
    for x, p in zip(X, P_tf):
        # the heat map the dashboard shows for this call (the model's own choice, e.g. P(tumour) for a tumour call)
        from helpers.modeling.predictor import decide

        target, _ = explain.gradcam_choice(tf_pred)
        k, _ = explain.call_target(tf_pred.classes, int(np.argmax(p)), decide(p, tf_pred.classes), target)
        h_tf = explain.gradcam(tf_pred, x, k)
        h_ox = explain.gradcam(onnx_pred, x, k)
        assert h_ox.shape == h_tf.shape and h_ox.dtype == np.float32
        corrs.append(_corr(h_tf, h_ox))
    assert min(corrs) >= MIN_CORR, (source, min(corrs))


def test_cam_from_features_equals_gradcam_only_at_last_conv(shipped):
    """For a global-average-pool + dense head, Grad-CAM of the pooled maps is the class activation map from those
    maps and the dense weights; the shipped heat map is on finer maps (its record's choice), where it is not, which
    is why the export carries the gradients."""
    import keras

    from helpers.modeling import explain
    from helpers.modeling.runtime import resize_bilinear

    tf_pred, onnx_pred = shipped
    model = tf_pred.model
    own = explain.resolve_grid(tf_pred)  # the shipped model's own grid
    assert own is not None and onnx_pred.model.grid == own, "the shipped model's choice is finer maps than last_conv"
    maps_model = keras.Model(model.inputs, explain.target_tensor(model, None))
    W = model.get_layer("logits").get_weights()[0]  # (D, n_classes)
    X, source = _slices(tf_pred.img_size)
    A = maps_model.predict(X[:10, :, :, None].astype(np.float32), verbose=0)
    last, grid8 = [], []
    for x, a in zip(X[:10], A):
        k = int(np.argmax(tf_pred.logits_arrays(x)[0]))
        cam = resize_bilinear(np.maximum(a @ W[:, k], 0), tf_pred.img_size)
        last.append(_corr(cam, explain.gradcam(model, x, k, grid=None)))
        grid8.append(_corr(cam, explain.gradcam(tf_pred, x, k)))
    assert min(last) >= 0.999, source
    # a different map on finer maps (a map that is flat everywhere, no correlation at all, counts as different)
    assert np.isnan(grid8).sum() <= len(grid8) // 2 and np.nanmean(grid8) < 0.99


def test_record_and_export_agree():
    meta = records.read(config.DEFAULT_MODEL)
    if not meta or not meta.get("onnx_sha256"):
        pytest.skip("no export")
    path = config.DEFAULT_MODEL.with_name(meta["onnx_file"])
    assert records.sha256_file(path) == meta["onnx_sha256"]
    import onnxruntime as ort

    props = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert props["keras_sha256"] == meta["keras_sha256"]  # exported from the weights the record names


def test_runtime_and_upload_never_import_tensorflow():
    """A dashboard kernel's model path (load, warm up, one upload with Grad-CAM) without TensorFlow."""
    meta = records.read(config.DEFAULT_MODEL)
    if not meta or not meta.get("onnx_sha256"):
        pytest.skip("no export")
    code = (
        "import sys, json\n"
        "from helpers.app.registry import get_predictor\n"
        "from helpers.app.upload import process_upload\n"
        "from helpers.app.cards import png\n"
        "from helpers.data.synthetic import make_phantom\n"
        "from helpers import config\n"
        "p = get_predictor(config.DEFAULT_MODEL)\n"
        "r = process_upload('x.png', png(make_phantom('glioma', seed=3, size=192)[0]), p)\n"
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules,"
        " 'kind': type(p).__module__, 'heat': r.heat is not None, 'error': r.error}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=config.PROJ_ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"tf": False, "keras": False, "kind": "helpers.modeling.runtime", "heat": True, "error": None}


def test_export_model_writes_file_and_record(tiny_model_json, tmp_path):
    """export_model on a freshly trained tiny model: the file, the record's sha256, the same probabilities; a stale
    export (other weights) is never served."""
    import shutil

    from helpers.modeling import export, predictor, runtime
    from helpers.data.synthetic import make_phantom
    from helpers.data.prepare import prepare

    src = Path(tiny_model_json)
    for f in src.parent.glob(f"{src.stem}*"):
        shutil.copy(f, tmp_path / f.name)
    kpath = tmp_path / f"{src.stem}.keras"
    sha = export.export_model(kpath)
    assert export.onnx_path(kpath) == tmp_path / f"{src.stem}.onnx"
    assert records.read(kpath)["onnx_sha256"] == sha == records.sha256_file(tmp_path / f"{src.stem}.onnx")
    ox = runtime.load_model(kpath)
    tfp = predictor.load_model(kpath)
    from helpers.modeling import explain

    # the export explains the maps of the record's choice: none here, so the fallback's last_conv
    assert isinstance(ox, runtime.Predictor) and ox.model.grid == explain.resolve_grid(tfp) is None
    X = np.stack([prepare(make_phantom(c, seed=9, size=96)[0], ox.img_size) for c in config.CLASSES])
    assert np.abs(ox.predict_arrays(X) - tfp.predict_arrays(X)).max() <= PROB_TOL
    for x in X:
        assert _corr(explain.gradcam(ox, x), explain.gradcam(tfp, x)) >= MIN_CORR
    with pytest.raises(ValueError):  # another grid than the exported one: the Keras path, never a wrong map
        explain.gradcam(ox.model, X[0], grid=None if ox.model.grid is not None else 8)
    # a choice adopted later (another grid): the old export is not served until re-exported with that grid
    sizes = sorted({int(ly.output.shape[1]) for ly in tfp.model.layers if len(ly.output.shape) == 4})
    fine = sizes[-1] if sizes[-1] < tfp.img_size else sizes[-2]
    records.update(kpath, gradcam={"target": "p_tumour", "grid": fine, "chosen_in": "gradcam_variants.tiny.json"})
    assert not isinstance(runtime.load_model(kpath), runtime.Predictor)
    export.export_model(kpath)
    ox = runtime.load_model(kpath)
    assert isinstance(ox, runtime.Predictor) and ox.model.grid == fine == explain.resolve_grid(ox)
    assert np.array_equal(explain.gradcam(ox.model, X[0]), explain.gradcam(ox, X[0]))  # a bare export: its own grid
    tfp = predictor.load_model(kpath)
    assert _corr(explain.gradcam(ox, X[0], explain.TUMOUR), explain.gradcam(tfp, X[0], explain.TUMOUR)) >= MIN_CORR
    records.update(kpath, keras_sha256="0" * 64)  # as if retrained without a new export
    (tmp_path / f"{src.stem}.keras").touch()
    with pytest.raises(Exception):  # predictor refuses the weights; the runtime does not serve the old export
        runtime.load_model(kpath)


def test_wilson_ci_closed_form_equals_scipy():
    """The dashboard's track record uses a closed-form Wilson interval (no scipy.stats import in the kernel)."""
    from scipy.stats import binomtest

    from helpers.stats import wilson_ci

    for k, n in [(0, 1), (0, 50), (1, 50), (7, 300), (25, 50), (49, 50), (50, 50), (3, 1311)]:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        np.testing.assert_allclose(wilson_ci(k, n), (ci.low, ci.high), atol=1e-12)
