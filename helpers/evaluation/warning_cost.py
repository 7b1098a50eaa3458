"""Batch 36 (experiments/batch36_warning_cost/PLAN.md): what the unfamiliar-scan warning withholds on collections
held out, and a call that stands beside it.

Reads batch 35's views.csv.gz (test_time_views.measure): per held-out slice (and its brain-only view) and familiar
test slice of the six retrained he_bo LOCO runs, the logits and the distance over batch 22's cut. Each run's call
threshold and temperature are its own (fitted on its validation rows, as the run did).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from . import test_time_views as tv

BATCH36 = config.EXPERIMENTS_DIR / "batch36_warning_cost"
RESULTS36 = BATCH36 / "results.json"
POLICIES = ("withhold", "no_negative", "beside")  # what a flag does; "withhold" ships, "beside" is a reference
INCUMBENT36, CANDIDATE36 = "withhold", "no_negative"
GIVE_BACK36, PRECISION36 = 0.5, 0.95  # PLAN.md: give back >= half the withheld correct calls, >= 95% of them right


def slices(views: pd.DataFrame) -> pd.DataFrame:
    """One row per scored slice: run, set ("held" or "fam"), view, union row, source, tumour, P(tumour), call,
    flagged (the distance ratio of batch 22's rule beyond 1; on a merge, the members' mean ratio)."""
    from ..modeling.calibrate import probs_from_logits

    no = config.CLASSES.index(config.NO_TUMOUR)
    out = []
    for (seed, fold), r in views.groupby(["seed", "fold"], sort=False):
        point = tv.candidate_run(views, int(seed), fold, tv.INCUMBENT35)["operating_point"]
        t, T = float(point["threshold"]), float(point["temperature"])
        for name, view, base in (("held", "plain", "x"), ("held", "brain-only", "v"), ("fam", "plain", "x")):
            d = r[r["set"] == name]
            p = 1 - probs_from_logits(d[tv.logit_cols(base)].to_numpy(float), T)[:, no]
            out.append(pd.DataFrame({"seed": int(seed), "fold": fold, "set": name, "view": view,
                                     "row": d["row"].to_numpy(), "source": d["source"].to_numpy(), "collection": d["collection"].to_numpy(),
                                     "tumour": (d["label"] != config.NO_TUMOUR).to_numpy(), "p_tumour": p,
                                     "threshold": t, "call": p >= t, "flagged": d[f"ratio_{base}"].to_numpy() > 1}))
    return pd.concat(out, ignore_index=True)


def withheld(s: pd.DataFrame, policy: str) -> np.ndarray:
    if policy == "withhold":
        return s["flagged"].to_numpy()
    if policy == "no_negative":
        return (s["flagged"] & ~s["call"]).to_numpy()
    if policy == "beside":
        return np.zeros(len(s), bool)
    raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")


def counts(s: pd.DataFrame, policy: str) -> dict:
    w = withheld(s, policy)
    y, c, f = s["tumour"].to_numpy(), s["call"].to_numpy(), s["flagged"].to_numpy()
    right = c == y
    miss, fa = y & ~c, ~y & c
    return {"policy": policy, "n": int(len(s)), "flagged": int(f.sum()), "given": int((~w).sum()),
            "correct_withheld": int((right & w).sum()), "misses_withheld": int((miss & w).sum()),
            "false_alarms_withheld": int((fa & w).sum()), "misses_given": int((miss & ~w).sum()),
            "misses_given_warned": int((miss & ~w & f).sum()), "false_alarms_given": int((fa & ~w).sum()),
            "false_alarms_given_warned": int((fa & ~w & f).sum()),
            "flagged_right": None if not f.any() else float(right[f].mean())}


def table(s: pd.DataFrame) -> pd.DataFrame:
    """Counts per (set, source, policy), both views and both seeds pooled, then per set over every source."""
    rows = []
    for (name, src), g in s.groupby(["set", "source"], sort=False):
        rows += [{"set": name, "source": src, **counts(g, p)} for p in POLICIES]
    for name, g in s.groupby("set", sort=False):
        rows += [{"set": name, "source": "all", **counts(g, p)} for p in POLICIES]
    return pd.DataFrame(rows)


def flagged_tumour_precision(s: pd.DataFrame) -> float | None:
    """How often a flagged tumour call (the calls `no_negative` gives back) is right."""
    k = (s["flagged"] & s["call"]).to_numpy()
    return float(s["tumour"].to_numpy()[k].mean()) if k.any() else None


def decide(s: pd.DataFrame) -> tuple[str, dict, str]:
    held, fam = s[s["set"] == "held"], s[s["set"] == "fam"]
    w0 = counts(held, INCUMBENT36)
    back = int((held["flagged"] & held["call"] & held["tumour"]).sum())  # right calls withhold holds, no_negative gives
    share = back / w0["correct_withheld"] if w0["correct_withheld"] else None
    ph, pf = flagged_tumour_precision(held), flagged_tumour_precision(fam)
    ok1 = share is not None and share >= GIVE_BACK36 - 1e-12
    ok2 = all(p is not None and p >= PRECISION36 - 1e-12 for p in (ph, pf))
    row = {"correct_withheld": w0["correct_withheld"], "given_back": back, "share": share,
           "precision_held": ph, "precision_familiar": pf, "give_back_met": ok1, "precision_met": ok2}

    def pct(x):
        return "n/a" if x is None else f"{x:.1%}"

    note = (f"withhold keeps {w0['correct_withheld']:,} correct held-out calls from the reader; no_negative gives back "
            f"{back:,} of them ({pct(share)}; at least {GIVE_BACK36:.0%}: {'yes' if ok1 else 'no'}); flagged tumour "
            f"calls right {pct(ph)} held out and {pct(pf)} on familiar test slices (at least {PRECISION36:.0%} "
            f"both: {'yes' if ok2 else 'no'})")
    if ok1 and ok2:
        return CANDIDATE36, row, note + ": no_negative replaces withhold"
    return INCUMBENT36, row, note + ": withhold stays"


def compute(views: pd.DataFrame | None = None) -> dict:
    views = tv.read_views() if views is None else views
    if views is None:
        return {"decision": "not measured yet (batch 35's views.csv.gz)"}
    s = slices(views)
    choice, row, note = decide(s)
    per_seed = [{"seed": int(sd), **counts(g[g["set"] == "held"], INCUMBENT36)} for sd, g in s.groupby("seed")]
    return records.jsonable({"table": table(s).to_dict("records"), "choice": choice, "row": row, "decision": note,
                             "per_seed": per_seed,
                             "thresholds": s.groupby(["seed", "fold"])["threshold"].first().reset_index()
                             .to_dict("records")})


def results() -> dict | None:
    return records.read_json(RESULTS36)
