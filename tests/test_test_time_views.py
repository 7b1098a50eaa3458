"""Batch 35's test-time views and batch 36's warning policies, on small synthetic views frames."""
import numpy as np
import pandas as pd
import pytest

from helpers import config
from helpers.evaluation import test_time_views as tv
from helpers.evaluation import warning_cost as wc
from helpers.modeling import operating_point as op
from helpers.modeling import partial_labels

FOLD = "figshare+open-ms"


def _views(seed=42, n=120, rng_seed=0):
    """One run: validation rows of two collections, held-out figshare tumours and open-ms healthy slices, familiar
    test rows; logits whose tumour evidence grows with the label, a brain-only view a little weaker."""
    rng = np.random.default_rng(rng_seed)
    frames = []
    for name, srcs in (("val", [("brain-tumor-mri", "glioma"), ("healthy-extra", config.NO_TUMOUR)]),
                       ("held", [("figshare", "glioma"), ("open-ms", config.NO_TUMOUR)]),
                       ("fam", [("sartaj", "meningioma"), ("ixi-t2", config.NO_TUMOUR)])):
        for src, lab in srcs:
            d = pd.DataFrame({"seed": seed, "fold": FOLD, "set": name, "row": np.arange(n),
                              "collection": "brain-tumor-mri" if src in ("figshare", "sartaj") else src,
                              "source": src, "label": lab})
            tum = lab != config.NO_TUMOUR
            for b in ("x", "v") if name == "held" else ("x",):
                for t in ("", "f", "b") if name != "fam" else ("",):
                    z = rng.normal(0, 1.0, (n, 4))
                    z[:, config.CLASSES.index(config.NO_TUMOUR)] += -1.5 if tum else 1.5
                    z[:, config.CLASSES.index("glioma")] += 1.0 if tum else 0.0
                    if b == "v":
                        z *= 0.7
                    d[[f"{b}{t}_{k}" for k in range(4)]] = z
                if name != "val":
                    d[f"ratio_{b}"] = rng.uniform(0.2, 1.4, n)
            frames.append(d)
    return pd.concat(frames, ignore_index=True)


def test_candidate_logits_average_the_candidate_transforms():
    v = _views()
    held = v[v["set"] == "held"]
    assert np.allclose(tv.candidate_logits(held, "plain"), held[[f"x_{k}" for k in range(4)]])
    both = (held[[f"v_{k}" for k in range(4)]].to_numpy() + held[[f"vb_{k}" for k in range(4)]].to_numpy()) / 2
    assert np.allclose(tv.candidate_logits(held, "brain2", "v"), both)


def test_plain_candidate_is_the_run_own_operating_point():
    v = _views()
    va = v[v["set"] == "val"]
    want = op.choose(va[[f"x_{k}" for k in range(4)]].to_numpy(), partial_labels.label_masks(va["label"]),
                     va["collection"].to_numpy())
    run = tv.candidate_run(v, 42, FOLD, "plain")
    assert run["operating_point"]["threshold"] == want["threshold"]
    assert run["operating_point"]["temperature"] == pytest.approx(want["temperature"])
    assert set(run["pred"].columns) >= {"source", "label", "p_tumour", "p_tumour_brain_only"}


def test_decision_reads_the_pre_registered_rule():
    v = pd.concat([_views(42, rng_seed=1), _views(7, rng_seed=2)], ignore_index=True)
    lo = tv.loco(v)
    assert set(lo["recipe"]) == set(tv.CANDIDATES35)
    scores = pd.DataFrame([{"recipe": "plain", "primary": 0.80, "seeds": [7, 42], "per_seed": {42: 0.81, 7: 0.79},
                            "complete": True},
                           {"recipe": "flip2", "primary": 0.812, "seeds": [7, 42], "per_seed": {42: 0.83, 7: 0.78},
                            "complete": True},
                           {"recipe": "brain2", "primary": 0.797, "seeds": [7, 42],
                            "per_seed": {42: 0.80, 7: 0.794}, "complete": True}])
    drops = {"plain": 6.0, "flip2": 6.0, "brain2": 3.5}
    orig = tv.worst_drop
    try:
        tv.worst_drop = lambda lo_, r: drops[r]
        choice, rows, note = tv.decide(scores, lo)
    finally:
        tv.worst_drop = orig
    by = {r["candidate"]: r for r in rows}
    assert not by["flip2"]["qualifies"]  # +1.2 points, but below on seed 7
    assert by["brain2"]["rule2"] and choice == "brain2"  # 0.3 point below, drop 2.5 points smaller


