"""Batch 25: member disagreement and the choice rule on made-up counts."""

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation import disagreement as dg


def test_disagreement_is_the_distance_between_the_members_calls_in_logits():
    p1, p2 = np.array([0.5, 0.9, 0.1, 1.0]), np.array([0.5, 0.1, 0.1, 0.0])
    d = dg.disagreement(p1, p2)
    assert d[0] == 0 and d[2] == 0
    assert d[1] == pytest.approx(2 * np.log(9))
    assert np.isfinite(d[3]) and d[3] > 20  # saturated calls stay finite
    np.testing.assert_allclose(d, dg.disagreement(p2, p1))


def _rows(spec):
    """spec: {(seed, kind, quantile): (missed, missed_flagged, familiar_n, familiar_flagged)}"""
    return pd.DataFrame([{"seed": s, "fold": "f", "kind": k, "quantile": q, "missed": m, "missed_flagged": mf,
                          "familiar_n": n, "familiar_flagged": ff} for (s, k, q), (m, mf, n, ff) in spec.items()])


def test_choice_under_the_cap_on_replicate_a_tested_on_b():
    rows = _rows({(42, "dist", None): (100, 20, 1000, 30), (1, "dist", None): (100, 18, 1000, 30),
                  (42, "dis", 0.98): (100, 45, 1000, 35), (1, "dis", 0.98): (100, 40, 1000, 45),
                  (42, "dis", 0.95): (100, 60, 1000, 60), (1, "dis", 0.95): (100, 55, 1000, 60),  # over the cap
                  (42, "dist|dis", 0.99): (100, 45, 1000, 40), (1, "dist|dis", 0.99): (100, 50, 1000, 40)})
    c = dg.choose(rows)
    assert c["choice"] == {"kind": "dis", "quantile": 0.98, "share": 0.45, "firing": 0.035}  # tie: dis before dist|dis
    assert c["test"]["share"] == pytest.approx(0.40) and c["dist_test"]["share"] == pytest.approx(0.18)
    assert c["worth_shipping"]  # +22 points at 4.5% firing
    rows.loc[(rows["seed"] == 1) & (rows["kind"] == "dis") & (rows["quantile"] == 0.98), "familiar_flagged"] = 60
    assert not dg.choose(rows)["worth_shipping"]  # 6% firing on replicate B
    only_dist = rows[rows["kind"] == "dist"]
    c = dg.choose(only_dist)
    assert c["choice"]["kind"] == "dist" and c["choice"]["quantile"] is None and not c["worth_shipping"]
    assert dg.choose(_rows({(42, "dis", 0.95): (10, 5, 100, 50)}))["choice"] is None  # nothing under the cap
