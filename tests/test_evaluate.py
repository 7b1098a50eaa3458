"""helpers.evaluation.evaluate: vectorised bootstrap metrics agree with scikit-learn, CIs behave, calibration, abstain rule,
and evaluate_model writes the schema the notebooks and the dashboard read."""
from __future__ import annotations

import json
import shutil
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support, roc_auc_score

from helpers.modeling import calibrate as calibration
from helpers import config
from helpers import stats
from helpers.evaluation import evaluate, metrics


@pytest.fixture(autouse=True)
def _session_cache(monkeypatch, session_cache):
    monkeypatch.setattr(config, "cache_dir", lambda: session_cache)


def _fake(n, acc=0.85, seed=0):
    """Labels and probabilities of a classifier that is right with probability `acc`."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    pred = np.where(rng.random(n) < acc, y, rng.integers(0, 4, n))
    probs = np.full((n, 4), 0.1)
    probs[np.arange(n), pred] = 0.7
    probs += rng.random((n, 4)) * 0.05
    return y, probs / probs.sum(1, keepdims=True)


def test_vectorised_metrics_match_sklearn():
    y, probs = _fake(300)
    pred = probs.argmax(1)
    m = metrics.prf_from_confusion(metrics.confusions(y, pred))
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=range(4), zero_division=0)
    np.testing.assert_allclose(m["precision"], p)
    np.testing.assert_allclose(m["recall"], r)
    np.testing.assert_allclose(m["f1"], f)
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    # a resample given as explicit indices equals the metric of the resampled arrays
    idx = stats.bootstrap_indices(len(y), 5, seed=1)
    stack = metrics.prf_from_confusion(metrics.confusions(y, pred, idx))
    for b in range(5):
        assert stack["macro_f1"][b] == pytest.approx(f1_score(y[idx[b]], pred[idx[b]], labels=range(4), average="macro",
                                                              zero_division=0))
    score, yb = 1 - probs[:, 2], y != 2
    score[:20] = 0.5  # ties are counted half, as scikit-learn does
    aucs = metrics.auc_weighted(yb, score, stats.bootstrap_weights(len(y), 5, seed=1))  # the same draws as idx
    for b in range(5):
        assert aucs[b] == pytest.approx(roc_auc_score(yb[idx[b]], score[idx[b]]))


def test_bootstrap_ci_contains_estimate_and_narrows():
    widths = []
    for n in (100, 1600):
        y, probs = _fake(n, seed=n)
        m = metrics.classification_metrics(y, probs, n_boot=500)
        for block in (m["accuracy"], m["macro_f1"], m["tumour"]["sensitivity"], m["tumour"]["roc_auc"],
                      m["per_class"]["glioma"]["recall"]):
            lo, hi = block["ci"]
            assert lo <= block["value"] <= hi
        widths.append(m["accuracy"]["ci"][1] - m["accuracy"]["ci"][0])
    assert widths[1] < widths[0] / 2.5  # ~1/sqrt(n): 4x for 16x the images
    # seeded: the same call gives the same interval
    y, probs = _fake(200)
    assert metrics.classification_metrics(y, probs, 200)["accuracy"] == metrics.classification_metrics(y, probs, 200)["accuracy"]


def test_image_bootstrap_weights_are_the_index_draws():
    idx, w = stats.bootstrap_indices(40, 6, seed=3), stats.bootstrap_weights(40, 6, seed=3)
    for b in range(6):
        np.testing.assert_array_equal(np.bincount(idx[b], minlength=40), w[b])


def test_cluster_bootstrap_draws_whole_groups_and_widens_correlated_intervals():
    groups = np.repeat(np.arange(30), 10)  # 300 images, 30 pictures copied 10 times each
    w = stats.bootstrap_weights(300, 200, seed=1, groups=groups)
    assert w.shape == (200, 300) and (w.sum(1) == 300).all()  # 30 groups drawn, 10 images each
    assert (w.reshape(200, 30, 10).std(2) == 0).all()  # copies of one picture are always drawn together
    # a classifier right or wrong per picture: copies add no evidence, so the cluster CI must be wider
    rng = np.random.default_rng(0)
    y = np.repeat(rng.integers(0, 4, 30), 10)
    pred = np.where(np.repeat(rng.random(30) < 0.8, 10), y, (y + 1) % 4)
    probs = np.full((300, 4), 0.1)
    probs[np.arange(300), pred] = 0.7
    image = metrics.classification_metrics(y, probs, 500)["accuracy"]
    cluster = metrics.cluster_metrics(y, probs, groups, 500)
    assert cluster["accuracy"]["value"] == pytest.approx(image["value"])
    width = lambda b: b["ci"][1] - b["ci"][0]
    assert width(cluster["accuracy"]) > 2 * width(image)  # ~sqrt(10) wider
    assert cluster["n_groups"] == 30
    assert cluster["per_group_accuracy"]["value"] == pytest.approx((pred == y).reshape(30, 10).mean())
    lo, hi = cluster["sensitivity"]["ci"]
    assert lo <= cluster["sensitivity"]["value"] <= hi


def test_per_group_accuracy_counts_each_group_once():
    y = np.zeros(12, int)
    pred = np.r_[np.zeros(10, int), 1, 1]  # one picture copied 10 times (right), two single pictures (wrong)
    probs = np.eye(4)[pred]
    m = metrics.cluster_metrics(y, probs, np.r_[np.zeros(10, int), 1, 2], n_boot=0)
    assert m["accuracy"]["value"] == pytest.approx(10 / 12)
    assert m["per_group_accuracy"]["value"] == pytest.approx(1 / 3)


def test_ece_of_calibrated_probabilities_is_near_zero():
    rng = np.random.default_rng(0)
    n = 20000
    probs = rng.dirichlet(np.ones(4) * 0.5, n)
    y = (probs.cumsum(1) > rng.random((n, 1))).argmax(1)  # labels drawn from the probabilities themselves
    assert calibration.ece(probs, y) < 0.02
    over = probs ** 3 / (probs ** 3).sum(1, keepdims=True)  # sharpened: overconfident
    assert calibration.ece(over, y) > 0.05


def test_temperature_fit_recovers_known_temperature():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (8000, 4))
    t_true = 2.5
    p = calibration.probs_from_logits(logits, t_true)
    y = (p.cumsum(1) > rng.random((len(p), 1))).argmax(1)
    assert calibration.fit_temperature(logits, y) == pytest.approx(t_true, rel=0.1)


def test_abstain_threshold_rule():
    # 100 confident right answers, 10 unsure wrong ones: the smallest threshold above the wrong ones wins.
    probs = np.vstack([np.tile([0.97, 0.01, 0.01, 0.01], (100, 1)), np.tile([0.3, 0.5, 0.1, 0.1], (10, 1))])
    y = np.zeros(110, int)
    t, found = metrics.choose_abstain_threshold(probs, y)
    assert found and 0.5 < t <= 0.97
    t, found = metrics.choose_abstain_threshold(probs[100:], y[100:])  # never accurate enough
    assert (t, found) == (metrics.ABSTAIN_FALLBACK, False)
    assert metrics.best_accepted_accuracy(probs, y) == (pytest.approx(0.97), 1.0)


def _strict(s):
    raise ValueError(f"non-standard JSON constant {s}")


def test_screening_threshold_keeps_the_validation_sensitivity_and_never_exceeds_one_half():
    rng = np.random.default_rng(3)
    is_tumour = np.r_[np.ones(800, bool), np.zeros(300, bool)]
    score = np.where(is_tumour, rng.beta(3, 1, 1100), rng.beta(1, 8, 1100))  # some tumours score below 0.5
    t = metrics.choose_screening_threshold(score, is_tumour, target=0.995)
    assert (score[is_tumour] >= t).mean() >= 0.995  # floor(0.005 * 800) = 4 tumours may fall below
    assert (score[is_tumour] < t).sum() == 4 and t <= metrics.TUMOUR_THRESHOLD
    easy = np.where(is_tumour, 0.99, 0.01)  # every threshold up to 0.99 would do: the 0.5 default is kept
    assert metrics.choose_screening_threshold(easy, is_tumour) == metrics.TUMOUR_THRESHOLD
    assert metrics.choose_screening_threshold(score[~is_tumour], is_tumour[~is_tumour]) == metrics.TUMOUR_THRESHOLD


def test_screening_block_at_one_half_is_the_tumour_block():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 4, 300)
    probs = rng.dirichlet(np.ones(4), 300)
    m = metrics.classification_metrics(y, probs, n_boot=200, seed=1)
    sc = metrics.screening_block(y, probs, metrics.TUMOUR_THRESHOLD, n_boot=200, seed=1, groups=np.arange(300) // 3)
    for key in ("sensitivity", "specificity"):
        assert sc[key] == m["tumour"][key]  # same threshold, same bootstrap draws
        lo, hi = sc[key + "_groups"]["ci"]
        assert lo <= sc[key]["value"] <= hi
    yb, pb = y != metrics.NOTUMOR, 1 - probs[:, metrics.NOTUMOR] >= 0.5
    assert sc["n_missed"] == int((yb & ~pb).sum()) and sc["n_false_alarm"] == int((~yb & pb).sum())


def test_evaluate_model_on_phantoms_writes_schema(tiny_model_json, phantom_data, tmp_path, capsys):
    from helpers.modeling.predictor import load_model

    for suffix in (".keras", ".json"):
        shutil.copy2(Path(tiny_model_json).with_suffix(suffix), tmp_path / f"tiny{suffix}")
    before = json.loads((tmp_path / "tiny.json").read_text())
    args = types.SimpleNamespace(model=str(tmp_path / "tiny.keras"), data_dir=str(phantom_data), bootstrap=50)
    assert evaluate.cli_evaluate(args) == 0
    assert "leak-free test" in capsys.readouterr().out

    meta = json.loads((tmp_path / "tiny.json").read_text(), parse_constant=_strict)  # no NaN in the file
    assert meta["keras_sha256"] == before["keras_sha256"] and meta["history"] == before["history"]
    ev = meta["evaluation"]
    for key in ("evaluated_at", "synthetic", "split_sha256", "temperature", "bootstrap", "leakfree_test",
                "official_test", "robustness"):
        assert key in ev, key
    assert ev["synthetic"] is True and ev["bootstrap"] == 50
    lt = ev["leakfree_test"]
    for key in ("n", "accuracy", "macro_f1", "per_class", "confusion", "tumour", "calibration", "abstain"):
        assert key in lt, key
    assert set(lt["per_class"]) == set(config.CLASSES)
    assert np.array(lt["confusion"]).sum() == lt["n"]
    assert set(lt["tumour"]) >= {"threshold", "sensitivity", "specificity", "roc_auc", "roc"}
    assert set(lt["calibration"]) >= {"ece_raw", "ece_calibrated", "reliability_raw", "reliability_calibrated"}
    assert set(lt["abstain"]) >= {"threshold", "coverage", "accuracy", "curve"}
    assert lt["n_in_training_split"] == 0  # the headline split never overlaps training
    rule = ev["screening_rule"]
    assert lt["screening"]["threshold"] == rule["threshold"] <= 0.5 and lt["screening"]["selected_on"] == "leakfree val"
    assert rule["val_sensitivity"] >= rule["target_val_sensitivity"]
    assert lt["cluster"]["n"] == lt["n"] and 0 < lt["cluster"]["n_groups"] <= lt["n"]
    assert lt["cluster"]["accuracy"]["value"] == pytest.approx(lt["accuracy"]["value"])
    # the same block rebuilt from the saved predictions CSV alone (for records whose weights are not committed)
    stripped = {**meta, "evaluation": {**ev, "leakfree_test": {k: v for k, v in lt.items() if k != "cluster"}}}
    (tmp_path / "tiny.json").write_text(json.dumps(stripped))
    rebuilt = evaluate.add_cluster_blocks(tmp_path / "tiny.json", phantom_data, bootstrap=50)
    for key in ("value", "ci"):
        assert rebuilt["leakfree_test"]["cluster"]["accuracy"][key] == pytest.approx(lt["cluster"]["accuracy"][key])
    assert rebuilt["leakfree_test"]["cluster"]["n_groups"] == lt["cluster"]["n_groups"]
    assert "leaky" in ev["official_test"]["note"]
    assert [r["px"] for r in ev["robustness"]["resolution"]] == [64, 96, 128, 192]
    assert "n" in ev["robustness"]["size512_subset"]

    pred = pd.read_csv(tmp_path / "tiny.predictions.csv")
    assert list(pred.columns) == ["path", "eval_split", "label", *config.CLASSES, "p_tumour", "prediction"]
    assert set(pred["eval_split"]) == {"leakfree_test", "official_test"}
    assert len(pred) == lt["n"] + ev["official_test"]["n"]
    np.testing.assert_allclose(pred[list(config.CLASSES)].sum(axis=1), 1, atol=1e-4)
    # the model still loads: its sha256 was not touched by writing the evaluation
    assert load_model(tmp_path / "tiny.keras").abstain_threshold == pytest.approx(lt["abstain"]["threshold"])


def _preds(correct: np.ndarray, split_key: str = "leakfree_test") -> pd.DataFrame:
    n = len(correct)
    labels = np.array(config.CLASSES)[np.arange(n) % len(config.CLASSES)]
    wrong = np.array(config.CLASSES)[(np.arange(n) + 1) % len(config.CLASSES)]
    return pd.DataFrame({"path": [f"img{i}.jpg" for i in range(n)], "eval_split": split_key, "label": labels,
                         "prediction": np.where(correct, labels, wrong)})


def test_paired_accuracy_gap_pairs_images_and_clusters_groups():
    from helpers.evaluation.metrics import paired_accuracy_gap

    ca = np.ones(100, bool)
    ca[90:] = False  # a: 90 right
    cb = ca.copy()
    cb[:10] = False  # b: the same minus 10
    r = paired_accuracy_gap(_preds(ca), _preds(cb), n_boot=300)
    assert r["n"] == 100 and r["accuracy_a"] == 0.9 and r["accuracy_b"] == 0.8
    assert r["gap"]["value"] == pytest.approx(0.1) and (r["only_a_right"], r["only_b_right"]) == (10, 0)
    # paired: a is never worse on any image, so no resample can show b ahead
    assert 0.0 < r["gap"]["ci"][0] < 0.1 < r["gap"]["ci"][1]
    # the 10 images only a gets right are near-copies of one picture: one piece of evidence, so the cluster CI
    # reaches 0 (resamples without that group), while the image bootstrap's does not
    groups = {f"img{i}.jpg": (0 if i < 10 else i) for i in range(100)}
    rc = paired_accuracy_gap(_preds(ca), _preds(cb), groups=groups, n_boot=300)
    assert rc["gap"]["value"] == pytest.approx(0.1) and rc["gap"]["ci"][0] == 0.0
    with pytest.raises(ValueError, match="same leakfree_test images"):
        paired_accuracy_gap(_preds(ca), _preds(cb[:50]))
