"""Figures for the report: one saver (`save_fig`) and one function per kind of plot the notebooks draw.

Static plots are matplotlib/seaborn (they render everywhere, including GitHub); plotly is used where hovering
helps (the acquisition fingerprint). Every function returns the figure and never saves it: saving is the
caller's choice, through `save_fig`, so a smoke run can send its figures elsewhere than figures/.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .. import config

DPI = 110
# One colour per class, fixed so that every figure of the report agrees (seaborn "colorblind" palette).
CLASS_COLOURS = {"glioma": "#0173b2", "meningioma": "#de8f05", "notumor": "#029e73", "pituitary": "#cc78bc"}
# Lines of several models: Okabe-Ito colours (colour-blind safe) with a line style each, so that the curves can be
# told apart in grey print too.
LINE_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
# The smallest text of any figure, in points: legible at 100% zoom (issue 17).
MIN_FONT = 9


def _wrap(text: str, width: int = 34) -> str:
    """A long title or caption on several lines rather than in a smaller font."""
    import textwrap

    return "\n".join(textwrap.fill(part, width, break_on_hyphens=False) for part in str(text).split("\n"))


def legend_below(ax, ncol: int = 2) -> None:
    """The legend under the axes, where it covers no data (curves of several models fill the whole plot)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, fontsize=MIN_FONT,
                  frameon=False)


def line_style(i: int) -> dict:
    """The i-th model's colour and line style."""
    return {"color": LINE_COLOURS[i % len(LINE_COLOURS)], "ls": LINE_STYLES[i % len(LINE_STYLES)]}


