"""Batch 22's warning scores (helpers.evaluation.warning_scores, modeling.familiarity): the (collection, class) cell
rule keeps the rule file's format, quantile keys keep 0.975 apart from 0.97, and the choice obeys PLAN.md's cap and
tie rules. Pure numpy; the real-data measurement is experiments/batch22_warning_scores/run.py."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation import warning_scores as ws
from helpers.modeling import familiarity as fam


def test_quantile_keys_keep_half_percents_apart():
    assert [fam.qkey(q) for q in (0.9, 0.97, 0.975, 0.99, 0.995)] == ["0.90", "0.97", "0.975", "0.99", "0.995"]
    rule = {"threshold": 2.0, "quantile": 0.99, "warn_quantile": 0.975, "val_quantiles": {"0.97": 1.0, "0.975": 1.5}}
    assert fam.warn_threshold(rule) == (1.5, 0.975)
    assert "97.5% of validation slices" in fam.message(3.0, rule)


def _two_collections(rng, n=200):
    """Two collections whose features sit far apart, each with two classes."""
    F, y, g = [], [], []
    for gi, (centre, name) in enumerate(((0.0, "a"), (8.0, "b"))):
        for ci, c in enumerate(("glioma", "notumor")):
            F.append(rng.normal(centre + 2 * ci, 1.0, (n, 4)))
            y += [c] * n
            g += [name] * n
    return np.concatenate(F), np.array(y), np.array(g)


def test_cell_means_fit_each_collection_and_keep_the_file_format():
    rng = np.random.default_rng(0)
    F, y, g = _two_collections(rng)
    val = _two_collections(rng, 50)[0]
    cls = fam.fit(F, y, val, quantiles=ws.QUANTILES)
    cells = fam.fit(F, y, val, groups=g, quantiles=ws.QUANTILES)
    assert np.asarray(cls["means"]).shape == (2, 4) and np.asarray(cells["means"]).shape == (4, 4)
    assert cells["cells"] == ["a/glioma", "a/notumor", "b/glioma", "b/notumor"]
    assert set(cells["val_quantiles"]) == {fam.qkey(q) for q in ws.QUANTILES}
    # between the two collections (far from both): the cell rule calls it farther, relative to its validation scale
    mid = np.full((1, 4), 5.0)
    assert fam.score(cells, mid)[0] / cells["threshold"] > fam.score(cls, mid)[0] / cls["threshold"]
    # a cell with fewer than MIN_CELL rows gets no mean and does not shape the covariance
    few = fam.fit(np.concatenate([F, rng.normal(50, 1, (5, 4))]), np.concatenate([y, ["glioma"] * 5]),
                  val, groups=np.concatenate([g, ["c"] * 5]))
    assert "c/glioma" not in few["cells"]


def _rows(entries):
    cols = ["seed", "fold", "score", "quantile", "margin", "familiar_n", "familiar_flagged", "missed", "missed_flagged"]
    return pd.DataFrame([dict(zip(cols, e)) for e in entries])


def test_choice_respects_the_cap_prefers_more_flags_then_smaller_margin_and_is_tested_on_the_other_seed():
    rows = _rows([
        (42, "f", "cls", 0.97, 0.0, 100, 5, 100, 90),      # fires on 5%: over the cap
        (42, "f", "cls", 0.99, 0.0, 100, 4, 100, 60),
        (42, "f", "colcls", 0.99, 0.0, 100, 2, 100, 60),   # ties cls at 60%: cls first
        (42, "f", "colcls", 0.995, 1.0, 100, 3, 100, 55),
        (7, "f", "cls", 0.99, 0.0, 50, 1, 80, 40),
        (7, "g", "cls", 0.99, 0.0, 50, 3, 20, 5),
        (7, "f", "colcls", 0.99, 0.0, 100, 9, 100, 99),
    ])
    c = ws.choose(rows)
    assert (c["score"], c["quantile"], c["margin"]) == ("cls", 0.99, 0.0)
    assert c["chosen_share_missed_flagged"] == pytest.approx(0.6) and c["chosen_familiar_firing"] == pytest.approx(0.04)
    assert (c["test_missed"], c["test_missed_flagged"]) == (100, 45) and c["test_familiar_firing"] == pytest.approx(0.04)
    assert ws.choose(rows, cap=0.01) is None  # nothing under the cap: no choice
    with pytest.raises(ValueError, match="unknown warning score"):
        ws.fit_score("energy", np.zeros((2, 2)), pd.DataFrame(), np.arange(2), np.zeros((2, 2)))


@pytest.mark.parametrize("batch", [21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34])
def test_batch_results_are_what_the_records_give(batch, same_results):
    """The committed results re-derived from the run records (21, 23, 24, 27, 28, 30, 34), the committed candidates.csv (22,
    25), measurements.json (26) or validation.csv (29, 31, with union_validation.csv) or measurements.csv (32, 33); no model is loaded."""
    from helpers.evaluation import calibration_study, input_gate, pattern_study, threshold_study
    from helpers.reporting import batch21, batch24, batch28, batch31

    saved, again, keys = {
        21: lambda: (batch21.results21(), batch21.compute21(), ("choice", "decision", "scores", "model")),
        22: lambda: (ws.results(), batch21.compute22(), ("choice", "decision", "table", "shipped")),
        23: lambda: (batch21.results23(), batch21.compute23(), ("choice", "decision", "scores", "shipped")),
        24: lambda: (batch24.results24(), batch24.compute24(), ("choice", "decision", "scores", "shipped", "block")),
        25: lambda: (batch24.results25(), batch24.compute25(), ("choice", "decision", "table", "worth_shipping")),
        26: lambda: (pattern_study.results(), pattern_study.compute(), ("decision", "ships", "loco", "families")),
        27: lambda: (batch24.results27(), batch24.compute27(), ("choice", "decision", "scores", "planes", "shipped")),
        28: lambda: (batch28.results28(), batch28.compute28(), ("choice", "decision", "scores", "shipped", "block")),
        29: lambda: (threshold_study.results(), threshold_study.compute(), ("choice", "decision", "thresholds",
                                                                            "per_run_set", "reproduced")),
        30: lambda: (batch28.results30(), batch28.compute30(), ("decision", "curve", "scores", "shipped", "block")),
        31: lambda: (calibration_study.results(), calibration_study.compute(), ("choice", "decision", "per_run_set",
                                                                                "union_test", "calls_moved")),
        32: lambda: (input_gate.results(), input_gate.compute(), ("choice", "decision", "heldout", "union_test", "probes",
                                                                  "gate")),
        33: lambda: (input_gate.results33(), input_gate.compute33(), ("choice", "decision", "midway", "heldout",
                                                                      "probes")),
        34: lambda: (batch31.results34(), batch31.compute34(), ("choice", "decision", "scores", "drops")),
    }[batch]()
    if saved is None:
        pytest.fail(f"batch {batch}'s results.json is committed: it must be found")
    same_results(saved, again, keys)


def test_the_shipped_model_carries_batch_22s_rule_and_its_firing_is_what_its_predictions_give():
    """What apply22 wrote, re-read from the committed model files: the rule's kind and quantile are the choice, and
    the familiar test firing batch 22 reports is what the union predictions' flags give."""
    from helpers import config, records
    from helpers.evaluation import healthy_variety as hv
    from helpers.evaluation import warning_rule

    name = config.DEFAULT_MODEL_NAME
    if warning_rule.chosen_by(name) != 22:
        pytest.skip("the shipped model's warning is not batch 22's")
    rule = records.read_json(config.MODELS_DIR / name / "familiarity.json")
    res = ws.results()
    c, sh = res["choice"], res["shipped"]
    assert sh["model"] == name and rule["warn_score"] == c["score"] == sh["score"]
    assert ("cells" in rule) == (c["score"] == "colcls") and len(rule["means"]) == sh["n_means"]
    cut, q = fam.warn_threshold(rule)
    assert q == c["quantile"]
    pred = pd.read_csv(config.MODELS_DIR / name / "union_predictions.csv", keep_default_na=False)
    d = pred["familiarity_ratio"].to_numpy(float) * rule["threshold"]
    agree = (pred["unfamiliar"].to_numpy(bool) == (d > cut))
    assert agree.mean() > 0.998  # the ratio is stored to 4 decimals: a row on the cut may round across it
    rec = records.read(config.MODELS_DIR, name)
    t = float(rec["operating_point"]["threshold"])
    assert rec["operating_point"]["uncertain_margin"] == c["margin"]
    firing = hv.flagged(pred["p_tumour"].to_numpy(float), d, t, cut, c["margin"]).mean()
    assert firing == pytest.approx(sh["familiar_firing"], abs=2e-3)
