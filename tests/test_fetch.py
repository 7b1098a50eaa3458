"""helpers.data.fetch with the network calls (download, github_raw) replaced: copies, idempotence, offline message."""
from __future__ import annotations

import io
import types

import numpy as np
import pytest
from PIL import Image

from helpers import config
from helpers.data import fetch
from helpers.errors import DataError


@pytest.fixture
def github_one_slice(tmp_path, monkeypatch):
    """healthy-extra as `fetch --all` sees it: a one-row manifest, served by a github_raw that counts its calls
    (tests/test_fetch_healthy_extra.py tests that collection itself)."""
    manifest = tmp_path / "healthy-extra.csv"
    manifest.write_text("path,source,subject,plane,sequence,skull,repo,commit,origin\n"
                        "dwi/x.jpg,dwi,,axial,DWI,yes,o/r," + "0" * 40 + ",x.jpg\n")
    monkeypatch.setattr(fetch, "HEALTHY_EXTRA_MANIFEST", manifest)
    calls = []

    def github_raw(repo, commit, path, timeout=None):
        calls.append(path)
        buf = io.BytesIO()
        Image.fromarray(np.full((20, 20), 3, np.uint8)).save(buf, format="JPEG")
        return buf.getvalue()

    monkeypatch.setattr(fetch, "github_raw", github_raw)
    return calls


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


def test_fetch_all_collections_with_their_layouts(tmp_path, monkeypatch, fake_download, github_one_slice, capsys):
    """`brain-mri fetch --all`: each kagglehub handle lands in data/raw/<collection>; Sartaj's set gives its Testing/."""
    from helpers.data import collections

    br = tmp_path / "br" / "versions" / "2"
    for d in ("yes", "no"):
        (br / d).mkdir(parents=True)
        Image.fromarray(np.full((20, 20), 9, np.uint8)).save(br / d / f"{d}0.jpg")
    sa = tmp_path / "sa" / "versions" / "1"
    for split in ("Training", "Testing"):
        for d in ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"):
            (sa / split / d).mkdir(parents=True)
            Image.fromarray(np.full((20, 20), 5, np.uint8)).save(sa / split / d / "image(1).jpg")
    by_handle = {config.KAGGLE_HANDLE: fake_download, collections.COLLECTIONS["br35h"]["handle"]: tmp_path / "br",
                 collections.COLLECTIONS["sartaj-testing"]["handle"]: tmp_path / "sa"}
    calls = []
    monkeypatch.setattr(fetch, "download", lambda handle=config.KAGGLE_HANDLE: calls.append(handle) or by_handle[handle])
    monkeypatch.setattr(config, "RAW_DIR", tmp_path / "raw")
    assert fetch.cli_fetch(types.SimpleNamespace(all=True, dest=None)) == 0
    out = capsys.readouterr().out
    assert "br35h ready" in out and "sartaj-testing ready" in out and "healthy-extra ready" in out
    assert github_one_slice == ["x.jpg"]
    assert sorted(calls) == sorted(by_handle)
    assert collections.list_collection("sartaj-testing", tmp_path / "raw" / "sartaj-testing")["label"].tolist() == [
        "glioma", "meningioma", "notumor", "pituitary"]
    assert len(collections.list_collection("br35h", tmp_path / "raw" / "br35h")) == 2
    assert not (tmp_path / "raw" / "sartaj-testing" / "Training").exists()


def test_fetch_all_offline_names_each_collection(tmp_path, monkeypatch, github_one_slice, capsys):
    def offline(handle=config.KAGGLE_HANDLE):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'")

    def github_offline(repo, commit, path, timeout=None):
        raise DataError("could not reach https://raw.githubusercontent.com (offline?): no network")

    monkeypatch.setattr(fetch, "download", offline)
    monkeypatch.setattr(fetch, "github_raw", github_offline)
    monkeypatch.setattr(config, "RAW_DIR", tmp_path / "raw")
    assert fetch.cli_fetch(types.SimpleNamespace(all=True, dest=None)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") and "could not" in line for line in err)
    assert err[3].startswith("error: healthy-extra/dwi: could not reach")
    assert "BR35H_DATA" in err[1] and "Traceback" not in "".join(err)