def setup(plotly_renderer: str = "plotly_mimetype+notebook") -> None:
    """Notebook-wide defaults: seaborn theme, moderate figure size, text of at least MIN_FONT points, and plotly
    figures that render offline: the `notebook` renderer embeds plotly.js once per notebook (the CDN variant left
    the executed report's chart blank without a network)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid")
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": DPI, "figure.figsize": (7, 4), "font.size": 10,
                         "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": MIN_FONT + 0.5,
                         "ytick.labelsize": MIN_FONT + 0.5, "legend.fontsize": MIN_FONT,
                         "legend.title_fontsize": MIN_FONT + 0.5})
    try:
        import pandas as pd

        pd.set_option("display.precision", 3)  # tables for reading: no float32 tails such as 41.733002
    except ImportError:
        pass
    try:
        import plotly.io as pio

        pio.renderers.default = plotly_renderer
    except ImportError:  # plotly is optional for the static figures
        pass


def _is_plotly(fig) -> bool:
    return type(fig).__module__.startswith("plotly")


def save_fig(fig, name: str, out_dir: str | Path | None = None, png: bool | None = None) -> list[Path]:
    """Save `fig` under out_dir (default config.FIGURES_DIR) and return the paths written.

    matplotlib -> <name>.png (dpi 110). plotly -> <name>.html (plotly.js from the CDN, so the file stays ~10 kB)
    and also <name>.png when kaleido can render one (png=None: try quietly; png=False: skip; png=True: warn on failure).
    """
    if not name or "/" in name or "\\" in name:
        raise ValueError(f"figure name must be a plain file stem, got {name!r}")
    out = Path(out_dir) if out_dir is not None else config.FIGURES_DIR
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if _is_plotly(fig):
        html = out / f"{name}.html"
        # a fixed element id (plotly draws a random one): re-running the report leaves unchanged figures unchanged
        fig.write_html(html, include_plotlyjs="cdn", full_html=True, div_id=name)
        written.append(html)
        if png is not False:
            try:
                import kaleido  # noqa: F401 - static export needs it (and a Chromium)

                fig.write_image(out / f"{name}.png", scale=1.5)
                written.append(out / f"{name}.png")
            except Exception as e:  # noqa: BLE001 - the HTML is the figure; a PNG is a convenience
                if png:
                    warnings.warn(f"no PNG for {name}: {type(e).__name__}: {e}", stacklevel=2)
        return written
    if hasattr(fig, "savefig"):
        p = out / f"{name}.png"
        fig.savefig(p, dpi=DPI, bbox_inches="tight")
        written.append(p)
        return written
    raise TypeError(f"cannot save a {type(fig).__name__}: expected a matplotlib or plotly figure")


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _grid(n: int, ncols: int, size: float = 2.0, **kw):
    plt = _plt()
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False, **kw)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes


# ------------------------------------------------------------------------------------------------ EDA
def image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 6,
               size: float = 1.9, suptitle: str | None = None, cmap: str = "gray"):
    """Images (grayscale or RGB) in a grid, each with an optional small title."""
    size = max(size, 2.2)
    fig, axes = _grid(len(images), ncols, size)
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(img, cmap=cmap if np.ndim(img) == 2 else None, vmin=0, vmax=255 if np.ndim(img) == 2 else None)
        if titles is not None:
            ax.set_title(_wrap(titles[i], int(size * 11)), fontsize=MIN_FONT)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def sample_grid(samples: Mapping[str, Sequence[np.ndarray]], captions: Mapping[str, Sequence[str]] | None = None,
                size: float = 1.7):
    """One row per class: the raw images of `samples[label]` (grayscale arrays of any size), captioned e.g. '512x512'."""
    labels = list(samples)
    ncols = max(len(v) for v in samples.values())
    size = max(size, 2.0)  # MIN_FONT captions under each picture
    plt = _plt()
    fig, axes = plt.subplots(len(labels), ncols, figsize=(size * ncols, size * len(labels) + 0.2), squeeze=False)
    for r, lab in enumerate(labels):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(samples[lab]):
                ax.imshow(samples[lab][c], cmap="gray", vmin=0, vmax=255)
                if captions:
                    ax.set_title(captions[lab][c], fontsize=MIN_FONT)
            else:
                ax.set_axis_off()
            if c == 0:
                ax.set_ylabel(lab, fontsize=10, color=CLASS_COLOURS.get(lab, "black"))
    fig.tight_layout()
    return fig


def mean_images(means: Mapping[str, np.ndarray], overall: np.ndarray | None = None, size: float = 2.2):
    """Top row: the mean prepared image of each class. Bottom row: class mean minus the overall mean (red = brighter
    than average), on one shared symmetric colour scale so the rows are comparable."""
    plt = _plt()
    labels = list(means)
    overall = np.mean([means[k] for k in labels], axis=0) if overall is None else overall
    diffs = {k: means[k].astype(float) - overall for k in labels}
    lim = max(float(np.abs(d).max()) for d in diffs.values()) or 1.0
    fig, axes = plt.subplots(2, len(labels), figsize=(size * len(labels), 2 * size + 0.4), squeeze=False)
    for c, lab in enumerate(labels):
        axes[0, c].imshow(means[lab], cmap="gray", vmin=0, vmax=255)
        axes[0, c].set_title(f"mean {lab}", fontsize=9)
        im = axes[1, c].imshow(diffs[lab], cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[1, c].set_title(f"{lab} − all", fontsize=9)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.8, label="grey levels")
    return fig


def intensity_distributions(hist, title: str = "Pixel intensity per class"):
    """Line plot of per-class intensity histograms: `hist` has columns label, intensity, density
    (helpers.reporting.eda.intensity_histograms)."""
    import seaborn as sns

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    sns.lineplot(data=hist, x="intensity", y="density", hue="label", palette=CLASS_COLOURS, ax=ax, linewidth=1.4)
    ax.set(xlabel="grey level (0–255)", ylabel="fraction of pixels", title=title, xlim=(0, 255))
    fig.tight_layout()
    return fig


def per_image_box(df, value: str, ylabel: str, title: str, log: bool = False):
    """Box plot of one per-image quantity (e.g. mean intensity, file size) by class.

    Plain matplotlib (seaborn 0.13's boxplot passes a keyword matplotlib 3.11 deprecates)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    order = [c for c in config.CLASSES if c in set(df["label"])]
    data = [df.loc[df["label"] == c, value].dropna().to_numpy() for c in order]
    bp = ax.boxplot(data, patch_artist=True, widths=0.6, flierprops={"markersize": 2, "alpha": 0.5},
                    medianprops={"color": "black"})
    for patch, c in zip(bp["boxes"], order):
        patch.set_facecolor(CLASS_COLOURS.get(c, "grey"))
        patch.set_alpha(0.8)
    ax.set_xticks(range(1, len(order) + 1), order)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="", ylabel=ylabel, title=title)
    fig.tight_layout()
    return fig


