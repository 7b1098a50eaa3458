"""helpers.data.synthetic: determinism, lesion-location rules, dataset layout and idempotence."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from helpers import config
from helpers.data import synthetic as S

SEEDS = range(10)


def _head(img: np.ndarray):
    """Head mask plus centre and semi-axes (from its bounding box)."""
    hm = ndimage.binary_fill_holes(img > 0.3 * np.percentile(img, 99))
    lab, _ = ndimage.label(hm)
    hm = lab == (np.bincount(lab.ravel())[1:].argmax() + 1)
    ys, xs = np.nonzero(hm)
    return hm, (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2, (ys.max() - ys.min()) / 2, (xs.max() - xs.min()) / 2


def _lesion(label: str, seed: int):
    img, mask = S.make_phantom(label, seed)
    hm, cy, cx, ry, rx = _head(img)
    ys, xs = np.nonzero(mask)
    rn = np.hypot((ys - cy) / ry, (xs - cx) / rx)  # 1 = scalp surface
    centre = np.hypot((ys.mean() - cy) / ry, (xs.mean() - cx) / rx)
    return dict(img=img, mask=mask, head=hm, rn=rn, centre=centre,
                dx=(xs.mean() - cx) / rx, dy=(ys.mean() - cy) / ry, area=mask.sum() / hm.sum())


def test_deterministic_and_typed():
    a, ma = S.make_phantom("glioma", 5)
    b, mb = S.make_phantom("glioma", 5)
    assert a.dtype == np.uint8 and ma.dtype == bool and a.shape == ma.shape
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    c, _ = S.make_phantom("glioma", 6)
    assert a.shape != c.shape or not np.array_equal(a, c)
    assert S.make_phantom("pituitary", 5, size=128)[0].shape == (128, 128)
    with pytest.raises(ValueError):
        S.make_phantom("tumour", 1)


def test_size_independent_of_class():
    # same seed -> same canvas whatever the class; sizes vary across seeds (incl. non-square ones)
    shapes = {seed: {S.make_phantom(lbl, seed)[0].shape for lbl in config.CLASSES} for seed in range(10)}
    assert all(len(s) == 1 for s in shapes.values())
    flat = [next(iter(s)) for s in shapes.values()]
    assert len(set(flat)) > 5 and any(h != w for h, w in flat)
    assert all(160 <= min(s) and max(s) <= 640 for s in flat)


def test_same_seed_differs_only_in_lesion():
    base, _ = S.make_phantom("notumor", 9)
    for label in config.TUMOUR_CLASSES:
        img, mask = S.make_phantom(label, 9)
        diff = img.astype(int) - base
        grown = ndimage.binary_dilation(mask, iterations=max(3, int(0.25 * np.sqrt(mask.sum()))))
        assert np.abs(diff[~grown]).mean() < 1.0  # same head outside the lesion (+ oedema)
        assert np.abs(diff[mask]).mean() > 15  # and a visible lesion


@pytest.mark.parametrize("seed", SEEDS)
def test_lesion_rules(seed):
    for label in config.CLASSES:  # every mask lies inside the head; only notumor has none
        img, mask = S.make_phantom(label, seed)
        assert not (mask & ~_head(img)[0]).any()
        assert mask.any() == (label != config.NO_TUMOUR)
    g = _lesion("glioma", seed)  # intra-axial: away from the skull
    assert g["centre"] < 0.6 and g["rn"].max() < 0.8
    m = _lesion("meningioma", seed)  # extra-axial: against the inner table of the skull
    assert m["rn"].max() > 0.84 and m["centre"] > 0.65
    p = _lesion("pituitary", seed)  # small, midline, lower centre
    assert abs(p["dx"]) < 0.15 and 0.45 < p["dy"] < 0.75 and p["area"] < 0.02


def test_write_dataset_layout(phantom_dir):
    assert S.is_synthetic(phantom_dir) and not S.is_synthetic(phantom_dir / "Training")
    marker = (phantom_dir / S.MARKER).read_text()
    assert "synthetic demo data" in marker.lower()
    for split, prefix, n in (("Training", "Tr", 4), ("Testing", "Te", 2)):
        for label in config.CLASSES:
            files = sorted((phantom_dir / split / label).glob("*.jpg"))
            assert len(files) == n
            assert files[0].name.startswith(f"{prefix}-{S._PREFIX[label]}_")
            with Image.open(files[0]) as im:
                assert im.format == "JPEG" and im.mode == "L"
            rel = files[0].relative_to(phantom_dir).as_posix()
            mask = S.lesion_mask(phantom_dir, rel)
            assert mask is not None and mask.dtype == bool
            assert mask.shape == Image.open(files[0]).size[::-1]
            assert mask.any() == (label != config.NO_TUMOUR)
    # masks live apart, never as extra images in the class folders
    assert not list(phantom_dir.glob("T*/*/*.png"))
    assert S.lesion_mask(phantom_dir, "Training/glioma/nope.jpg") is None


def test_written_mask_matches_phantom(phantom_dir):
    seed = S._image_seed(123, 0, config.CLASSES.index("glioma"), 1)
    _, mask = S.make_phantom("glioma", seed)
    assert np.array_equal(S.lesion_mask(phantom_dir, "Training/glioma/Tr-gl_0001.jpg"), mask)


def test_ensure_synthetic_idempotent(tmp_path):
    root = tmp_path / "syn"
    assert S.ensure_synthetic(root, n_per_class=(1, 1), seed=1) == root
    f = root / "Training" / "glioma" / "Tr-gl_0000.jpg"
    stamp = f.stat().st_mtime_ns
    S.ensure_synthetic(root, n_per_class=(1, 1), seed=1)
    assert f.stat().st_mtime_ns == stamp  # untouched
    S.ensure_synthetic(root, n_per_class=(2, 1), seed=1)  # params changed -> rewritten
    assert len(list((root / "Training" / "glioma").glob("*.jpg"))) == 2
    assert '"n_per_class": [2, 1]' in (root / S.MARKER).read_text()
    f.unlink()  # damaged -> rewritten
    S.ensure_synthetic(root, n_per_class=(2, 1), seed=1)
    assert f.exists()


def test_tiny_images_prepare(tiny_images):
    from helpers.data.prepare import prepare

    for label, img in tiny_images.items():
        out = prepare(img, 64)
        assert out.shape == (64, 64) and out.dtype == np.uint8 and out.max() > 100
