"""Batch 10 (healthy variety): computing its results file (experiments/batch10_healthy_variety/results.json)
from the run records and, with the data present, the shipped candidates (their union metrics at their own call
threshold, the warning's validation quantiles and firing) and the old shipped model on healthy-extra. The text
built from that file (RESULTS.md, the card, the README lines) is reporting.healthy_variety's."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..evaluation import cross_collection as xc
from ..evaluation import healthy_variety as hv
from ..evaluation.warning_rule import apply as apply_warning

SHIPPED_CANDIDATES = ("brain_tumor_hv", "brain_tumor_hv_long")  # PLAN.md amendment 2: the one with the higher val score


def results() -> dict | None:
    return records.read_json(hv.RESULTS)


def shipped_choice(recipe: str | None = None) -> tuple[str | None, list[dict]]:
    """PLAN.md amendment 2: among the union models of the chosen recipe, the higher validation equal-weight score
    (every union model of the batch is listed; only the chosen recipe's compete)."""
    cands = []
    for n in SHIPPED_CANDIDATES:
        r = records.read(config.MODELS_DIR, n)
        if r and r.get("operating_point"):
            cands.append({"name": n, "recipe": r["config"]["recipe"], "epochs": r["config"]["epochs"],
                          "val_score": r["operating_point"]["val_score"], "threshold": r["operating_point"]["threshold"]})
    compete = [c for c in cands if recipe is None or c["recipe"] == recipe]
    return (max(compete, key=lambda c: c["val_score"])["name"] if compete else None), cands


def validation_firing(name: str, rule: dict, t: float, roots=None) -> dict[str, float] | None:
    """Share of the model's union validation slices each warning candidate flags (amendment 3's cap)."""
    from ..data import collections as cx
    from ..modeling.predictor import load_model

    found = roots or cx.available()
    if "brain-tumor-mri" not in found:
        return None
    u = union_split.build(found)
    X = union_split.union_arrays(u)
    rec = records.read(config.MODELS_DIR, name)
    _, va, _ = union_split.fold_rows(u.table, None, rec["config"].get("collections"))
    p = load_model(config.MODELS_DIR / name / "model.keras")
    P, fam = p.predict_with_familiarity(X[u.table.index.get_indexer(va.index)])
    pt = 1 - P[:, config.CLASSES.index(config.NO_TUMOUR)]
    return hv.familiar_firing(pt, np.asarray(fam[0]) / rule["threshold"], rule, t)


def union_block(name: str) -> dict | None:
    """The union test numbers of a shipped candidate at its own call threshold: per collection (group-bootstrap
    CIs), the Kaggle leak-free 4-class accuracy and tumour sensitivity, and per healthy-extra source."""
    f = records.files(config.MODELS_DIR, name)
    rec = records.read(f.record)
    path = f.record.with_name("union_predictions.csv")
    if not rec or not path.is_file():
        return None
    pred = pd.read_csv(path, keep_default_na=False)
    thr = xc.call_threshold(rec)
    lf = pred[(pred["old_split"] == "test") & pred["label"].isin(config.CLASSES)]
    tum = lf["label"] != config.NO_TUMOUR
    he = pred[pred["collection"] == "healthy-extra"]
    return {"name": name, "threshold": thr, "metrics": xc.metrics_by_collection(pred, thr=thr),
            "leakfree_accuracy": xc.in_dataset_accuracy(pred), "leakfree_n": int(len(lf)),
            "leakfree_tumour_sensitivity": float((lf.loc[tum, "p_tumour"] >= thr).mean()) if tum.any() else None,
            "healthy_extra_sources": {s: {"n": int(len(g)), "specificity": float((g["p_tumour"] < thr).mean())}
                                      for s, g in he.groupby("source")},
            "warnings": xc.warning_counts(pred, thr)}


def compute(roots=None, with_models: bool = True) -> dict:
    """The batch's results. with_models: also the old shipped model on healthy-extra (needs the data and
    TensorFlow); otherwise that block is carried over from the last results file."""
    runs = xc.read_batch(hv.BATCH10)
    loco = hv.loco10(runs)
    scores = hv.primary_scores(loco)
    choice, note = hv.decide(scores)
    prev = results() or {}
    shipped, cands = shipped_choice(choice)
    out = {"loco": loco.to_dict("records"), "scores": scores.to_dict("records"), "choice": choice,
           "decision": note, "floors_loco": hv.floors_loco(loco, choice) if choice else [],
           "candidates": cands, "shipped": shipped,
           "union": {c["name"]: union_block(c["name"]) for c in cands}}
    wrows = hv.warning_rows(runs, choice) if choice else pd.DataFrame()
    firing, firing_val = {}, (prev.get("warning") or {}).get("familiar_firing_val") or {}
    if shipped:
        rule = records.read_json(config.MODELS_DIR / shipped / "familiarity.json")
        pred = pd.read_csv(config.MODELS_DIR / shipped / "union_predictions.csv", keep_default_na=False)
        t = xc.call_threshold(records.read(config.MODELS_DIR, shipped))
        firing = hv.familiar_firing(pred["p_tumour"].to_numpy(float), pred["familiarity_ratio"].to_numpy(float),
                                    rule, t)
        if with_models or (prev.get("shipped") != shipped):
            firing_val = validation_firing(shipped, rule, t, roots) or {}
    wchoice = hv.choose_warning(wrows, firing_val, firing)
    out["warning"] = {"rows": wrows.to_dict("records"), "familiar_firing": firing, "familiar_firing_val": firing_val,
                      "choice": wchoice}
    if shipped and wchoice:  # kept where a later batch chose again for this model (batch 15)
        apply_warning(shipped, wchoice["quantile"], wchoice["margin"], batch=10)
        out["union"][shipped] = union_block(shipped)  # its warning counts follow the chosen rule
    out["split"] = prev.get("split")
    out["old_model_on_healthy_extra"] = prev.get("old_model_on_healthy_extra")
    if with_models:
        out["split"] = split_facts(roots)
        out["old_model_on_healthy_extra"] = old_model_on_healthy_extra(roots)
    return records.jsonable(out)


def split_facts(roots=None) -> dict | None:
    from ..data import collections as cx

    found = roots or cx.available()
    if "healthy-extra" not in found or "brain-tumor-mri" not in found:
        return None
    u = union_split.build(found)
    t = u.table
    return {"counts": {f"{c}|{s}": int(n) for (c, s), n in t.groupby(["collection", "split"]).size().items()},
            "moved": int(u.moved), "adjacent_leaks": int(len(union_split.adjacent_leaks(u))),
            "adjacent_threshold": union_split.ADJACENT, "sha256": union_split.split_sha256(t)}


def old_model_on_healthy_extra(roots=None, name: str = "brain_tumor_xc_sym") -> dict | None:
    """The model shipped before batch 10 never saw healthy-extra: its specificity per source is a true held-out
    number, at 0.5 (its union records) and at the screening threshold its dashboard used."""
    from ..modeling.predictor import screening_threshold
    from ..data import collections as cx
    from ..modeling.predictor import load_model

    found = roots or cx.available()
    if "healthy-extra" not in found or "brain-tumor-mri" not in found or not (config.MODELS_DIR / name).is_dir():
        return None
    u = union_split.build(found)
    X = union_split.union_arrays(u)
    he = u.table["collection"] == "healthy-extra"
    p = load_model(config.MODELS_DIR / name / "model.keras")
    P = p.predict_arrays(X[he.to_numpy()])
    pt = 1 - P[:, config.CLASSES.index(config.NO_TUMOUR)]
    src = u.table.loc[he, "source"].to_numpy()
    scr = screening_threshold(p.meta)
    return {"name": name, "screening_threshold": scr,
            "sources": {s: {"n": int((src == s).sum()), "specificity_at_0.5": float((pt[src == s] < 0.5).mean()),
                            "specificity_at_screening": float((pt[src == s] < scr).mean())}
                        for s in union_split.HEALTHY_EXTRA_SOURCES if (src == s).any()}}


# ------------------------------------------------------------------------------------------------ markdown