def fingerprint_scatter(manifest, title: str = "Acquisition fingerprint: stored image size by class"):
    """Interactive plotly scatter of width vs height (log axes), one colour per class, one marker per distinct
    (class, size) with area ~ number of files; hover gives the count, colour modes and an example file.

    Aggregating keeps the figure small (7,000 files share ~400 sizes) and shows the 512x512 pile-up honestly."""
    import plotly.express as px

    m = manifest[manifest["error"] == ""] if "error" in manifest else manifest
    g = (m.assign(file=m["path"].str.rsplit("/", n=1).str[-1])
         .groupby(["label", "width", "height"], as_index=False)
         .agg(files=("path", "size"), example=("file", "first"),
              modes=("mode", lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))))
    g["marker"] = np.sqrt(g["files"])
    fig = px.scatter(g, x="width", y="height", color="label", size="marker", size_max=40,
                     color_discrete_map=CLASS_COLOURS, category_orders={"label": list(config.CLASSES)},
                     opacity=0.6, log_x=True, log_y=True,
                     hover_data={"files": True, "modes": True, "example": True, "marker": False},
                     labels={"width": "width (px, log)", "height": "height (px, log)"}, title=title)
    fig.update_layout(height=460, legend_title_text="class", margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def size_share_bars(table, title: str = "Share of 512×512 files per class"):
    """Bar chart of one fraction per class (e.g. eda.fingerprint_table(...)['frac_512x512'])."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3))
    labs = list(table.index)
    ax.bar(labs, table.values, color=[CLASS_COLOURS.get(k, "grey") for k in labs])
    for i, v in enumerate(table.values):
        ax.text(i, v + 0.01, f"{v:.0%}", ha="center", fontsize=9)
    ax.set(ylim=(0, 1.1), ylabel="fraction of files", title=title)
    fig.tight_layout()
    return fig


def counts_bars(counts, title: str):
    """Grouped bars of a split x class count table (rows splits, columns classes; a 'total' row/col is dropped)."""
    plt = _plt()
    t = counts.drop(index="total", errors="ignore").drop(columns="total", errors="ignore")
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    t.T.plot.bar(ax=ax, rot=0, width=0.8, colormap="Greys_r", edgecolor="black", linewidth=0.4)
    ax.set(ylabel="images", xlabel="", title=title)
    ax.legend(title="split", fontsize=MIN_FONT)
    fig.tight_layout()
    return fig


def plane_shares(comp, title: str = "Imaging plane by class"):
    """Stacked bars of plane shares per class, over files and over twin groups (helpers.evaluation.scan_type.composition)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.0), sharey=True)
    for ax, unit in zip(axes, ("files", "groups")):
        cols = [c for c in comp.columns if c.endswith(f"({unit})")]
        t = comp[cols].astype(float).rename(columns=lambda c: c.split(" (")[0])
        t.plot.barh(ax=ax, stacked=True, colormap="Greys_r", edgecolor="black", linewidth=0.4, legend=False)
        ax.set(xlim=(0, 1), xlabel=f"share of {unit}", title=f"per {unit[:-1]}")
        ax.invert_yaxis()
    axes[1].legend(title="plane", fontsize=MIN_FONT, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def pairs_gallery(pairs: Sequence[tuple[np.ndarray, np.ndarray, str]], size: float = 2.0):
    """Twin pairs side by side: each item is (image a, image b, caption); one pair per row-half."""
    size = max(size, 2.0)
    plt = _plt()
    n = len(pairs)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    caps = [_wrap(cap, int(size * 2 * 11)) for _, _, cap in pairs]
    lines = max((c.count("\n") + 1 for c in caps), default=1)
    # The caption spans a pair (it is the left image's title), so tight_layout does not reserve its height: each
    # row gets the caption's lines above it explicitly, or the captions of row 2 overlap the images of row 1.
    title_h = 0.22 * lines
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(size * 2 * ncols, (size + title_h) * nrows + 0.1),
                             squeeze=False, gridspec_kw={"hspace": title_h / size + 0.05, "wspace": 0.05})
    for ax in axes.flat:
        ax.set_axis_off()
    for k, ((a, b, _), cap) in enumerate(zip(pairs, caps)):
        r, c = divmod(k, ncols)
        axes[r, 2 * c].imshow(a, cmap="gray", vmin=0, vmax=255)
        axes[r, 2 * c + 1].imshow(b, cmap="gray", vmin=0, vmax=255)
        axes[r, 2 * c].set_title(cap, fontsize=MIN_FONT, loc="left")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - (title_h + 0.05) / ((size + title_h) * nrows + 0.1))
    return fig


