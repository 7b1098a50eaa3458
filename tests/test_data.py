"""helpers.data.layouts: layouts, labels, data-dir resolution and the cached manifest. Tiny Pillow images in tmp_path."""
from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest
from PIL import Image

from helpers import config
from helpers.errors import DataError
from helpers.data import layouts as data


pytestmark = pytest.mark.usefixtures("isolated_cache")  # every test here gets its own cache folder


def _img(seed: int, size: int = 48) -> Image.Image:
    """A smooth random picture: different seeds give unrelated pictures."""
    a = np.random.default_rng(seed).random((6, 6)) * 255
    return Image.fromarray(a.astype(np.uint8)).resize((size, size), Image.BICUBIC)


def _make(root, folders, n=2, fmt="JPEG", ext=".jpg"):
    for k, folder in enumerate(folders):
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _img(100 * k + i).save(d / f"img_{i}{ext}", fmt)
    return root


NICK = [f"{s}/{c}" for s in ("Training", "Testing") for c in config.CLASSES]
SARTAJ = [f"{s}/{c}" for s in ("Training", "Testing")
          for c in ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor")]


@pytest.mark.parametrize("folders,layout,labels,splits", [
    (NICK, "nickparvar", set(config.CLASSES), {"train", "test"}),
    (SARTAJ, "sartaj", set(config.CLASSES), {"train", "test"}),
    (["yes", "no"], "binary", {"tumour", "notumor"}, {"none"}),
])
def test_layouts(tmp_path, folders, layout, labels, splits):
    root = _make(tmp_path / "ds", folders)
    assert data.detect_layout(root) == layout
    m = data.build_manifest(root, progress=False)
    assert set(m["label"]) == labels
    assert set(m["official_split"]) == splits
    assert len(m) == 2 * len(folders)
    assert list(m.columns) == data.MANIFEST_COLUMNS
    assert m["path"].is_monotonic_increasing and not m["path"].str.contains("\\\\").any()


def test_unknown_layout_names_known_ones(tmp_path):
    root = _make(tmp_path / "ds", ["cats", "dogs"])
    with pytest.raises(DataError) as e:
        data.detect_layout(root)
    msg = str(e.value)
    assert "\n" not in msg and "nickparvar" in msg and "sartaj" in msg and "yes/ no/" in msg


def test_empty_class_folder_warns_not_crash(tmp_path):
    root = _make(tmp_path / "ds", NICK[:-1])
    (root / "Testing" / "pituitary").mkdir()
    with pytest.warns(UserWarning, match="empty class folder Testing/pituitary"):
        m = data.build_manifest(root, progress=False)
    assert len(m) == 2 * 7


def test_canonical_label():
    assert data.canonical_label("no_tumor") == "notumor"
    assert data.canonical_label("Glioma_Tumor") == "glioma"
    assert data.canonical_label("yes") == "tumour"
    with pytest.raises(DataError):
        data.canonical_label("banana")


def test_resolve_missing_says_how_to_get_data(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAIN_MRI_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as e:
        data.resolve_data_dir()
    assert "make data" in str(e.value) and "BRAIN_MRI_DATA" in str(e.value) and "\n" not in str(e.value)
    assert data.resolve_data_dir(tmp_path) == tmp_path


def test_resolve_synthetic_fallback(tmp_path, monkeypatch):
    import helpers.data

    fake = types.ModuleType("helpers.data.synthetic")
    fake.ensure_synthetic = lambda *a, **k: tmp_path / "synth"
    monkeypatch.setitem(sys.modules, "helpers.data.synthetic", fake)
    monkeypatch.setattr(helpers.data, "synthetic", fake, raising=False)
    monkeypatch.delenv("BRAIN_MRI_DATA", raising=False)
    monkeypatch.setattr(config, "RAW_DIR", tmp_path / "raw")  # nobody named a dataset and the default is absent
    assert data.resolve_data_dir(None, allow_synthetic=True) == tmp_path / "synth"
    # a dataset that is named but missing is an error, never a silent demo
    with pytest.raises(DataError, match="no dataset at"):
        data.resolve_data_dir(tmp_path / "nowhere", allow_synthetic=True)
    monkeypatch.setenv("BRAIN_MRI_DATA", str(tmp_path / "typo"))
    with pytest.raises(DataError, match="typo"):
        data.resolve_data_dir(None, allow_synthetic=True)


def test_format_from_content_and_bad_files(tmp_path):
    root = _make(tmp_path / "ds", NICK, n=1)
    d = root / "Training" / "notumor"
    _img(7).save(d / "png_named.jpg", "PNG")  # a PNG dressed as a JPEG, as in the real data
    good = (root / "Training" / "glioma" / "img_0.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_bytes(b"hello, not an image")
    # ignored: side folders and non-image files
    (root / "Training" / "glioma" / "_masks").mkdir()
    _img(1).save(root / "Training" / "glioma" / "_masks" / "m.png")
    (root / "Training" / "glioma" / ".hidden").mkdir()
    _img(1).save(root / "Training" / "glioma" / ".hidden" / "h.png")
    (root / "SYNTHETIC.txt").write_text("x")
    (d / "README.txt").write_text("x")

    m = data.build_manifest(root, progress=False).set_index("path")
    assert len(m) == 8 + 4
    r = m.loc["Training/notumor/png_named.jpg"]
    assert r["format"] == "PNG" and r["error"] == "" and (r["width"], r["height"]) == (48, 48)
    assert m.loc["Training/glioma/img_0.jpg", "format"] == "JPEG"
    assert "truncated" in m.loc["Training/notumor/truncated.jpg", "error"]
    assert m.loc["Training/notumor/empty.jpg", "error"] == "empty file"
    assert "not an image" in m.loc["Training/notumor/text.jpg", "error"]
    assert len(m.loc["Training/notumor/truncated.jpg", "md5"]) == 32
    summary = data.manifest_summary(m.reset_index())
    assert "3 unreadable files" in summary and "Training/notumor/truncated.jpg" in summary
    assert "png_named.jpg" in summary  # extension that lies is reported


def test_decompression_bomb_refused_from_header(tmp_path, monkeypatch):
    root = _make(tmp_path / "ds", NICK, n=1)
    monkeypatch.setattr(config, "MAX_IMAGE_PIXELS", 1000)  # 48x48 = 2304 px is now "too large"
    m = data.build_manifest(root, progress=False)
    assert m["error"].str.startswith("too large").all()
    assert (m["width"] == 48).all()


def test_manifest_cache_reused_and_rebuilt(tmp_path, isolated_cache):
    root = _make(tmp_path / "ds", NICK, n=1)
    m1 = data.build_manifest(root, progress=False)
    assert not m1.attrs["cached"] and len(list(isolated_cache.glob("manifest-*.csv"))) == 1
    m2 = data.build_manifest(root, progress=False)
    assert m2.attrs["cached"]
    assert m2.equals(m1)
    f = root / "Training" / "glioma" / "img_0.jpg"
    _img(999, size=40).save(f, "JPEG")
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    m3 = data.build_manifest(root, progress=False)
    assert not m3.attrs["cached"]
    row = m3.set_index("path").loc["Training/glioma/img_0.jpg"]
    assert row["width"] == 40 and row["md5"] != m1.set_index("path").loc["Training/glioma/img_0.jpg", "md5"]
    (root / "Testing" / "glioma" / "new.jpg").write_bytes(f.read_bytes())
    assert len(data.build_manifest(root, progress=False)) == len(m1) + 1


def test_manifest_never_writes_into_data_dir(tmp_path):
    root = _make(tmp_path / "ds", NICK, n=1)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    for p in [root, *[x for x in root.rglob("*") if x.is_dir()]]:
        p.chmod(0o555)
    try:
        m = data.build_manifest(root, progress=False)
        data.build_manifest(root, progress=False)
    finally:
        for p in [root, *[x for x in root.rglob("*") if x.is_dir()]]:
            p.chmod(0o755)
    assert (m["error"] == "").all()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_no_images_at_all_is_one_line_error(tmp_path):
    for c in config.CLASSES:
        (tmp_path / "ds" / "Training" / c).mkdir(parents=True)
    with pytest.warns(UserWarning), pytest.raises(DataError, match="no image files"):
        data.build_manifest(tmp_path / "ds", progress=False)
