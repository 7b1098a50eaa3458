"""helpers.evaluation.scan_type: hand labels, features, the plane/CT classifiers, the shipped tagger, per-plane metrics."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import config, records
from helpers.evaluation import scan_type

DATA = os.environ.get("BRAIN_MRI_DATA")


def test_committed_labels_are_valid_and_sized_as_documented():
    lab = scan_type.read_labels()
    counts = lab["sample"].value_counts()
    assert counts["random"] == 240 and counts["holdout"] == 60 and counts["ct_ranked"] >= 100
    assert set(lab["plane"]) <= set(scan_type.PLANES) | {""}
    assert (lab.loc[lab["sample"] != "ct_ranked", "plane"] != "").mean() > 0.98
    assert (lab["modality"] == "CT").sum() >= 50  # the CT examples the modality model learns from
    assert not lab["path"].str.startswith("/").any()  # relative to the dataset root, no machine paths


def test_read_labels_rejects_unknown_and_duplicate(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("path,plane,modality,sample\na.jpg,oblique,MRI,random\n")
    with pytest.raises(ValueError, match="oblique"):
        scan_type.read_labels(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("path,plane,modality,sample\na.jpg,axial,MRI,random\na.jpg,axial,MRI,holdout\n")
    with pytest.raises(ValueError, match="twice"):
        scan_type.read_labels(dup)


def _shapes(n_per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Toy 'planes' (a wide ellipse, a tall one, a disc with a notch) and toy 'CT' (a bone-white rim)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:128, :128]
    X, plane, ct = [], [], []
    for k, p in enumerate(scan_type.PLANES):
        for i in range(n_per):
            a, b = [(40, 60), (60, 40), (52, 52)][k]
            a, b = a + rng.integers(-4, 5), b + rng.integers(-4, 5)
            r = ((yy - 64) / a) ** 2 + ((xx - 64) / b) ** 2
            img = np.where(r < 1, 90 + rng.normal(0, 25, r.shape), 0)
            if p == "sagittal":
                img[60:80, 100:] = 0
            is_ct = i % 3 == 0
            img = np.where((r < 1) & (r > 0.8), 255 if is_ct else 60, img)
            X.append(np.clip(img, 0, 255).astype(np.uint8))
            plane.append(p)
            ct.append("CT" if is_ct else "MRI")
    return np.stack(X), np.array(plane), np.array(ct)


def test_features_shape_and_input_check():
    X, _, _ = _shapes(2)
    F = scan_type.features(X)
    n_shape = scan_type.THUMB ** 2 + (scan_type.THUMB - 1) ** 2
    assert F["plane"].shape == F["plane_flip"].shape == (len(X), n_shape)
    assert F["modality"].shape == (len(X), n_shape + 3)
    with pytest.raises(ValueError, match="uint8"):
        scan_type.features(X.astype(np.float32))


def test_fit_tags_and_cross_validates_toy_planes_and_ct():
    X, plane, ct = _shapes(20)
    labels = pd.DataFrame({"path": [f"f{i}.png" for i in range(len(X))], "plane": plane, "modality": ct,
                           "sample": ["random"] * len(X)})
    labels.loc[::5, "sample"] = "holdout"
    tags, info = scan_type.tag_dataset(X, labels["path"], np.arange(len(X)), labels)
    assert info["cv"]["plane"]["accuracy"] > 0.9 and info["cv"]["modality"]["accuracy"] > 0.9
    assert info["holdout"]["n"] == len(X[::5]) and info["holdout"]["accuracy"] > 0.9
    assert (tags["plane_source"] == "hand").all() and (tags["ct_source"] == "hand").all() and (tags["plane"] == plane).all()  # hand labels win
    assert tags["is_ct"].tolist() == (ct == "CT").tolist()
    # a classifier that never saw the flipped 'sagittal' notch side still gets it: the flip augmentation
    typer = scan_type.fit(scan_type.features(X), scan_type.attach_rows(labels, labels["path"]))
    assert (typer.tag(X[:, :, ::-1])["plane"].to_numpy() == plane).mean() > 0.9


def test_fit_needs_every_class():
    X, plane, ct = _shapes(4)
    labels = pd.DataFrame({"path": [f"f{i}" for i in range(len(X))], "plane": "axial", "modality": ct,
                           "sample": "random", "row": np.arange(len(X))})
    with pytest.raises(ValueError, match="every plane"):
        scan_type.fit(scan_type.features(X), labels)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_json_linear_model_matches_sklearn(n_classes):
    rng = np.random.default_rng(1)
    F = rng.normal(size=(60, 7))
    y = np.array(["a", "b", "c"][:n_classes] * 30)[:60]
    F[:, 0] += (y == "b") * 2
    pipe = scan_type._logreg(1.0).fit(F, y)
    lin = scan_type._Linear(json.loads(json.dumps(scan_type._pipe_json(pipe))))
    np.testing.assert_allclose(lin.predict_proba(F), pipe.predict_proba(F), atol=1e-5)


SHIPPED = {"doc": {"train_counts": {"plane": {"notumor": {"axial": 90, "coronal": 4, "sagittal": 6}},
                                    "ct": {"notumor": 9, "meningioma": 1}}}}


def test_upload_warnings():
    w = scan_type.upload_warnings({"plane": "axial", "p_plane": 0.9, "p_ct": 0.97}, False, SHIPPED)
    assert len(w) == 1 and "CT slice" in w[0] and "9 of the 10 CT slices" in w[0]
    w = scan_type.upload_warnings({"plane": "coronal", "p_plane": 0.9, "p_ct": 0.01}, False, SHIPPED)
    assert len(w) == 1 and "only 4 of the 100 healthy training slices are coronal" in w[0]
    assert scan_type.upload_warnings({"plane": "coronal", "p_plane": 0.9, "p_ct": 0.01}, True, SHIPPED) == []
    assert scan_type.upload_warnings({"plane": "axial", "p_plane": 0.9, "p_ct": 0.01}, False, SHIPPED) == []
    assert scan_type.upload_warnings(None, False, SHIPPED) == []


def test_shipped_tagger_loads_and_matches_the_committed_labels():
    shipped = scan_type.load_shipped()
    assert shipped is not None, "models/scan_type.json missing: run `brain-mri scan-types` on the real data"
    doc = shipped["doc"]
    assert doc["labels_sha256"] == hashlib.sha256(scan_type.LABELS_CSV.read_bytes()).hexdigest(), \
        "labels changed since models/scan_type.json was fitted: rerun `brain-mri scan-types`"
    assert list(shipped["typer"].plane_model.classes_) == list(scan_type.PLANES)
    assert list(shipped["typer"].modality_model.classes_) == ["CT", "MRI"]
    assert set(doc["train_counts"]["plane"]) == set(config.CLASSES)
    tag = scan_type.tag_one(np.zeros((128, 128), np.uint8), shipped)
    assert tag["plane"] in scan_type.PLANES and 0 <= tag["p_ct"] <= 1
    assert scan_type.load_shipped(Path("no-such-file.json")) is None


def _preds_and_tags():
    preds = pd.DataFrame({
        "path": list("abcdefgh"), "eval_split": ["leakfree_test"] * 8,
        "label": ["glioma", "notumor", "notumor", "pituitary", "notumor", "glioma", "notumor", "notumor"],
        "prediction": ["notumor", "notumor", "glioma", "pituitary", "notumor", "glioma", "notumor", "notumor"],
        "group": range(8)})
    tags = pd.DataFrame({"path": list("abcdefgh"),
                         "plane": ["axial", "axial", "coronal", "sagittal", "axial", "coronal", "axial", "axial"],
                         "is_ct": [False, False, False, False, False, False, True, True]})
    return preds, tags


def test_metrics_by_scan_type_counts():
    preds, tags = _preds_and_tags()
    t = scan_type.metrics_by_scan_type(preds, tags, n_boot=50)
    assert t.loc["axial", ["images", "tumours", "no_tumour", "missed", "false_alarms"]].tolist() == [5, 1, 4, 1, 0]
    assert t.loc["coronal", ["missed", "false_alarms", "no_tumour"]].tolist() == [0, 1, 1]
    assert t.loc["CT slices", "images"] == 2 and t.loc["CT slices", "accuracy"] == 1.0
    assert t.loc["all", "images"] == t.loc[list(scan_type.PLANES), "images"].sum()
    assert t.loc["all", "accuracy"] == pytest.approx(6 / 8)
    shown = scan_type.format_by_scan_type(t)
    assert shown.loc["coronal", "false alarms"] == "1 of 1 (100.00%)"
    text = scan_type.by_plane_markdown(t, "m")
    assert "of the 5 no-tumour test slices, 4 are axial and only 1 coronal or sagittal" in text
    assert "Missed tumours: 1 (1 axial)" in text and "rests on 1 image." in text
    with pytest.raises(ValueError, match="no scan-type tag"):
        scan_type.metrics_by_scan_type(preds, tags.iloc[:-1], n_boot=10)


@pytest.mark.realdata
@pytest.mark.skipif(not DATA, reason="needs $BRAIN_MRI_DATA (the Kaggle set the labels name)")
def test_real_data_tags_are_accurate_and_ct_uploads_are_warned():
    from helpers.app import upload
    from helpers.reporting import context, findings, runs

    ctx = context.context(DATA)
    tags, info = runs.scan_types(ctx)
    assert tags is not None, info
    assert info["cv"]["plane"]["accuracy"] >= 0.85 and info["holdout"]["accuracy"] >= 0.85
    assert info["cv"]["modality"]["accuracy"] >= 0.95
    comp = scan_type.composition(tags, info["split"])
    assert comp["files"].sum() == len(info["split"])
    lab = scan_type.read_labels()
    ct_file = lab[(lab["modality"] == "CT") & (lab["sample"] == "random")]["path"].iloc[0]
    res = upload.process_upload(Path(ct_file).name, (Path(DATA) / ct_file).read_bytes(), None)
    assert res.error is None
    x128 = res.prepared if res.prepared.shape == (128, 128) else None
    tag = scan_type.tag_one(x128)
    assert tag["p_ct"] >= scan_type.CT_THRESHOLD


def test_plane_rule_counts():
    preds, tags = _preds_and_tags()
    t = scan_type.metrics_by_scan_type(preds, tags, n_boot=10)
    text = scan_type.plane_rule_markdown(t)
    # tumours: a (axial), d (sagittal), f (coronal) -> 2 of 3 caught; no tumour: b, e, g, h axial of 5 -> 4 of 5
    assert "detects 66.7% of the test tumours at 80.0% specificity" in text
    assert "(75.0% of tumour/no-tumour calls right, against 62.5% for always" in text


def test_sequence_table_and_reading():
    labels = pd.DataFrame({
        "path": [f"f{i}" for i in range(8)],
        "plane": "axial", "modality": ["MRI"] * 7 + ["CT"],
        "sequence": ["T1", "T1", "T2", "FLAIR", "T1", "T1", "", ""],
        "sample": ["random"] * 4 + ["holdout"] * 2 + ["random", "ct_ranked"]})
    split_df = pd.DataFrame({"path": labels["path"],
                             "label": ["notumor"] * 4 + ["glioma", "pituitary", "glioma", "notumor"]})
    t = scan_type.sequence_table(labels, split_df)
    assert t.loc["notumor", ["labelled", "T1", "T2", "FLAIR"]].tolist() == [4, 2, 1, 1]
    assert t.loc["glioma", "labelled"] == 1 and t.loc["meningioma", "labelled"] == 0  # unsure rows left out
    assert t.loc["notumor", "T2 or FLAIR"].startswith("50% (")
    text = scan_type.sequence_markdown(t)
    assert "Of 2 labelled tumour slices, 0 are T2 or FLAIR; of 4 labelled no-tumour MRI slices, 2 (50%)" in text
    assert "2 of the 2 labelled T2 or FLAIR slices are healthy" in text
    bad = labels.assign(sequence=["T1c"] + [""] * 7)
    path = Path(pytest.importorskip("tempfile").mkdtemp()) / "l.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match="T1c"):
        scan_type.read_labels(path)


def test_finding_9_reads_the_saved_scan_type_summary():
    from helpers.reporting import context, findings, runs

    preds, tags = _preds_and_tags()
    t = scan_type.metrics_by_scan_type(preds, tags, n_boot=10)
    seq = pd.DataFrame({"labelled": [10, 10, 8, 10], "T1": [10, 10, 4, 10], "T2": [0, 0, 3, 0], "FLAIR": [0, 0, 1, 0],
                        "T2 or FLAIR": "x"}, index=list(config.CLASSES))
    h = {"data": {}, "models": {}, "baselines": {},
         "scan_types": json.loads(json.dumps({"by_plane": t.to_dict(orient="index"),
                                              "sequence": seq.to_dict(orient="index")}))}
    text = findings.findings_markdown(h)
    assert text.startswith("9. **Plane, modality and weighting are class cues too**")
    assert "Of the 5 no-tumour test slices, 4 are axial" in text and "2 test slices are CT, not MRI" in text
    assert "Of 30 labelled tumour slices, 0 are T2 or FLAIR; of 8 labelled no-tumour MRI slices, 4 (50%)" in text
    assert "9." not in findings.findings_markdown({"data": {}, "models": {}, "baselines": {}, "scan_types": {}})


def test_plane_warning_quotes_the_predicting_models_own_training_rows():
    """A union model's plane warning counts the union's training rows (committed union.csv + union_planes.csv), not
    the tagger's Kaggle split; a model trained on the Kaggle split keeps the tagger's counts."""
    from helpers.app.upload import training_plane_counts
    from helpers.data import union_split

    counts = union_split.train_plane_counts()
    assert counts and sum(counts[config.NO_TUMOUR].values()) > 3000  # healthy-extra's slices are in it
    assert training_plane_counts({"data": {"split": "union"}}) == counts
    assert training_plane_counts({"data": {"split": "leakfree"}}) is None and training_plane_counts(None) is None
    mine = {config.NO_TUMOUR: {"axial": 1000, "coronal": 300, "sagittal": 200}}
    w = scan_type.upload_warnings({"plane": "coronal", "p_plane": 0.9, "p_ct": 0.01}, False, SHIPPED, plane_counts=mine)
    assert len(w) == 1 and "only 300 of the 1,500 healthy training slices are coronal" in w[0]


def test_extra_planes_join_the_plane_model_only():
    """Batch 43's `extra`: more slices with a known plane enter the plane model's fit, not the modality model's."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (40, 128, 128), dtype=np.uint8)
    F = scan_type.features(X)
    lab = pd.DataFrame({"path": [str(i) for i in range(40)], "row": range(40), "sample": "random",
                        "plane": [scan_type.PLANES[i % 3] for i in range(40)], "modality": ["MRI", "CT"] * 20})
    plain = scan_type.fit(F, lab)
    X2 = rng.integers(0, 255, (30, 128, 128), dtype=np.uint8)
    more = scan_type.fit(F, lab, extra=(scan_type.features(X2), np.array(["coronal"] * 30)))
    assert more.n_plane == plain.n_plane  # the hand-label count stays what it was
    assert (more.tag(X2)["plane"] == "coronal").mean() > (plain.tag(X2)["plane"] == "coronal").mean()
    np.testing.assert_allclose(more.tag(X)["p_ct"], plain.tag(X)["p_ct"])
    lin = scan_type._Linear(scan_type._pipe_json(more.plane_model))
    assert (lin.predict(F["plane"]) == more.plane_model.predict(F["plane"])).all()


