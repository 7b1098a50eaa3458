"""Which plane (axial, coronal, sagittal) and which modality (MRI or CT) a slice shows, and, from hand labels only,
which MRI weighting (T1, T2, FLAIR).

The Kaggle set carries neither, yet both matter: its collections differ in how they were imaged, so plane and modality
can stand in for the class the way file size does. `data/labels/scan_type.csv` holds hand labels (by eye, from the
128-px prepared images, by an engineer, not a radiologist):

- `random`: 60 images per class, one per twin group, seeded; plane, modality and MRI weighting (T1, T2, FLAIR);
- `holdout`: 15 more per class, drawn and labelled after the classifier's settings were chosen on `random`, so
  its accuracy there is an unbiased check;
- `ct_ranked`: the 160 images that look most CT-like by a bright-skull score, each labelled CT or MRI; CT slices
  are rare in a random sample, so this is where the CT examples come from.

Two small linear classifiers then tag every image: plane from 24-px thumbnails and their gradient magnitude (shape
and edges, not grey level), and modality from the same plus the skull-ring score. A horizontal flip keeps the plane,
so the plane model also learns from mirrored thumbnails.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config, records

LABELS_CSV = config.DATA_DIR / "labels" / "scan_type.csv"
PLANES: tuple[str, ...] = ("axial", "coronal", "sagittal")
MODALITIES: tuple[str, ...] = ("MRI", "CT")
# Weighting of MRI slices as read by eye (T1 includes contrast-enhanced T1: the thumbnails cannot tell them apart).
# Hand labels only, on the random and hold-out samples: a classifier on them was barely above always answering T1
# (28 T2/FLAIR examples), so sequence is reported from the labelled sample, not tagged on every image.
SEQUENCES: tuple[str, ...] = ("T1", "T2", "FLAIR")
THUMB = 24  # px: chosen by 5-fold CV on the `random` labels among 16/24/32/48 (see the module docstring)
PLANE_C = 0.03
CT_C = 0.1
RING_PX = 8  # the outer band of the head mask (pixels of the 128-px image) where a CT's skull shows
CT_SKULL = 230  # grey level above which a ring pixel counts as bone-bright
CT_THRESHOLD = 0.5  # P(CT) at or above which a slice counts as CT: in the report's tags and the dashboard's warning


def read_labels(path: str | Path = LABELS_CSV) -> pd.DataFrame:
    """The hand labels: path, plane ('' if unsure or not labelled), modality ('' if unsure), sample."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    bad = set(df["plane"]) - set(PLANES) - {""}
    bad |= set(df["modality"]) - set(MODALITIES) - {""}
    bad |= set(df.get("sequence", pd.Series(dtype=str))) - set(SEQUENCES) - {""}
    if bad:
        raise ValueError(f"{Path(path).name}: unknown labels {sorted(bad)}")
    if df["path"].duplicated().any():
        raise ValueError(f"{Path(path).name}: a path is labelled twice")
    return df


def _thumbs(X: np.ndarray, size: int = THUMB) -> np.ndarray:
    from PIL import Image

    X = np.asarray(X)
    if X.ndim != 3 or X.dtype != np.uint8:
        raise ValueError(f"expected prepared images [N, S, S] uint8, got {X.shape} {X.dtype}")
    return np.stack([np.asarray(Image.fromarray(x).resize((size, size), Image.BILINEAR)) for x in X]
                    ).astype(np.float32) / 255.0


def _shape_features(T: np.ndarray) -> np.ndarray:
    gx = np.diff(T, axis=2)[:, :-1]
    gy = np.diff(T, axis=1)[:, :, :-1]
    return np.hstack([T.reshape(len(T), -1), np.hypot(gx, gy).reshape(len(T), -1)])


