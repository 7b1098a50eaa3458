"""Batch 15's shipped single model in words: whether batch 15 (amendment 2) chose a model, and the block of numbers
its model card and the README print (batch 12's block format). Apart from reporting/batch15 so that batch 12's card
code can read it without an import cycle."""
from __future__ import annotations

from .. import config, records
from ..evaluation import ensemble_transfer as et


def results15() -> dict | None:
    return records.read_json(et.RESULTS15)


def shipped_here(name: str | None = None) -> bool:
    """True when batch 15 (amendment 2) chose model `name` (default: the shipped one)."""
    return ((results15() or {}).get("shipped") or None) == (name or config.DEFAULT_MODEL_NAME)


def card_block() -> dict:
    """What the model card and the README print for batch 15's shipped single model, in batch 12's block format:
    its union test numbers, its LOCO estimate (the 20-epoch he_sym runs, both seeds: the schedule closest to its
    40 epochs that finished every fold) and its warning (seed-7 test of the choice made on seed 42)."""
    res = results15() or {}
    r17 = records.read_json(et.RESULTS17) or {}
    caveat = (f"Batch 17 (`experiments/batch17_shipped_schedule/`, one seed at the shipped 40 epochs): "
              f"{r17['comparison']}." if r17.get("comparison") else "")
    w = res.get("warning") or {}
    c = w.get("choice") or {}
    warning = {}
    if c:
        warning = {"quantile": c["quantile"], "margin": c["margin"], "missed": c["test_missed"],
                   "per_seed": {"7": {"missed": c["test_missed"], "missed_flagged": c["test_missed_flagged"]}},
                   "familiar_firing_val": c["familiar_firing_val"], "familiar_firing": c.get("familiar_firing")}
    return {"union": res.get("union") or {}, "choice": et.SINGLE_E20,
            "estimate": [r for r in res.get("loco", []) if r.get("recipe") == et.SINGLE_E20],
            "warning": warning,
            "loco_note": "20 epochs (the closest schedule run on both seeds; batch 17's 40-epoch runs, one seed, are "
                         "in chapter 05)",
            "brain_only_note": "no brain-only augmentation either: the brain-only view's drops in the estimate "
                               "above are the cost",
            "why": f"Shipped by batch 15 (`experiments/batch15_schedule/PLAN.md`, amendment 2): "
                   f"{res.get('single_vs_ensemble', '')}." + (f" {caveat}" if caveat else ""),
            "caveat": caveat}
