"""Batch 42: the plane in the call (modeling.operating_point's plane functions, evaluation.plane_call)."""

import numpy as np
import pytest

from helpers.evaluation import plane_call as pc


def test_plane_thresholds_follow_each_planes_own_scores_and_fall_back_when_thin():
    rng = np.random.default_rng(0)
    n = 400
    planes = np.array(["axial"] * n + ["sagittal"] * n + ["coronal"] * 10)
    tumour = rng.random(len(planes)) < 0.5
    # sagittal slices carry a prior: every P(tumour) there is pushed up
    p = np.clip(np.where(tumour, 0.6, 0.3) + rng.normal(0, 0.05, len(planes)) + (planes == "sagittal") * 0.3, 0, 1)
    th = pc.plane_thresholds(p, tumour, planes, t_all=0.5)
    assert 0.3 < th["axial"] < 0.6 and 0.6 < th["sagittal"] < 0.9
    assert th["coronal"] == 0.5  # 10 rows: fewer than PLANE_MIN of each label
    assert pc.balanced_accuracy(p[planes == "sagittal"], tumour[planes == "sagittal"], th["sagittal"]) > 0.95


def test_plane_shifts_take_the_prior_out():
    tumour = np.array([1] * 80 + [0] * 20 + [1] * 20 + [0] * 80, bool)
    planes = np.array(["sagittal"] * 100 + ["axial"] * 100)
    s = pc.plane_shifts(tumour, planes)
    assert s["sagittal"] == pytest.approx(-np.log(4)) and s["axial"] == pytest.approx(np.log(4))
    p = pc.shift_p(np.array([0.8, 0.2]), ["sagittal", "axial"], s)
    assert p == pytest.approx([0.5, 0.5])
    assert pc.shift_p(np.array([0.7]), ["oblique"], s) == pytest.approx([0.7])  # no shift for an unknown plane


def test_batch42_results_are_what_the_saved_planes_give(same_results):
    saved = pc.results()
    if saved is None:
        pytest.skip("batch 42 is not measured yet (no results.json)")
    again = pc.compute()
    same_results(saved, again, ("rows", "verdicts", "choice", "decision", "fits", "tagger", "after_known_planes"))
