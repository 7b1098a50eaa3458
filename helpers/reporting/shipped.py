"""What ships and why: the latest batch that chose the shipped model (DECIDERS, latest first), and the block of
numbers its model card and the README print (batch 12's block format). Apart from the batch modules so that batch
12's card code can read it without an import cycle."""
from __future__ import annotations

from .. import config, records
from ..evaluation import ensemble_transfer as et
from ..evaluation import shipped_schedule as ss
from ..evaluation import test_time_views as tv
from ..evaluation import views_on_merges as vm
from ..evaluation import warning_rule

DECIDERS = ((39, vm.RESULTS39), (37, vm.RESULTS37), (35, tv.RESULTS35), (30, ss.RESULTS30), (28, ss.RESULTS28),
            (27, ss.RESULTS27), (24, ss.RESULTS24), (23, ss.RESULTS23), (20, ss.RESULTS20), (19, ss.RESULTS19),
            (15, et.RESULTS15))  # latest first
BLOCK_BATCHES = tuple(b for b, _ in DECIDERS if b != 15)  # those that store the card's block in their results


def results15() -> dict | None:
    return records.read_json(et.RESULTS15)


def decision() -> tuple[int | None, dict]:
    """(batch, its results) of the latest batch that named a shipped model; (None, {}) when none did."""
    for batch, path in DECIDERS:
        res = records.read_json(path) or {}
        if res.get("shipped"):
            return batch, res
    return None, {}


def shipped_model() -> str | None:
    return decision()[1].get("shipped")


def shipped_here(name: str | None = None) -> bool:
    """True when the latest deciding batch (DECIDERS) chose model `name` (default: the shipped one)."""
    return shipped_model() == (name or config.DEFAULT_MODEL_NAME)


def block_of(name: str) -> dict:
    """The card block of the batch that shipped model `name` (the latest deciding batch that named it, among those
    that store a block), its warning replaced when a later batch (22) chose it again; {} when none did. A model
    keeps its block after a later one replaces it, so its card keeps its numbers."""
    for batch, path in DECIDERS:
        res = records.read_json(path) or {}
        if batch in BLOCK_BATCHES and res.get("shipped") == name and res.get("block"):
            blk = dict(res["block"])
            if warning_rule.chosen_by(name) > batch:  # a later batch (22) chose its warning again
                blk["warning"] = warning_block(warning_rule.choice_of(name))
            return blk
    return {}


def card_block() -> dict:
    """What the model card and the README print for the shipped model, in batch 12's block format: its union test
    numbers, its LOCO estimate (the shipped recipe's runs), its warning and why it ships. The deciding batches
    since 19 store the block in their results (block_of); batch 15's is assembled here."""
    batch, res = decision()
    if batch in BLOCK_BATCHES:
        return block_of(res.get("shipped")) if res.get("shipped") else {}
    r17 = records.read_json(et.RESULTS17) or {}
    caveat = (f"Batch 17 (`experiments/batch17_shipped_schedule/`, one seed at the shipped 40 epochs): "
              f"{r17['comparison']}." if r17.get("comparison") else "")
    return {"union": res.get("union") or {}, "choice": et.SINGLE_E20,
            "estimate": [r for r in res.get("loco", []) if r.get("recipe") == et.SINGLE_E20],
            "warning": warning_block((res.get("warning") or {}).get("choice")),
            "loco_note": "20 epochs (the closest schedule run on both seeds; batch 17's 40-epoch runs, one seed, are "
                         "in chapter 05)",
            "brain_only_note": "no brain-only augmentation either: the brain-only view's drops in the estimate "
                               "above are the cost",
            "why": f"Shipped by batch 15 (`experiments/batch15_schedule/PLAN.md`, amendment 2): "
                   f"{res.get('single_vs_ensemble', '')}." + (f" {caveat}" if caveat else ""),
            "caveat": caveat}


def warning_tested(name: str | None = None) -> dict | None:
    """Where the warning's share of missed tumours flagged was tested, and the counts: what the batch that shipped
    model `name` wrote into its block (`block["warning"]["tested"]`, e.g. batch 24's seed ensemble: its own replicate-B
    runs, batch 25), else batch 22's seed-7 LOCO runs (the runs the rule was chosen beside). The card, the README and
    the scoreboard all print this."""
    name = name or config.DEFAULT_MODEL_NAME
    c = warning_rule.choice_of(name)
    if not c:
        return None
    t = (block_of(name).get("warning") or {}).get("tested")
    if t and t.get("missed"):
        return t
    return {"missed": c.get("test_missed"), "missed_flagged": c.get("test_missed_flagged"), "share": c.get("test_share"),
            "on": "the held-out collections of the seed-7 runs", "short": "seed-7 LOCO runs"}


def warning_block(c: dict | None) -> dict:
    """A warning choice (hv.choose_warning's dict) as the card prints it: chosen on seed 42, tested on seed 7."""
    if not c:
        return {}
    return {"quantile": c["quantile"], "margin": c["margin"], "missed": c["test_missed"],
            "per_seed": {"7": {"missed": c["test_missed"], "missed_flagged": c["test_missed_flagged"]}},
            "familiar_firing_val": c.get("familiar_firing_val"), "familiar_firing": c.get("familiar_firing"),
            **({"score": c["score"]} if c.get("score") else {})}
