"""Collections, the union split, partial labels, outlines and the pointing game, and the unfamiliar-scan rule."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import config
from helpers.data import collections as cx
from helpers.data import outlines, union_split
from helpers.data.prepare import prepare
from helpers.data.synthetic import make_phantom
from helpers.evaluation import cross_collection as xc
from helpers.evaluation import localisation as loc
from helpers.modeling import familiarity as fam
from helpers.modeling import lesion_synthesis, train_union
from helpers.modeling import partial_labels as pl


# ------------------------------------------------------------------ partial labels
def test_partial_label_loss_equals_cross_entropy_on_one_hot_rows():
    import keras

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(16, 4)).astype("float32")
    y = rng.integers(0, 4, 16)
    onehot = np.eye(4, dtype="float32")[y]
    for eps in (0.0, 0.1):
        ours = np.asarray(pl.partial_label_loss(eps)(onehot, logits))
        ref = np.asarray(keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=eps,
                                                              reduction=None)(onehot, logits))
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_partial_label_loss_on_tumour_rows_is_minus_log_p_tumour():
    logits = np.array([[2.0, 0.5, 1.0, -1.0], [-3.0, -3.0, 4.0, -3.0]], dtype="float32")
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    want = -np.log(1 - p[:, config.CLASSES.index("notumor")])
    got = np.asarray(pl.partial_label_loss(0.0)(pl.label_masks(["tumour", "tumour"]), logits))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # it never guesses a type: any split of the same P(tumour) between types costs the same
    shuffled = logits[:, [3, 1, 2, 0]]  # swap glioma and pituitary logits
    np.testing.assert_allclose(np.asarray(pl.partial_label_loss(0.0)(pl.label_masks(["tumour"] * 2), shuffled)), want,
                               rtol=1e-5)


def test_partial_label_loss_on_mixup_rows_blends_the_two_losses():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(6, 4)).astype("float32")
    a, b = pl.label_masks(["glioma", "tumour", "notumor"] * 2), pl.label_masks(["notumor", "pituitary", "tumour"] * 2)
    lam = np.linspace(0.5, 1.0, 6).astype("float32")
    for eps in (0.0, 0.1):
        f = pl.partial_label_loss(eps)
        got = np.asarray(f(np.concatenate([a, b, lam[:, None]], 1), logits))
        want = lam * np.asarray(f(a, logits)) + (1 - lam) * np.asarray(f(b, logits))
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_label_masks():
    m = pl.label_masks(["glioma", "notumor", "tumour"])
    assert m.tolist() == [[1, 0, 0, 0], [0, 0, 1, 0], [1, 1, 0, 1]]


# ------------------------------------------------------------------ layouts
def _jpeg(path, seed, size=64):
    rng = np.random.default_rng(seed)
    a = np.zeros((size, size), np.uint8)
    a[8:-8, 8:-8] = rng.integers(40, 255, (size - 16, size - 16))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


def test_layouts_binary_and_sartaj_names(tmp_path):
    _jpeg(tmp_path / "br" / "yes" / "y0.jpg", 0)
    _jpeg(tmp_path / "br" / "no" / "no0.jpg", 1)
    _jpeg(tmp_path / "sa" / "no_tumor" / "image(1).jpg", 2)
    _jpeg(tmp_path / "sa" / "glioma_tumor" / "image(2).jpg", 3)
    (tmp_path / "sa" / "README.txt").write_text("not an image")
    br = cx.list_collection("br35h", tmp_path / "br")
    assert dict(zip(br["path"], br["label"])) == {"yes/y0.jpg": "tumour", "no/no0.jpg": "notumor"}
    sa = cx.list_collection("sartaj-testing", tmp_path / "sa")
    assert dict(zip(sa["path"], sa["label"])) == {"no_tumor/image(1).jpg": "notumor",
                                                  "glioma_tumor/image(2).jpg": "glioma"}


def test_collection_root_missing_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("BR35H_DATA", str(tmp_path / "nowhere"))
    monkeypatch.delenv("BRAIN_MRI_DATA", raising=False)
    monkeypatch.setattr(config, "RAW_DIR", tmp_path / "raw")
    assert cx.collection_root("br35h") is None


# ------------------------------------------------------------------ union split
def test_union_split_keeps_old_test_and_never_splits_a_group():
    df = pd.DataFrame({
        "collection": ["brain-tumor-mri"] * 4 + ["br35h"] * 6,
        "path": ["T/a.jpg", "T/b.jpg", "T/c.jpg", "T/d.jpg"] + [f"yes/y{i}.jpg" for i in range(6)],
        "label": ["glioma", "glioma", "notumor", "notumor"] + ["tumour"] * 6,
    })
    groups = np.array([0, 1, 2, 2, 0, 1, 3, 4, 5, 6])  # y0 twins a (old test), y1 twins b (old train)
    old = pd.DataFrame({"path": ["T/a.jpg", "T/b.jpg", "T/c.jpg", "T/d.jpg"],
                        "split": ["test", "train", "val", "val"]})
    split, moved = union_split.union_split(df, groups, old)
    assert moved == 0
    assert split[0] == "test" and split[4] == "test"  # the old test image and its Br35H twin
    assert split[5] == "train"
    for g in np.unique(groups):
        assert len(set(split[groups == g])) == 1
    assert set(split) <= {"train", "val", "test"}


# ------------------------------------------------------------------ outlines and the pointing game
def test_outline_reader_and_mask(tmp_path):
    via = {"y0.jpg1": {"filename": "y0.jpg", "regions": [
        {"shape_attributes": {"name": "polygon", "all_points_x": [10, 30, 30, 10], "all_points_y": [10, 10, 30, 30]}},
        {"shape_attributes": {"name": "circle", "cx": 50, "cy": 50, "r": 5}},
        {"shape_attributes": {"name": "point", "cx": 1, "cy": 1}}]},
        "y1.jpg2": {"filename": "y1.jpg", "regions": {"0": {"shape_attributes": {
            "name": "ellipse", "cx": 20, "cy": 20, "rx": 8, "ry": 4, "theta": 0}}}}}
    p = tmp_path / "a.json"
    p.write_text(json.dumps(via))
    o = outlines.read_outlines(p)
    assert len(o["y0.jpg"]) == 2 and len(o["y1.jpg"]) == 1
    m = outlines.outline_mask(o["y0.jpg"], 64, 64)
    assert m[20, 20] and m[50, 50] and not m[40, 40] and not m[5, 5]
    e = outlines.outline_mask(o["y1.jpg"], 64, 64)
    assert e[20, 26] and not e[26, 20]  # wider than tall


def test_pointing_game_on_phantom_with_known_lesion():
    gray, lesion = make_phantom("glioma", seed=3)
    mask = outlines.prepared_mask(gray, lesion)
    prepared = prepare(gray)
    assert mask.any() and mask.sum() < 0.3 * mask.size
    # the carried mask sits on the lesion in the prepared image: it follows the head crop and the square pad
    grown = outlines.prepared_mask(gray, np.ones_like(lesion))
    assert grown.mean() > 0.5 and not (mask & ~grown).any()
    assert abs(float(prepared[mask].mean()) - float(gray[lesion].mean())) < 5  # the lesion's grey levels
    assert prepared[mask].mean() > prepared[~mask].mean() + 40
    heat_on = np.where(mask, 1.0, 0.05)
    heat_off = np.zeros_like(heat_on, dtype=float)
    heat_off[5, 5] = 1.0
    assert loc.pointing(heat_on, mask) == (True, pytest.approx(heat_on[mask].sum() / heat_on.sum()))
    assert loc.pointing(heat_off, mask)[0] is False
    assert loc.pointing(np.zeros_like(heat_on), mask) == (False, 0.0)


# ------------------------------------------------------------------ unfamiliar scans
def test_unfamiliar_rule_flags_far_points_and_few_familiar_ones():
    rng = np.random.default_rng(0)
    means = rng.normal(0, 3, (3, 8))
    y = rng.integers(0, 3, 3000)
    F = means[y] + rng.normal(size=(3000, 8))
    yv = rng.integers(0, 3, 1000)
    Fv = means[yv] + rng.normal(size=(1000, 8))
    rule = fam.fit(F, y, Fv, quantile=0.99)
    yt = rng.integers(0, 3, 2000)
    Ft = means[yt] + rng.normal(size=(2000, 8))
    assert fam.unfamiliar(rule, fam.score(rule, Ft)).mean() < 0.03
    far = rng.normal(0, 1, (200, 8)) + 15
    assert fam.unfamiliar(rule, fam.score(rule, far)).mean() > 0.95
    json.dumps(rule)  # saved as JSON, no pickle


# ------------------------------------------------------------------ the training path, on a few random images
@pytest.mark.training
def test_fit_with_variety_augmentation_jpeg_and_partial_labels_runs():
    cfg = train_union.config_for("multi_var_bal", epochs=1, width=8)
    cfg["jpeg_p"] = 0.5
    X = np.random.default_rng(0).integers(0, 255, (64, 128, 128), dtype=np.uint8)
    M = pl.label_masks(["tumour", "notumor", "glioma", "pituitary"] * 16)
    model, hist, _, _ = train_union.fit(cfg, X, M, np.ones(64, "float32"), X[:16], M[:16], verbose=0)
    assert np.isfinite(hist["loss"][0]) and model.get_layer("last_conv") is not None



def test_balance_weights_equal_tumour_and_healthy_mass():
    labels = ["glioma"] * 60 + ["tumour"] * 30 + ["notumor"] * 10
    cols = ["a"] * 60 + ["b"] * 30 + ["b"] * 10
    for mode in (None, "collection"):
        w = pl.balance_weights(labels, cols, mode)
        assert abs(w.mean() - 1) < 1e-6
        tum = np.array([lbl != "notumor" for lbl in labels])
        assert abs(w[tum].sum() - w[~tum].sum()) < 1e-3
    w = pl.balance_weights(labels, cols, "collection")
    assert w[60:90].sum() / w[:60].sum() == pytest.approx(np.sqrt(30) / np.sqrt(60), rel=1e-4)
    with pytest.raises(ValueError, match="unknown balance"):
        pl.balance_weights(labels, cols, "bogus")


def test_plane_balance_makes_each_plane_label_neutral_within_its_cap():
    # sagittal 30 tumour / 10 healthy, axial 20 / 40
    tum = np.array([True] * 30 + [False] * 10 + [True] * 20 + [False] * 40)
    planes = ["sagittal"] * 40 + ["axial"] * 60
    w = pl.plane_balance(np.ones(len(tum)), tum, planes, cap=4.0)
    assert abs(w.mean() - 1) < 1e-6 and abs(w[tum].sum() - w[~tum].sum()) < 1e-3
    sag, ax = np.arange(40), np.arange(40, 100)
    assert w[sag][tum[sag]].sum() == pytest.approx(w[sag][~tum[sag]].sum(), rel=1e-5)
    assert w[ax][tum[ax]].sum() == pytest.approx(w[ax][~tum[ax]].sum(), rel=1e-5)
    # a row without a plane keeps its weight before the halves are made equal again
    w1 = pl.plane_balance(np.ones(101), np.r_[tum, True], planes + [""], cap=4.0)
    assert abs(w1.mean() - 1) < 1e-6
    assert w1[100] / w1[0] == pytest.approx(1 / (40 / 60), rel=1e-5)  # a sagittal tumour row's factor was 40/60
    # a plane with one healthy slice among 40 tumours: its factor stops at the cap
    tum2 = np.array([True] * 40 + [False] + [True] * 10 + [False] * 10)
    w2 = pl.plane_balance(np.ones(len(tum2)), tum2, ["sagittal"] * 41 + ["axial"] * 20, cap=4.0)
    raw = pl.plane_balance(np.ones(len(tum2)), tum2, ["sagittal"] * 41 + ["axial"] * 20, cap=1e9)
    # against an axial healthy row (factor 1, same half): the sagittal one's factor, 20.5 uncapped, stops at 4
    assert raw[40] / raw[51] == pytest.approx(20.5, rel=1e-5) and w2[40] / w2[51] == pytest.approx(4.0, rel=1e-5)


def test_plane_tags_align_with_the_table_or_say_what_is_missing(tmp_path):
    from helpers.errors import DataError

    table = pd.DataFrame({"collection": ["br35h", "healthy-extra"], "path": ["no/a.jpg", "niivue/s.jpg"]},
                         index=[7, 3])
    f = tmp_path / "union_planes.csv"
    with pytest.raises(DataError, match="planes.py"):
        union_split.plane_tags(table, f)
    pd.DataFrame({"collection": ["healthy-extra", "br35h"], "path": ["niivue/s.jpg", "no/a.jpg"],
                  "plane": ["sagittal", "axial"], "how": ["index.csv", "tagger"]}).to_csv(f, index=False)
    assert union_split.plane_tags(table, f).to_dict() == {7: "axial", 3: "sagittal"}
    with pytest.raises(DataError, match="no plane for 1"):
        union_split.plane_tags(pd.concat([table, pd.DataFrame({"collection": ["br35h"], "path": ["x.jpg"]})]), f)


def test_the_committed_planes_cover_the_committed_union_split():
    union = pd.read_csv(union_split.UNION_SPLIT, keep_default_na=False)
    tags = union_split.plane_tags(union)
    assert set(tags) <= {"axial", "coronal", "sagittal"}
    he = union["collection"] == "healthy-extra"
    known = union["plane"].isin(["axial", "coronal", "sagittal"])
    assert (tags[he & known] == union.loc[he & known, "plane"]).all()  # index.csv's plane wins over the tagger


def test_partial_temperature_recovers_a_known_scale():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 4000)
    logits = rng.normal(size=(4000, 4))
    logits[np.arange(4000), y] += 2.0
    P = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=p) for p in P])  # labels drawn from softmax(logits): the right temperature is 1
    t = pl.fit_temperature(3 * logits, np.eye(4)[y])
    assert t == pytest.approx(3.0, rel=0.1)


def test_fold_rows_hold_out_every_group_with_the_source():
    df = pd.DataFrame({"collection": ["brain-tumor-mri", "br35h", "brain-tumor-mri", "sartaj-testing"],
                       "label": ["notumor", "notumor", "glioma", "glioma"],
                       "split": ["train", "train", "train", "val"],
                       "sources": ["br35h", "br35h", "figshare", "sartaj"]})
    tr, va, te = union_split.fold_rows(df, "br35h")
    assert list(te.index) == [0, 1] and list(tr.index) == [2] and list(va.index) == [3]
    tr, va, te = union_split.fold_rows(df, "br35h", ["brain-tumor-mri"])
    assert list(va.index) == []


def test_pseudo_healthy_and_pasted_lesions():
    img = np.zeros((64, 64), np.uint8)
    yy, xx = np.mgrid[:64, :64]
    img[((yy - 32) / 28) ** 2 + ((xx - 32) / 26) ** 2 < 1] = 100
    lesion = ((yy - 30) ** 2 + (xx - 16) ** 2) < 36
    sick = img.copy()
    sick[lesion] = 220
    healed = lesion_synthesis.pseudo_healthy(sick, lesion)
    assert healed is not None and healed[lesion].max() == 100  # the lesion's half is the other half's mirror
    crossing = ((yy - 30) ** 2 + (xx - 32) ** 2) < 36
    assert lesion_synthesis.pseudo_healthy(sick, crossing) is None
    rng = np.random.default_rng(0)
    pasted = None
    for _ in range(20):
        pasted = lesion_synthesis.paste_lesion(img, sick, lesion, rng)
        if pasted is not None:
            break
    assert pasted is not None and (pasted > 150).sum() > 10 and (pasted[img == 0] == 0).all()
    X, labels = lesion_synthesis.synthesise(sick[None], lesion[None], img[None], n_paste=3, seed=0)
    assert labels.count("notumor") == 1 and labels.count("tumour") == 3 and len(X) == 4


def test_binary_metrics_and_warning_counts():
    y = np.array([1, 1, 1, 0, 0, 0], bool)
    p = np.array([0.9, 0.8, 0.2, 0.1, 0.6, 0.3])
    m = xc.binary_metrics(y, p, np.arange(6), n_boot=50)
    assert m["sensitivity"] == pytest.approx(2 / 3) and m["specificity"] == pytest.approx(2 / 3)
    assert m["sensitivity_ci"][0] <= m["sensitivity"] <= m["sensitivity_ci"][1]
    only_tumour = xc.binary_metrics(y[:3], p[:3], np.arange(3), n_boot=20)
    assert only_tumour["specificity"] is None and only_tumour["auc"] is None
    pred = pd.DataFrame({"label": ["glioma", "tumour", "tumour", "notumor"], "p_tumour": [0.9, 0.2, 0.3, 0.1],
                         "unfamiliar": [0, 1, 0, 1]})
    assert xc.warning_counts(pred) == {"n_tumour": 3, "missed": 2, "missed_warned": 1, "missed_unwarned": 1,
                                       "warned": 0.5}


def test_selection_rule_keeps_an_ingredient_only_for_one_point():
    scores = pd.DataFrame({"primary": [0.52, 0.61, 0.595, 0.617], "secondary": [1.0, 0.75, 0.68, 0.71]},
                          index=["old", "multi", "multi_var", "multi_var_bal"])
    chosen, notes = xc.select(scores)
    assert chosen == "multi" and len(notes) == 3
    assert xc.select(scores, secondary=True)[0] == "old"  # the rule as first written: the degenerate criterion


def _loco_rows(recipe: str, balanced: dict, seed: int = 42, figshare: float = 0.7) -> list[dict]:
    return ([{"recipe": recipe, "fold": f, "seed": seed, "balanced": b, "sensitivity": 0.5} for f, b in balanced.items()]
            + [{"recipe": recipe, "fold": "figshare", "seed": seed, "balanced": None, "sensitivity": figshare}])


def test_symmetry_rule_and_seed_filter():
    """Batch 7: kept at >= 1 point of the primary score over `multi`, seed 42 only; other seeds never decide."""
    loco4 = pd.DataFrame(_loco_rows("multi", {"br35h": 0.515, "sartaj": 0.713}))
    up = pd.DataFrame(_loco_rows("multi_sym", {"br35h": 0.564, "sartaj": 0.699}, figshare=0.6)
                      + _loco_rows("multi_sym", {"br35h": 0.40, "sartaj": 0.60}, seed=7))
    keep, note = xc.symmetry_decision(loco4, up)
    assert keep and "+1.7 points" in note and "figshare sensitivity -10.0 points" in note
    assert xc.recipe_scores(up, seed=7).loc["multi_sym", "primary"] == pytest.approx(0.5)
    flat = pd.DataFrame(_loco_rows("multi_sym", {"br35h": 0.52, "sartaj": 0.713}))
    assert not xc.symmetry_decision(loco4, flat)[0]  # +0.3 points: not kept


def test_asymmetry_only_rule_uses_the_seed_mean_and_four_points():
    loco7 = pd.DataFrame(_loco_rows("multi_sym", {"br35h": 0.564, "sartaj": 0.699})
                         + _loco_rows("multi_sym", {"br35h": 0.552, "sartaj": 0.70}, seed=7))
    near = pd.DataFrame(_loco_rows("multi_asym", {"br35h": 0.70, "sartaj": 0.65})  # seed 42 alone: +4.4
                        + _loco_rows("multi_asym", {"br35h": 0.55, "sartaj": 0.65}, seed=7))
    keep, note = xc.seed_mean_decision(loco7, near)
    assert keep is None and "+0.9 points, not kept" in note  # the mean over both seeds decides
    far = pd.DataFrame(_loco_rows("multi_asym", {"br35h": 0.72, "sartaj": 0.66})
                       + _loco_rows("multi_asym", {"br35h": 0.70, "sartaj": 0.66}, seed=7))
    assert xc.seed_mean_decision(loco7, far)[0] == "multi_asym"
    missing = pd.DataFrame(_loco_rows("multi_asym", {"br35h": 0.9, "sartaj": 0.9}))  # seed 7 not run
    assert xc.seed_mean_decision(loco7, missing)[0] is None


def test_ensemble_rule_keeps_the_better_one_only_at_four_points():
    loco7 = pd.DataFrame(_loco_rows("multi_sym", {"br35h": 0.56, "sartaj": 0.70})
                         + _loco_rows("multi_sym", {"br35h": 0.55, "sartaj": 0.71}, seed=7))  # 63.0%
    loco9 = pd.DataFrame(_loco_rows("ens_a", {"br35h": 0.62, "sartaj": 0.72})
                         + _loco_rows("ens_a", {"br35h": 0.64, "sartaj": 0.72}, seed=7)  # 67.5%: +4.5
                         + _loco_rows("ens_b", {"br35h": 0.60, "sartaj": 0.70})
                         + _loco_rows("ens_b", {"br35h": 0.60, "sartaj": 0.70}, seed=7))  # 65.0%
    kept, note = xc.seed_mean_decision(loco7, loco9)
    assert kept == "ens_a" and "+4.5 points, kept" in note and "`ens_b` 65.0%" in note
    kept, note = xc.seed_mean_decision(loco7, loco9[loco9["recipe"] == "ens_b"])
    assert kept is None and "+2.0 points, not kept" in note


def test_no_verdict_ratio_is_rederived_from_the_saved_loco_runs():
    from helpers.evaluation.ensemble_transfer import BATCH11, BATCH12, BATCH13, BATCH14, BATCH15, BATCH17, BATCH18
    from helpers.evaluation.healthy_variety import BATCH10
    from helpers.evaluation.shipped_schedule import BATCH19, BATCH20

    runs = sum((xc.read_batch(b) for b in (xc.BATCH4, xc.BATCH5, xc.BATCH7, xc.BATCH8, xc.BATCH9, BATCH10, BATCH11,
                                           BATCH12, BATCH13, BATCH14, BATCH15, BATCH17, BATCH18, BATCH19, BATCH20)), [])
    if not runs:
        pytest.fail("the batch-4 records are committed: they must be found")
    assert fam.NO_VERDICT_RATIO == xc.no_verdict_ratio(runs)
    # every held-out MRI slice keeps its verdict; a picture beyond the ratio loses it
    rule = {"threshold": 10.0}
    assert not fam.beyond_reading(10.0 * fam.NO_VERDICT_RATIO, rule)
    assert fam.beyond_reading(10.0 * fam.NO_VERDICT_RATIO + 0.01, rule)


@pytest.mark.realdata
def test_union_split_on_the_real_collections():
    found = cx.available()
    if set(found) != set(cx.COLLECTIONS):
        pytest.skip("needs all four collections ($BRAIN_MRI_DATA and br35h/, sartaj-testing/, healthy-extra/ beside it)")
    u = union_split.build(found)
    t = u.table
    # v2 links adjacent slices of one scan: the leak-free test pictures linked to training scans leave test, and
    # `moved` counts exactly those; no test picture keeps a neighbour above the linking threshold in train/val
    assert u.moved == int(((t["old_split"] == "test") & (t["split"] != "test")).sum())
    assert 0 < u.moved < 0.25 * (t["old_split"] == "test").sum()
    assert len(union_split.adjacent_leaks(u)) == 0
    assert t.groupby("group")["split"].nunique().max() == 1  # no twin group straddles two splits
    # Br35H's healthy folder is the Kaggle no-tumour class: every one of its files joins a Kaggle group
    kag = set(t.loc[t["collection"] == "brain-tumor-mri", "group"])
    no = t[(t["collection"] == "br35h") & (t["label"] == "notumor")]
    assert no["group"].isin(kag).mean() > 0.99
    # the committed union split is this one
    committed = pd.read_csv(union_split.UNION_SPLIT, keep_default_na=False)
    assert union_split.split_sha256(committed) == union_split.split_sha256(t)


def _sample(name: str) -> bytes:
    import matplotlib.cbook as cb

    return open(cb.get_sample_data(name, asfileobj=False), "rb").read()


def test_shipped_model_gives_no_verdict_on_photos_and_one_on_an_mri():
    """The dashboard's upload path with the shipped model: a colour photo and a grey picture that the pixel checks
    place outside the training slices get no class verdict; a real MRI slice (matplotlib's sample s1045.ima, never
    in our data) gets one."""
    import gzip
    import io

    from PIL import Image

    from helpers.app.upload import process_upload
    from helpers.modeling.predictor import load_model

    p = load_model(config.DEFAULT_MODEL)
    assert p.familiarity is not None  # the shipped record names its rule
    photo = process_upload("grace_hopper.jpg", _sample("grace_hopper.jpg"), p, with_gradcam=False)
    assert photo.ok and photo.verdict is False
    buf = io.BytesIO()
    Image.open(io.BytesIO(_sample("Minduka_Present_Blue_Pack.png"))).convert("L").save(buf, "PNG")
    grey = process_upload("pack.png", buf.getvalue(), p, with_gradcam=False)
    assert grey.ok and grey.verdict is False
    assert any(w.startswith("unlike the training MRI slices") for w in grey.warnings)
    import matplotlib.cbook as cb

    raw = gzip.open(cb.get_sample_data("s1045.ima.gz", asfileobj=False)).read()
    a = np.frombuffer(raw, np.uint16).reshape(256, 256)
    buf = io.BytesIO()
    Image.fromarray((a / a.max() * 255).astype(np.uint8)).save(buf, "PNG")
    mri = process_upload("s1045.png", buf.getvalue(), p, with_gradcam=False)
    assert mri.ok and mri.verdict and not mri.unfamiliar and mri.predicted in config.CLASSES


def test_one_pass_prediction_matches_the_two_calls():
    """Predictor.predict_with_familiarity (logits and features in one forward pass) gives what predict_arrays and
    the familiarity rule on separately computed features give, for one slice and for a batch."""
    from helpers.data import prepare, synthetic
    from helpers.modeling.predictor import load_model

    from helpers.modeling.predictor import Predictor

    p = load_model(config.DEFAULT_MODEL)
    X = np.stack([prepare.prepare(synthetic.make_phantom(c, i, size=160)[0], p.img_size)
                  for i, c in enumerate(config.CLASSES)])
    # the mirror's path reuses the slice's own logits and adds one pass: whether or not the shipped record has it
    flip = Predictor(p.model, {**p.meta, "tta": "hflip"}, p.path)
    for q, batch in ((p, X[:1]), (p, X), (flip, X[:1]), (flip, X)):
        probs, (d, flag) = q.predict_with_familiarity(batch)
        np.testing.assert_allclose(probs, q.predict_arrays(batch), atol=1e-5)
    for batch in (X[:1], X):
        probs, (d, flag) = p.predict_with_familiarity(batch)
        np.testing.assert_allclose(probs, p.predict_arrays(batch), atol=1e-5)
        d2 = fam.score(p.familiarity, fam.features(p.model, batch))
        np.testing.assert_allclose(d, d2, rtol=1e-4)
        assert (flag == fam.unfamiliar(p.familiarity, d2)).all()


def test_batch21_and_23_recipes_change_only_what_they_name():
    """MixStyle and the wider network appear in their own recipes' configs only; a recipe's width is a default that
    an explicit override still beats (the records of earlier recipes keep their exact config)."""
    from helpers.modeling import train_union

    bo, ms, w24 = (train_union.config_for(r, "br35h") for r in ("he_bo", "he_bo_ms", "he_bo_w24"))
    assert "mixstyle" not in bo["model_kwargs"] and ms["model_kwargs"]["mixstyle"] == 0.5
    assert bo["model_kwargs"]["width"] == 16 and w24["model_kwargs"]["width"] == 24
    assert {k: v for k, v in ms.items() if k not in ("recipe", "model_kwargs")} == {
        k: v for k, v in bo.items() if k not in ("recipe", "model_kwargs")}
    assert train_union.config_for("he_bo_w24", None, width=4)["model_kwargs"]["width"] == 4


def test_the_recorded_command_reproduces_the_run():
    from helpers.modeling import train_union

    cfg = train_union.config_for("multi_sym", None, epochs=15)
    assert (train_union.command_for(cfg, config.MODELS_DIR, "brain_tumor_xc_sym", True)
            == "brain-mri train-union --recipe multi_sym --epochs 15 --out-dir models --name brain_tumor_xc_sym --shipped")
    cfg = train_union.config_for("multi", "br35h", seed=7)
    assert train_union.command_for(cfg, config.PROJ_ROOT / "experiments" / "b", "m", False) == (
        "brain-mri train-union --recipe multi --fold br35h --seed 7 --out-dir experiments/b --name m")