def skull_ring(X: np.ndarray) -> np.ndarray:
    """[N, 3]: share of bone-bright pixels in the head's outer band, and the spread and median of the interior
    (CT: a white skull around an even grey brain; MRI: a darker skull, more contrast inside)."""
    from scipy import ndimage as ndi

    out = np.zeros((len(X), 3), np.float32)
    for i, x in enumerate(np.asarray(X)):
        mask = ndi.binary_fill_holes(x > 25)
        inner = ndi.binary_erosion(mask, iterations=RING_PX)
        ring = mask & ~inner
        if ring.any() and inner.any():
            out[i] = ((x[ring] >= CT_SKULL).mean(), x[inner].std() / 255.0, np.median(x[inner]) / 255.0)
    return out


def features(X: np.ndarray) -> dict[str, np.ndarray]:
    """Plane and modality features of prepared images [N, S, S] uint8, plus the mirrored plane features."""
    T = _thumbs(X)
    shape = _shape_features(T)
    return {"plane": shape, "plane_flip": _shape_features(T[:, :, ::-1]),
            "modality": np.hstack([shape, skull_ring(X)])}


def _logreg(C: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))


@dataclass
class ScanTyper:
    """Fitted plane and modality models: sklearn pipelines after `fit`, their JSON copies (_Linear) when shipped."""

    plane_model: object
    modality_model: object
    n_plane: int
    n_modality: int

    def tag(self, X: np.ndarray, F: dict | None = None) -> pd.DataFrame:
        """plane, p_plane (its probability), p_ct for each prepared image."""
        F = F if F is not None else features(X)
        pp = self.plane_model.predict_proba(F["plane"])
        classes = list(self.plane_model.classes_)
        ct_col = list(self.modality_model.classes_).index("CT")
        return pd.DataFrame({"plane": [str(classes[i]) for i in pp.argmax(1)], "p_plane": pp.max(1),
                             "p_ct": self.modality_model.predict_proba(F["modality"])[:, ct_col]})


def _fit_plane(F: dict, idx: np.ndarray, y: np.ndarray):
    Xp = np.vstack([F["plane"][idx], F["plane_flip"][idx]])
    return _logreg(PLANE_C).fit(Xp, np.concatenate([y, y]))


def fit(F: dict, labelled_rows: pd.DataFrame, samples: tuple[str, ...] = ("random", "ct_ranked"),
        extra: tuple[dict, np.ndarray] | None = None) -> ScanTyper:
    """Fit both classifiers. `labelled_rows`: the label table with a column `row` giving each labelled image's
    row in the feature arrays. The `holdout` sample is left out by default so it can check the result. `extra`:
    (features, planes) of more slices with a known plane (batch 43: healthy-extra's), for the plane model only."""
    lab = labelled_rows[labelled_rows["sample"].isin(samples)]
    p = lab[lab["plane"] != ""]
    m = lab[lab["modality"] != ""]
    if p["plane"].nunique() < len(PLANES) or m["modality"].nunique() < 2:
        raise ValueError("scan-type labels need every plane and both modalities present")
    F2, y2 = extra if extra is not None else ({k: F[k][:0] for k in ("plane", "plane_flip")}, np.array([], str))
    idx = np.r_[p["row"].to_numpy(), len(F["plane"]) + np.arange(len(y2))]
    both = {k: np.vstack([F[k], F2[k]]) for k in ("plane", "plane_flip")}
    plane = _fit_plane(both, idx, np.r_[p["plane"].to_numpy(), np.asarray(y2)])
    modality = _logreg(CT_C).fit(F["modality"][m["row"].to_numpy()], m["modality"].to_numpy())
    return ScanTyper(plane, modality, len(p), len(m))