@pytest.mark.realdata
@pytest.mark.skipif(not DATA, reason="needs $BRAIN_MRI_DATA")
def test_batch43_results_are_what_the_data_give():
    import json

    from helpers.evaluation import plane_tagger

    saved = plane_tagger.results()
    if saved is None:
        pytest.skip("batch 43 is not measured yet (no results.json)")
    if not (Path(DATA).parent / "healthy-extra").is_dir():
        pytest.skip("needs healthy-extra/ beside $BRAIN_MRI_DATA")
    again = plane_tagger.measure(DATA)
    assert records.canonical_json(saved) == records.canonical_json(again)


def test_plane_warning_says_how_often_the_tagger_reads_other_collections_right():
    doc = {**SHIPPED["doc"], scan_type.ELSEWHERE: {"right": 0.47, "n": 1621, "on": "x"}}
    w = scan_type.upload_warnings({"plane": "sagittal", "p_plane": 0.9, "p_ct": 0.01}, False, {"doc": doc})
    assert len(w) == 1 and "names the plane right 47% of the time" in w[0]
    shipped = scan_type.load_shipped()  # the committed file carries batch 43's number
    from helpers.evaluation import plane_tagger

    assert shipped["doc"][scan_type.ELSEWHERE] == plane_tagger.accuracy_elsewhere()[scan_type.ELSEWHERE]
