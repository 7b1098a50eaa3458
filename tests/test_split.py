"""helpers.data.split: grouped, stratified leak-free split; official split; load_split; committed CSV on real data."""
from __future__ import annotations

import os
import types

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers.data import audit
from helpers import config
from helpers.data import layouts as data
from helpers.data import split


pytestmark = pytest.mark.usefixtures("isolated_cache")  # every test here gets its own cache folder


def _arr(seed: int, size: int = 40) -> np.ndarray:
    a = np.random.default_rng(seed).random((6, 6)) * 255
    return np.asarray(Image.fromarray(a.astype(np.uint8)).resize((size, size), Image.BICUBIC))


def _save(path, a):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(a).astype(np.uint8)).save(path, "PNG")


@pytest.fixture
def dataset(tmp_path):
    """10 pictures per class, some with mirrored/rotated twins across Training/Testing, one label conflict."""
    root = tmp_path / "ds"
    seed = 0
    for ci, cls in enumerate(config.CLASSES):
        for k in range(10):
            seed += 1
            a = _arr(seed)
            _save(root / f"Training/{cls}/p{k}.png", a)
            if k % 3 == 0:
                _save(root / f"Testing/{cls}/p{k}_mirror.png", a[:, ::-1])
            if k % 4 == 0:
                _save(root / f"Training/{cls}/p{k}_rot180.png", a[::-1, ::-1])
            if k == 9:
                _save(root / f"Testing/{cls}/extra.png", _arr(1000 + ci))
    c = _arr(5000)
    _save(root / "Training/meningioma/conflict.png", c)
    _save(root / "Testing/pituitary/conflict_flip.png", c[::-1, :])
    return root


def _groups(root):
    m = data.build_manifest(root, progress=False)
    return m, audit.group_ids(m, root, progress=False)


def test_leakfree_invariants(dataset):
    m, g = _groups(dataset)
    df = split.make_leakfree_split(m, g, seed=1)
    assert list(df.columns) == ["path", "label", "split", "group"]
    assert df["path"].tolist() == sorted(m["path"])  # every file once, sorted
    assert set(df["split"]) == {"train", "val", "test"}
    assert (df.groupby("group")["split"].nunique() == 1).all()  # no group crosses splits
    conf = df[df["path"].str.contains("conflict")]
    assert conf["group"].nunique() == 1 and set(conf["split"]) == {"train"}
    assert set(df.loc[df["split"] == "test", "label"]) == set(config.CLASSES)
    frac = df["split"].value_counts(normalize=True)
    assert 0.55 < frac["train"] < 0.85
    # deterministic for a seed; different for another
    assert split.make_leakfree_split(m, g, seed=1).equals(df)
    assert split.split_sha256(df) == split.split_sha256(df.sample(frac=1, random_state=0))


def test_twins_never_cross_splits(dataset):
    """Independent of the grouping: no test image has a train/val thumbnail twin (cosine > 0.98, 8 transforms)."""
    m, g = _groups(dataset)
    df = split.make_leakfree_split(m, g, seed=3)
    th = np.stack([np.asarray(Image.open(dataset / p).convert("L").resize((32, 32), Image.BOX), dtype=np.float32)
                   for p in df["path"]])
    te = (df["split"] == "test").to_numpy()
    assert audit.max_cross_similarity(th[te], th[~te]).max() < audit.THRESHOLD


