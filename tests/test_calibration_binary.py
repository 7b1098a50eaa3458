"""Binary recalibration of P(tumour) (experiments/batch31_calibration/PLAN.md) and batch 31's rule."""
import numpy as np
import pytest

from helpers.evaluation import calibration_study as cs
from helpers.modeling import operating_point as op

def _rows(n=4000, seed=0, shift=1.5):
    """Two collections whose P(tumour) is too sure in one and shifted in the other."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.5
    c = np.where(np.arange(n) < n // 2, "a", "b")
    z = np.where(y, 1.0, -1.0) * 3.0 + rng.normal(0, 2.0, n) + np.where(c == "b", shift, 0.0)
    return 1 / (1 + np.exp(-z)), y, c


def test_binary_map_is_monotone_and_keeps_every_call_at_the_mapped_threshold():
    p, y, c = _rows()
    for kind in cs.BINARY_KINDS:
        cal = cs.fit_binary(p, y, c, kind, threshold=0.78)
        q = cs.binary_map(p, cal)
        assert np.all(np.diff(q[np.argsort(p)]) >= -1e-12)
        assert ((p >= 0.78) != (q >= cal["threshold"])).sum() == 0
    assert cs.fit_binary(p, y, c, "anchored", threshold=0.78)["threshold"] == 0.5
    assert cs.binary_map(0.78, cs.fit_binary(p, y, c, "anchored", threshold=0.78)) == pytest.approx(0.5)


def test_fitted_maps_lower_the_calibration_error_of_overconfident_probabilities():
    p, y, c = _rows(shift=0.0)  # calibrated, then
    sharp = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))  # the same ranking, three times too sure
    for kind in cs.BINARY_KINDS:
        cal = cs.fit_binary(sharp, y, c, kind, threshold=0.5)
        assert cal["slope"] < 0.6
        assert op.ece(cs.binary_map(sharp, cal), y) < op.ece(sharp, y) / 2
    with pytest.raises(ValueError, match="unknown binary calibration"):
        cs.fit_binary(p, y, c, "isotonic", 0.5)


def _per(base, plat, anch, n=7):
    sets = [f"r@{k}" for k in range(n)]
    return {"temperature": dict(zip(sets, base)), "platt": dict(zip(sets, plat)), "anchored": dict(zip(sets, anch))}


def test_batch31_a_map_needs_a_point_five_of_seven_and_no_worse_union_test():
    base = [0.10] * 7
    union = {"temperature": 0.06, "platt": 0.05, "anchored": 0.05}
    kind, _, _ = cs.decide(_per(base, [0.085] * 7, [0.095] * 7), union)
    assert kind == "platt"  # anchored is only half a point below
    kind, _, note = cs.decide(_per(base, [0.085] * 4 + [0.2, 0.11, 0.11], [0.095] * 7), union)
    assert kind == "temperature" and "None qualifies" in note  # platt below on 4 of 7 only
    kind, _, _ = cs.decide(_per(base, [0.085] * 7, [0.088] * 7), union)
    assert kind == "anchored"  # both qualify, platt less than half a point better
    kind, _, _ = cs.decide(_per(base, [0.080] * 7, [0.088] * 7), union)
    assert kind == "platt"  # 0.8 point better than anchored
    kind, _, _ = cs.decide(_per(base, [0.080] * 7, [0.088] * 7), {**union, "platt": 0.07, "anchored": 0.07})
    assert kind == "temperature"  # worse on the union test