def cross_validate(F: dict, labelled_rows: pd.DataFrame, groups: np.ndarray, folds: int = 5,
                   seed: int = config.SEED) -> dict:
    """Out-of-fold accuracy of both classifiers on the fitting samples, folds drawn by twin group (a CT series
    shows up as many near-copies, and copies split across folds would flatter the score)."""
    from sklearn.model_selection import StratifiedGroupKFold

    out = {}
    lab = labelled_rows[labelled_rows["sample"].isin(("random", "ct_ranked"))]
    for task in ("plane", "modality"):
        t = lab[lab[task] != ""]
        if task == "plane":
            t = t[t["sample"] == "random"]
        rows, y = t["row"].to_numpy(), t[task].to_numpy()
        pred = np.empty(len(y), object)
        cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        for tr, te in cv.split(rows, y, groups[rows]):
            if task == "plane":
                model = _fit_plane(F, rows[tr], y[tr])
            else:
                model = _logreg(CT_C).fit(F["modality"][rows[tr]], y[tr])
            pred[te] = model.predict(F[task][rows[te]])
        names = PLANES if task == "plane" else MODALITIES
        out[task] = {"n": int(len(y)), "accuracy": float((pred == y).mean()),
                     "confusion": pd.crosstab(pd.Categorical(y, names), pd.Categorical(pred, names),
                                              rownames=["hand label"], colnames=["predicted"], dropna=False)}
    return out


def holdout_check(typer: ScanTyper, F: dict, labelled_rows: pd.DataFrame) -> dict:
    """Plane accuracy on the `holdout` sample, labelled after the classifier's settings were fixed."""
    h = labelled_rows[(labelled_rows["sample"] == "holdout") & (labelled_rows["plane"] != "")]
    if h.empty:
        return {"n": 0, "accuracy": float("nan")}
    pred = typer.plane_model.predict(F["plane"][h["row"].to_numpy()])
    return {"n": int(len(h)), "accuracy": float((pred == h["plane"].to_numpy()).mean())}


def attach_rows(labels: pd.DataFrame, paths) -> pd.DataFrame:
    """The labels whose path is among `paths`, with `row` = its position there (labels for other files dropped)."""
    pos = {str(p): i for i, p in enumerate(paths)}
    lab = labels[labels["path"].isin(pos)].copy()
    lab["row"] = lab["path"].map(pos).astype(int)
    return lab


def tag_dataset(X: np.ndarray, paths, groups: np.ndarray, labels: pd.DataFrame | None = None,
                ct_threshold: float = CT_THRESHOLD) -> tuple[pd.DataFrame, dict]:
    """Tag every image of a dataset whose files the hand labels name (the Kaggle set).

    Returns (tags, info): tags has plane, p_plane, p_ct, is_ct per image (hand labels replace the predictions where
    they exist: columns `plane_source` and `ct_source` say which, 'hand' or 'predicted'); info holds the cross-validated and hold-out accuracies and the fitted `typer`.
    """
    labels = read_labels() if labels is None else labels
    lab = attach_rows(labels, paths)
    if lab.empty:
        raise ValueError("none of the hand-labelled files is in this dataset: scan types need the Kaggle set")
    F = features(X)
    typer = fit(F, lab)
    tags = typer.tag(X, F)
    tags["plane_source"] = tags["ct_source"] = "predicted"
    hand_p = lab[lab["plane"] != ""]
    tags.loc[hand_p["row"].to_numpy(), "plane"] = hand_p["plane"].to_numpy()
    tags.loc[hand_p["row"].to_numpy(), "plane_source"] = "hand"
    hand_m = lab[lab["modality"] != ""]
    tags["is_ct"] = tags["p_ct"] >= ct_threshold
    tags.loc[hand_m["row"].to_numpy(), "is_ct"] = (hand_m["modality"] == "CT").to_numpy()
    tags.loc[hand_m["row"].to_numpy(), "ct_source"] = "hand"
    info = {"cv": cross_validate(F, lab, np.asarray(groups)), "holdout": holdout_check(typer, F, lab),
            "typer": typer}
    tags.insert(0, "path", [str(p) for p in paths])
    return tags, info