def test_unreadable_files_excluded_and_listed(dataset):
    (dataset / "Training/glioma/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    m, g = _groups(dataset)
    df = split.make_leakfree_split(m, g)
    assert "Training/glioma/broken.png" not in set(df["path"])
    assert [r["path"] for r in df.attrs["excluded"]] == ["Training/glioma/broken.png"]
    assert len(df) == len(m) - 1


def test_official_split(dataset):
    m, g = _groups(dataset)
    off = split.official_split(m, g)
    assert list(off.columns) == split.SPLIT_COLUMNS
    assert (off["split"] == np.where(off["path"].str.startswith("Training/"), "train", "test")).all()
    assert (off["group"] >= 0).all()


def test_cli_split_and_load_split(dataset, tmp_path, capsys, isolated_cache):
    out = tmp_path / "splits"
    assert split.cli_split(types.SimpleNamespace(data_dir=str(dataset), out_dir=str(out), seed=42)) == 0
    printed = capsys.readouterr().out
    assert "leak-free split" in printed and "placed in train" in printed
    lf = split.read_split_csv(out / "leakfree.csv")
    off = split.read_split_csv(out / "official.csv")
    assert len(lf) == len(off) == len(data.list_image_files(dataset))
    # other data than the committed CSV describes: computed, equal to the CLI's, cached
    got = split.load_split("leakfree", dataset)
    assert got.equals(lf) and got.attrs["source"] == "computed"
    assert list(isolated_cache.glob("split-leakfree-*.csv"))
    assert split.load_split("leakfree", dataset).attrs["source"] != "computed"
    assert split.load_split("official", dataset).equals(off)
    with pytest.raises(ValueError):
        split.load_split("random", dataset)


def test_load_split_prefers_committed_csv_when_it_matches(dataset, tmp_path, monkeypatch):
    out = tmp_path / "splits"
    split.cli_split(types.SimpleNamespace(data_dir=str(dataset), out_dir=str(out), seed=42))
    monkeypatch.setattr(config, "LEAKFREE_SPLIT", out / "leakfree.csv")
    assert split.load_split("leakfree", dataset).attrs["source"] == str(out / "leakfree.csv")


def test_cli_split_missing_dir(tmp_path, capsys):
    rc = split.cli_split(types.SimpleNamespace(data_dir=str(tmp_path / "nope"), out_dir=str(tmp_path), seed=1))
    assert rc == 1 and "make data" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------- real data
realdata = pytest.mark.skipif(not os.environ.get("BRAIN_MRI_DATA"), reason="needs $BRAIN_MRI_DATA")


@pytest.mark.realdata
@realdata
def test_committed_csvs_match_the_data():
    root = data.resolve_data_dir()
    files = data.list_image_files(root)
    for csv in (config.LEAKFREE_SPLIT, config.OFFICIAL_SPLIT):
        df = split.read_split_csv(csv)
        assert df["path"].tolist() == [p for p, _, _ in files]  # every file exactly once, sorted
        assert df["label"].tolist() == [lab for _, _, lab in files]
    lf = split.read_split_csv(config.LEAKFREE_SPLIT)
    assert (lf.groupby("group")["split"].nunique() == 1).all()
    test = lf[lf["split"] == "test"]
    assert len(test) >= 900 and set(test["label"]) == set(config.CLASSES)
    off = split.read_split_csv(config.OFFICIAL_SPLIT)
    assert (off["split"] == np.where(off["path"].str.startswith("Training/"), "train", "test")).all()
    assert split.load_split("leakfree", root).attrs["source"] == str(config.LEAKFREE_SPLIT)


@pytest.mark.realdata
@realdata
def test_committed_split_has_no_twins():
    """Re-checks the leak-free property from the pixels, without the grouping code: for every test image, the best
    cosine of zero-mean 32x32 thumbnails against every train/val image under the 8 flips/rotations is < 0.98."""
    root = data.resolve_data_dir()
    lf = split.read_split_csv(config.LEAKFREE_SPLIT)

    def thumb(p):
        return np.asarray(Image.open(root / p).convert("L").resize((32, 32), Image.BOX), dtype=np.float64)

    th = np.stack([thumb(p) for p in lf["path"]])
    x = th.reshape(len(th), -1)
    x = x - x.mean(axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    te = (lf["split"] == "test").to_numpy()
    a = x[te]
    best = np.full(len(a), -1.0)
    for k in range(4):
        for flip in (False, True):
            r = np.rot90(th[~te], k, axes=(1, 2))
            r = r[:, :, ::-1] if flip else r
            r = r.reshape(len(r), -1)
            r = r - r.mean(axis=1, keepdims=True)
            r /= np.linalg.norm(r, axis=1, keepdims=True)
            best = np.maximum(best, (a @ r.T).max(axis=1))
    assert best.max() < 0.98, lf.loc[te, "path"].to_numpy()[best >= 0.98][:10]
