"""One formatter per kind of number, so the same number prints the same in the README, the model card, the notebooks,
the CLI and the dashboard.
"""
from __future__ import annotations


# ------------------------------------------------------------------------------------------- CLI
def value_ci(b: dict | None, pct: bool = True) -> str:
    if not b or b.get("value") is None:
        return "n/a"
    v, (lo, hi) = b["value"], b.get("ci") or [None, None]
    if lo is None or hi is None:
        return f"{100 * v:.1f}%" if pct else f"{v:.3f}"
    return f"{100 * v:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]" if pct else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
