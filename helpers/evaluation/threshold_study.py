"""Batch 29 (experiments/batch29_operating_point/PLAN.md): a call threshold that does not move by chance.

The validation-chosen threshold of the shipped recipe's runs ranges 0.10-0.96: the equal-weight validation score is
nearly flat, so its argmax is set by a few slices. Three rules (operating_point.RULES) are applied to each LOCO run's
own validation rows and scored on its held-out sources, on seven run sets of the shipped recipe and its seed
ensembles. The runs saved only their held-out predictions, so `measure` computes the validation rows' P(tumour) once
(one forward pass per member model and fold; a merged run's logits are its members' mean, as ensemble.merge builds
it, at the merged run's own temperature) into validation.csv; everything else reads that file and the run records.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..modeling import operating_point as op
from . import ensemble_transfer as et
from . import healthy_variety as hv
from . import shipped_schedule as ss

BATCH29 = config.EXPERIMENTS_DIR / "batch29_operating_point"
RESULTS29 = BATCH29 / "results.json"
VALIDATION29 = BATCH29 / "validation.csv"
INCUMBENT_RULE = "best"
CANDIDATES29 = ("half", "plateau")
GAIN29, WINS29, TIE29 = 0.005, 5, 0.003  # PLAN.md: 0.5 point on the mean, above on 5 of 7; within 0.3: "half"
RECIPES29 = (ss.BO_E40, ss.ENS2S_E40, ss.ENS4S_E40)


def runs29() -> list[dict]:
    """The seven run sets' runs (three folds each), each with the folder its files are in."""
    out = [{**r, "folder": ss.BATCH20} for r in ss.runs20() if r["config"]["recipe"] == ss.BO_E40]
    out += [{**r, "folder": ss.BATCH24} for r in ss.runs24() if r["config"]["recipe"] in RECIPES29]
    out += [{**r, "folder": ss.BATCH28} for r in ss.runs28() if r["config"]["recipe"] in RECIPES29]
    return out


def _run_key(r: dict) -> tuple[str, int, str]:
    c = r["config"]
    return c["recipe"], int(c.get("seed", config.SEED)), c["fold"]


def _members(r: dict) -> list:
    """The .keras files whose mean logits are the run's (one for a single run)."""
    c = r["config"]
    if c.get("members"):
        return [config.PROJ_ROOT / m for m in c["members"]]
    if r.get("tta"):
        raise ValueError(f"{r['name']}: a run with test-time augmentation is not one of batch 29's")
    return [r["folder"] / r["keras_file"]]


def measure(runs: list[dict] | None = None, u: union_split.Union | None = None, X=None) -> pd.DataFrame:
    """validation.csv: every run's fold validation rows (union table index, collection, tumour) and P(tumour) at the
    run's own temperature. Each member model runs once per fold."""
    import keras

    from ..modeling import architectures  # noqa: F401 - registers the custom layers
    from . import warning_scores as ws

    runs = runs29() if runs is None else runs
    u = union_split.build() if u is None else u
    X = union_split.union_arrays(u) if X is None else X
    logits: dict[str, np.ndarray] = {}
    frames = []
    for r in runs:
        recipe, seed, fold = _run_key(r)
        _, va, _ = union_split.fold_rows(u.table, fold)
        for path in _members(r):
            key = str(path)
            if key not in logits:
                m = keras.saving.load_model(path, compile=False)
                logits[key] = ws.logits_and_features(m, X[u.table.index.get_indexer(va.index)])[0]
                del m
        z = np.mean([logits[str(p)] for p in _members(r)], axis=0)
        frames.append(pd.DataFrame({"recipe": recipe, "seed": seed, "fold": fold, "row": va.index.to_numpy(),
                                    "collection": va["collection"].to_numpy(),
                                    "tumour": (va["label"] != config.NO_TUMOUR).to_numpy(),
                                    "p_tumour": np.round(ws.p_tumour(z, float(r["temperature"])), 6)}))
        print(f"{r['name']}: {len(va)} validation rows", flush=True)
    return pd.concat(frames, ignore_index=True)


