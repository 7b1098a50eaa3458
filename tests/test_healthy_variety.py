"""Issue 21: healthy-extra as a collection, union split v2 (subjects, adjacent slices), brain-only views, the
look-balanced augmentation, the equal-weight operating point and batch 10's rule."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import config
from helpers.data import brain_only, union_split
from helpers.data import collections as cx
from helpers.data.synthetic import make_phantom
from helpers.evaluation import healthy_variety as hv
from helpers.modeling import operating_point as op
from helpers.modeling import train_union


def _write(path, a):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def _slice(seed, size=64, skull=True):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    a = np.where(r < size * 0.33, 90 + rng.integers(0, 60, (size, size)), 0)
    if skull:
        a = np.where((r > size * 0.36) & (r < size * 0.42), 230, a)
    return a.astype(np.uint8)


# ------------------------------------------------------------------ the collection
def test_manifest_collection_reads_index_keeps_subjects_and_drops_a_path_listed_twice(tmp_path):
    root = tmp_path / "healthy-extra"
    rows = []
    for k, (src, subj) in enumerate([("ixi-t2", "IXI002"), ("ixi-t2", "IXI002"), ("open-ms", "p1"), ("dwi", "")]):
        p = f"{src}/{subj or 'x'}/s{k}.jpg"
        _write(root / p, _slice(k))
        rows.append({"path": p, "source": src, "subject": subj, "plane": "axial", "sequence": "T2",
                     "skull": "no" if src == "open-ms" else "yes", "repo": "o/r", "commit": "0" * 40, "origin": p})
    rows.append({**rows[2], "sequence": "FLAIR"})  # the same path again: the last row describes the file
    rows.append({**rows[0], "path": "ixi-t2/IXI002/missing.jpg"})  # listed, not on disk: left out
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    t = cx.list_collection("healthy-extra", root)
    assert len(t) == 4 and not t["path"].duplicated().any()
    assert set(t["label"]) == {"notumor"}
    assert t.set_index("path").loc["open-ms/p1/s2.jpg", "sequence"] == "FLAIR"
    # every slice of one subject is one group; the slice without a subject stands alone
    t["manifest_source"] = t["manifest_source"].astype(str)
    i, j = cx.subject_edges(t)
    assert {(int(a), int(b)) for a, b in zip(i, j) if a != b} == {(0, 1)}
    src, _ = cx.infer_source(t.assign(mode="L"), np.arange(len(t)))
    assert dict(zip(t["path"], src)) == {"ixi-t2/IXI002/s0.jpg": "ixi-t2", "ixi-t2/IXI002/s1.jpg": "ixi-t2",
                                         "open-ms/p1/s2.jpg": "open-ms", "dwi/x/s3.jpg": "dwi"}


def test_missing_healthy_extra_says_how_to_fetch_it():
    msg = cx.missing_message("healthy-extra")
    assert "GitHub" in msg and "HEALTHY_EXTRA_DATA" in msg and "kagglehub" not in msg


def test_folds_hold_out_several_sources_by_exact_name():
    df = pd.DataFrame({"collection": ["healthy-extra", "healthy-extra", "br35h", "brain-tumor-mri"],
                       "label": ["notumor", "notumor", "tumour", "glioma"], "split": ["train"] * 4,
                       "sources": ["open-ms", "ixi-t2", "br35h", "figshare+sartaj"]})
    tr, _, te = union_split.fold_rows(df, "br35h+ixi-t2")
    assert list(te.index) == [1, 2] and list(tr.index) == [0, 3]
    _, _, te = union_split.fold_rows(df, "sartaj")
    assert list(te.index) == [3]
    with pytest.raises(ValueError, match="unknown fold source"):
        union_split.fold_rows(df, "open")  # no substring matches


def test_manifest_groups_are_split_per_source_with_a_subject_in_val_and_test():
    n = 3
    df = pd.DataFrame({"collection": "healthy-extra", "path": [f"ixi-t2/s{k}.jpg" for k in range(n)],
                       "label": "notumor", "manifest_source": "ixi-t2"})
    split, moved = union_split.union_split(df, np.arange(n), pd.DataFrame({"path": [], "split": []}))
    assert sorted(split) == ["test", "train", "val"] and moved == 0


# ------------------------------------------------------------------ brain-only views and augmentation
def test_brain_only_removes_the_skull_and_fills_the_frame():
    x = _slice(0, 128)
    bo = brain_only.brain_only(x, erode_px=8)
    assert bo.shape == x.shape and bo.dtype == np.uint8
    assert (bo >= 200).mean() < 0.2 * (x >= 200).mean()  # the bright skull ring is gone
    ys, xs = np.nonzero(bo)
    assert ys.max() - ys.min() > 0.9 * 128  # zoomed to the brain's box
    # a blank slice comes back unchanged rather than as an error
    assert (brain_only.brain_only(np.zeros((32, 32), np.uint8)) == 0).all()


def test_inversion_keeps_the_background_black():
    x = _slice(1, 64)
    m = brain_only.head_mask(x)
    inv = brain_only.invert_inside(x, m)
    assert (inv[~m] == 0).all() and (inv[m] == 255 - x[m]).all()


def test_brain_only_probabilities_balance_the_look_across_labels():
    tr = pd.DataFrame({"label": ["glioma"] * 10 + ["notumor"] * 10,
                       "skull": [""] * 10 + ["no"] * 2 + ["yes"] * 8})
    p = train_union.brain_only_probabilities(tr, 0.3)
    tum = p[:10].mean()
    healthy_look = (2 + p[12:].sum()) / 10  # natively stripped + augmented
    assert tum == pytest.approx(0.3) and healthy_look == pytest.approx(0.3)
    assert (p[10:12] == 0).all()  # already brain-only: nothing to add


@pytest.mark.parametrize("recipe", ["he_bo_inv", "he_bo_gin", "he_bo_mix"])
def test_fit_with_looks_runs_one_step(recipe):
    cfg = train_union.config_for(recipe, None, epochs=1, batch_size=8, width=4)
    cfg["img_size"] = 32
    X = np.stack([make_phantom(config.CLASSES[k % 4], k, 32)[0] for k in range(16)]).astype(np.uint8)
    lab = ["glioma", "notumor", "tumour", "meningioma"] * 4
    from helpers.modeling import partial_labels as pl

    bo = brain_only.brain_only_many(X, seed=0)
    looks = (bo, brain_only.head_masks(X), brain_only.head_masks(bo), np.full(16, 0.5, np.float32))
    model, hist, _, _ = train_union.fit(cfg, X, pl.label_masks(lab), np.ones(16, np.float32), X[:4],
                                        pl.label_masks(lab[:4]), verbose=0, looks=looks)
    assert np.isfinite(hist["loss"]).all()


def test_mixup_blends_slices_labels_and_weights():
    import tensorflow as tf

    from helpers.modeling import augmentation

    x = tf.constant(np.stack([np.full((4, 4), v, np.float32) for v in (0.0, 100.0, 200.0, 50.0)]))
    m = tf.constant(np.eye(4, dtype=np.float32))
    w = tf.constant([1.0, 2.0, 3.0, 4.0])
    tf.random.set_seed(0)
    x2, m2, w2 = (np.asarray(t) for t in augmentation.mixup(x, m, w, p=1.0))
    lam = m2[:, 8]
    assert m2.shape == (4, 9) and (lam >= 0.5).all() and (lam <= 1).all()
    assert np.allclose(m2[:, :4], np.eye(4))  # each slice keeps its own labels first
    other = m2[:, 4:8].argmax(1)  # the partner each slice was blended with
    vals, ws = np.array([0.0, 100.0, 200.0, 50.0]), np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(x2[:, 0, 0], lam * vals + (1 - lam) * vals[other], rtol=1e-5)
    np.testing.assert_allclose(w2, lam * ws + (1 - lam) * ws[other], rtol=1e-5)
    x0, m0, _ = (np.asarray(t) for t in augmentation.mixup(x, m, w, p=0.0))
    assert (m0[:, 8] == 1).all() and np.allclose(x0, np.asarray(x))  # no blend drawn: the slice as it was


# ------------------------------------------------------------------ the operating point
def test_equal_weight_threshold_is_not_ruled_by_the_largest_collection():
    rng = np.random.default_rng(0)
    # a big collection where 0.5 separates, and a small one whose tumours score only 0.2-0.4
    p = np.concatenate([rng.uniform(0.6, 1, 500), rng.uniform(0, 0.1, 500), rng.uniform(0.2, 0.4, 50),
                        rng.uniform(0, 0.1, 50)])
    y = np.r_[np.ones(500), np.zeros(500), np.ones(50), np.zeros(50)].astype(bool)
    c = ["big"] * 1000 + ["small"] * 100
    t = op.choose_threshold(p, y, c)
    assert 0.1 <= t <= 0.2
    tab = op.per_collection(p, y, c, t).set_index("collection")
    assert tab.loc["small", "sensitivity"] == 1 and tab.loc["big", "specificity"] == 1


def test_weighted_temperature_and_ece():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(400, 4)) * 3
    y = np.array([rng.choice(4, p=np.exp(r) / np.exp(r).sum()) for r in z])
    masks = np.eye(4, dtype=np.float32)[y]
    T = op.fit_temperature(z * 2, masks, ["a"] * 400)  # logits twice too sharp -> T near 2
    assert 1.6 < T < 2.5
    assert op.ece(np.array([0.9] * 10), np.array([1] * 9 + [0])) == pytest.approx(0.0)
    assert op.ece(np.array([1.0, 1.0]), np.array([0, 0])) == pytest.approx(1.0)


# ------------------------------------------------------------------ batch 10's rule and warning
def _loco(rows):
    return pd.DataFrame([{"recipe": r, "seed": s, "score": v} for r, s, v in rows for _ in range(16)])


def test_rule_keeps_a_recipe_only_at_two_points():
    ch, note = hv.decide(hv.primary_scores(_loco([("he_sym", 42, 0.80), ("he_bo_inv", 42, 0.815)])))
    assert ch == "he_sym" and "not kept" in note
    ch, _ = hv.decide(hv.primary_scores(_loco([("he_sym", 42, 0.80), ("he_bo_inv", 42, 0.83)])))
    assert ch == "he_bo_inv"
    assert hv.decide(hv.primary_scores(_loco([("he_bo_inv", 42, 0.9)])))[0] is None


def test_rule_compares_complete_seeds_only():
    loco = pd.concat([_loco([("he_sym", 42, 0.80), ("he_bo_inv", 42, 0.83), ("he_sym", 7, 0.70)]),
                      _loco([("he_bo_inv", 7, 0.10)]).iloc[:5]])  # seed 7 of he_bo_inv: 5 of 16 numbers
    s = hv.primary_scores(loco).set_index("recipe")
    assert s.loc["he_bo_inv", "seeds"] == [42] and s.loc["he_sym", "seeds"] == [7, 42]
    ch, note = hv.decide(s.reset_index())
    assert ch == "he_bo_inv" and "seed 42" in note  # compared on seed 42, the one complete for both


def test_source_rows_score_each_held_out_source_at_the_runs_threshold():
    pred = pd.DataFrame({"source": ["br35h"] * 4 + ["ixi-t2"] * 2 + ["figshare"],
                         "label": ["tumour", "tumour", "notumor", "notumor", "notumor", "notumor", "glioma"],
                         "p_tumour": [0.9, 0.2, 0.1, 0.35, 0.1, 0.5, 0.9],
                         "p_tumour_brain_only": [0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9]})
    rec = {"pred": pred, "config": {"recipe": "he_sym", "seed": 42, "fold": "br35h+ixi-t2"},
           "operating_point": {"threshold": 0.3}}
    t = hv.source_rows(rec).set_index(["source", "view"])
    assert t.loc[("br35h", "plain"), "sensitivity"] == 0.5 and t.loc[("br35h", "plain"), "specificity"] == 0.5
    assert t.loc[("ixi-t2", "plain"), "specificity"] == 0.5 and t.loc[("ixi-t2", "brain-only"), "score"] == 1
    assert ("figshare", "plain") not in t.index  # not held out in this run


def test_warning_choice_respects_the_familiar_firing_cap():
    rows = pd.DataFrame([
        {"seed": 42, "quantile": 0.90, "margin": 0.0, "missed": 10, "missed_flagged": 9, "errors": 10, "errors_flagged": 9},
        {"seed": 42, "quantile": 0.95, "margin": 0.5, "missed": 10, "missed_flagged": 6, "errors": 10, "errors_flagged": 6},
        {"seed": 42, "quantile": 0.99, "margin": 0.5, "missed": 10, "missed_flagged": 6, "errors": 10, "errors_flagged": 6},
        {"seed": 7, "quantile": 0.99, "margin": 0.5, "missed": 8, "missed_flagged": 4, "errors": 8, "errors_flagged": 4}])
    w = hv.choose_warning(rows, {"0.90|0.0": 0.10, "0.95|0.5": 0.05, "0.99|0.5": 0.03}, {"0.99|0.5": 0.04})
    # 0.90 flags most but fires on 10% of familiar slices; the tie goes to the higher quantile
    assert (w["quantile"], w["margin"]) == (0.99, 0.5) and w["test_share"] == 0.5 and w["familiar_firing"] == 0.04
    assert hv.choose_warning(rows, {"0.90|0.0": 0.2}) is None


def test_flag_is_distance_or_closeness_to_the_threshold():
    p = np.array([0.5, 0.55, 0.9, 0.1])
    f = hv.flagged(p, np.array([0.5, 0.5, 2.0, 0.5]), 0.5, 1.0, 0.5)
    assert f.tolist() == [True, True, True, False]


def test_uncertain_band_around_the_call_threshold():
    from helpers.app.upload import uncertain_band

    lo, hi = uncertain_band(0.9, 0.37, 0.5)
    z = np.log(0.37 / 0.63)
    assert lo == pytest.approx(1 / (1 + np.exp(-(z - 0.5)))) and hi == pytest.approx(1 / (1 + np.exp(-(z + 0.5))))
    assert uncertain_band(0.9) == pytest.approx((0.1, 0.9))  # without a margin: the abstain band, as before


@pytest.mark.realdata
def test_union_split_v2_links_subjects_and_adjacent_slices():
    found = cx.available()
    if "healthy-extra" not in found or "brain-tumor-mri" not in found:
        pytest.skip("needs $BRAIN_MRI_DATA and healthy-extra/ beside it")
    u = union_split.build(found)
    t = u.table
    assert t.groupby("group")["split"].nunique().max() == 1
    assert len(union_split.adjacent_leaks(u)) == 0
    he = t[t["collection"] == "healthy-extra"]
    assert he.groupby(["source", "subject"])["group"].nunique().max() == 1 or (he["subject"] == "").any()
    for s in union_split.HEALTHY_EXTRA_SOURCES:  # every source is in test and in train
        assert {"test", "train"} <= set(he.loc[he["source"] == s, "split"])


def test_threshold_rules_best_half_and_plateau():
    """batch29/PLAN.md: 'best' is the argmax (ties nearest 0.5), 'half' always 0.5, 'plateau' the median of the
    thresholds within a point of the best; an unknown rule is refused."""
    p = np.r_[np.linspace(0.6, 0.99, 100), np.linspace(0.01, 0.3, 100)]  # separable: every t in (0.3, 0.6) is best
    y = np.r_[np.ones(100), np.zeros(100)].astype(bool)
    c = ["a"] * 200
    assert op.choose_threshold(p, y, c, "best") == 0.5
    assert op.choose_threshold(p, y, c, "half") == 0.5
    assert 0.44 <= op.choose_threshold(p, y, c, "plateau") <= 0.47  # centre of 0.31-0.60
    skew = np.r_[np.linspace(0.95, 0.99, 100), np.linspace(0.01, 0.9, 100)]  # best only above 0.9
    assert op.choose_threshold(skew, y, c, "best") >= 0.9
    assert op.choose_threshold(skew, y, c, "half") == 0.5
    assert op.choose_threshold(skew, y, c) == op.choose_threshold(skew, y, c, op.THRESHOLD_RULE)
    with pytest.raises(ValueError, match="unknown threshold rule"):
        op.choose_threshold(p, y, c, "median")


def test_batch29_a_rule_needs_half_a_point_and_five_of_seven():
    from helpers.evaluation import threshold_study as ts

    sets = [f"s{i}" for i in range(7)]
    best = dict.fromkeys(sets, 0.85)
    up = {s: 0.86 for s in sets}
    win, rows, note = ts.decide({"best": best, "half": up, "plateau": best})
    assert win == "half" and rows[0]["qualifies"] and not rows[1]["qualifies"] and "adopted" in note
    few = {**best, "s0": 0.90, "s1": 0.90, "s2": 0.90, "s3": 0.90}  # +2.3 points on the mean, above on 4 of 7
    assert ts.decide({"best": best, "half": few, "plateau": best})[0] == "best"
    # both qualify: the higher, but 'half' when within 0.3 point
    assert ts.decide({"best": best, "half": up, "plateau": {s: 0.862 for s in sets}})[0] == "half"
    assert ts.decide({"best": best, "half": up, "plateau": {s: 0.87 for s in sets}})[0] == "plateau"
