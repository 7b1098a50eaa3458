"""The result card of one upload: headline call, probability bars, input notes, DICOM fields and the Grad-CAM overlay,
as HTML and Plotly figures.
"""
from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image

from .. import config
from ..formatting import pct, size, threshold
from ..reporting.page_style import AXIS, C_MUTED, C_OK, C_TUMOUR, C_WARN, esc, LAYOUT_BASE, plot_output
from .upload import Result

log = logging.getLogger(__name__)


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- Predict cards
def prob_figure(res: Result) -> dict:
    """Horizontal bars of the calibrated probabilities (plotly figure as a dict)."""
    colours = [C_OK if c == config.NO_TUMOUR else C_TUMOUR for c in res.classes]
    opac = [1.0 if c == res.predicted else 0.45 for c in res.classes]
    t = float(res.abstain_threshold)
    return {
        "data": [{"type": "bar", "orientation": "h", "x": [round(float(p), 6) for p in res.probs], "y": list(res.classes),
                  "marker": {"color": colours, "opacity": opac}, "text": [pct(p) for p in res.probs],
                  "textposition": "auto", "hoverinfo": "skip"}],
        "layout": {**LAYOUT_BASE, "height": 190, "width": 340, "margin": {"l": 10, "r": 26, "t": 20, "b": 26},
                   "xaxis": {**AXIS, "range": [0, 1], "tickformat": ".0%", "automargin": True},
                   "yaxis": {**AXIS, "autorange": "reversed", "automargin": True},
                   "shapes": [{"type": "line", "x0": t, "x1": t, "y0": 0, "y1": 1, "yref": "paper",
                               "line": {"dash": "dot", "color": C_MUTED, "width": 1.5}}],
                   "annotations": [{"x": t, "y": 1.0, "yref": "paper", "yanchor": "bottom", "showarrow": False,
                                    "text": f"abstain {threshold(t)}", "font": {"size": 12, "color": C_MUTED}}]},
    }


TUMOUR_CLASSES = tuple(c for c in config.CLASSES if c != config.NO_TUMOUR)
P_TUMOUR_SUM = "P(tumour) = " + " + ".join(TUMOUR_CLASSES)
NO_VERDICT = "no verdict: this picture does not look like a brain MRI slice the model can read"


def headline_state(res: Result) -> str:
    """The headline's state, from the one call (upload.decide_call): "none" (no verdict), "unfamiliar" and
    "uncertain" (amber; an uncertain call), "tumour" (red) or "no_tumour" (green)."""
    call = res.call
    if call == "uncertain":
        return "unfamiliar" if getattr(res, "unfamiliar", False) else "uncertain"
    return {"tumour": "tumour", "no tumour": "no_tumour"}.get(call, "none")


COLOURS = {"tumour": C_TUMOUR, "no_tumour": C_OK, "uncertain": C_WARN, "unfamiliar": C_WARN}


def headline_reason(res: Result) -> str | None:
    """The warning the headline itself shows (no verdict, unfamiliar scan; set where upload decided it), so the list
    beside leaves it out."""
    if headline_state(res) not in ("none", "unfamiliar"):
        return None
    return getattr(res, "reason", None) or (res.warnings[0] if res.warnings else None)


def no_verdict_html(res: Result) -> str:
    """The whole headline of a picture the input checks reject: the reason, no class, no P(tumour), no colour."""
    reason = headline_reason(res) or res.call_reason
    return (f'<div class="bm-headline bm-no-verdict" data-verdict="0" data-call="no verdict"><div class="bm-label">'
            f'result</div><div class="bm-nv"><b>{esc(NO_VERDICT[0].upper() + NO_VERDICT[1:])}</b>.</div>'
            f'<div class="bm-note">{esc(reason)}</div></div>')


def class_line(res: Result) -> str:
    """The class named, on the same side of the call threshold as the call: a tumour type, or notumor."""
    p = float(res.probs[list(res.classes).index(res.predicted)])
    what = "Likeliest tumour type" if res.predicted != config.NO_TUMOUR else "Likeliest class"
    return f'<div>{what}: <b>{esc(res.predicted)}</b> ({pct(p)})</div>'


