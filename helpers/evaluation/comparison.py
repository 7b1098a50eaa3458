"""Our model against the capstone CNN on the same leak-free test images: the accuracy gap with a paired,
cluster-bootstrap 95% CI, for each capstone record, and how the issue's "+10 points" target reads.

Two capstone records exist because the capstone's own input size (256 px) differs from ours (128 px):
`capstone_cnn_256` is the network as the issue describes it, `capstone_cnn` the same network on our input. Which one
the target is read against was fixed before the 256-px run (experiments/SELECTION.md, batch 3).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import config, records
from .evaluate import read_predictions
from .metrics import paired_accuracy_gap

OURS = config.REPORT_MODEL_NAME
# (record name, what it is); the first is the comparator of the target
CAPSTONES = (("capstone_cnn_256", "the capstone's network at its own 256 px, as described"),
             ("capstone_cnn", "the same network on our 128-px input"))
TARGET_GAP = 0.10  # issue 3: "our model beats the capstone CNN on the leak-free test by >= 10 points"
SPLIT_KEY = "leakfree_test"


def capstone_gaps(models_dir: Path, groups: dict | pd.Series, n_boot: int = 1000,
                  seed: int = config.SEED) -> dict[str, dict]:
    """{capstone name: paired_accuracy_gap(ours, capstone) + "role", "img_size"} for each capstone whose predictions
    CSV sits in models_dir and covers the same leak-free test images as ours. `groups`: path -> twin group.
    Records that saw leak-free test images in training are not comparable and are left out (their predictions are
    on the official split's terms)."""
    ours = read_predictions(models_dir, OURS)
    if ours is None:
        return {}
    out = {}
    for name, role in CAPSTONES:
        cap = read_predictions(models_dir, name)
        meta = records.read(models_dir, name)
        if cap is None or meta is None:
            continue
        if ((meta.get("evaluation") or {}).get(SPLIT_KEY) or {}).get("n_in_training_split"):
            continue
        try:
            gap = paired_accuracy_gap(ours, cap, SPLIT_KEY, groups=groups, n_boot=n_boot, seed=seed)
        except ValueError:  # evaluated on another split version: no paired comparison possible
            continue
        out[name] = {**gap, "role": role, "img_size": meta.get("img_size"), "params": meta.get("params")}
    return out


def target_name(gaps: dict) -> str | None:
    """The record the target is read against: the first of CAPSTONES present."""
    return next((n for n, _ in CAPSTONES if n in gaps), None)


def gap_table(gaps: dict) -> pd.DataFrame:
    rows = {}
    for name, g in gaps.items():
        lo, hi = g["gap"]["ci"]
        rows[f"`{name}`"] = {
            "what": g["role"], "input": f"{g['img_size']} px", "capstone accuracy": f"{100 * g['accuracy_b']:.1f}%",
            "our accuracy": f"{100 * g['accuracy_a']:.1f}%",
            "gap, points (paired 95% CI)": f"{100 * g['gap']['value']:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f})",
            "only ours right / only capstone right": f"{g['only_a_right']} / {g['only_b_right']}",
            f"≥ {100 * TARGET_GAP:.0f} points": "yes" if g["gap"]["value"] >= TARGET_GAP else "no"}
    return pd.DataFrame(rows).T


def gap_markdown(gaps: dict) -> str:
    """How the +10 target reads, per the pre-registered rule; says so when the two capstone rows disagree."""
    t = target_name(gaps)
    if t is None:
        return "No capstone record with predictions on the same leak-free test images: no paired comparison."
    g = gaps[t]
    lo, hi = g["gap"]["ci"]
    met = g["gap"]["value"] >= TARGET_GAP
    out = [f"Against `{t}` ({g['role']}), our model leads by **{100 * g['gap']['value']:+.1f} points** "
           f"(paired cluster-bootstrap 95% CI {100 * lo:+.1f} to {100 * hi:+.1f}; {g['n']:,} images, "
           f"{g['only_a_right']} right only for ours, {g['only_b_right']} only for the capstone): the "
           f"+{100 * TARGET_GAP:.0f}-point target is **{'met' if met else 'not met'}** on the point estimate"
           + (f", though the CI reaches below {100 * TARGET_GAP:.0f}" if met and lo < TARGET_GAP else "")
           + (f", though the CI reaches above {100 * TARGET_GAP:.0f}" if not met and hi >= TARGET_GAP else "") + "."]
    others = {n: v for n, v in gaps.items() if n != t}
    for n, v in others.items():
        o_met = v["gap"]["value"] >= TARGET_GAP
        out.append(f"Against `{n}` ({v['role']}) the gap is {100 * v['gap']['value']:+.1f} points"
                   + ("." if o_met == met else
                      f": the two comparisons disagree, so the target holds against `{t if met else n}` only."))
    return " ".join(out)
