"""helpers.evaluation.comparison: the paired gap to each capstone record and how the +10 target reads."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from helpers.evaluation import comparison
from helpers import config


def _write(d, name, correct, img_size=128, contaminated=0):
    n = len(correct)
    labels = np.array(config.CLASSES)[np.arange(n) % len(config.CLASSES)]
    wrong = np.array(config.CLASSES)[(np.arange(n) + 1) % len(config.CLASSES)]
    pd.DataFrame({"path": [f"p{i}.jpg" for i in range(n)], "eval_split": "leakfree_test", "label": labels,
                  "prediction": np.where(correct, labels, wrong)}).to_csv(d / f"{name}.predictions.csv", index=False)
    (d / f"{name}.json").write_text(json.dumps({"img_size": img_size, "params": 1,
                                                "evaluation": {"leakfree_test": {"n_in_training_split": contaminated}}}))


def test_target_reads_against_the_capstone_as_described_and_disagreement_is_said(tmp_path):
    n = 200
    ours = np.ones(n, bool)
    ours[:2] = False  # 99.0%
    cap256 = np.ones(n, bool)
    cap256[:24] = False  # 88.0%: gap 11 points
    cap128 = np.ones(n, bool)
    cap128[:18] = False  # 91.0%: gap 8 points
    _write(tmp_path, comparison.OURS, ours)
    _write(tmp_path, "capstone_cnn_256", cap256, 256)
    _write(tmp_path, "capstone_cnn", cap128)
    _write(tmp_path, "capstone_cnn_official", np.ones(n, bool), contaminated=50)  # never compared
    groups = {f"p{i}.jpg": i for i in range(n)}
    gaps = comparison.capstone_gaps(tmp_path, groups, n_boot=200)
    assert list(gaps) == ["capstone_cnn_256", "capstone_cnn"]
    assert round(100 * gaps["capstone_cnn_256"]["gap"]["value"], 6) == 11.0
    assert round(100 * gaps["capstone_cnn"]["gap"]["value"], 6) == 8.0
    assert comparison.target_name(gaps) == "capstone_cnn_256"
    t = comparison.gap_table(gaps)
    assert list(t["≥ 10 points"]) == ["yes", "no"] and list(t["input"]) == ["256 px", "128 px"]
    md = comparison.gap_markdown(gaps)
    assert "+11.0 points" in md and "**met**" in md and "disagree" in md and "`capstone_cnn_256` only" in md
    # without the 256-px record the target reads against the 128-px one, and no disagreement is claimed
    (tmp_path / "capstone_cnn_256.predictions.csv").unlink()
    gaps = comparison.capstone_gaps(tmp_path, groups, n_boot=200)
    md = comparison.gap_markdown(gaps)
    assert list(gaps) == ["capstone_cnn"] and "**not met**" in md and "disagree" not in md


def test_no_records_no_comparison(tmp_path):
    assert comparison.capstone_gaps(tmp_path, {}) == {}
    assert "no paired comparison" in comparison.gap_markdown({})