def composition(tags: pd.DataFrame, split_df: pd.DataFrame) -> pd.DataFrame:
    """Per class: files, share of each plane among files and among twin groups (a group's plane is its first file's),
    and CT files. `tags` and `split_df` share row order (tag_dataset's input)."""
    t = tags.assign(label=split_df["label"].to_numpy(), group=split_df["group"].to_numpy())
    first = t[~t["group"].duplicated()]
    rows = {}
    for c in config.CLASSES:
        f, g = t[t["label"] == c], first[first["label"] == c]
        row = {"files": len(f), "twin groups": len(g)}
        for p in PLANES:
            row[f"{p} (files)"] = float((f["plane"] == p).mean()) if len(f) else float("nan")
        for p in PLANES:
            row[f"{p} (groups)"] = float((g["plane"] == p).mean()) if len(g) else float("nan")
        row["CT files"] = int(f["is_ct"].sum())
        rows[c] = row
    return pd.DataFrame(rows).T


def metrics_by_scan_type(preds: pd.DataFrame, tags: pd.DataFrame, split_key: str = "leakfree_test",
                         n_boot: int = 1000, seed: int = config.SEED) -> pd.DataFrame:
    """One model's test results per plane, for CT slices and for all (numbers; `format_by_scan_type` shows them):
    images, tumours, no_tumour, accuracy with a cluster-bootstrap 95% CI (whole twin groups drawn), missed tumours and
    false alarms. `preds`: rows of report.predictions (path, eval_split, label, prediction, group); `tags`:
    tag_dataset's table."""
    from ..stats import bootstrap_weights

    p = preds[preds["eval_split"] == split_key].merge(tags[["path", "plane", "is_ct"]], on="path", how="left")
    if p["plane"].isna().any():
        raise ValueError(f"{int(p['plane'].isna().sum())} test images have no scan-type tag")
    subsets = [(pl, p["plane"] == pl) for pl in PLANES]
    subsets += [("CT slices", p["is_ct"].astype(bool)), ("all", pd.Series(True, index=p.index))]
    rows = {}
    for name, m in subsets:
        s = p[m.to_numpy()]
        tumour = (s["label"] != config.NO_TUMOUR).to_numpy()
        called = (s["prediction"] != config.NO_TUMOUR).to_numpy()
        correct = (s["label"] == s["prediction"]).to_numpy(float)
        lo = hi = acc = float("nan")
        if len(s):
            W = bootstrap_weights(len(s), n_boot, seed, groups=s["group"].to_numpy())
            boot = (W @ correct) / np.maximum(W.sum(1), 1)
            acc, (lo, hi) = float(correct.mean()), np.percentile(boot, [2.5, 97.5])
        rows[name] = {"images": len(s), "tumours": int(tumour.sum()), "no_tumour": int((~tumour).sum()),
                      "accuracy": acc, "acc_lo": float(lo), "acc_hi": float(hi),
                      "missed": int((tumour & ~called).sum()), "false_alarms": int((~tumour & called).sum())}
    return pd.DataFrame(rows).T.astype({"images": int, "tumours": int, "no_tumour": int, "missed": int,
                                         "false_alarms": int})


def sequence_table(labels: pd.DataFrame, split_df: pd.DataFrame) -> pd.DataFrame:
    """MRI weighting per class in the hand-labelled random and hold-out samples (one file per twin group): counts of
    T1, T2 and FLAIR, and the T2-or-FLAIR share with a Wilson 95% CI. Unsure and CT rows are left out."""
    from ..stats import wilson_ci

    cls = split_df.set_index("path")["label"]
    lab = labels[labels["sample"].isin(("random", "holdout")) & (labels["sequence"] != "")]
    lab = lab.assign(label=lab["path"].map(cls)).dropna(subset=["label"])
    rows = {}
    for c in config.CLASSES:
        g = lab[lab["label"] == c]
        row = {q: int((g["sequence"] == q).sum()) for q in SEQUENCES}
        k, n = row["T2"] + row["FLAIR"], len(g)
        row["labelled"] = n
        if n:
            lo, hi = wilson_ci(k, n)
            row["T2 or FLAIR"] = f"{k / n:.0%} ({100 * lo:.0f}–{100 * hi:.0f}%)"
        else:
            row["T2 or FLAIR"] = "–"
        rows[c] = row
    return pd.DataFrame(rows).T[["labelled", *SEQUENCES, "T2 or FLAIR"]]


