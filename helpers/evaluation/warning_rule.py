"""The unfamiliar-scan warning a shipped model carries: which (quantile, margin) rule the latest batch chose, and
writing it into the model's files. Batch 16 (experiments/batch16_warning_headroom/PLAN.md) chose it again with a 4%
cap on familiar validation firing, because batch 11's 5% cap let familiar *test* firing reach 5.6%.

The rule has two parts: the feature distance beyond a validation quantile ("unfamiliar scan") and a P(tumour) within
`margin` logits of the call threshold ("uncertain"). Candidates and their measurements are batch 11's (amendment 1):
held-out missed tumours of the seed-42 and seed-7 LOCO runs of `ens_he2`, and the shipped ensemble's firing on its
familiar validation and test slices.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from . import cross_collection as xc
from . import ensemble_transfer as et
from . import healthy_variety as hv

BATCH16 = config.EXPERIMENTS_DIR / "batch16_warning_headroom"
RESULTS16 = BATCH16 / "results.json"
CAP16 = 0.04  # PLAN.md: firing on at most 4% of familiar validation slices, headroom under the 5% test floor
BATCH10_RULE = (0.97, 1.5)


def apply(name: str, quantile: float, margin: float, batch: int) -> bool:
    """Write a warning rule chosen by `batch` into a model: the quantile (and the batch) into its familiarity rule,
    the margin into its operating point (the dashboard's and the CLI's "uncertain" band), and both into its union
    predictions' flags and warning counts. A rule a later batch chose for this model is kept (False): re-running an
    earlier batch's verb never undoes a later choice."""
    from ..modeling import familiarity

    f = records.files(config.MODELS_DIR, name)
    rule_path = f.record.with_name("familiarity.json")
    rule = records.read_json(rule_path)
    rec = records.read(f.record)
    if not rule or familiarity.qkey(quantile) not in rule.get("val_quantiles", {}) or int(rule.get("warn_batch", 0)) > batch:
        return False
    rule["warn_quantile"], rule["warn_batch"] = float(quantile), int(batch)
    records.write_json(rule, rule_path, compact=True)
    path = f.record.with_name("union_predictions.csv")
    pred = pd.read_csv(path, keep_default_na=False)
    _write_flags(f, rec, rule, pred, pred["familiarity_ratio"].to_numpy(float) * rule["threshold"], float(margin))
    return True


def _write_flags(f, rec: dict, rule: dict, pred: pd.DataFrame, d: np.ndarray, margin: float) -> None:
    """A model's warning as written by `apply` and `apply22`: the band into its operating point, the union test
    predictions' flags (distance `d` past the rule, P(tumour) within `margin` logits of the call) and the counts."""
    from ..modeling import familiarity

    records.update(f.record, operating_point={**rec["operating_point"], "uncertain_margin": margin})
    t = xc.call_threshold(rec)
    pred["unfamiliar"] = familiarity.unfamiliar(rule, d).astype(int)
    pred["near_threshold"] = (np.abs(hv._logit(pred["p_tumour"]) - hv._logit(t)) < margin).astype(int)
    pred.to_csv(f.record.with_name("union_predictions.csv"), index=False)
    records.update(f.record, warnings=xc.warning_counts(pred, t))


def results16() -> dict | None:
    return records.read_json(RESULTS16)


def compute16(b11: dict | None = None) -> dict:
    """Batch 16's choice from batch 11's candidate measurements (no model is loaded)."""
    b11 = b11 if b11 is not None else (records.read_json(et.RESULTS) or {})
    wr = b11.get("warning_rechosen") or {}
    rows = pd.DataFrame(wr.get("rows") or [])
    choice = hv.choose_warning(rows, wr.get("familiar_firing_val") or {}, wr.get("familiar_firing") or {},
                               cap=CAP16)
    return records.jsonable({"cap_val": CAP16, "model": b11.get("shipped"), "previous": wr.get("choice"),
                             "choice": choice, "rows": wr.get("rows") or [],
                             "familiar_firing": wr.get("familiar_firing") or {},
                             "familiar_firing_val": wr.get("familiar_firing_val") or {}})


# The batches that chose a warning: their folder, and where the measured choice sits in their results.json.
CHOSEN_BY = {10: ("batch10_healthy_variety", ("warning", "choice")),
             11: ("batch11_ensemble_transfer", ("warning_rechosen", "choice")),
             15: ("batch15_schedule", ("warning", "choice")), 16: ("batch16_warning_headroom", ("choice",)),
             20: ("batch20_brain_only_ensemble", ("warning", "choice")), 22: ("batch22_warning_scores", ("choice",))}