def truth_line(res: Result) -> str:
    """The example's true label beside the call: ✓/✗ for a call, no mark for an uncertain one."""
    if res.true_label == "synthetic":
        return '<div class="bm-note">True label: none (synthetic phantom, not an MRI)</div>'
    if res.call not in ("tumour", "no tumour"):
        return f'<div class="bm-note">True label: <b>{esc(res.true_label)}</b> (no call to check: {esc(res.call)})</div>'
    mark = "✓" if res.true_label == res.predicted else "✗"
    return f'<div class="bm-note">True label: <b>{esc(res.true_label)}</b> {mark}</div>'


def headline_html(res: Result) -> str:
    """The call with P(tumour) (and what it sums), the class named, why the call is sure or not, the track record and
    the probability table (data-* attributes for tests); only the reason when there is no verdict."""
    state = headline_state(res)
    if state == "none":
        return no_verdict_html(res)
    colour = COLOURS[state]
    ct = threshold(res.call_threshold)
    words = {"tumour": f"call: <b>tumour</b> (P(tumour) ≥ {ct})"
                       + ("; the tumour type is uncertain" if res.type_uncertain else ""),
             "no_tumour": f"call: <b>no tumour</b> (P(tumour) &lt; {ct})",
             "uncertain": "call: <b>uncertain</b> — refer to a radiologist",
             "unfamiliar": "call: <b>uncertain</b> — unfamiliar scan; do not read it as a result"}[state]
    parts = [f'<div class="bm-headline bm-state-{state}" data-p-tumour="{res.p_tumour:.6f}" '
             f'data-predicted="{esc(res.predicted)}" data-abstain="{int(res.abstain)}" data-verdict="1" '
             f'data-state="{state}" data-call="{esc(res.call)}">',
             f'<div class="bm-label">{esc(P_TUMOUR_SUM)}</div>',
             f'<div class="bm-big" style="color:{colour}">{pct(res.p_tumour)}</div>',
             f'<div class="bm-call" style="color:{colour}">{words}</div>',
             class_line(res)]
    if state == "unfamiliar":
        why = headline_reason(res) or res.call_reason
        parts.append(f'<div class="bm-abstain">uncertain — unfamiliar scan<br><span style="font-weight:400">'
                     f'{esc(why)}</span></div>')
    elif state == "uncertain":
        parts.append(f'<div class="bm-abstain">uncertain — refer to a radiologist<br><span style="font-weight:400">'
                     f'{esc(res.call_reason)}</span></div>')
    elif res.type_uncertain:
        parts.append(f'<div class="bm-abstain">tumour type uncertain — refer to a radiologist<br><span '
                     f'style="font-weight:400">highest class probability {res.confidence:.3f} is below the abstain '
                     f'threshold {threshold(res.abstain_threshold)} (chosen on validation)</span></div>')
    else:
        parts.append(f'<div class="bm-confident">above the abstain threshold ({res.confidence:.3f} ≥ '
                     f'{threshold(res.abstain_threshold)}, chosen on validation)</div>')
    if res.track_record:  # right under the call it qualifies
        parts.append(f'<div class="bm-note bm-track">ℹ {esc(res.track_record)}</div>')
    elif res.model and state in ("tumour", "no_tumour"):  # say so rather than leave the line out
        parts.append('<div class="bm-note bm-no-track">ℹ no track record for this model: it has no evaluation on '
                     'the leak-free test with a screening threshold (run <code>brain-mri evaluate</code>)</div>')
    if res.true_label:
        parts.append(truth_line(res))
    rows = "".join(f'<tr data-class="{esc(c)}" data-p="{p:.6f}"><td>{esc(c)}</td><td class="num">{pct(p)}</td></tr>'
                   for c, p in zip(res.classes, res.probs))
    parts.append(f'<details class="bm-details"><summary>exact values</summary>'
                 f'<table class="bm-table bm-probs" data-sum="{float(np.sum(res.probs)):.6f}">'
                 f'<tr><th>class</th><th>calibrated p</th></tr>{rows}</table></details></div>')
    return "".join(parts)


