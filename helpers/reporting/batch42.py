"""Batch 42 in words: its RESULTS.md and the conclusions' line, from the results file that evaluation.plane_call
computes from this batch's planes.csv.gz and batches 35, 37 and 39's views."""
from __future__ import annotations

from ..formatting import pct
from .tables import results_head
from .healthy_variety import floors_markdown, loco_markdown

TITLE42 = "a call that knows the plane"
REPLICATE_SEED42 = {"A": 42, "B": 1}  # a replicate carries its first member's seed (batch 39)
NAMES42 = {"R0": "one threshold (today)", "PT": "a threshold per plane", "PB": "the plane's training prior taken out"}


def _fit(f: dict) -> str:
    if "thresholds" in f:
        return ", ".join(f"{k} {v:g}" for k, v in f["thresholds"].items())
    if "shifts" in f:
        return ", ".join(f"{k} {v:+.2f}" for k, v in f["shifts"].items()) + f" (then threshold {f['threshold']:g})"
    return f"threshold {f['threshold']:g}"


def results42_markdown(res: dict) -> str:
    out = results_head(42, TITLE42, "batch42_plane_call", "`planes.csv.gz` and batches 35, 37 and 39's `views.csv.gz`",
                       "Planes from the shipped tagger (`models/scan_type.json`) for the image each model reads; the "
                       "two four-seed merges of the shipped recipe, each candidate fitted per fold on the fold's own "
                       "rows.", res["decision"])
    if res.get("rows"):
        reps = list(res["rows"])
        out += ["| candidate | " + " | ".join(f"{r}: primary score | {r}: largest brain-only drop" for r in reps) + " |",
                "|---|" + "---|---|" * len(reps)]
        for i, r0 in enumerate(res["rows"][reps[0]]):
            cells = []
            for rep in reps:
                r = res["rows"][rep][i]
                cells += [pct(r["primary"]), "n/a" if r["drop"] is None else f"{r['drop']:.1f} points"]
            out.append(f"| `{r0['candidate']}` {NAMES42[r0['candidate']]} | " + " | ".join(cells) + " |")
        out += ["", "## What each candidate fitted, per replicate and fold (thresholds on P(tumour); shifts in logits)", "",
                "| replicate | fold | candidate | fitted |", "|---|---|---|---|"]
        out += [f"| {f['replicate']} | {f['fold']} | `{f['candidate']}` | {_fit(f)} |" for f in res["fits"]]
        out.append("")
    ak = res.get("after_known_planes") or {}
    if ak:
        out += ["## After the decision, not part of the rule: the same candidates with the planes batch 27 wrote "
                "(healthy-extra's known planes, the tagger elsewhere)", "",
                "| candidate | " + " | ".join(f"{r}: primary score | {r}: largest brain-only drop" for r in ak) + " |",
                "|---|" + "---|---|" * len(ak)]
        for i, r0 in enumerate(next(iter(ak.values()))):
            cells = []
            for rep in ak:
                r = ak[rep][i]
                cells += [pct(r["primary"]), "n/a" if r["drop"] is None else f"{r['drop']:.1f} points"]
            out.append(f"| `{r0['candidate']}` {NAMES42[r0['candidate']]} | " + " | ".join(cells) + " |")
        out.append("")
    tg = res.get("tagger") or {}
    if tg:
        out += ["## The caveat: the tagger against healthy-extra's known planes", "",
                "| known plane | slices | tagger right, the slice | tagger right, its brain-only view |", "|---|---|---|---|"]
        out += [f"| {pl} | {v['n']:,} | {pct(v['right'])} | {pct(tg['plane_brain_only'][pl]['right'])} |"
                for pl, v in tg["plane"].items()]
        out.append("")
    if res.get("loco"):
        out += ["## Every evaluation (score by replicate: 42 = A, 1 = B, as batch 39 labels them)", "",
                loco_markdown({"loco": [{**r, "seed": REPLICATE_SEED42[r["replicate"]]} for r in res["loco"]]},
                              names=NAMES42), ""]
    for c, fl in (res.get("floors") or {}).items():
        out += [f"## LOCO floors, `{c}`, mean of the two replicates", "", floors_markdown(fl), ""]
    return "\n".join(out)


def summary_line(res: dict | None) -> str | None:
    if not res or not res.get("rows"):
        return None
    tg = (res.get("tagger") or {}).get("plane") or {}
    acc = ", ".join(f"{pl} {pct(v['right'])}" for pl, v in tg.items())
    ak = res.get("after_known_planes") or {}
    after = ""
    if ak:
        d = {rep: {r["candidate"]: r["primary"] for r in rows} for rep, rows in ak.items()}
        after = (" After the decision, with healthy-extra's known planes in place of the tagger's, the prior taken out "
                 "moves the primary score by " + " and ".join(
                     f"{(v['PB'] - v['R0']) * 100:+.1f} points ({rep})" for rep, v in d.items()) + ": the plane is "
                 "not where the held-out errors can be undone at the call.")
    return (f"Batch 42 ({TITLE42}): {res['decision']}. The plane tagger the dashboard runs is right on healthy-extra's "
            f"known planes only this often: {acc}.{after}")


TITLE43 = "a plane tagger that has seen more than Kaggle's slices"


def _acc_row(name: str, a: dict) -> str:
    cells = [f"{pct(a['per_plane'][pl]['right'])} of {a['per_plane'][pl]['n']:,}" if pl in a["per_plane"] else "n/a"
             for pl in ("axial", "coronal", "sagittal")]
    return f"| {name} | {pct(a['right'])} of {a['n']:,} | " + " | ".join(cells) + " |"


def results43_markdown(res: dict) -> str:
    out = results_head(43, TITLE43, "batch43_plane_tagger", "", "v1: the shipped tagger (the hand-labelled Kaggle "
                       f"slices); v2: the same and healthy-extra's {res.get('n_extra_train', 0):,} union training "
                       "slices with their known plane.", res["decision"], script="run.py")
    out += [f"Kaggle hold-out hand labels: v1 {pct(res['holdout']['v1']['accuracy'])}, v2 "
            f"{pct(res['holdout']['v2']['accuracy'])} of {res['holdout']['v1']['n']} slices.", "",
            "| tagger, on | all | axial | coronal | sagittal |", "|---|---|---|---|---|",
            _acc_row("v1, every healthy-extra slice", res["loso"]["v1"]),
            _acc_row("v2, each source left out of its fit", res["loso"]["v2"]),
            _acc_row("v1, healthy-extra's union test rows", res["test"]["v1"]),
            _acc_row("v2, healthy-extra's union test rows", res["test"]["v2"]), "",
            "## Per healthy-extra source (v2 fitted without it)", "", "| source | v1 | v2 |", "|---|---|---|"]
    out += [f"| {s} | {pct(v['v1']['right'])} of {v['v1']['n']:,} | {pct(v['v2']['right'])} |"
            for s, v in res["loso"]["per_source"].items()]
    return "\n".join(out) + "\n"
