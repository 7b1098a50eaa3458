"""helpers.data.fetch with the network call (download) replaced: copies, idempotence, offline message."""
from __future__ import annotations

import types

import numpy as np
import pytest
from PIL import Image

from helpers import config
from helpers.data import fetch


@pytest.fixture
def fake_download(tmp_path):
    """A kagglehub-like download folder: the dataset sits one level down, as kagglehub's versions/N/ does."""
    src = tmp_path / "kagglehub" / "versions" / "1"
    for split in ("Training", "Testing"):
        for cls in config.CLASSES:
            d = src / split / cls
            d.mkdir(parents=True)
            Image.fromarray(np.full((20, 20), 7, np.uint8)).save(d / "x.jpg")
    return tmp_path / "kagglehub"


def test_fetch_copies_and_is_idempotent(tmp_path, monkeypatch, fake_download, capsys):
    calls = []
    monkeypatch.setattr(fetch, "download", lambda handle=config.KAGGLE_HANDLE: calls.append(handle) or fake_download)
    dest = tmp_path / "raw" / "brain-tumor-mri"
    assert fetch.cli_fetch(types.SimpleNamespace(dest=str(dest))) == 0
    assert "8 images" in capsys.readouterr().out
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.jpg"))[0] == "Testing/glioma/x.jpg"
    assert calls == [config.KAGGLE_HANDLE]
    assert fetch.fetch_dataset(dest) == dest
    assert len(calls) == 1  # a complete copy is kept: no second download
    assert not (dest.parent / "brain-tumor-mri.partial").exists()


def test_offline_is_one_line_exit_1(tmp_path, monkeypatch, capsys):
    def offline(handle=config.KAGGLE_HANDLE):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'\nmore details")

    monkeypatch.setattr(fetch, "download", offline)
    rc = fetch.cli_fetch(types.SimpleNamespace(dest=str(tmp_path / "raw" / "bt")))
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("error: could not reach Kaggle (offline?)") and "BRAIN_MRI_DATA" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "raw" / "bt").exists()


def test_download_without_dataset_inside(tmp_path, monkeypatch, capsys):
    (tmp_path / "dl" / "junk").mkdir(parents=True)
    monkeypatch.setattr(fetch, "download", lambda handle=config.KAGGLE_HANDLE: tmp_path / "dl")
    assert fetch.cli_fetch(types.SimpleNamespace(dest=str(tmp_path / "out"))) == 1
    assert "no Training/Testing" in capsys.readouterr().err


def test_download_uses_kagglehub(monkeypatch, tmp_path):
    fake = types.ModuleType("kagglehub")
    fake.dataset_download = lambda handle: str(tmp_path / handle.replace("/", "_"))
    monkeypatch.setitem(__import__("sys").modules, "kagglehub", fake)
    assert fetch.download("a/b") == tmp_path / "a_b"