# ------------------------------------------------------------------------------------------------ models
def training_curves(history: Mapping, title: str = ""):
    """Loss and accuracy per epoch, train vs validation, from a model JSON's "history" — or from several,
    {label: history} (e.g. the members of an ensemble), one colour each."""
    plt = _plt()
    runs = {"": history} if "loss" in history or not history else dict(history)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key in zip(axes, ("loss", "accuracy")):
        for i, (label, h) in enumerate(runs.items()):
            for k, style in ((key, "-"), (f"val_{key}", "--")):
                if k in h:
                    ep = np.arange(1, len(h[k]) + 1)
                    part = "validation" if k.startswith("val") else "train"
                    ax.plot(ep, h[k], style, marker="o", ms=3 if len(runs) == 1 else 1.5, color=f"C{i}",
                            label=f"{label} {part}".strip())
        ax.set(xlabel="epoch", ylabel=key, title=key)
        losses = [v for h in runs.values() for k in (key, f"val_{key}") for v in h.get(k, []) if v and v > 0]
        if key == "loss" and losses and max(losses) > 10 * float(np.median(losses)):
            # one early spike (a validation loss of ~17 against ~0.3) would flatten every other epoch: log scale
            # keeps every point visible and honest
            ax.set_yscale("log")
            ax.set(ylabel="loss (log scale)", title="loss (log scale)")
        ax.legend(fontsize=MIN_FONT)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_heatmap(cm, classes: Sequence[str] = config.CLASSES, title: str = "", normalise: bool = True, ax=None):
    """Confusion matrix (rows true, columns predicted). normalise=True colours by row share and prints
    'count\\n(share)' in every cell, so both the totals and the recall per class are visible."""
    import seaborn as sns

    plt = _plt()
    cm = np.asarray(cm, dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    annot = np.array([[f"{int(c)}\n({s:.0%})" for c, s in zip(rc, rs)] for rc, rs in zip(cm, share)])
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4.6, 3.9))
    sns.heatmap(share if normalise else cm, annot=annot, fmt="", cmap="Blues", vmin=0, vmax=1 if normalise else None,
                xticklabels=classes, yticklabels=classes, cbar=False, ax=ax, annot_kws={"fontsize": MIN_FONT + 1})
    ax.set(xlabel="predicted", ylabel="true", title=title)
    ax.tick_params(axis="x", rotation=30)
    if own:
        fig.tight_layout()
        return fig
    return ax.figure


def confusion_grid(cms: Mapping[str, Sequence[Sequence[int]]], classes: Sequence[str] = config.CLASSES):
    """Several confusion matrices side by side, titled by the mapping's keys."""
    plt = _plt()
    ncols = min(len(cms), 2)  # two per row: cells of MIN_FONT + 1 points stay legible at 100 %
    nrows = int(np.ceil(len(cms) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 4.6 * nrows), squeeze=False)
    for ax in axes.flat[len(cms):]:
        ax.set_axis_off()
    for ax, (title, cm) in zip(axes.flat, cms.items()):
        confusion_heatmap(cm, classes, title=_wrap(title, 40), ax=ax)
    fig.tight_layout()
    return fig


