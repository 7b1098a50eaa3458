"""helpers.data.audit: exact and 8-transform/contrast near-twins, label conflicts, CLI JSON. Tiny Pillow images."""
from __future__ import annotations

import json
import os
import types

import numpy as np
import pytest
from PIL import Image

from helpers.data import audit
from helpers import config
from helpers.data import layouts as data


pytestmark = pytest.mark.usefixtures("isolated_cache")  # every test here gets its own cache folder


def _arr(seed: int, size: int = 64) -> np.ndarray:
    a = np.random.default_rng(seed).random((6, 6)) * 255
    return np.asarray(Image.fromarray(a.astype(np.uint8)).resize((size, size), Image.BICUBIC))


def _save(path, a, fmt="JPEG"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(a).astype(np.uint8)).save(path, fmt, **({"quality": 95} if fmt == "JPEG" else {}))


@pytest.fixture
def leaky(tmp_path):
    """Nickparvar layout with planted twins of picture A (seed 1) and distinct pictures elsewhere."""
    root = tmp_path / "ds"
    A = _arr(1)
    _save(root / "Training/glioma/a.jpg", A)
    (root / "Testing/glioma").mkdir(parents=True)
    (root / "Testing/glioma/a_copy.jpg").write_bytes((root / "Training/glioma/a.jpg").read_bytes())
    _save(root / "Training/glioma/a_mirror.jpg", A[:, ::-1])
    _save(root / "Testing/glioma/a_rot180.jpg", A[::-1, ::-1])
    _save(root / "Training/glioma/a_rot90.jpg", np.rot90(A))
    _save(root / "Training/glioma/a_contrast.jpg", np.clip(A * 0.6 + 60, 0, 255))
    # the same picture B under two labels
    B = _arr(2)
    _save(root / "Training/meningioma/b.jpg", B)
    _save(root / "Training/pituitary/b_flip.jpg", B[::-1, :])
    # distinct pictures
    for k, (split, cls) in enumerate([("Training", "notumor"), ("Testing", "notumor"), ("Testing", "meningioma"),
                                      ("Testing", "pituitary"), ("Training", "glioma")]):
        _save(root / f"{split}/{cls}/distinct_{k}.jpg", _arr(50 + k))
    return root


def test_finds_twins_and_not_distinct_images(leaky):
    m = data.build_manifest(leaky, progress=False)
    g = audit.group_ids(m, leaky, progress=False)
    a_group = {g[p] for p in ["Training/glioma/a.jpg", "Testing/glioma/a_copy.jpg", "Training/glioma/a_mirror.jpg",
                              "Testing/glioma/a_rot180.jpg", "Training/glioma/a_rot90.jpg",
                              "Training/glioma/a_contrast.jpg"]}
    assert len(a_group) == 1
    distinct = [p for p in g.index if "distinct" in p]
    assert len({g[p] for p in distinct}) == len(distinct)
    assert not a_group & {g[p] for p in distinct}
    assert g["Training/meningioma/b.jpg"] == g["Training/pituitary/b_flip.jpg"]
    # the strict criterion (margin 0) groups the same way on clear-cut twins
    assert audit.group_ids(m, leaky, margin=0.0, progress=False).nunique() == g.nunique()


def test_audit_summary(leaky):
    a = audit.audit(leaky, progress=False)
    json.dumps(a)  # JSON-serialisable
    assert a["n_images"] == 13 and a["n_groups"] == 7
    assert a["exact"]["test_in_train"] == 1 and a["exact"]["n_duplicate_files"] == 1
    assert a["near"]["test_with_train_twin"] == 2  # a_copy and a_rot180
    rel = a["near"]["by_relation"]
    for name in ("identical", "mirror_lr", "rot180", "contrast", "flip_ud"):
        assert rel.get(name, 0) >= 1, (name, rel)
    assert any(r in rel for r in ("rot90", "rot270"))
    assert a["label_conflicts"] == [["Training/meningioma/b.jpg", "Training/pituitary/b_flip.jpg"]]
    assert a["formats"] == {"JPEG": 13}
    assert a["per_split"]["test"]["glioma"] == 2
    assert a["size_shortcut"]["glioma"]["frac_512x512"] == 0.0
    assert {"a", "b", "relation", "cosine"} <= set(a["pairs"][0])


def test_max_cross_similarity_is_transform_invariant():
    A = _arr(3).astype(np.float32)
    others = np.stack([_arr(60 + k).astype(np.float32) for k in range(3)])
    for t in (np.fliplr, np.flipud, np.rot90, lambda x: np.rot90(x, 3), np.transpose, lambda x: 2 * x + 5):
        s = audit.max_cross_similarity(A[None], np.concatenate([others, t(A)[None]]))
        assert s[0] > 0.999
    assert audit.max_cross_similarity(A[None], others)[0] < 0.9


def test_unreadable_file_kept_and_grouped_alone(leaky):
    (leaky / "Training/notumor/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    a = audit.audit(leaky, progress=False)
    assert a["n_images"] == 14 and a["n_readable"] == 13
    assert "Training/notumor/broken.jpg" in a["errors"]


def test_cli_audit_json(leaky, capsys, tmp_path):
    out = tmp_path / "a.json"
    rc = audit.cli_audit(types.SimpleNamespace(data_dir=str(leaky), json=True, out=str(out)))
    assert rc == 0
    captured = capsys.readouterr()
    a = json.loads(captured.out)  # exactly one JSON object on stdout
    assert a["n_images"] == 13 and json.loads(out.read_text()) == a
    rc = audit.cli_audit(types.SimpleNamespace(data_dir=str(leaky), json=False, out=None))
    assert rc == 0 and "label conflicts: 1" in capsys.readouterr().out


def test_cli_audit_missing_dir(tmp_path, capsys):
    rc = audit.cli_audit(types.SimpleNamespace(data_dir=str(tmp_path / "nope"), json=True, out=None))
    err = capsys.readouterr().err
    assert rc == 1 and "make data" in err and "Traceback" not in err


def test_thumbnails_cached_outside_repo(leaky, isolated_cache):
    m = data.build_manifest(leaky, progress=False)
    t1 = audit.thumbnails(m, leaky, progress=False)
    assert t1.shape == (len(m), audit.THUMB, audit.THUMB)
    assert list(isolated_cache.glob("thumbs-*.npy"))
    assert np.array_equal(audit.thumbnails(m, leaky, progress=False), t1)


# --------------------------------------------------------------------------------------------- real data
realdata = pytest.mark.skipif(not os.environ.get("BRAIN_MRI_DATA"), reason="needs $BRAIN_MRI_DATA")


@pytest.mark.realdata
@realdata
def test_real_audit_numbers(monkeypatch):
    monkeypatch.undo()  # use the project's cache (thumbnails of 7,023 files take ~20 s to rebuild)
    a = audit.audit(data.resolve_data_dir(), progress=False)
    assert a["n_images"] == 7023
    assert a["exact"]["test_in_train"] == 103
    assert 950 <= a["near"]["test_with_train_twin"] <= 1150
    assert a["n_label_conflicts"] >= 4
    assert a["formats"].get("PNG", 0) == 5
    assert "Training/notumor/Tr-no_1005.jpg" in a["misnamed_files"]
    assert a["n_distinct_sizes"] == 387
    assert a["size_shortcut"]["glioma"]["frac_512x512"] > 0.9 > a["size_shortcut"]["notumor"]["frac_512x512"]
