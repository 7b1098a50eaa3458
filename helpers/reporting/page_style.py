"""The dashboard's look, shared by its Predict and Models tabs: palette, CSS, HTML escaping and the plotly
figure conventions (figures are plain dicts shown through an Output widget)."""
from __future__ import annotations

import html
from typing import Any

# Display palette (consistent across cards, charts and the Model tab).
C_ACCENT, C_TUMOUR, C_OK, C_WARN, C_ERR, C_MUTED = "#1f5f8b", "#b03a2e", "#1e8449", "#9a6700", "#b03a2e", "#5d6d7e"

CSS = f"""
<style>
.bm-root {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1c2833;
  max-width: 1240px; }}
/* The banner sticks to the top of Voila's scroller (#rendered_cells): every box between them must not clip. */
.jp-OutputArea:has(.bm-root), .jp-OutputArea-child:has(.bm-root), .jp-OutputArea-output:has(.bm-root),
.bm-root {{ overflow: visible !important; }}
.bm-sticky {{ position: sticky !important; top: -12px; z-index: 20; background: white; padding-top: 12px; }}
.bm-banner {{ box-shadow: 0 2px 4px rgba(0,0,0,.08); background: #fdf2e9; border: 1px solid #e59866;
  border-left: 6px solid {C_ERR}; color: #78281f; padding: 8px 14px; font-weight: 600; border-radius: 4px; }}
.bm-title h1 {{ font-size: 1.55em; margin: 10px 0 0; color: {C_ACCENT}; }}
.bm-sub {{ color: {C_MUTED}; margin: 2px 0 6px; }}
.bm-status {{ padding: 6px 10px; border-radius: 4px; background: #eaf2f8; border-left: 4px solid {C_ACCENT}; }}
.bm-status.bm-bad {{ background: #fdedec; border-left-color: {C_ERR}; color: #78281f; }}
.bm-card {{ border: 1px solid #d5d8dc; border-radius: 8px; padding: 8px 14px 12px; margin: 8px 0;
  background: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.06); }}
.bm-card-title {{ font-weight: 600; font-size: 1.1em; color: #1c2833; }}
.bm-meta, .bm-note, .bm-caption {{ color: {C_MUTED}; font-size: .88em; }}
.bm-caption {{ text-align: center; }}
.bm-error {{ color: #78281f; background: #fdedec; border-left: 4px solid {C_ERR}; padding: 6px 10px; border-radius: 4px; }}
.bm-warn {{ color: #6e4c00; background: #fef9e7; border-left: 4px solid #d4ac0d; padding: 4px 10px; margin: 3px 0; }}
.bm-headline .bm-big {{ font-size: 2.6em; font-weight: 700; line-height: 1.1; }}
.bm-headline .bm-label {{ color: {C_MUTED}; text-transform: uppercase; letter-spacing: .05em; font-size: .8em; }}
.bm-abstain {{ background: #fef9e7; border: 1px solid #d4ac0d; color: #6e4c00; padding: 6px 10px; border-radius: 4px;
  font-weight: 600; margin: 6px 0; }}
.bm-call {{ font-weight: 600; margin: 2px 0 4px; }}
.bm-no-verdict .bm-nv {{ margin: 4px 0; }}
.bm-confident {{ color: {C_MUTED}; font-size: .9em; margin: 4px 0; }}
table.bm-table {{ border-collapse: collapse; font-size: .92em; margin: 4px 0; }}
table.bm-table td, table.bm-table th {{ padding: 2px 10px 2px 0; text-align: left; }}
table.bm-table th {{ color: {C_MUTED}; font-weight: 600; border-bottom: 1px solid #d5d8dc; }}
table.bm-table td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
table.bm-kv td:first-child {{ color: {C_MUTED}; font-weight: 600; padding-right: 14px; }}
.bm-details summary {{ cursor: pointer; color: {C_MUTED}; font-size: .88em; }}
.bm-h2 {{ font-size: 1.15em; font-weight: 600; color: {C_ACCENT}; margin: 10px 0 4px; }}
.bm-badge {{ display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: .8em; font-weight: 600;
  background: #eaf2f8; color: {C_ACCENT}; margin-left: 6px; }}
</style>
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


LAYOUT_BASE = {"paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"size": 12, "color": "#1c2833"},
               "showlegend": False}
AXIS = {"gridcolor": "#eaeded", "zerolinecolor": "#d5d8dc", "linecolor": "#d5d8dc"}


def plot_output(spec: dict, height: int) -> Any:
    """An Output widget holding a plotly figure spec as its mime bundle (drawn by the jupyterlab-plotly extension).

    Figures are plain dicts, not plotly.graph_objects: validating a graph_objects figure with a template costs
    0.3-2 s on this CPU, the dict costs nothing and plotly.js draws the same thing. Set directly as the Output's
    outputs: no IPython display machinery, so it also works in unit tests.
    """
    import ipywidgets as w

    spec = {**spec, "config": {"displayModeBar": False, "responsive": False}}
    width = spec.get("layout", {}).get("width")
    out = w.Output(layout=w.Layout(height=f"{height + 10}px", overflow="hidden",
                                   width=f"{int(width) + 10}px" if width else None))
    out.add_class("bm-plot")
    out.outputs = ({"output_type": "display_data", "metadata": {},
                    "data": {"application/vnd.plotly.v1+json": spec, "text/plain": "<plotly figure>"}},)
    return out


