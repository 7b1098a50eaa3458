"""The dashboard's Models tab: one card per model record with its training facts, evaluation table (bootstrap
CIs), confusion matrix and reliability diagram."""
from __future__ import annotations

import logging

import numpy as np

from .. import config
from ..formatting import fmt_metric, pct, threshold
from .registry import (ModelEntry, abstain_threshold, model_gaps, screening_threshold,
                       screening_threshold_source)
from ..reporting.page_style import AXIS, C_ACCENT, C_ERR, C_MUTED, C_WARN, LAYOUT_BASE, esc, plot_output

log = logging.getLogger(__name__)


def dig(d, *keys, default=None):
    """d[k1][k2]..., or `default` where a level is missing (evaluation records are optional and nested)."""
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _fmt_ci(block, key: str = "accuracy") -> str:
    """A metric in the house style of helpers.formatting (the README and the report print the same string);
    missing -> '—'."""
    return fmt_metric(key, block, missing="—")


def model_summary_html(m: ModelEntry, in_use: bool = False) -> str:
    meta = m.meta
    data = meta.get("data", {}) or {}
    ev = meta.get("evaluation")
    badge = '<span class="bm-badge">in use</span>' if in_use else ""
    missing = ("" if m.available else
               f' <span class="bm-badge" style="background:#fdedec;color:{C_ERR}">.keras missing</span>')
    lf0 = (ev or {}).get("leakfree_test") or {}
    leaky = (f' <span class="bm-badge bm-contaminated" style="background:#fef9e7;color:{C_WARN}">contaminated: saw '
             'test pictures in training</span>' if lf0.get("contaminated") else "")
    synth = (f' <span class="bm-badge" style="background:#fef9e7;color:{C_WARN}">trained on synthetic phantoms</span>'
             if data.get("synthetic") else "")
    rows = [
        ("Architecture", f"{meta.get('arch', '?')} · "
         + (f"{meta['params']:,} parameters · " if isinstance(meta.get("params"), int) else "")
         + f"{meta.get('img_size', '?')} px input"),
        ("Trained", f"{meta.get('trained_at', '?')} · {meta.get('epochs_run', '?')} epochs · "
                    f"{meta.get('train_wall_s', '?')} s · {meta.get('train_images_per_s', '?')} img/s"),
        ("Data", f"split {data.get('split', '?')} (sha256 {str(data.get('split_sha256', '?'))[:12]}) · "
                 f"{data.get('n_train', '?')} train / {data.get('n_val', '?')} val images"),
        ("Calibration", (f"temperature {float(meta['temperature']):.3f}" if isinstance(meta.get("temperature"), (int, float))
                         else "temperature ?")
         + (" · flip test-time augmentation (chosen on validation)" if meta.get("tta") == "hflip" else "")),
        ("Weights", f"{m.keras_path.name} (sha256 {str(meta.get('keras_sha256', '?'))[:12]})"),
    ]
    if meta.get("versions"):
        v = meta["versions"]
        rows.append(("Software", ", ".join(f"{k} {v[k]}" for k in ("keras", "tensorflow", "jax", "torch", "device",
                                                                    "python") if k in v)))
    out = [f'<div class="bm-card-title">{esc(m.name)}{badge}{missing}{leaky}{synth}</div>',
           '<table class="bm-table bm-kv">'
           + "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows) + "</table>"]
    out += [f'<div class="bm-warn bm-model-gap">⚠ {esc(g[0].upper() + g[1:])}</div>' for g in model_gaps(meta)]
    out.append(f'<div class="bm-note">Tumour call at P(tumour) ≥ {threshold(screening_threshold(meta))} '
               f'({esc(screening_threshold_source(meta))}).</div>')
    if not ev:
        out.append(f'<div class="bm-warn" data-not-evaluated="1">not evaluated yet: run '
                   f'<code>brain-mri evaluate models/{esc(m.keras_path.name)}</code></div>')
        return "".join(out)
    lf, off = ev.get("leakfree_test") or {}, ev.get("official_test") or {}
    metric_rows = [
        ("Accuracy", "accuracy", dig(lf, "accuracy"), dig(off, "accuracy")),
        ("Macro F1", "macro_f1", dig(lf, "macro_f1"), dig(off, "macro_f1")),
        (f"Tumour sensitivity (P(tumour) ≥ {threshold(dig(lf, 'tumour', 'threshold', default=0.5))})", "sensitivity",
         dig(lf, "tumour", "sensitivity"), dig(off, "tumour", "sensitivity")),
        (f"Tumour specificity (P(tumour) ≥ {threshold(dig(lf, 'tumour', 'threshold', default=0.5))})", "specificity",
         dig(lf, "tumour", "specificity"), dig(off, "tumour", "specificity")),
        *([(f"Tumour call sensitivity (P(tumour) ≥ {threshold(dig(lf, 'screening', 'threshold'))}, chosen on "
            "validation)", "sensitivity", dig(lf, "screening", "sensitivity"), dig(off, "screening", "sensitivity")),
           (f"Tumour call specificity (P(tumour) ≥ {threshold(dig(lf, 'screening', 'threshold'))}, chosen on "
            "validation)", "specificity", dig(lf, "screening", "specificity"), dig(off, "screening", "specificity"))]
          if dig(lf, "screening", "threshold") is not None else []),
        ("Tumour ROC AUC", "roc_auc", dig(lf, "tumour", "roc_auc"), dig(off, "tumour", "roc_auc")),
        ("ECE (calibrated)", "ece_calibrated", dig(lf, "calibration", "ece_calibrated"),
         dig(off, "calibration", "ece_calibrated")),
    ]
    thr, thr_src = abstain_threshold(meta)
    ab = dig(lf, "abstain") or {}
    out.append(f'<div class="bm-h2" style="font-size:1em">Evaluation ({esc(ev.get("evaluated_at", "?"))}; '
               f'95 % bootstrap CIs, {ev.get("bootstrap", "?")} resamples)</div>')
    out.append('<table class="bm-table bm-metrics"><tr><th>metric</th>'
               f'<th>leak-free test (n={esc(lf.get("n", "?"))})</th>'
               f'<th>official test (n={esc(off.get("n", "?"))}; leaky, for comparison)</th></tr>'
               + "".join(f"<tr><td>{esc(k)}</td><td class='num'>{esc(_fmt_ci(a, key))}</td>"
                         f"<td class='num'>{esc(_fmt_ci(b, key))}</td></tr>" for k, key, a, b in metric_rows) + "</table>")
    per = lf.get("per_class") or {}
    if per:
        out.append('<table class="bm-table"><tr><th>class (leak-free test)</th><th>precision</th><th>recall</th>'
                   '<th>F1</th><th>support</th></tr>'
                   + "".join(f"<tr><td>{esc(c)}</td><td class='num'>{esc(_fmt_ci(dig(per, c, 'precision'), 'precision'))}</td>"
                             f"<td class='num'>{esc(_fmt_ci(dig(per, c, 'recall'), 'recall'))}</td>"
                             f"<td class='num'>{esc(_fmt_ci(dig(per, c, 'f1'), 'f1'))}</td>"
                             f"<td class='num'>{esc(dig(per, c, 'support', default='?'))}</td></tr>"
                             for c in per) + "</table>")
    cov = ab.get("coverage")
    acc = ab.get("accuracy")
    out.append(f'<div class="bm-note">Abstain threshold {threshold(thr)} ({esc(thr_src)})'
               + (f": on the leak-free test it answers {pct(float(cov))} of the images"
                  if isinstance(cov, (int, float)) else "")
               + (f" at {pct(float(acc))} accuracy" if isinstance(acc, (int, float)) else "") + ".</div>")
    if ev.get("synthetic"):
        out.append('<div class="bm-warn">evaluated on synthetic phantoms: these numbers say nothing about MRI</div>')
    return "".join(out)


def confusion_figure(conf, classes) -> dict:
    """Row-normalised confusion heat map with counts (plotly dict)."""
    z = np.asarray(conf, dtype=float)
    rows = z.sum(axis=1, keepdims=True)
    frac = np.divide(z, rows, out=np.zeros_like(z), where=rows > 0)
    text = [[f"{int(z[i, j])}<br>{100 * frac[i, j]:.0f}%" for j in range(z.shape[1])] for i in range(z.shape[0])]
    return {
        "data": [{"type": "heatmap", "z": frac.round(4).tolist(), "x": list(classes), "y": list(classes), "text": text,
                  "texttemplate": "%{text}", "zmin": 0, "zmax": 1, "showscale": False,
                  # explicit light-to-dark blues (plotly.js's named "Blues" runs dark-to-light)
                  "colorscale": [[0.0, "#f4f8fb"], [0.5, "#7fb0d6"], [1.0, "#1f5f8b"]],
                  "hoverinfo": "skip"}],
        "layout": {**LAYOUT_BASE, "title": {"text": "Confusion, leak-free test (row %)", "font": {"size": 13}},
                   "height": 330, "width": 390, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
                   "xaxis": {"title": {"text": "predicted"}, "automargin": True},
                   "yaxis": {"title": {"text": "true"}, "autorange": "reversed", "automargin": True}},
    }


def reliability_figure(cal: dict) -> dict:
    """Reliability diagram (accuracy vs confidence per bin, raw and calibrated; marker size ~ sqrt(count))."""
    traces = [{"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "lines", "name": "perfect",
               "line": {"dash": "dot", "color": C_MUTED}, "hoverinfo": "skip"}]
    for key, name, colour in (("reliability_raw", "raw", "#aab7b8"), ("reliability_calibrated", "calibrated", C_ACCENT)):
        bins = [b for b in (dig(cal, key, "bins") or []) if b.get("n")]
        if not bins:
            continue
        top = max(b["n"] for b in bins)
        ece = dig(cal, key, "ece")
        traces.append({"type": "scatter", "mode": "lines+markers", "line": {"color": colour},
                       "x": [float(b["confidence"]) for b in bins], "y": [float(b["accuracy"]) for b in bins],
                       "marker": {"size": [round(4 + 14 * float(np.sqrt(b["n"] / top)), 1) for b in bins]},
                       "name": f"{name} (ECE {pct(ece)})" if isinstance(ece, (int, float)) else name})
    return {
        "data": traces,
        "layout": {**LAYOUT_BASE, "showlegend": True,
                   "title": {"text": "Reliability, leak-free test", "font": {"size": 13}},
                   "height": 330, "width": 390, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
                   "xaxis": {**AXIS, "title": {"text": "confidence"}, "range": [0, 1], "automargin": True},
                   "yaxis": {**AXIS, "title": {"text": "accuracy"}, "range": [0, 1.02], "automargin": True},
                   "legend": {"x": 0.02, "y": 0.98, "font": {"size": 12}}},
    }


def model_card(m: ModelEntry, in_use: bool = False):
    import ipywidgets as w

    summary = w.HTML(model_summary_html(m, in_use))
    kids = [summary]
    lf = dig(m.meta, "evaluation", "leakfree_test") or {}
    figs = []
    try:
        if lf.get("confusion"):
            figs.append(plot_output(confusion_figure(lf["confusion"], m.meta.get("classes", config.CLASSES)), 330))
        if lf.get("calibration"):
            figs.append(plot_output(reliability_figure(lf["calibration"]), 330))
    except Exception:  # noqa: BLE001 - a malformed evaluation block must not hide the rest of the card
        log.warning("model figures failed for %s", m.name, exc_info=True)
        kids.append(w.HTML('<div class="bm-warn">evaluation figures could not be drawn (malformed record)</div>'))
    if figs:
        kids.append(w.HBox(figs, layout=w.Layout(flex_flow="row wrap")))
    card = w.VBox(kids)
    card.add_class("bm-card")
    return card, summary