def messages_html(res: Result) -> str:
    """The warnings and notes beside the headline, less the one the headline already states."""
    shown = headline_reason(res)
    out = [f'<div class="bm-warn bm-model-gap">⚠ {esc(res.model or "this model")}: {esc(g.removeprefix("this model "))}'
           '</div>' for g in res.model_gaps]
    out += [f'<div class="bm-warn">⚠ {esc(w)}</div>' for w in res.warnings if w != shown]
    out += [f'<div class="bm-note">ℹ {esc(n)}</div>' for n in res.notes]
    return "".join(out)


def dicom_html(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
    return (f'<div class="bm-h2" style="font-size:1em">DICOM acquisition (no patient data shown)</div>'
            f'<table class="bm-table bm-kv bm-dicom">{body}</table>')


def card_title_html(res: Result) -> str:
    meta = []
    if res.format:
        meta.append(f"{res.format} · {res.mode} · {res.width}×{res.height}")
    if res.n_bytes:
        meta.append(size(res.n_bytes))
    if res.timings_ms.get("total") is not None:
        meta.append(f"{res.timings_ms['total']:.0f} ms")
    if res.model:
        meta.append(f"model {res.model}")
    return (f'<div class="bm-card-title">{esc(res.name)}</div>'
            f'<div class="bm-meta">{esc(" · ".join(meta))}</div>')


def render_card(res: Result, alpha: float = 0.45):
    """The widget for one Result: a one-line error, or images + headline + chart (+ DICOM table)."""
    import ipywidgets as w

    head = w.HTML(card_title_html(res))
    if res.error:
        card = w.VBox([head, w.HTML(f'<div class="bm-error" data-error="1">✖ {esc(res.name)}: '
                                    f'{esc(res.error)}</div>')])
        card.add_class("bm-card")
        card.add_class("bm-card-error")
        return card
    img_w = "200px"
    col = w.Layout(width=img_w, margin="0 8px 0 0")

    def column(*kids):
        return w.VBox(list(kids), layout=col)

    def caption(text):
        return w.HTML(f'<div class="bm-caption">{text}</div>', layout=w.Layout(width=img_w))

    cols = [column(w.Image(value=png(res.original), format="png", layout=w.Layout(width=img_w)),
                   caption(f"uploaded ({res.width}×{res.height})")),
            column(w.Image(value=png(res.prepared), format="png", layout=w.Layout(width=img_w)),
                   caption(f"model input ({res.prepared.shape[1]}×{res.prepared.shape[0]}): head crop, square, resized"))]
    verdict = getattr(res, "verdict", True)
    if res.heat is not None and verdict:
        try:
            from ..modeling.explain import overlay

            cam = w.Image(value=png(overlay(res.prepared, res.heat, alpha)), format="png", layout=w.Layout(width=img_w))
            cam.add_class("bm-gradcam")
            slider = w.FloatSlider(value=alpha, min=0.0, max=1.0, step=0.05, description="opacity",
                                   readout_format=".2f", continuous_update=True,
                                   layout=w.Layout(width=img_w), style={"description_width": "50px"})

            def reblend(change, res=res, cam=cam):  # re-blend the stored heat map: no model call
                try:
                    cam.value = png(overlay(res.prepared, res.heat, float(change["new"])))
                except Exception:  # noqa: BLE001
                    log.warning("re-blend failed", exc_info=True)

            slider.observe(reblend, names="value")
            cols.append(column(cam, slider, caption(f"Grad-CAM for “{esc(res.heat_of or res.predicted)}”: where the network looked")))
        except Exception:  # noqa: BLE001
            log.warning("overlay failed", exc_info=True)
    msgs = messages_html(res)
    right = [w.HTML(msgs)] if msgs else []
    if res.probs is not None and not verdict:
        right.append(w.HTML(no_verdict_html(res)))
    elif res.probs is not None:
        right.append(w.HTML(headline_html(res)))
        right.append(plot_output(prob_figure(res), 190))
    else:
        right.append(w.HTML('<div class="bm-note">No prediction: no model is loaded (see the status line above).</div>'))
    body = [w.HBox(cols + [w.VBox(right, layout=w.Layout(width="350px", margin="0 0 0 8px"))],
                   layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))]
    if res.dicom:
        body.append(w.HTML(dicom_html(res.dicom)))
    card = w.VBox([head] + body)
    card.add_class("bm-card")
    return card