def sequence_markdown(t: pd.DataFrame) -> str:
    """The reading of sequence_table: how often a tumour slice is T2 or FLAIR, against the no-tumour slices."""
    tum = t.drop(index=config.NO_TUMOUR)
    k_t, n_t = int(tum["T2"].sum() + tum["FLAIR"].sum()), int(tum["labelled"].sum())
    no = t.loc[config.NO_TUMOUR]
    k_n, n_n = int(no["T2"] + no["FLAIR"]), int(no["labelled"])
    if not n_t or not n_n:
        return ""
    return (f"**MRI weighting (hand labels only).** Of {n_t} labelled tumour slices, {k_t} are T2 or FLAIR; of {n_n} "
            f"labelled no-tumour MRI slices, {k_n} ({k_n / n_n:.0%}) are. So {k_n} of the {k_n + k_t} labelled T2 or "
            "FLAIR slices are healthy ones: the weighting, and with it the grey levels, carries the label, in line "
            "with the profile-only baseline's score (notebook 04 §10).")


def _rate(k: int, n: int) -> str:
    return f"{k} of {n} ({k / n:.2%})" if n else "–"


def format_by_scan_type(t: pd.DataFrame) -> pd.DataFrame:
    """metrics_by_scan_type's numbers as a display table."""
    return pd.DataFrame({
        "images": t["images"],
        "no-tumour share": [f"{n / i:.0%}" if i else "–" for n, i in zip(t["no_tumour"], t["images"])],
        "accuracy [95% CI]": [f"{a:.1%} [{lo:.1%}, {hi:.1%}]" if i else "–"
                              for a, lo, hi, i in zip(t["accuracy"], t["acc_lo"], t["acc_hi"], t["images"])],
        "tumours missed": [_rate(k, n) for k, n in zip(t["missed"], t["tumours"])],
        "false alarms": [_rate(k, n) for k, n in zip(t["false_alarms"], t["no_tumour"])],
    }, index=t.index)


def composition_markdown(comp: pd.DataFrame, info: dict) -> str:
    """What the plane and modality tags say about the classes, every number from `composition` and `tag_dataset`."""
    cv, ho = info["cv"], info["holdout"]
    tum = [c for c in config.CLASSES if c != config.NO_TUMOUR]
    no = comp.loc[config.NO_TUMOUR]
    ax_t = comp.loc[tum, "axial (files)"].astype(float)
    ax_g = comp.loc[tum, "axial (groups)"].astype(float)
    ct = comp["CT files"].astype(int)
    ct_classes = ", ".join(f"{n} `{c}`" for c, n in ct.items() if n) or "none"
    ct_no = f" {ct[config.NO_TUMOUR] / ct.sum():.0%} of them are filed as no tumour." if ct.sum() else ""
    return (
        f"**How far the tags can be trusted.** Plane: {cv['plane']['accuracy']:.1%} out-of-fold on the "
        f"{cv['plane']['n']} hand-labelled images of the random sample (5 folds by twin group), and "
        f"{ho['accuracy']:.1%} on the {ho['n']} hold-out images labelled after the settings were fixed. Modality: "
        f"{cv['modality']['accuracy']:.1%} out-of-fold on {cv['modality']['n']} labels. Hand labels replace the "
        f"prediction wherever they exist.\n\n"
        f"**Plane is a shortcut too.** {no['axial (files)']:.0%} of `notumor` files are axial, against "
        f"{ax_t.min():.0%}–{ax_t.max():.0%} for the tumour classes. Per twin group the gap is smaller "
        f"({no['axial (groups)']:.0%} against {ax_g.min():.0%}–{ax_g.max():.0%}): the axial no-tumour pictures are "
        f"the most copied ones. A model can learn that a coronal or sagittal slice is rarely healthy.\n\n"
        f"**Not all of it is MRI.** {int(ct.sum())} files are CT slices (bone-white skull): {ct_classes}.{ct_no} "
        "The dataset is named and used as an MRI set; where CT is mostly one class, CT itself is a cue for it.")


