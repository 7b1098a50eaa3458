"""Shared fixtures. Keep them small and generic: every test module may use them."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import config


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory):
    """A tiny synthetic dataset in the Nickparvar layout: 4 train + 2 test phantoms per class (+ masks)."""
    from helpers import synthetic

    return synthetic.write_dataset(tmp_path_factory.mktemp("synthetic") / "brain-tumor-mri", n_per_class=(4, 2), seed=123)


@pytest.fixture(scope="session")
def tiny_images() -> dict[str, np.ndarray]:
    """One 96x96 uint8 phantom per class, keyed by label."""
    from helpers import synthetic

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
    from helpers import synthetic

    return synthetic.write_dataset(tmp_path_factory.mktemp("phantoms") / "brain-tumor-mri", n_per_class=(12, 4), seed=5)


@pytest.fixture(scope="session")
def tiny_model_json(phantom_data, tmp_path_factory):
    """A tiny model trained for two epochs on phantoms (seconds): models/<name>.keras + .json in a temp folder."""
    from helpers.train import train

    out = tmp_path_factory.mktemp("models")
    return train({"arch": "tiny", "epochs": 2, "name": "tiny"}, data_dir=phantom_data, out_dir=out, verbose=0)
