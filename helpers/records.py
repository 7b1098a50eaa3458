"""Run records: the one module that reads and writes a model's JSON record (and our other JSON result files).

Where a model's files live (``files(...)`` resolves them; nothing else builds these paths):

- a shipped model: ``models/<name>/model.keras``, ``record.json``, ``predictions.csv`` (and ``MODEL_CARD.md``);
- a training run or experiment: ``<folder>/<name>.keras`` (absent when the weights were not kept), ``<name>.json``,
  ``<name>.predictions.csv`` — what ``brain-mri train --out-dir`` writes; ``experiments/<batch>/`` keeps the records of a
  batch beside its pre-registration ``PLAN.md``.

Schema of a run record (JSON, one object; written atomically, NaN refused). Keys written by training
(``modeling.train.train``; ``modeling.ensemble.build`` writes the same with ``members``):

- ``name``, ``arch``, ``classes`` (label order of the logits), ``img_size``, ``params``;
- ``keras_file`` (weights file name beside the record), ``keras_sha256`` (checked on every load);
- ``temperature`` (calibration on validation), ``tta`` (test-time augmentation, e.g. ``"flip"`` or null);
- ``trained_at`` (UTC ISO time), ``train_wall_s``, ``train_images_per_s``, ``epochs_run``;
- ``config`` (the full training config: ``brain-mri train --config <record>`` reproduces the run);
- ``data``: ``split``, ``n_train``, ``n_val``, ``split_sha256`` (the data hash), ``synthetic``, ``cpu_count``, ``bundle``;
- ``validation`` (val accuracy / NLL / ECE after calibration), ``history`` (per-epoch Keras history);
- ``versions``: python, keras, numpy, backend and its version, machine, device, ``code`` (package version) and
  ``git_commit`` (of the working tree that trained it, ``"+dirty"`` when it had uncommitted changes);
- ``command`` (the command line that reproduces it); optional ``init_from``, ``members``, ``selection``, ``run_name``.

Added later by ``evaluation.evaluate.write_evaluation``: ``evaluation`` with ``evaluated_at``, ``keras_sha256``,
``split_sha256``, ``synthetic``, ``temperature``, ``tta``, ``bootstrap``, ``abstain_rule``, ``screening_rule``,
``leakfree_test`` / ``official_test`` (metric blocks ``{"value", "ci"}`` per metric, confusion, ROC, clusters),
``robustness`` and ``wall_s``. The per-image rows go to the predictions CSV.

Added by ``modeling.explain.adopt_choice`` (run by experiments/batch7_symmetry/gradcam_variants.py): ``gradcam``
``{"target", "grid", "chosen_in"}``, the model's own Grad-CAM choice made on validation outlines (``chosen_in``: the
variants file, relative to the project); a record without it gets explain's fallback.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import config

RECORD = "record.json"  # file names inside a shipped model's folder
WEIGHTS = "model.keras"
PREDICTIONS = "predictions.csv"
CARD = "MODEL_CARD.md"


@dataclass(frozen=True)
class ModelFiles:
    name: str
    record: Path
    weights: Path
    predictions: Path


_SHIPPED_DIR = config.MODELS_DIR.resolve()  # where a name is also looked up among the experiments


def files(path: str | Path, name: str | None = None) -> ModelFiles:
    """The files of one model, from its folder + name, its record, its weights or its model folder.

    A name asked of models/ that is not shipped there is looked up in experiments/<batch>/ (``locate``)."""
    p = Path(path)
    if name is not None:
        folder = p / name
        if (folder / RECORD).is_file() or (folder / WEIGHTS).is_file():
            return files(folder)
        flat = ModelFiles(name, p / f"{name}.json", p / f"{name}.keras", p / f"{name}.predictions.csv")
        if not flat.record.is_file() and p.resolve() == _SHIPPED_DIR:
            return locate(name)
        return flat
    if p.suffix in (".json", ".keras") and p.name not in (RECORD, WEIGHTS):
        return files(p.parent, p.stem)
    folder = p.parent if p.suffix in (".json", ".keras") else p
    return ModelFiles(folder.name, folder / RECORD, folder / WEIGHTS, folder / PREDICTIONS)


def destination(out_dir: str | Path, name: str) -> ModelFiles:
    """Where a new run named `name` is written in out_dir: its folder when out_dir/<name>/ exists (retraining a
    shipped model), else <name>.keras/.json beside each other (never into experiments/)."""
    out_dir = Path(out_dir)
    if (out_dir / name).is_dir():
        return files(out_dir / name)
    return ModelFiles(name, out_dir / f"{name}.json", out_dir / f"{name}.keras", out_dir / f"{name}.predictions.csv")


def is_run_record(doc) -> bool:
    """A model's run record (not baselines.json or a tagger): it holds a training config or its weights' hash."""
    return isinstance(doc, dict) and ("keras_sha256" in doc or "config" in doc)


def find(folder: str | Path, experiments: bool | None = None) -> list[ModelFiles]:
    """Every run record in a folder (``<name>/record.json`` and ``<name>.json``), by name. For models/ (or with
    experiments=True) the experiment batches' records are included."""
    folder = Path(folder)
    found = [files(p) for p in folder.glob(f"*/{RECORD}")]
    found += [files(p) for p in folder.glob("*.json") if _holds_run_record(p)]
    if experiments or (experiments is None and folder.resolve() == _SHIPPED_DIR):
        found += experiment_records()
    return sorted(found, key=lambda f: f.name)


