"""Batch 42 (experiments/batch42_plane_call/PLAN.md): a call that knows the plane, judged on the two four-seed LOCO
replicates of the shipped recipe (batches 35, 37 and 39's views).

`measure` (needs the data) tags every union slice and its brain-only view with the shipped plane tagger
(planes.csv.gz). `compute` (no data) scores `R0` (one threshold), `PT` (a threshold per plane) and `PB` (the plane's
training prior taken out of the tumour logit) per fold and replicate, as every LOCO run since batch 10 is scored.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import config, records
from ..data import union_split
from ..modeling import operating_point as op
from . import healthy_variety as hv
from . import test_time_views as tv
from . import views_on_merges as vm
from . import warning_scores as ws

BATCH42 = config.EXPERIMENTS_DIR / "batch42_plane_call"
PLANES42 = BATCH42 / "planes.csv.gz"
RESULTS42 = BATCH42 / "results.json"
CANDIDATES42 = ("R0", "PT", "PB")
INCUMBENT42 = "R0"
REPLICATES42 = {"A": vm.SEEDS38, "B": (1, 2, 3, 4)}
MARGIN42, DROP42 = 0.01, 1.0  # PLAN.md rule 1: at least 1 point above R0, a largest drop at most 1 point above


# The two corrections: each fitted on a run's own rows; the plane of a slice is the scan-type tagger's.
PLANE_MIN = 15  # PT: a plane with fewer tumour or healthy validation rows keeps the one threshold


def balanced_accuracy(p: np.ndarray, tumour: np.ndarray, t: float) -> float:
    call = np.asarray(p) >= t
    tumour = np.asarray(tumour, bool)
    return float((call[tumour].mean() + (1 - call[~tumour].mean())) / 2)


def plane_thresholds(p: np.ndarray, tumour: np.ndarray, planes, t_all: float, min_n: int = PLANE_MIN) -> dict:
    """PT: per plane, the median of the grid thresholds within op.PLATEAU of the best balanced accuracy over that
    plane's rows (pooled); `t_all` where a plane has fewer than min_n tumour or healthy rows."""
    p, tumour, planes = np.asarray(p, float), np.asarray(tumour, bool), np.asarray(planes).astype(str)
    out = {}
    for pl in sorted(set(planes)):
        k = planes == pl
        if (k & tumour).sum() < min_n or (k & ~tumour).sum() < min_n:
            out[pl] = float(t_all)
            continue
        s = np.array([balanced_accuracy(p[k], tumour[k], t) for t in op.GRID])
        out[pl] = float(np.round(np.median(op.GRID[s >= s.max() - op.PLATEAU - 1e-12]), 3))
    return out


def _logit(x):
    x = np.clip(np.asarray(x, float), 1e-6, 1 - 1e-6)
    return np.log(x / (1 - x))


def plane_shifts(tumour: np.ndarray, planes) -> dict:
    """PB: per plane, logit(tumour share of all rows) - logit(tumour share of the plane's rows): added to a slice's
    tumour logit, it takes out the prior its plane carried in training."""
    tumour, planes = np.asarray(tumour, bool), np.asarray(planes).astype(str)
    base = _logit(tumour.mean())
    return {pl: float(base - _logit(tumour[planes == pl].mean())) for pl in sorted(set(planes))}


def shift_p(p: np.ndarray, planes, shifts: dict) -> np.ndarray:
    """P(tumour) with each slice's plane shift added to its logit (planes the shifts lack: no shift)."""
    d = np.array([shifts.get(str(pl), 0.0) for pl in np.asarray(planes)], float)
    return 1 / (1 + np.exp(-(_logit(p) + d)))


def measure() -> pd.DataFrame:
    from ..modeling.train_union import view_arrays
    from . import scan_type

    shipped = scan_type.load_shipped()
    if shipped is None:
        raise FileNotFoundError("models/scan_type.json is missing: `brain-mri scan-types` fits the plane tagger")
    u = union_split.build()
    X = union_split.union_arrays(u)
    tab = u.table
    known = tab["plane"].fillna("").astype(str) if "plane" in tab else pd.Series("", index=tab.index)
    return pd.DataFrame({"row": tab.index.to_numpy(), "collection": tab["collection"].to_numpy(),
                         "path": tab["path"].to_numpy(), "split": tab["split"].to_numpy(),
                         "source": tab["source"].to_numpy(), "sources": tab["sources"].to_numpy(),
                         "label": tab["label"].to_numpy(),
                         "plane": shipped["typer"].tag(X)["plane"].to_numpy(),
                         "plane_brain_only": shipped["typer"].tag(view_arrays(X))["plane"].to_numpy(),
                         "plane_known": known.where(known.isin(scan_type.PLANES), "").to_numpy()})