def thresholds(val: pd.DataFrame) -> pd.DataFrame:
    """Per run and rule, the threshold the rule picks on the run's validation rows."""
    out = []
    for (recipe, seed, fold), g in val.groupby(["recipe", "seed", "fold"], sort=False):
        p, y, c = g["p_tumour"].to_numpy(float), g["tumour"].to_numpy(bool), g["collection"].to_numpy()
        for rule in op.RULES:
            out.append({"recipe": recipe, "seed": int(seed), "fold": fold, "rule": rule,
                        "threshold": op.choose_threshold(p, y, c, rule)})
    return pd.DataFrame(out)


def with_thresholds(runs: list[dict], th: pd.DataFrame, rule: str) -> list[dict]:
    """The runs with their operating point's threshold replaced by `rule`'s."""
    t = th[th["rule"] == rule].set_index(["recipe", "seed", "fold"])["threshold"]
    return [{**r, "operating_point": {**(r.get("operating_point") or {}), "threshold": float(t[_run_key(r)])}}
            for r in runs]


def decide(per: dict[str, dict[str, float]]) -> tuple[str, list[dict], str]:
    """PLAN.md: (rule, one row per candidate, note). per[rule][run set] = primary score."""
    sets = list(per[INCUMBENT_RULE])
    base = float(np.mean([per[INCUMBENT_RULE][s] for s in sets]))
    rows = []
    for c in CANDIDATES29:
        m = float(np.mean([per[c][s] for s in sets]))
        wins = sum(per[c][s] > per[INCUMBENT_RULE][s] for s in sets)
        rows.append({"rule": c, "mean": m, "delta": m - base, "wins": int(wins), "of": len(sets),
                     "qualifies": bool(m - base >= GAIN29 - 1e-12 and wins >= WINS29)})
    head = f"rule '{INCUMBENT_RULE}' {base:.1%} (mean of {len(sets)} run sets)"
    parts = [f"'{r['rule']}' {r['mean']:.1%} ({r['delta'] * 100:+.1f} points, above on {r['wins']} of {r['of']})"
             + (" — qualifies" if r["qualifies"] else " — does not qualify") for r in rows]
    ok = {r["rule"]: r for r in rows if r["qualifies"]}
    if not ok:
        return INCUMBENT_RULE, rows, f"{head}; " + "; ".join(parts) + f". None qualifies: '{INCUMBENT_RULE}' stays"
    win = max(ok, key=lambda k: ok[k]["mean"])
    if "half" in ok and ok[win]["mean"] - ok["half"]["mean"] <= TIE29 + 1e-12:
        win = "half"
    return win, rows, f"{head}; " + "; ".join(parts) + f". Rule '{win}' is adopted"


def compute(val: pd.DataFrame | None = None) -> dict:
    """Batch 29's results from validation.csv and the run records: thresholds per run and rule, every rule's LOCO
    rows and primary scores per run set, the decision, and the LOCO floors of what ships under each rule."""
    if val is None:
        if not VALIDATION29.is_file():
            return {"decision": "validation.csv is not measured yet: no decision"}
        val = pd.read_csv(VALIDATION29)
    runs = runs29()
    th = thresholds(val)
    have = set(th[["recipe", "seed", "fold"]].itertuples(index=False, name=None))
    missing = sorted({_run_key(r) for r in runs} - have)
    if missing:
        return {"decision": f"{len(missing)} runs have no validation rows measured: no decision",
                "missing": [list(m) for m in missing]}
    recorded = {_run_key(r): float(r["operating_point"]["threshold"]) for r in runs}
    best = th[th["rule"] == INCUMBENT_RULE]
    reproduced = int(sum(abs(recorded[k] - t) < 1e-9 for k, t in
                         zip(best[["recipe", "seed", "fold"]].itertuples(index=False, name=None), best["threshold"])))
    lo = {rule: et.loco(with_thresholds(runs, th, rule)) for rule in op.RULES}
    per = {rule: {f"{r['recipe']}@{s}": float(v) for _, r in hv.primary_scores(lo[rule]).iterrows()
                  for s, v in r["per_seed"].items()} for rule in op.RULES}
    rule, rows, note = decide(per)
    return records.jsonable({
        "thresholds": th.to_dict("records"), "reproduced": reproduced, "runs": len(runs), "per_run_set": per,
        "rows": rows, "choice": rule, "decision": note,
        "loco": {k: v.to_dict("records") for k, v in lo.items()},
        "floors_loco": {k: hv.floors_loco(v, ss.ENS4S_E40) for k, v in lo.items()}})


def results() -> dict | None:
    return records.read_json(RESULTS29)