def _slices():
    """Eight held-out and four familiar slices with known calls and flags."""
    rows = [  # set, tumour, call, flagged
        ("held", True, True, True), ("held", True, True, True), ("held", True, False, True),
        ("held", False, False, True), ("held", False, True, True), ("held", True, True, False),
        ("held", False, False, False), ("held", True, False, False),
        ("fam", True, True, True), ("fam", False, False, False), ("fam", False, True, True), ("fam", True, True, False)]
    s = pd.DataFrame(rows, columns=["set", "tumour", "call", "flagged"])
    return s.assign(source="x", seed=42, view="plain")


def test_policies_count_what_each_withholds():
    s = _slices()
    held = s[s["set"] == "held"]
    w = wc.counts(held, "withhold")
    assert (w["flagged"], w["given"], w["correct_withheld"], w["misses_withheld"], w["false_alarms_withheld"]) == \
        (5, 3, 3, 1, 1)
    n = wc.counts(held, "no_negative")  # only the flagged "no tumour" calls are withheld
    assert (n["given"], n["correct_withheld"], n["misses_withheld"], n["false_alarms_given_warned"]) == (6, 1, 1, 1)
    b = wc.counts(held, "beside")
    assert b["given"] == 8 and b["misses_given_warned"] == 1
    with pytest.raises(ValueError, match="unknown policy"):
        wc.withheld(held, "sometimes")


def test_warning_rule_needs_both_give_back_and_precision():
    choice, row, note = wc.decide(_slices())
    assert row["given_back"] == 2 and row["correct_withheld"] == 3  # two right tumour calls of three withheld
    assert row["precision_held"] == pytest.approx(2 / 3) and row["precision_familiar"] == pytest.approx(0.5)
    assert choice == "withhold" and "withhold stays" in note
    s = _slices()
    good = s[~(s["flagged"] & s["call"] & ~s["tumour"])]  # no flagged false alarm anywhere
    choice, row, _ = wc.decide(good)
    assert row["precision_held"] == 1.0 and choice == "no_negative"


def test_worst_drop_reads_the_largest_source_not_the_mean():
    rows = []
    for src, plain, bo in (("br35h", 0.6, 0.66), ("sartaj", 0.9, 0.86), ("figshare", 0.95, 0.87)):
        for seed in (42, 7):
            rows += [{"recipe": "plain", "seed": seed, "source": src, "view": "plain", "sensitivity": plain},
                     {"recipe": "plain", "seed": seed, "source": src, "view": "brain-only", "sensitivity": bo}]
    lo = pd.DataFrame(rows)
    assert tv.worst_drop(lo, "plain") == pytest.approx(8.0)
    assert tv.worst_drop(lo[lo["source"] != "figshare"], "plain") is None


def test_flip_view_options_refuse_what_they_cannot_do():
    from helpers.modeling import ensemble, train_union

    with pytest.raises(ValueError, match="counted twice|count it twice"):
        ensemble.build_union(["a.keras"], "x", mirror=True, tta="hflip")
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        train_union.score(None, None, None, None, None, None, tta="brain")


def test_batch35_and_36_results_are_what_views_csv_gives(same_results):
    """The committed results re-derived from the committed views.csv.gz (no model, no data needed)."""
    from helpers.reporting import batch35

    views = tv.read_views()
    if views is None:
        pytest.fail("batch 35's views.csv.gz is committed: it must be found")
    for saved, again, keys in ((batch35.results35(), batch35.compute35(), ("choice", "decision", "scores", "shipped",
                                                                          "merged", "worst_drops")),
                               (batch35.results36(), wc.compute(views), ("choice", "decision", "row", "table"))):
        assert saved, "the results files are committed"
        same_results(saved, again, keys)