NOT_RECORDS = (".familiarity.json", "results.json")  # a run's warning rule (megabytes) and a batch's results


def _holds_run_record(path: Path) -> bool:
    if path.name.endswith(NOT_RECORDS):  # never parsed to find out: the Models tab lists records on every page
        return False
    try:
        return is_run_record(read_json(path))
    except (OSError, ValueError):
        return False


def experiment_records() -> list[ModelFiles]:
    """The run records of every experiment batch."""
    return [f for batch in experiment_batches() for f in find(batch, experiments=False)]


def experiment_batches() -> list[Path]:
    """experiments/<batch>/ folders, in name order."""
    return sorted(p for p in config.EXPERIMENTS_DIR.glob("*") if p.is_dir())


def locate(name: str) -> ModelFiles:
    """A model's files by name: the shipped folder under models/, else the first experiment batch that holds it."""
    shipped = files(config.MODELS_DIR / name)
    if shipped.record.is_file() or shipped.weights.is_file():
        return shipped
    for batch in experiment_batches():
        f = files(batch, name)
        if f.record.is_file():
            return f
    return ModelFiles(name, config.MODELS_DIR / f"{name}.json", config.MODELS_DIR / f"{name}.keras",
                      config.MODELS_DIR / f"{name}.predictions.csv")


def read(path: str | Path, name: str | None = None) -> dict | None:
    """A model's record (from anything ``files`` accepts), or None when there is none."""
    return read_json(files(path, name).record)


def write(record: dict, path: str | Path, name: str | None = None) -> Path:
    """Write a model's record atomically; returns its path."""
    return write_json(record, files(path, name).record)


def update(path: str | Path, **blocks) -> dict:
    """Set top-level keys of an existing record (every other key kept), atomically; returns the record."""
    rec = read(path)
    if rec is None:
        raise FileNotFoundError(files(path).record)
    rec.update(blocks)
    write(rec, path)
    return rec


def read_json(path: str | Path) -> dict | None:
    """One of our JSON result files, or None when it does not exist."""
    p = Path(path)
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


def write_json(obj, path: str | Path, compact: bool = False) -> Path:
    """Write JSON atomically (a temporary file, then a rename): a reader never sees half a file. NaN is refused."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(jsonable(obj), indent=None if compact else 1, separators=(",", ":") if compact else None,
                      allow_nan=False, default=_json_default)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def jsonable(obj):
    """JSON-safe copy: NaN/inf -> None (the dashboard parses this JSON in the browser), numpy -> Python."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    return obj


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_commit() -> str | None:
    """The commit of the working tree (``+dirty`` when it has uncommitted changes), or None outside git."""
    try:
        run = dict(cwd=config.PROJ_ROOT, capture_output=True, text=True, timeout=10)
        sha = subprocess.run(["git", "rev-parse", "HEAD"], check=True, **run).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **run).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    """Library, code and machine versions for a record."""
    import importlib
    from importlib.metadata import PackageNotFoundError, version

    import keras
    import numpy as np

    out = {"python": platform.python_version(), "keras": keras.__version__, "numpy": np.__version__,
           "backend": keras.backend.backend(), "machine": platform.machine()}
    try:
        out["code"] = version("brain-mri-helpers")
    except PackageNotFoundError:
        pass
    out["git_commit"] = git_commit()
    try:  # the backend's own version: TensorFlow here, JAX or PyTorch where the same code trains on a GPU
        mod = importlib.import_module(out["backend"])  # Keras' backend names are the module names
        out[out["backend"]] = mod.__version__
        if out["backend"] == "jax":
            out["device"] = str(mod.devices()[0].device_kind)
        elif out["backend"] == "torch" and mod.cuda.is_available():
            out["device"] = mod.cuda.get_device_name(0)
    except Exception:  # versions are informative; never fail a finished training run over them
        pass
    return out


def trained_on(meta: dict) -> str:
    """Where a record's training ran, for the docs: "one NVIDIA H200 GPU" or "2 CPU cores"."""
    v = meta.get("versions") or {}
    device = str(v.get("device") or "")
    if v.get("backend", "tensorflow") != "tensorflow" and device and device.lower() != "cpu":
        return f"one {device} GPU"
    return f"{(meta.get('data') or {}).get('cpu_count', '?')} CPU cores"


def canonical_json(obj, digits: int = 9) -> str:
    """obj as sorted JSON with every float rounded to `digits` significant digits: how a re-derived result is compared
    with the committed one. BLAS and SIMD kernels differ between CPUs in the last bits of a float, never in the 9th
    significant digit of a rate or a score."""
    import numpy as np

    def r(x):
        if isinstance(x, dict):
            return {str(k): r(v) for k, v in x.items()}
        if isinstance(x, (list, tuple, np.ndarray)):
            return [r(v) for v in (x.tolist() if isinstance(x, np.ndarray) else x)]
        if isinstance(x, (float, np.floating)):
            return float(f"{float(x):.{digits}g}")
        return x

    return json.dumps(r(obj), sort_keys=True, default=str)
