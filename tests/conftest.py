"""Shared fixtures. Keep them small and generic: every test module may use them."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import config


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory):
    """A tiny synthetic dataset in the Nickparvar layout: 4 train + 2 test phantoms per class (+ masks)."""
    from helpers.data import synthetic

    return synthetic.write_dataset(tmp_path_factory.mktemp("synthetic") / "brain-tumor-mri", n_per_class=(4, 2), seed=123)


@pytest.fixture(scope="session")
def tiny_images() -> dict[str, np.ndarray]:
    """One 96x96 uint8 phantom per class, keyed by label."""
    from helpers.data import synthetic

    return {label: synthetic.make_phantom(label, seed=7, size=96)[0] for label in config.CLASSES}


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """Point config.cache_dir() at a fresh temp folder so tests never touch data/processed."""
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setattr(config, "cache_dir", lambda: folder)
    return folder


@pytest.fixture(scope="session")
def phantom_data(tmp_path_factory):
    """A synthetic dataset big enough to train on: 12 train + 4 test phantoms per class."""
    from helpers.data import synthetic

    return synthetic.write_dataset(tmp_path_factory.mktemp("phantoms") / "brain-tumor-mri", n_per_class=(12, 4), seed=5)


@pytest.fixture(scope="session")
def tiny_model_json(phantom_data, tmp_path_factory):
    """A tiny model trained for two epochs on phantoms (seconds): models/<name>.keras + .json in a temp folder."""
    from helpers.modeling.train import train

    out = tmp_path_factory.mktemp("models")
    return train({"arch": "tiny", "epochs": 2, "name": "tiny"}, data_dir=phantom_data, out_dir=out, verbose=0)


def _descendants(pid: int) -> list:
    """psutil handles of every process below `pid` (kernels run in their own sessions: a group kill misses them)."""
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - psutil missing or the process already gone
        return []


@pytest.fixture(scope="session")
def voila_server(tiny_model_json, tmp_path_factory):
    """`brain-mri dashboard` (helpers.app.serve.cli_dashboard, i.e. the options users get) on a free loopback port,
    serving the tiny model through $BRAIN_MRI_MODEL. Yields (base_url, log_path). Always stopped: SIGTERM makes
    Voila shut its kernels down; anything of ours still alive after that is killed by pid."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    pytest.importorskip("voila")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    model = Path(tiny_model_json).with_suffix(".keras")
    if os.environ.get("BRAIN_MRI_FIGURE") and config.DEFAULT_MODEL.is_file():
        model = config.DEFAULT_MODEL  # the README picture shows the shipped model (tests/test_browser.py)
    env = {**os.environ, "BRAIN_MRI_MODEL": str(model),
           # a CPU shared with training can take minutes to import TensorFlow in a fresh kernel
           "BRAIN_MRI_VOILA_TIMEOUT": os.environ.get("BRAIN_MRI_VOILA_TIMEOUT", "600"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    fh = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "helpers.cli", "dashboard", "--port", str(port)],
                            cwd=config.PROJ_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    kids: list = []
    try:
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"voila exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("voila did not listen within 300 s")
                time.sleep(1)
        yield f"http://127.0.0.1:{port}/", log
    finally:
        from helpers.app.loadtest import stop_server

        kids.extend(_descendants(proc.pid))
        stop_server(proc, kids, timeout=90)
        fh.close()


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """One cache folder for a whole test session (phantom arrays, manifests, splits). Tests that patch
    config.cache_dir to it never write into data/processed (the real dataset's arrays live there)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session", autouse=True)
def _caches_out_of_the_repo(session_cache):
    """Every test writes its caches to a session temp folder: the real dataset's cached arrays in data/processed
    must never be pruned or replaced by a test run."""
    mp = pytest.MonkeyPatch()
    mp.setattr(config, "cache_dir", lambda: session_cache)
    mp.setenv("BRAIN_MRI_CACHE", str(session_cache))  # papermill and Voila kernels are other processes
    yield
    mp.undo()


def pytest_collection_modifyitems(config, items):
    """A test that needs a trained model (the tiny_model_json fixture, directly or through another fixture) is a
    training test: `make test-fast` leaves it out, `make test` runs it."""
    for item in items:
        if "tiny_model_json" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.training)


@pytest.fixture
def same_results():
    """check(saved, again, keys): a re-derived result equals the committed one in each key, compared as
    `records.canonical_json` (9 significant digits: CPUs differ in a float's last bits)."""
    from helpers import records

    def check(saved: dict, again: dict, keys) -> None:
        bad = [k for k in keys if records.canonical_json(saved.get(k)) != records.canonical_json(again.get(k))]
        assert not bad, f"re-derived differently from the committed results: {', '.join(map(str, bad))}"

    return check
