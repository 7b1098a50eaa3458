"""`brain-mri bench` (`make bench`): one run of the speed and memory figures on this machine, printed as a table
beside the targets and written to bench/results.json. Not a test: timings depend on the machine and its load
(the load average is recorded with them)."""
from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import config, records

TARGETS = {
    "preprocess_all_s": ("preprocess all 7,023 images", 45.0, "s"),
    "predict_ms_p50": ("single-image predict", 25.0, "ms"),
    "gradcam_ms_p50": ("predict + Grad-CAM", 100.0, "ms"),
    "upload_ms_p50": ("upload-to-result (decode..Grad-CAM)", 1000.0, "ms"),
}
N_REAL = 7023  # images in the Kaggle dataset: the preprocessing target is stated for all of them


def _pcts(ts: list[float]) -> dict:
    a = np.asarray(ts) * 1000.0
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "n": len(a)}


def _time(fn, n: int = 100, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return _pcts(ts)


def _rss_mb() -> dict:
    kb = 1024 if sys.platform == "darwin" else 1  # ru_maxrss is bytes on macOS, KiB on Linux
    return {"self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kb / 1024,
            "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kb / 1024}


def bench_preprocess(root: Path, rows, size: int = config.IMG_SIZE) -> tuple[dict, np.ndarray, np.ndarray]:
    """load_arrays on `rows` with an empty array cache (a temp folder), so every image is decoded."""
    from .data.arrays import load_arrays
    from .data.prepare import n_workers

    orig = config.cache_dir
    with tempfile.TemporaryDirectory(prefix="brain-mri-bench-") as tmp:
        config.cache_dir = lambda: Path(tmp)  # load_arrays looks it up at call time
        try:
            t = time.perf_counter()
            X, y = load_arrays(root, rows, size, progress=False)
            dt = time.perf_counter() - t
        finally:
            config.cache_dir = orig
    return {"n": len(rows), "seconds": dt, "images_per_s": len(rows) / dt,
            "workers": n_workers(None)}, X, y


def bench_training(X: np.ndarray, y: np.ndarray, arch: str, batches: int = 10, batch_size: int = 64,
                   model_kwargs: dict | None = None) -> dict:
    """Images/s of `batches` optimiser steps (after 2 warm-up steps that include tracing) of a fresh model,
    compiled as helpers.modeling.train compiles it; `model_kwargs` as recorded for the shipped model (e.g. its width)."""
    import keras

    from .modeling.architectures import build_model

    keras.utils.set_random_seed(config.SEED)
    size = X.shape[1]
    model_kwargs = dict(model_kwargs or {})
    m = build_model(arch, size, **model_kwargs)
    m.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    need = batch_size * (batches + 2)
    reps = int(np.ceil(need / len(X)))
    Xb = np.concatenate([X] * reps)[:need, :, :, None].astype(np.float32)
    Yb = keras.utils.to_categorical(np.concatenate([y] * reps)[:need], len(config.CLASSES))
    for i in range(2):
        m.train_on_batch(Xb[i * batch_size : (i + 1) * batch_size], Yb[i * batch_size : (i + 1) * batch_size])
    t = time.perf_counter()
    for i in range(2, batches + 2):
        m.train_on_batch(Xb[i * batch_size : (i + 1) * batch_size], Yb[i * batch_size : (i + 1) * batch_size])
    dt = time.perf_counter() - t
    return {"arch": arch, "model_kwargs": model_kwargs, "img_size": size, "batches": batches, "batch_size": batch_size,
            "images_per_s": batches * batch_size / dt, "params": int(m.count_params())}


def _record(name: str) -> dict | None:
    """The shipped model's record, or None when it is missing or unreadable."""
    try:
        return records.read(config.MODELS_DIR, name)
    except (OSError, ValueError):
        return None


def _recorded_kwargs(arch: str) -> dict:
    """The model_kwargs the shipped model (or, for another arch, the model of that name) was trained with."""
    m = _record(config.DEFAULT_MODEL_NAME if arch == "resnet_small" else arch) or {}
    if m.get("members"):  # an ensemble: the probe trains one member, as `brain-mri train` would
        m = {"arch": m["members"][0]["config"].get("arch"), "config": m["members"][0]["config"]}
    return dict((m.get("config") or {}).get("model_kwargs") or {}) if m.get("arch") == arch else {}


def _recorded(name: str) -> dict | None:
    m = _record(name)
    if m is None:
        return None
    return {k: m.get(k) for k in ("train_wall_s", "train_images_per_s", "epochs_run")} | {
        "n_train": (m.get("data") or {}).get("n_train"), "cpu_count": (m.get("data") or {}).get("cpu_count"),
        "device": (m.get("versions") or {}).get("device")}


def _predictor(size: int):
    """The shipped model if it loads, else an untrained resnet_small (latency does not depend on the weights)."""
    from .errors import ModelError
    from .modeling.predictor import Predictor, load_model

    try:
        return load_model(), "shipped model"
    except ModelError:
        from .modeling.architectures import build_model

        meta = {"name": "untrained", "arch": "resnet_small", "classes": list(config.CLASSES), "img_size": size,
                "temperature": 1.0}
        return Predictor(build_model("resnet_small", size), meta, "untrained.keras"), "untrained resnet_small (no model file)"


def run(quick: bool = False, data_dir=None) -> dict:
    from .data.layouts import build_manifest, resolve_data_dir

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    res: dict = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": quick,
                 "machine": {"platform": platform.platform(), "python": platform.python_version(),
                             "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                             "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}}
    try:
        root = resolve_data_dir(data_dir)
        synthetic_note = ""
    except Exception:  # noqa: BLE001 - no dataset: fall back to phantoms, and say so
        from .data.synthetic import ensure_synthetic

        root = Path(ensure_synthetic())
        synthetic_note = "no dataset found: synthetic phantoms used"
    from .data.synthetic import is_synthetic

    res["data"] = {"dir": root.name, "synthetic": bool(is_synthetic(root)), "note": synthetic_note}
    man = build_manifest(root, progress=False)
    rows = man[man["error"] == ""][["path", "label"]]
    rows = rows[rows["label"].isin(config.CLASSES)]
    if quick and len(rows) > 500:
        rows = rows.sample(n=500, random_state=config.SEED)
    pre, X, y = bench_preprocess(root, rows)
    pre["extrapolated_all_s"] = N_REAL / pre["images_per_s"]
    res["preprocess"] = pre

    import tensorflow as tf

    res["versions"] = {"tensorflow": tf.__version__, "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()}
    n_batches = 5 if quick else 10
    res["training"] = {arch: bench_training(X, y, arch, n_batches, model_kwargs=_recorded_kwargs(arch))
                       for arch in ("resnet_small", "capstone_cnn")}
    from .modeling.train import DEFAULTS

    cpu_kw = dict(DEFAULTS["model_kwargs"])
    if {"width": 16, **cpu_kw} != {"width": 16, **res["training"]["resnet_small"]["model_kwargs"]}:
        # the shipped model was trained elsewhere (a GPU) with a bigger recipe: also time the CPU recipe
        res["training"]["resnet_small_cpu_recipe"] = bench_training(X, y, "resnet_small", n_batches, model_kwargs=cpu_kw)
    shipped = _record(config.DEFAULT_MODEL_NAME) or {}
    n_train = (shipped.get("data") or {}).get("n_train") or len(X)
    epochs = (shipped.get("config") or {}).get("epochs") or DEFAULTS["epochs"]  # the shipped recipe's schedule
    for key, t in list(res["training"].items()):
        if key != "recorded_full_runs" and isinstance(t, dict) and t.get("arch") == "resnet_small":
            # one full schedule on this machine, at the measured rate (early stopping can only shorten it)
            t["full_run_min"] = epochs * n_train / t["images_per_s"] / 60
            t["full_run_epochs"], t["full_run_n_train"] = epochs, n_train
    res["training"]["recorded_full_runs"] = {n: _recorded(n) for n in (config.DEFAULT_MODEL_NAME, "capstone_cnn")}

    P, which = _predictor(config.IMG_SIZE)
    x = X[0] if X.shape[1] == P.img_size else np.zeros((P.img_size, P.img_size), np.uint8)
    n = 30 if quick else 100
    from .modeling.explain import gradcam_and_logits

    def explained():  # what the dashboard runs: with flip TTA the probabilities need the mirrored pass as well
        if P.tta:
            P.predict_one(x)
        return gradcam_and_logits(P, x)  # on the model's own Grad-CAM grid

    res["latency"] = {"model": which, "img_size": P.img_size, "tta": P.tta,
                      "predict_ms": _time(lambda: P.predict_one(x), n),
                      "predict_gradcam_ms": _time(explained, n)}
    path = root / rows["path"].iloc[0]
    data = path.read_bytes()
    res["latency"]["upload_to_result_ms"] = _time(lambda: P.predict_source(data, name=path.name, explain=True), n // 2)
    res["latency"]["upload_bytes"] = len(data)
    try:  # the dashboard's own callback (bytes -> checked, predicted, explained result)
        from .app.upload import process_upload

        res["latency"]["dashboard_callback_ms"] = _time(lambda: process_upload(path.name, data, P), max(5, n // 4))
    except Exception as e:  # noqa: BLE001 - optional row
        res["latency"]["dashboard_callback_error"] = f"{type(e).__name__}: {e}"
    try:  # the dashboard's path since issue 23: the ONNX export in onnxruntime, no TensorFlow
        from .modeling import runtime

        R = runtime.load_model()
        if isinstance(R, runtime.Predictor):
            from .app.upload import process_upload

            res["latency"]["onnx"] = {
                "predict_ms": _time(lambda: R.predict_one(x), n),
                "predict_gradcam_ms": _time(lambda: gradcam_and_logits(R, x), n),
                "dashboard_callback_ms": _time(lambda: process_upload(path.name, data, R), max(5, n // 4))}
    except Exception as e:  # noqa: BLE001 - optional rows
        res["latency"]["onnx_error"] = f"{type(e).__name__}: {e}"
    res["memory"] = _rss_mb()
    try:  # serving as a room sees it: first page, N Chromium pages at once, memory per viewer (app.loadtest)
        from .app import loadtest

        res["serving"] = loadtest.run(data_file=path)
    except Exception as e:  # noqa: BLE001 - Voila, Playwright or Chromium missing: say so in the table
        res["serving"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}
    return res


def format_table(r: dict) -> str:
    pre, lat, tr = r["preprocess"], r["latency"], r["training"]
    m = r["machine"]
    la = m.get("loadavg_at_start")
    lines = [f"bench {r['when']}  {m['cpu_count']} CPUs  load avg {la[0]:.1f}" if la else f"bench {r['when']}",
             f"data: {r['data']['dir']}" + (f" ({r['data']['note']})" if r["data"]["note"] else "")
             + (" [SYNTHETIC]" if r["data"]["synthetic"] else ""), "",
             f"{'measure':<44}{'measured':>16}{'target':>12}"]

    def row(label, val, target=None, unit=""):
        t = f"<= {target:g} {unit}" if target is not None else ""
        lines.append(f"{label:<44}{val:>16}{t:>12}")

    row(f"preprocess {pre['n']} images, cold cache", f"{pre['seconds']:.1f} s ({pre['images_per_s']:.0f}/s)")
    row("  -> all 7,023 images (extrapolated)" if pre["n"] != N_REAL else "  all 7,023 images",
        f"{pre['extrapolated_all_s']:.1f} s", 45, "s")
    for key, label in (("resnet_small", "shipped net"), ("resnet_small_cpu_recipe", "CPU recipe net"),
                       ("capstone_cnn", "capstone_cnn")):
        t = tr.get(key)
        if not t:
            continue
        kw = t.get("model_kwargs") or {}
        what = (f"{label}, w{kw.get('width', 16)}{'' if kw.get('stem_pool', True) else ' no pool'}"
                if t["arch"] == "resnet_small" else label)
        row(f"train {what} ({t['img_size']}px)"[:44], f"{t['images_per_s']:.1f} img/s")
        if t.get("full_run_min"):
            row(f"  -> {t['full_run_epochs']} epochs x {t['full_run_n_train']:,} images here", f"{t['full_run_min']:.0f} min",
                120 if key == "resnet_small" else None, "min")  # issue 16: the shipped recipe trains here in <= 2 h
    for name, rec in tr["recorded_full_runs"].items():
        if rec and rec.get("train_wall_s"):
            where = rec.get("device") or f"{rec.get('cpu_count', '?')} CPUs"
            row(f"  recorded: {name} ({where})", f"{rec['train_wall_s'] / 60:.1f} min, {rec['train_images_per_s']} img/s")
    row(f"predict, 1 image p50/p95 ({lat['model']})"[:44], f"{lat['predict_ms']['p50']:.1f}/{lat['predict_ms']['p95']:.1f} ms", 25, "ms")
    row("predict + Grad-CAM p50/p95", f"{lat['predict_gradcam_ms']['p50']:.1f}/{lat['predict_gradcam_ms']['p95']:.1f} ms", 100, "ms")
    row("upload-to-result p50/p95", f"{lat['upload_to_result_ms']['p50']:.0f}/{lat['upload_to_result_ms']['p95']:.0f} ms", 1000, "ms")
    if "dashboard_callback_ms" in lat:
        d = lat["dashboard_callback_ms"]
        row("dashboard callback p50/p95", f"{d['p50']:.0f}/{d['p95']:.0f} ms", 1000, "ms")
    if "onnx" in lat:
        o = lat["onnx"]
        row("ONNX runtime: predict p50/p95", f"{o['predict_ms']['p50']:.1f}/{o['predict_ms']['p95']:.1f} ms", 25, "ms")
        row("ONNX runtime: predict + Grad-CAM p50/p95",
            f"{o['predict_gradcam_ms']['p50']:.1f}/{o['predict_gradcam_ms']['p95']:.1f} ms", 100, "ms")
        row("ONNX runtime: dashboard callback p50/p95",
            f"{o['dashboard_callback_ms']['p50']:.0f}/{o['dashboard_callback_ms']['p95']:.0f} ms", 1000, "ms")
    row("peak RSS (this process / workers)", f"{r['memory']['self_mb']:.0f}/{r['memory']['children_mb']:.0f} MB")
    sv = r.get("serving")
    if sv:
        if "error" in sv:
            row("serving (Voila, Chromium)", f"error: {sv['error']}"[:40])
        else:
            from .app.loadtest import format_rows

            la = sv["loadavg_at_start"][0], sv["loadavg_at_end"][0]
            lines.append(f"serving, load avg {la[0]:.1f} at start, {la[1]:.1f} at end "
                         f"({sv['pool_size']} preheated kernels, idle ones culled after {sv['cull_idle_s']} s):")
            for label, val, target in format_rows(sv):
                lines.append(f"{label:<44}{val:>22}{target:>12}")
    return "\n".join(lines)


def cli_bench(args) -> int:
    quick = bool(getattr(args, "quick", False))
    r = run(quick=quick, data_dir=getattr(args, "data_dir", None))
    print(format_table(r))
    out = config.writable_dir(config.BENCH_DIR) / ("results-quick.json" if quick else "results.json")
    out.write_text(json.dumps(r, indent=1))
    sv = r.get("serving") or {}
    if "first_page" in sv:  # the README's capacity block is this run's (its numbers are never typed by hand)
        from .app.loadtest import write_readme_block

        write_readme_block(sv, r["when"], f"bench/{out.name}")
    print(f"wrote {os.path.relpath(out) if not os.path.relpath(out).startswith('..') else out}")
    return 0