def by_plane_markdown(t: pd.DataFrame, model: str) -> str:
    """The per-plane reading of one model's metrics_by_scan_type table."""
    ax = t.loc["axial"]
    other = t.loc[["coronal", "sagittal"]].sum()
    miss = ", ".join(f"{int(t.loc[p, 'missed'])} {p}" for p in PLANES if t.loc[p, "missed"])
    n_miss = int(t.loc["all", "missed"])
    return (
        f"{model}: of the {int(t.loc['all', 'no_tumour'])} no-tumour test slices, {int(ax['no_tumour'])} are "
        f"axial and only {int(other['no_tumour'])} coronal or sagittal. False alarms: "
        f"{_rate(int(ax['false_alarms']), int(ax['no_tumour']))} axial, "
        f"{_rate(int(other['false_alarms']), int(other['no_tumour']))} coronal or sagittal. "
        + (f"The headline specificity is in effect an axial figure; on the other planes it rests on "
           f"{int(other['no_tumour'])} image{'s' if int(other['no_tumour']) != 1 else ''}. "
           if ax["no_tumour"] >= 0.8 * t.loc["all", "no_tumour"] else "")
        + f"Missed tumours: {n_miss}"
        + (f" ({miss})" if n_miss else "") + ".")


# ------------------------------------------------------------------------------ shipped tagger for the dashboard
SHIPPED = config.MODELS_DIR / "scan_type.json"


def dataset_arrays(root: Path, size: int = config.IMG_SIZE) -> tuple[np.ndarray, pd.DataFrame]:
    """Prepared images of the whole leak-free split (train, val, test: the cached arrays of each) and the split
    rows in that order (`attrs['sha256']` kept)."""
    from ..data.arrays import load_arrays
    from ..data.split import load_split

    split_df = load_split("leakfree", root)
    parts = [split_df[split_df["split"] == s] for s in ("train", "val", "test")]
    X = np.concatenate([load_arrays(root, p, size, progress=False)[0] for p in parts])
    ordered = pd.concat(parts, ignore_index=True)
    ordered.attrs["sha256"] = split_df.attrs.get("sha256")
    return X, ordered


def _pipe_json(pipe) -> dict:
    scaler, lr = pipe.named_steps["standardscaler"], pipe.named_steps["logisticregression"]
    return {"classes": [str(c) for c in lr.classes_], "mean": scaler.mean_.round(7).tolist(),
            "scale": scaler.scale_.round(7).tolist(), "coef": lr.coef_.round(7).tolist(),
            "intercept": lr.intercept_.round(7).tolist()}


class _Linear:
    """A fitted StandardScaler + LogisticRegression read back from JSON: numpy only, no pickle."""

    def __init__(self, d: dict):
        self.classes_ = np.array(d["classes"])
        self.mean, self.scale = np.asarray(d["mean"]), np.asarray(d["scale"])
        self.coef, self.intercept = np.asarray(d["coef"]), np.asarray(d["intercept"])

    def predict(self, F: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(F).argmax(1)]

    def predict_proba(self, F: np.ndarray) -> np.ndarray:
        z = ((np.asarray(F, np.float64) - self.mean) / self.scale) @ self.coef.T + self.intercept
        if len(self.classes_) == 2:  # sklearn's binary form: one logit for classes_[1]
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1 - p1, p1])
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


def _train_counts(tags: pd.DataFrame, split_df: pd.DataFrame) -> dict:
    t = tags.assign(label=split_df["label"].to_numpy(), split=split_df["split"].to_numpy())
    t = t[t["split"] == "train"]
    return {"plane": {c: {p: int(((t["label"] == c) & (t["plane"] == p)).sum()) for p in PLANES}
                      for c in config.CLASSES},
            "ct": {c: int(((t["label"] == c) & t["is_ct"].astype(bool)).sum()) for c in config.CLASSES}}


