"""Batch 32 (experiments/batch32_input_gate/PLAN.md): the input gate that withholds a verdict, fitted on the union
train rows of every collection, judged leave-one-source-out on real slices and on non-MRI probes.

`measure` writes measurements.csv (per union row: the gate's pixel features, no pixels); `compute` reads it. The
candidates' features, fitting and applying live in data.gate, which app.input_checks applies.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .. import config, records
from ..data import gate as gt

BATCH32 = config.EXPERIMENTS_DIR / "batch32_input_gate"
MEASURED32 = BATCH32 / "measurements.csv"
RESULTS32 = BATCH32 / "results.json"
CANDIDATES32 = ("extremes", "knn")
HALF32, TIE32 = 0.5, 0.002  # PLAN.md: at most half of current's held-out rejection; within 0.2 points: extremes


def source_key(collection: str, source: str) -> str:
    """The unit held out: a collection, or for healthy-extra one of its five sources (the union table's `source`)."""
    return f"healthy-extra/{source}" if collection == "healthy-extra" else collection


def measure(u=None, X=None) -> pd.DataFrame:
    """One row per union file: collection, source, split, label, path and the gate's features (gt.gate_features),
    from the file's bytes (colour) and its 128-px prepared image (everything else)."""
    from ..data import union_split

    u = union_split.build() if u is None else u
    X = union_split.union_arrays(u, gt.REF_SIZE) if X is None else X
    t = u.table
    rows = []
    for k, (c, p) in enumerate(zip(t["collection"], t["path"])):
        data = (u.roots[c] / p).read_bytes()
        rows.append(gt.gate_features(data, X[k]))
    f = pd.DataFrame(rows).round(5)
    head = pd.DataFrame({"collection": t["collection"].to_numpy(), "path": t["path"].to_numpy(),
                         "source": [source_key(c, s) for c, s in zip(t["collection"], t["source"])],
                         "split": t["split"].to_numpy(), "label": t["label"].to_numpy()})
    return pd.concat([head, f], axis=1)


def probes() -> dict[str, bytes]:
    """Pictures that are not brain MRI slices, made here (matplotlib's sample photograph is installed with it)."""
    import matplotlib.cbook
    from PIL import Image, ImageDraw

    from ..data.synthetic import make_phantom

    def png(a) -> bytes:
        b = io.BytesIO()
        Image.fromarray(np.asarray(a, np.uint8)).save(b, "PNG")
        return b.getvalue()

    rng = np.random.default_rng(0)
    out = {"uniform noise": png(rng.integers(0, 256, (256, 256))),
           "gaussian noise": png(np.clip(rng.normal(128, 50, (256, 256)), 0, 255))}
    for level in (32, 96, 160, 224):
        out[f"flat grey {level}"] = png(np.full((256, 256), level))
    out["ramp"] = png(np.tile(np.linspace(0, 255, 256), (256, 1)))
    out["checkerboard"] = png(((np.indices((256, 256)) // 32).sum(0) % 2) * 255)
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        photo = fh.read()
    out["colour photograph"] = photo
    out["grey photograph"] = png(np.asarray(Image.open(io.BytesIO(photo)).convert("L")))
    im = Image.new("L", (256, 256), 0)
    d = ImageDraw.Draw(im)
    for y in range(10, 250, 16):
        d.text((8, y), "LOREM IPSUM DOLOR SIT AMET 0123456789", fill=255)
    out["white text on black"] = png(np.asarray(im))
    g = make_phantom("glioma", seed=3, size=256)[0].copy()
    g[:40], g[-40:], g[:, :40], g[:, -40:] = 255, 255, 255, 255
    out["phantom in a thick bright frame"] = png(g)
    return out


def probe_features(pictures: dict[str, bytes] | None = None) -> pd.DataFrame:
    """Pictures' gate features (default `probes()`), as the upload path computes them (decode, prepare at 128 px)."""
    from ..data.prepare import decode_prepare

    rows = []
    for name, data in (probes() if pictures is None else pictures).items():
        _, x = decode_prepare(data, gt.REF_SIZE, name=name)
        rows.append({"probe": name, **gt.gate_features(data, x)})
    return pd.DataFrame(rows)


def _summary(gate: dict) -> dict:
    """A gate without its reference rows (models/input_gate.json holds them; shipped_from_results refits them)."""
    return {k: v for k, v in gate.items() if k not in ("reference", "mean", "scale")}


def _counts(rows: pd.DataFrame, gate: dict) -> dict:
    """{n, rejected, rate} of feature rows under `gate`."""
    rej = gt.gate_rejects(rows, gate)
    return {"n": len(rows), "rejected": int(rej.sum()), "rate": float(rej.mean()) if len(rows) else float("nan")}


def compute(m: pd.DataFrame | None = None) -> dict:
    """Batch 32's results from measurements.csv: held-out rejection per source and candidate, union test rejection
    per collection, the probes, the decision."""
    if m is None:
        if not MEASURED32.is_file():
            return {"decision": "measurements.csv is not measured yet: no decision"}
        m = pd.read_csv(MEASURED32)
    pr = probe_features()
    train = m[m["split"] == "train"]
    kinds = ("current", *CANDIDATES32)
    held, test, probe_rows = [], [], []
    for kind in kinds:
        for src in sorted(m["source"].unique()):
            gate = gt.CURRENT_GATE if kind == "current" else gt.fit_gate(train[train["source"] != src], kind)
            held.append({"kind": kind, "source": src, **_counts(m[m["source"] == src], gate)})
        gate = gt.CURRENT_GATE if kind == "current" else gt.fit_gate(train, kind)
        for c, rows in m[m["split"] == "test"].groupby("collection"):
            test.append({"kind": kind, "collection": c, **_counts(rows, gate)})
        rej = gt.gate_rejects(pr, gate)
        probe_rows += [{"kind": kind, "probe": p, "rejected": bool(r)} for p, r in zip(pr["probe"], rej)]
    held, test, probe_rows = pd.DataFrame(held), pd.DataFrame(test), pd.DataFrame(probe_rows)
    mean = held.groupby("kind")["rate"].mean().to_dict()
    base_probes = set(probe_rows[(probe_rows["kind"] == "current") & probe_rows["rejected"]]["probe"])
    rows, ok = [], {}
    for k in CANDIDATES32:
        got = set(probe_rows[(probe_rows["kind"] == k) & probe_rows["rejected"]]["probe"])
        missed = sorted(base_probes - got)
        q = bool(not missed and mean[k] <= HALF32 * mean["current"] + 1e-12)
        rows.append({"kind": k, "heldout": mean[k], "probes_missed": missed, "qualifies": q})
        if q:
            ok[k] = mean[k]
    head = f"current: {mean['current']:.2%} of real slices rejected (mean of {held['source'].nunique()} held-out sources)"
    parts = [f"{r['kind']}: {r['heldout']:.2%}" + (f", lets through {', '.join(r['probes_missed'])}" if r["probes_missed"]
                                                   else ", every probe rejected")
             + (" — qualifies" if r["qualifies"] else " — does not qualify") for r in rows]
    if not ok:
        choice, tail = "current", "None qualifies: the current gate stays"
    else:
        choice = min(ok, key=ok.get)
        if "extremes" in ok and ok["extremes"] - ok[choice] <= TIE32 + 1e-12:
            choice = "extremes"
        tail = f"`{choice}` ships"
    gate = None if choice == "current" else _summary(gt.fit_gate(train, choice))
    return records.jsonable({
        "decision": f"{head}; " + "; ".join(parts) + f". {tail}", "choice": choice, "rows": rows,
        "heldout": held.to_dict("records"), "union_test": test.to_dict("records"),
        "probes": probe_rows.to_dict("records"), "probe_features": pr.to_dict("records"),
        "n_train": int(len(train)), "gate": gate})


def results() -> dict | None:
    return records.read_json(RESULTS32)


# ---- batch 33 (experiments/batch33_colour_limit/PLAN.md): a colour limit set by what it must refuse ----

BATCH33 = config.EXPERIMENTS_DIR / "batch33_colour_limit"
RESULTS33 = BATCH33 / "results.json"
PHOTO_CHROMA_MIN = 47.0  # the least coloured photograph when the gate was made (app.input_checks' comment)


def colour_probes() -> dict[str, bytes]:
    """Coloured pictures that must get no verdict, made here: a photograph, a gradient, colour-mapped and annotated
    renderings of the synthetic phantom."""
    import matplotlib
    import matplotlib.cbook
    from PIL import Image

    from ..data.synthetic import make_phantom

    def jpg(a) -> bytes:
        b = io.BytesIO()
        Image.fromarray(np.asarray(a, np.uint8)).save(b, "JPEG", quality=92)
        return b.getvalue()

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        out = {"colour photograph": fh.read()}
    yy, xx = np.mgrid[0:240, 0:320]
    out["colour gradient"] = jpg(np.dstack([xx * 255 // 319, yy * 255 // 239, np.full_like(xx, 90)]))
    g = make_phantom("glioma", seed=3, size=256)[0].astype(float) / 255
    for cmap in ("jet", "viridis"):
        out[f"phantom in {cmap}"] = jpg(matplotlib.colormaps[cmap](g)[..., :3] * 255)
    rgb = np.dstack([g, g, g]) * 255
    rgb[:, :85] = 0.5 * rgb[:, :85] + 0.5 * np.array([255, 0, 0])
    out["phantom with a red overlay"] = jpg(rgb)
    return out


def compute33(m: pd.DataFrame | None = None) -> dict:
    """Batch 33's results: held-out rejection and probes for the fitted and the midway colour limit."""
    if m is None:
        if not MEASURED32.is_file():
            return {"decision": "batch 32's measurements.csv is not measured yet: no decision"}
        m = pd.read_csv(MEASURED32)
    train = m[m["split"] == "train"]
    full = gt.fit_gate(train, "knn")
    midway = (full["colour_max"] + PHOTO_CHROMA_MIN) / 2
    pr = probe_features({**probes(), **colour_probes()})
    held, probe_rows = [], []
    for src in sorted(m["source"].unique()):
        fitted = gt.fit_gate(train[train["source"] != src], "knn")  # once per source, read at both colour limits
        for kind, g in (("fitted", fitted), ("midway", {**fitted, "colour_max": midway})):
            held.append({"kind": kind, "source": src, **_counts(m[m["source"] == src], g),
                         "colour_max": float(g["colour_max"])})
    for kind, g in (("fitted", full), ("midway", {**full, "colour_max": midway})):
        probe_rows += [{"kind": kind, "probe": p, "chroma": float(c), "rejected": bool(r)}
                       for p, c, r in zip(pr["probe"], pr["colour"], gt.gate_rejects(pr, g))]
    held, probe_rows = pd.DataFrame(held), pd.DataFrame(probe_rows)
    mean = held.groupby("kind")["rate"].mean().to_dict()
    refused = {k: set(probe_rows[(probe_rows["kind"] == k) & probe_rows["rejected"]]["probe"]) for k in ("fitted", "midway")}
    missed = sorted(refused["fitted"] - refused["midway"])
    ok = not missed and mean["midway"] < mean["fitted"]
    note = (f"fitted colour limit: {mean['fitted']:.2%} of real slices refused (mean of {held['source'].nunique()} "
            f"held-out sources); midway limit {midway:.1f}: {mean['midway']:.2%}, "
            + (f"lets through {', '.join(missed)}" if missed else "every probe the fitted limit refuses refused")
            + (". The midway limit ships" if ok else ". The fitted limit stays"))
    return records.jsonable({"decision": note, "choice": "midway" if ok else "fitted", "midway": midway,
                             "heldout": held.to_dict("records"), "probes": probe_rows.to_dict("records")})


def results33() -> dict | None:
    return records.read_json(RESULTS33)


def shipped_from_results() -> dict | None:
    """The gate that ships: batch 32's choice, with batch 33's colour limit when that batch chose it."""
    r32 = results() or {}
    if not r32.get("gate") or not MEASURED32.is_file():
        return None
    m = pd.read_csv(MEASURED32)
    g = gt.fit_gate(m[m["split"] == "train"], r32["gate"]["kind"])  # the reference rows, refitted (deterministic)
    r33 = results33() or {}
    if r33.get("choice") == "midway":
        g["colour_max"] = float(r33["midway"])
        g["colour_rule"] = "batch 33: midway between the most tinted union train slice and the least coloured photograph"
    return g