def reliability_diagram(reliabilities: Mapping[str, Mapping], title: str = "Reliability"):
    """Accuracy vs confidence per bin for each labelled reliability dict ({"ece", "bins": [{lo,hi,n,confidence,
    accuracy}]}, helpers.modeling.calibrate.reliability); marker area ~ images in the bin; the diagonal is perfect calibration."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="perfect")
    for i, (label, rel) in enumerate(reliabilities.items()):
        colour = LINE_COLOURS[(i + 1) % len(LINE_COLOURS)]
        bins = [b for b in rel["bins"] if b["n"]]
        conf = [b["confidence"] for b in bins]
        acc = [b["accuracy"] for b in bins]
        n = np.array([b["n"] for b in bins], dtype=float)
        ax.plot(conf, acc, color=colour, ls=LINE_STYLES[i % len(LINE_STYLES)], lw=1.4,
                label=f"{label} (ECE {100 * rel['ece']:.1f}%)")
        ax.scatter(conf, acc, s=12 + 150 * n / max(n.sum(), 1), color=colour, alpha=0.7)
    ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="confidence (max probability)", ylabel="accuracy", title=title)
    ax.legend(fontsize=MIN_FONT, loc="upper left")
    fig.tight_layout()
    return fig


def roc_curves(rocs: Mapping[str, Mapping], title: str = "Tumour vs no tumour: ROC", zoom: float = 0.1):
    """ROC of P(tumour) for each labelled {"fpr", "tpr", "auc"?} dict: the whole curve and, beside it, the top-left
    corner (false-positive rate up to `zoom`) where good models differ; one colour and line style per model
    (colour-blind safe), the legend below the axes so it covers no curve."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.6))
    for ax, corner in zip(axes, (False, True)):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":")
        for i, (label, r) in enumerate(rocs.items()):
            lab = f"{label} (AUC {r['auc']:.4f})" if r.get("auc") is not None else label
            ax.plot(r["fpr"], r["tpr"], lw=1.8, label=lab, **line_style(i), drawstyle="steps-post")
        if corner:
            ax.set(xlim=(-0.002, zoom), ylim=(1 - 2 * zoom, 1.005), title=f"top-left corner (FPR ≤ {zoom:g})",
                   xlabel="false-positive rate")
        else:
            ax.set(xlabel="false-positive rate (1 − specificity)", ylabel="sensitivity", title=title,
                   xlim=(-0.01, 1), ylim=(0, 1.01))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, [_wrap(x, 60) for x in labels], loc="lower center", ncol=2 if len(labels) > 1 else 1,
               fontsize=MIN_FONT, frameon=False)
    fig.tight_layout(rect=(0, 0.08 + 0.05 * int(np.ceil(len(labels) / 2)), 1, 1))
    return fig


def profile_misses(ranked, title: str = "Missed tumours vs how no-tumour-like their intensity profile is"):
    """Test tumour images ranked by the intensity-profile baseline's P(tumour) (x, 0 = most no-tumour-like) against
    the model's P(tumour) (y, log-odds scale so that confident hits and misses both show); misses marked.
    `ranked`: helpers.modeling.intensity_profile.ranked_tumours."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    p = np.clip(ranked["p_tumour"].to_numpy(float), 1e-4, 1 - 1e-4)
    logit = np.log(p / (1 - p))
    for cls, colour in CLASS_COLOURS.items():
        sel = (ranked["label"] == cls).to_numpy()
        if sel.any():
            ax.scatter(ranked["rank_pct"][sel], logit[sel], s=9, alpha=0.6, color=colour, label=cls, lw=0)
    miss = ranked["missed"].to_numpy(bool)
    if miss.any():
        ax.scatter(ranked["rank_pct"][miss], logit[miss], s=70, facecolors="none", edgecolors="red", lw=1.4,
                   label="missed (called notumor)")
    ax.axhline(0, color="grey", lw=1, ls=":")
    ax.axvline(10, color="grey", lw=1, ls="--")
    ax.set(xlabel="test tumours ranked by the profile-only P(tumour) (percentile; 0 = most no-tumour-like)",
           ylabel="model's log-odds of tumour", title=title, xlim=(-1, 101))
    ax.legend(fontsize=MIN_FONT, loc="lower right", ncol=2)
    fig.tight_layout()
    return fig


def abstain_curve(curves: Mapping[str, Sequence[Mapping]], chosen: Mapping[str, Mapping] | None = None,
                  title: str = "Refer the unsure cases: accuracy vs coverage"):
    """Accuracy of the cases the model keeps vs the share it keeps (coverage), as the confidence threshold rises;
    `chosen[label]` marks the operating point ({"coverage", "accuracy", "threshold"})."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    for label, curve in curves.items():
        pts = [p for p in curve if p.get("accuracy") is not None and p.get("coverage") is not None]
        (line,) = ax.plot([p["coverage"] for p in pts], [p["accuracy"] for p in pts], lw=1.6, label=label,
                          **line_style(list(curves).index(label)))
        c = (chosen or {}).get(label)
        if c and c.get("accuracy") is not None and c.get("coverage") is not None:
            ax.plot(c["coverage"], c["accuracy"], "o", color=line.get_color(), ms=8, mfc="white", mew=2)
            ax.annotate(f"t = {c['threshold']:.2f}", (c["coverage"], c["accuracy"]), textcoords="offset points",
                        xytext=(-10, -16), fontsize=MIN_FONT, ha="right")
    ax.set(xlabel="coverage (share of images answered)", ylabel="accuracy on answered images", title=title,
           xlim=(0, 1.02))
    legend_below(ax, ncol=1)
    fig.tight_layout()
    return fig