def _test_tags(tags: pd.DataFrame, split_df: pd.DataFrame) -> dict:
    t = tags[split_df["split"].to_numpy() == "test"]
    return {"path": t["path"].tolist(), "plane": t["plane"].tolist(), "is_ct": t["is_ct"].astype(bool).tolist()}


def shipped_test_tags(path: str | Path = SHIPPED) -> pd.DataFrame | None:
    """The leak-free test images' tags saved with the shipped tagger (path, plane, is_ct), or None."""
    shipped = load_shipped(path)
    t = (shipped or {}).get("doc", {}).get("test_tags")
    return pd.DataFrame(t) if t else None


def build_shipped(data_dir=None, out: str | Path = SHIPPED) -> Path:
    """Fit both classifiers on the hand labels of the Kaggle set and write them, with the training split's
    plane x class and CT counts (what the dashboard's warnings quote), to models/scan_type.json."""
    import hashlib

    from ..data.layouts import resolve_data_dir

    X, ordered = dataset_arrays(resolve_data_dir(data_dir))
    labels = read_labels()
    tags, info = tag_dataset(X, ordered["path"], ordered["group"].to_numpy(), labels)
    typer = info["typer"]
    doc = {"what": "plane and modality tagger of helpers.evaluation.scan_type (24-px shape features, logistic regression)",
           "labels_sha256": hashlib.sha256(Path(LABELS_CSV).read_bytes()).hexdigest(),
           "split_sha256": ordered.attrs.get("sha256"),
           "n_plane_labels": typer.n_plane, "n_modality_labels": typer.n_modality,
           "cv_accuracy": {k: round(v["accuracy"], 4) for k, v in info["cv"].items()},
           "holdout_plane_accuracy": round(info["holdout"]["accuracy"], 4),
           "train_counts": _train_counts(tags, ordered),
           # the leak-free test images' tags: the model card reads per-plane results from them without the dataset
           "test_tags": _test_tags(tags, ordered),
           "plane": _pipe_json(typer.plane_model), "modality": _pipe_json(typer.modality_model)}
    return records.write_json(doc, out, compact=True)  # a refit drops batch 43's number: it was this tagger's


ELSEWHERE = "plane_accuracy_elsewhere"  # doc key: how often the tagger names other collections' planes (batch 43)


_loaded: dict = {}


def load_shipped(path: str | Path = SHIPPED) -> dict | None:
    """The shipped tagger ({'typer': a ScanTyper over the JSON models, 'doc': the file's contents}), or None when it
    is missing or unreadable (the dashboard then simply does not warn about scan type)."""
    try:  # keyed by modification time too: a refit file is read again, a missing one is looked for again
        key = (str(path), Path(path).stat().st_mtime_ns)
    except OSError:
        return None
    if key not in _loaded:
        try:
            doc = records.read_json(path)
            typer = ScanTyper(_Linear(doc["plane"]), _Linear(doc["modality"]), doc.get("n_plane_labels", 0),
                              doc.get("n_modality_labels", 0))
            _loaded[key] = {"typer": typer, "doc": doc}
        except (OSError, ValueError, KeyError, TypeError):
            _loaded[key] = None
    return _loaded[key]


def tag_one(x128: np.ndarray, shipped: dict | None = None) -> dict | None:
    """{'plane', 'p_plane', 'p_ct'} for one prepared 128-px image, from the shipped tagger (None without one)."""
    shipped = shipped if shipped is not None else load_shipped()
    if shipped is None:
        return None
    return shipped["typer"].tag(np.asarray(x128)[None]).iloc[0].to_dict()


