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


def test_the_kept_pictures_pass_the_pixel_checks_and_are_reproducible():
    from helpers.app.input_checks import check_messages, image_features

    X, fam = pc.synthetic_set(64, per_family=2, families=["uniform noise", "stripes"])
    assert X.shape == (4, 64, 64) and list(fam) == ["uniform noise"] * 2 + ["stripes"] * 2
    again, _ = pc.synthetic_set(64, per_family=2, families=["uniform noise", "stripes"])
    np.testing.assert_array_equal(X, again)
    X128, _ = pc.synthetic_set(128, per_family=2, families=["stripes"])
    for x in X128:
        assert not any(m.startswith("unlike the training") for m in check_messages(image_features(None, x, x), 512, 512))


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