def read_planes() -> pd.DataFrame | None:
    return pd.read_csv(PLANES42, keep_default_na=False) if PLANES42.is_file() else None


def fold_run(merged: pd.DataFrame, fold: str, cand: str, planes: pd.DataFrame, tab_train: dict) -> dict:
    """One fold of one replicate's merge under a candidate: `R0`'s run (test_time_views.candidate_run, the slice
    alone) with the candidate's per-row thresholds or shifted P(tumour), as hv.source_rows reads it, and what was
    fitted (`fit`)."""
    run = tv.candidate_run(merged, 0, fold, tv.INCUMBENT35)
    point, pred = dict(run["operating_point"]), run["pred"]
    T = float(point["temperature"])
    r = merged[merged["fold"] == fold]
    va = r[r["set"] == "val"]
    p_va, tum_va = ws.p_tumour(tv.candidate_logits(va, tv.INCUMBENT35), T), (va["label"] != config.NO_TUMOUR).to_numpy()
    pl_va = planes["plane"].loc[va["row"]].to_numpy()
    pl_ho = planes["plane"].loc[pred["row"]].to_numpy()
    plb_ho = planes["plane_brain_only"].loc[pred["row"]].to_numpy()
    fit = {}
    if cand == "PT":
        th = plane_thresholds(p_va, tum_va, pl_va, point["threshold"])
        pred["threshold"] = [th.get(x, point["threshold"]) for x in pl_ho]
        pred["threshold_brain_only"] = [th.get(x, point["threshold"]) for x in plb_ho]
        fit = {"thresholds": th}
    elif cand == "PB":
        tr = tab_train[fold]
        shifts = plane_shifts((tr["label"] != config.NO_TUMOUR).to_numpy(), planes["plane"].loc[tr.index].to_numpy())
        point["threshold"] = op.choose_threshold(shift_p(p_va, pl_va, shifts), tum_va, va["collection"].to_numpy())
        pred["p_tumour"] = shift_p(pred["p_tumour"], pl_ho, shifts)
        pred["p_tumour_brain_only"] = shift_p(pred["p_tumour_brain_only"], plb_ho, shifts)
        fit = {"shifts": shifts}
    return {"config": {"recipe": cand, "seed": 0, "fold": fold}, "operating_point": point, "pred": pred,
            "fit": {"threshold": float(point["threshold"]), "temperature": T, **fit}}


def replicate(views: pd.DataFrame, planes: pd.DataFrame, tab_train: dict) -> tuple[pd.DataFrame, list[dict]]:
    merged = tv.merged_views(views)
    frames, fits = [], []
    for fold in merged["fold"].unique():
        for cand in CANDIDATES42:
            run = fold_run(merged, fold, cand, planes, tab_train)
            frames.append(hv.source_rows(run))
            fits.append({"candidate": cand, "fold": fold, **run["fit"]})
    return pd.concat(frames, ignore_index=True), fits


def rows_of(lo: pd.DataFrame) -> list[dict]:
    out = []
    for c in CANDIDATES42:
        g = lo[lo["recipe"] == c]
        complete = len(g) == hv.N_NUMBERS
        out.append({"candidate": c, "primary": float(g["score"].mean()) if complete else None,
                    "drop": tv.worst_drop(lo, c) if complete else None})
    return out