def robustness_curve(curves: Mapping[str, Sequence[Mapping]], native: int | None = None,
                     reference: Mapping[str, float] | None = None,
                     title: str = "Resolution robustness: accuracy when the scan is acquired at fewer pixels",
                     native_label: str = "model input"):
    """Accuracy vs the resolution images are degraded to before preparation ([{"px", "accuracy"}] per model);
    `reference[label]`, the accuracy on the original files, is drawn as a dashed line in the model's colour;
    `native` (px) is marked with a dotted line labelled `native_label` (models of other input sizes: say whose)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.6, 5.4))
    for label, curve in curves.items():
        pts = sorted(curve, key=lambda p: p["px"])
        acc = [p["accuracy"]["value"] if isinstance(p["accuracy"], Mapping) else p["accuracy"] for p in pts]
        (line,) = ax.plot([p["px"] for p in pts], acc, marker="o", label=label, **line_style(list(curves).index(label)))
        if reference and reference.get(label) is not None:
            ax.axhline(reference[label], color=line.get_color(), ls="--", lw=1, alpha=0.7)
    if native:
        ax.axvline(native, color="grey", ls=":", lw=1)
    # the dotted line is named in the axis label: text beside it ends up under the legend
    xlabel = "longest image side before preparation (px)" + (f"; dotted: {native_label}" if native else "")
    ax.set(xlabel=xlabel, ylabel="accuracy (leak-free test)", title=title)
    if reference:
        ax.plot([], [], color="grey", ls="--", lw=1, label="original files")
    legend_below(ax, ncol=1)
    fig.tight_layout()
    return fig


def accuracy_comparison(df, title: str = "Leak-free vs official test accuracy"):
    """Horizontal grouped bars with 95% CI whiskers. `df` columns: model, test, accuracy, lo, hi
    (lo/hi may be NaN where no interval was computed)."""
    plt = _plt()
    models = list(dict.fromkeys(df["model"]))
    tests = list(dict.fromkeys(df["test"]))
    fig, ax = plt.subplots(figsize=(7, 0.75 * len(models) * len(tests) ** 0.5 + 1.4))
    h = 0.8 / len(tests)
    colours = {"official (leaky)": "#d55e00", "leak-free": "#0072b2"}
    for k, t in enumerate(tests):
        sub = df[df["test"] == t].set_index("model").reindex(models)
        y = np.arange(len(models)) + (k - (len(tests) - 1) / 2) * h
        acc = sub["accuracy"].to_numpy(float)
        err = np.vstack([acc - sub["lo"].to_numpy(float), sub["hi"].to_numpy(float) - acc])
        err = np.where(np.isnan(err), 0, err)
        ax.barh(y, acc, height=h, label=t, color=colours.get(t), xerr=err, capsize=2, error_kw={"lw": 0.8})
        right = np.where(np.isnan(sub["hi"].to_numpy(float)), acc, sub["hi"].to_numpy(float))
        for yy, a, r in zip(y, acc, right):
            if not np.isnan(a):
                ax.text(min(r + 0.015, 1.0), yy, f"{a:.1%}", va="center", fontsize=MIN_FONT)
    ax.set_yticks(np.arange(len(models)), models)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1.12), xlabel="accuracy", title=title)
    ax.legend(fontsize=MIN_FONT, loc="lower right")
    fig.tight_layout()
    return fig


def gradcam_gallery(items: Sequence[Mapping], ncols: int = 4, size: float = 2.1, suptitle: str | None = None):
    """Grad-CAM overlays: each item {"image": RGB uint8 (helpers.modeling.explain.overlay), "title": str, "ok": bool}; the title
    is green for a correct prediction and red for a wrong one."""
    size = max(size, 2.6)  # titles of MIN_FONT points over two lines need the room
    fig, axes = _grid(len(items), ncols, size)
    for ax, it in zip(axes.flat, items):
        ax.imshow(it["image"])
        ax.set_title(_wrap(it["title"], int(size * 11)), fontsize=MIN_FONT, color="#1a7f37" if it.get("ok", True) else "#cf222e")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def close_all() -> None:
    """Free matplotlib figures (long notebooks otherwise keep every one in memory)."""
    _plt().close("all")
