"""Batch 26's synthetic-pattern check: the families, the fit and its threshold, on made-up features."""
import numpy as np
import pytest

from helpers.modeling import pattern_check as pc


@pytest.mark.parametrize("family", list(pc.FAMILIES))
def test_each_family_is_a_pattern_inside_an_ellipse_on_black(family):
    g = pc.draw(family, np.random.default_rng(0))
    assert g.shape == (pc.SIDE, pc.SIDE) and g.dtype == np.uint8
    corners = np.r_[g[:20, :20].ravel(), g[-20:, -20:].ravel()]
    assert (corners == 0).all() and g.max() > 0


def test_the_kept_pictures_are_what_keep_accepts_and_are_reproducible():
    import importlib.util

    from helpers import config

    spec = importlib.util.spec_from_file_location("run26", config.EXPERIMENTS_DIR / "batch26_pattern_check" / "run.py")
    run26 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run26)  # batch 26's predicate: the app's pixel checks let the picture through
    X, fam = pc.synthetic_set(64, run26.passes_pixel_checks, per_family=2, families=["uniform noise", "stripes"])
    assert X.shape == (4, 64, 64) and list(fam) == ["uniform noise"] * 2 + ["stripes"] * 2
    again, _ = pc.synthetic_set(64, run26.passes_pixel_checks, per_family=2, families=["uniform noise", "stripes"])
    np.testing.assert_array_equal(X, again)
    seen = []
    pc.synthetic_set(64, lambda g: seen.append(g) or len(seen) % 2 == 0, per_family=3, families=["gradient"])
    assert len(seen) == 6  # every other draw refused: six draws for three pictures
    flat = np.zeros((512, 512), np.uint8) + 128  # no black surround: the pixel checks refuse it
    assert not run26.passes_pixel_checks(flat) and run26.passes_pixel_checks(pc.draw("stripes", np.random.default_rng(0)))


def test_threshold_lies_beyond_every_real_validation_row_and_rejects_the_far_patterns():
    rng = np.random.default_rng(0)
    real, val = rng.normal(0, 1, (400, 8)), rng.normal(0, 1, (200, 8))
    syn = rng.normal(0, 1, (300, 8)) + np.r_[4.0, np.zeros(7)]
    rule = pc.fit(real, syn, val)
    assert rule["threshold"] == pytest.approx(pc.score(rule, val).max() + pc.MARGIN)
    assert not pc.rejects(rule, val).any()
    far = rng.normal(0, 1, (100, 8)) + np.r_[8.0, np.zeros(7)]
    assert pc.rejects(rule, far).mean() > 0.9
    assert pc.rejects(rule, real).mean() < 0.01