def decide(by_rep: dict[str, list[dict]]) -> tuple[str, list[dict], str]:
    """PLAN.md rules 1 and 2."""
    verdicts = []
    for c in CANDIDATES42[1:]:
        per = []
        for rep, rows in by_rep.items():
            r0 = next(r for r in rows if r["candidate"] == INCUMBENT42)
            r = next(r for r in rows if r["candidate"] == c)
            ok = (r["primary"] is not None and r0["primary"] is not None
                  and r["primary"] >= r0["primary"] + MARGIN42 - 1e-12 and r["drop"] <= r0["drop"] + DROP42 + 1e-9)
            per.append({"replicate": rep, "primary": r["primary"], "delta": None if r["primary"] is None else
                        r["primary"] - r0["primary"], "drop": r["drop"], "drop_r0": r0["drop"], "ok": bool(ok)})
        mean = float(np.mean([x["primary"] for x in per])) if all(x["primary"] is not None for x in per) else None
        verdicts.append({"candidate": c, "per_replicate": per, "mean_primary": mean,
                         "qualifies": all(x["ok"] for x in per)})
    ok = [v for v in verdicts if v["qualifies"]]
    parts = [f"{v['candidate']}: " + ", ".join(f"{x['replicate']} {x['primary']:.1%} ({x['delta'] * 100:+.1f} points, "
                                              f"largest drop {x['drop']:.1f} against {x['drop_r0']:.1f})"
                                              for x in v["per_replicate"])
             + (" — qualifies" if v["qualifies"] else " — does not qualify") for v in verdicts]
    r0 = "; ".join(f"{rep} {next(r for r in rows if r['candidate'] == INCUMBENT42)['primary']:.1%}"
                   for rep, rows in by_rep.items())
    head = f"R0 (one threshold): {r0}; " + "; ".join(parts)
    if not ok:
        return INCUMBENT42, verdicts, head + ". None qualifies: one threshold stays"
    win = max(ok, key=lambda v: v["mean_primary"])
    return win["candidate"], verdicts, head + f". {win['candidate']} is chosen"


def tagger_accuracy(planes: pd.DataFrame) -> dict:
    """The tagger against healthy-extra's known planes (the PLAN's caveat), per plane, slice and brain-only view."""
    k = planes[planes["plane_known"] != ""]
    out = {}
    for col in ("plane", "plane_brain_only"):
        out[col] = {pl: {"n": int((g := k[k["plane_known"] == pl]).shape[0]), "right": float((g[col] == pl).mean())}
                    for pl in sorted(k["plane_known"].unique())}
    return out


def compute(views: pd.DataFrame | None = None, planes: pd.DataFrame | None = None, known_planes: bool = True) -> dict:
    views = vm.six_seed_views() if views is None else views
    planes = read_planes() if planes is None else planes
    if views is None or planes is None:
        return {"decision": "the views of batches 35, 37 and 39 or this batch's planes are missing: nothing decided"}
    planes = planes.set_index("row")
    tab_train = {fold: union_split.fold_rows(planes, fold)[0] for fold in views["fold"].unique()}
    by_rep, lo_all, fits_all = {}, [], []
    for rep, seeds in REPLICATES42.items():
        lo, fits = replicate(views[views["seed"].isin(seeds)], planes, tab_train)
        by_rep[rep] = rows_of(lo)
        lo_all.append(lo.assign(replicate=rep))
        fits_all += [{"replicate": rep, **f} for f in fits]
    choice, verdicts, note = decide(by_rep)
    lo = pd.concat(lo_all, ignore_index=True)
    floors = {c: hv.floors_loco(lo[lo["recipe"] == c].assign(seed=lo["replicate"].map({"A": 42, "B": 1})), c)
              for c in CANDIDATES42}
    out = {"rows": by_rep, "verdicts": verdicts, "choice": choice, "decision": note, "fits": fits_all,
           "loco": lo.to_dict("records"), "floors": floors, "tagger": tagger_accuracy(planes.reset_index())}
    if known_planes:  # after the decision, not part of the rule: the same candidates with the planes batch 27 wrote
        k = union_split_planes(planes.reset_index())
        if k is not None:
            out["after_known_planes"] = {rep: rows_of(replicate(views[views["seed"].isin(seeds)], k, {
                f: union_split.fold_rows(k, f)[0] for f in views["fold"].unique()})[0])
                for rep, seeds in REPLICATES42.items()}
    return records.jsonable(out)


def union_split_planes(planes: pd.DataFrame) -> pd.DataFrame | None:
    """The planes file with batch 27's planes (`data/splits/union_planes.csv`: healthy-extra's index.csv, the tagger
    elsewhere) in place of the tagger's, for the slice and its brain-only view alike; None without that file."""
    if not union_split.UNION_PLANES.is_file():
        return None
    u = pd.read_csv(union_split.UNION_PLANES, keep_default_na=False, usecols=["collection", "path", "plane"])
    m = planes[["collection", "path"]].merge(u, on=["collection", "path"], how="left")["plane"].fillna("").to_numpy()
    return planes.assign(plane=m, plane_brain_only=m).set_index("row")


def results() -> dict | None:
    return records.read_json(RESULTS42)