def upload_warnings(tag: dict | None, called_tumour: bool, shipped: dict | None = None,
                    plane_counts: dict | None = None) -> list[str]:
    """Dashboard warnings from an upload's scan-type tag. The plane warning quotes `plane_counts` ({label: {plane:
    n}} of the predicting model's own training rows, e.g. union_split.train_plane_counts for a union model), else the
    shipped tagger's counts of the Kaggle training split; the CT warning quotes the tagger's."""
    shipped = shipped if shipped is not None else load_shipped()
    if not tag or shipped is None:
        return []
    counts = shipped["doc"].get("train_counts") or {}
    out = []
    if tag["p_ct"] >= CT_THRESHOLD:
        ct = counts.get("ct") or {}
        n_ct, n_no = sum(ct.values()), ct.get(config.NO_TUMOUR, 0)
        out.append(f"looks like a CT slice (P = {tag['p_ct']:.0%}), not MRI: this model learned from MRI, and "
                   f"{n_no} of the {n_ct} CT slices in its training data are filed as no tumour, so its answer "
                   "here means little")
    elif not called_tumour and tag["plane"] != "axial":
        plane = plane_counts if plane_counts is not None else counts.get("plane") or {}
        healthy = plane.get(config.NO_TUMOUR) or {}
        n_here, n_all = healthy.get(tag["plane"], 0), sum(healthy.values())
        acc = (shipped["doc"].get(ELSEWHERE) or {}).get("right")
        read = ("" if acc is None else f" (as the plane tagger reads it; on slices from collections it was not "
                                       f"fitted on it names the plane right {acc:.0%} of the time)")
        out.append(f"a {tag['plane']} slice{read} called no tumour: only {n_here:,} of the {n_all:,} healthy training "
                   f"slices are {tag['plane']} (most are axial), so this call has little evidence behind it")
    return out


def cli_scan_types(args) -> int:
    """`brain-mri scan-types`: refit models/scan_type.json from the hand labels on the real dataset."""
    import sys

    try:
        out = build_shipped(getattr(args, "data_dir", None))
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"wrote {out.relative_to(config.PROJ_ROOT) if out.is_relative_to(config.PROJ_ROOT) else out.name}")
    return 0


def plane_rule_markdown(t: pd.DataFrame) -> str:
    """How far the plane alone goes: the rule "axial -> no tumour, coronal or sagittal -> tumour" scored on the same
    test images (counts from a metrics_by_scan_type table; they do not depend on the model)."""
    other = t.loc[[p for p in PLANES if p != "axial"]].sum()
    n_t, n_n = int(t.loc["all", "tumours"]), int(t.loc["all", "no_tumour"])
    if not n_t or not n_n:
        return ""
    sens, spec = other["tumours"] / n_t, t.loc["axial", "no_tumour"] / n_n
    acc = (other["tumours"] + t.loc["axial", "no_tumour"]) / (n_t + n_n)
    return (f"The plane alone, with no pixel of the tumour: calling every axial slice \"no tumour\" and every other "
            f"slice \"tumour\" detects {sens:.1%} of the test tumours at {spec:.1%} specificity "
            f"({acc:.1%} of tumour/no-tumour calls right, against {max(n_t, n_n) / (n_t + n_n):.1%} for always "
            f"answering the larger side).")


def union_planes(table: pd.DataFrame, X: np.ndarray, shipped: dict | None = None) -> pd.DataFrame:
    """Every union slice's plane (batch 27): healthy-extra's from its index.csv, the shipped tagger's (from the
    prepared arrays X, rows of `table`) for every other slice. Columns: collection, path, plane, how."""
    shipped = shipped if shipped is not None else load_shipped()
    if shipped is None:
        raise FileNotFoundError(f"{Path(SHIPPED).name} is missing: `brain-mri scan-types` fits the plane tagger")
    tagged = shipped["typer"].tag(X)["plane"].to_numpy()
    known = (table["plane"].fillna("").astype(str) if "plane" in table else pd.Series("", index=table.index)).to_numpy()
    known = np.where(np.isin(known, PLANES), known, "")
    return pd.DataFrame({"collection": table["collection"].to_numpy(), "path": table["path"].to_numpy(),
                         "plane": np.where(known != "", known, tagged),
                         "how": np.where(known != "", "index.csv", "tagger")}).sort_values(["collection", "path"])