def chosen_by(name: str) -> int:
    """The batch whose warning model `name` carries (what `apply` wrote; batch 10's rule when none did)."""
    rule = records.read_json(config.MODELS_DIR / name / "familiarity.json") or {}
    return int(rule.get("warn_batch", 10)) if rule.get("warn_quantile") is not None else 10


def current(name: str | None = None) -> tuple[tuple[float, float], str]:
    """((quantile, margin), the results page of the batch that chose it) of the warning model `name` (default: the
    shipped one) carries, read from the model's own files (what `apply` wrote)."""
    name = name or config.DEFAULT_MODEL_NAME
    rule = records.read_json(config.MODELS_DIR / name / "familiarity.json") or {}
    op = (records.read(config.MODELS_DIR, name) or {}).get("operating_point") or {}
    page = f"experiments/{CHOSEN_BY[chosen_by(name)][0]}/RESULTS.md"
    if rule.get("warn_quantile") is None or op.get("uncertain_margin") is None:
        return BATCH10_RULE, page
    return (float(rule["warn_quantile"]), float(op["uncertain_margin"])), page


def choice_of(name: str | None = None) -> dict | None:
    """The measured choice (quantile, margin, its firing and the share of held-out misses it flags) behind the
    warning model `name` carries, from the results file of the batch that chose it; the familiar firing is the
    model's own where that batch refitted the rule on several models (batch 22's "applied")."""
    name = name or config.DEFAULT_MODEL_NAME
    folder, keys = CHOSEN_BY[chosen_by(name)]
    res = records.read_json(config.EXPERIMENTS_DIR / folder / "results.json") or {}
    own = (res.get("applied") or {}).get(name)
    for k in keys:
        res = (res or {}).get(k)
    if res and own and (own["score"], own["quantile"], own["margin"]) == (res.get("score"), res["quantile"],
                                                                          res["margin"]):
        res = {**res, "familiar_firing_val": own["familiar_firing_val"], "familiar_firing": own["familiar_firing"]}
    return res or None


def apply22(name: str, choice: dict, u=None, X=None) -> dict:
    """Batch 22: refit the chosen score on model `name`'s union training rows (thresholds on its union validation
    rows), write it with the chosen quantile and margin into the model's files (rule, operating point, union
    predictions' distances and flags, warning counts) and return its firing on familiar validation and test slices.
    Unlike `apply`, the rule itself is replaced: a (collection, class) cell rule has other means."""
    from ..data import union_split
    from ..modeling import familiarity
    from ..modeling.predictor import load_model
    from . import warning_scores as ws

    u = u or union_split.build()
    X = union_split.union_arrays(u) if X is None else X
    q, m, score = float(choice["quantile"]), float(choice["margin"]), str(choice["score"])
    f = records.files(config.MODELS_DIR, name)
    rec = records.read(f.record)
    model = load_model(f.weights).model  # loaded once: the rule, validation and union test all read it
    rule, L_val, F_val = ws.shipped_rule(model, rec["config"].get("collections"), score, u, X)
    rule.update(warn_quantile=q, warn_batch=22, warn_score=score)
    t = xc.call_threshold(rec)
    path = f.record.with_name("union_predictions.csv")
    pred = pd.read_csv(path, keep_default_na=False)
    d, d_bo = ws.union_distances(model, pred, rule, u, X)
    pred["familiarity_ratio"] = (d / rule["threshold"]).round(4)
    pred["familiarity_ratio_brain_only"] = (d_bo / rule["threshold"]).round(4)
    cut = familiarity.warn_threshold(rule)[0]
    firing = float(hv.flagged(pred["p_tumour"].to_numpy(float), d, t, cut, m).mean())
    firing_val = float(hv.flagged(ws.p_tumour(L_val, float(rec["temperature"])), familiarity.score(rule, F_val), t,
                                  cut, m).mean())
    records.write_json(rule, f.record.with_name("familiarity.json"), compact=True)
    _write_flags(f, rec, rule, pred, d, m)
    return {"model": name, "score": score, "quantile": q, "margin": m, "n_means": len(rule["means"]),
            "familiar_firing": firing, "familiar_firing_val": firing_val}
