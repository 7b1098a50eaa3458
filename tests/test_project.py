"""The project's own plumbing: config, CLI, environment files."""
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from helpers import cli
from helpers import config


def test_config_paths_live_in_the_repo():
    for p in (config.DATA_DIR, config.MODELS_DIR, config.FIGURES_DIR, config.NOTEBOOKS_DIR):
        assert p.is_relative_to(config.PROJ_ROOT)
    assert config.CLASSES == tuple(sorted(config.CLASSES))


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BRAIN_MRI_DATA", str(tmp_path))
    assert config.data_root() == tmp_path
    monkeypatch.delenv("BRAIN_MRI_DATA")
    assert config.data_root() == config.RAW_DIR / config.DATASET_NAME


def test_writable_dir_falls_back_when_not_writable(tmp_path, monkeypatch):
    # a path below a regular file cannot be created, even by root (CI runs as root, so chmod would not do)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    got = config.writable_dir(blocker / "processed")
    assert got.is_relative_to(tmp_path / "cache") and got.is_dir()


def test_cli_lists_every_verb():
    out = subprocess.run([sys.executable, "-m", "helpers.cli", "--help"], capture_output=True, text=True, check=True)
    for verb in ("fetch", "audit", "split", "train", "evaluate", "predict", "report", "dashboard", "bench"):
        assert verb in out.stdout


def test_cli_rejects_unknown_verb():
    with pytest.raises(SystemExit):
        cli.main(["frobnicate"])


def test_pyproject_pins_majors_and_declares_the_script():
    meta = tomllib.loads((config.PROJ_ROOT / "pyproject.toml").read_text())
    deps = meta["project"]["dependencies"]
    assert all("<" in d for d in deps), "every dependency has an upper bound on its major version"
    assert meta["project"]["scripts"]["brain-mri"] == "helpers.cli:main"


def test_environment_yml_installs_the_package():
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((config.PROJ_ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e .[dev]" in pip


def test_bench_training_probe_uses_the_shipped_models_kwargs(monkeypatch, tmp_path):
    """The bench times the network that ships (its recorded width, etc.), not the builder's defaults."""
    import json

    from helpers import bench

    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)
    (tmp_path / f"{config.DEFAULT_MODEL_NAME}.json").write_text(
        json.dumps({"arch": "resnet_small", "config": {"model_kwargs": {"width": 8}}}))
    assert bench._recorded_kwargs("resnet_small") == {"width": 8}
    assert bench._recorded_kwargs("capstone_cnn") == {}
    X = np.zeros((8, 64, 64), np.uint8)
    r = bench.bench_training(X, np.arange(8) % 4, "resnet_small", batches=1, batch_size=4,
                             model_kwargs=bench._recorded_kwargs("resnet_small"))
    assert r["model_kwargs"] == {"width": 8}
    from helpers.modeling.architectures import build_model

    assert r["params"] == build_model("resnet_small", 64, width=8).count_params()
    # a shipped ensemble: the probe trains one member, with that member's recorded kwargs
    (tmp_path / f"{config.DEFAULT_MODEL_NAME}.json").write_text(json.dumps(
        {"arch": "ensemble", "config": {"arch": "ensemble"},
         "members": [{"name": "a", "config": {"arch": "resnet_small", "model_kwargs": {"width": 12}}}]}))
    assert bench._recorded_kwargs("resnet_small") == {"width": 12}


def test_bench_table_shows_the_cpu_recipe_beside_a_gpu_trained_net():
    from helpers import bench

    lat = {"model": "shipped model", "predict_ms": {"p50": 9, "p95": 11}, "predict_gradcam_ms": {"p50": 20, "p95": 25},
           "upload_to_result_ms": {"p50": 30, "p95": 40}}
    net = {"arch": "resnet_small", "img_size": 128, "images_per_s": 8.0, "model_kwargs": {"width": 32, "stem_pool": False},
           "full_run_min": 816.0, "full_run_epochs": 80, "full_run_n_train": 4898}
    cpu = {**net, "images_per_s": 120.0, "model_kwargs": {}, "full_run_min": 54.4}
    r = {"when": "now", "machine": {"cpu_count": 2}, "data": {"dir": "d", "note": "", "synthetic": False},
         "preprocess": {"n": 7023, "seconds": 36.0, "images_per_s": 195.0, "extrapolated_all_s": 36.0},
         "training": {"resnet_small": net, "resnet_small_cpu_recipe": cpu,
                      "capstone_cnn": {"arch": "capstone_cnn", "img_size": 128, "images_per_s": 50.0},
                      "recorded_full_runs": {"brain_tumor_cnn": {"train_wall_s": 165.0, "train_images_per_s": 2192.3,
                                                                 "device": "NVIDIA H200"}}},
         "latency": lat, "memory": {"self_mb": 900, "children_mb": 0}}
    lines = bench.format_table(r).splitlines()
    shipped = next(i for i, line in enumerate(lines) if "shipped net, w32 no pool" in line)
    assert "816 min" in lines[shipped + 1] and "<= 120 min" in lines[shipped + 1]  # issue 16: the shipped recipe <= 2 h
    recipe = next(i for i, line in enumerate(lines) if "CPU recipe net, w16" in line)
    assert "54 min" in lines[recipe + 1] and "<= " not in lines[recipe + 1]
    assert any("NVIDIA H200" in line and "2192.3 img/s" in line for line in lines)


def test_bench_preprocess_runs_on_a_small_folder(tmp_path):
    """The bench's preprocessing probe calls the array cache's loader (a restructure once left it pointing at a
    module that no longer had it, and only `make bench` noticed)."""
    import pandas as pd

    from helpers import bench
    from helpers.data import synthetic

    root = synthetic.write_dataset(tmp_path / "phantoms", n_per_class=(2, 1))
    files = sorted(p for p in root.rglob("*.jpg"))
    rows = pd.DataFrame({"path": [p.relative_to(root).as_posix() for p in files],
                         "label": [p.parent.name for p in files]})
    res, X, y = bench.bench_preprocess(root, rows, size=64)
    assert res["n"] == len(files) == len(X) and X.shape[1:] == (64, 64) and res["workers"] >= 1
