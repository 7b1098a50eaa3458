"""One formatter per kind of number, so the same number prints the same in the README, the model card, the notebooks,
the CLI and the dashboard.
"""
from __future__ import annotations

from pathlib import Path

from . import config


def value_ci(b: dict | None, pct: bool = True) -> str:
    """A {"value", "ci"} block for the CLI: '98.6% [97.8, 99.2]' (pct) or '0.986 [0.978, 0.992]'."""
    if not b or b.get("value") is None:
        return "n/a"
    v, (lo, hi) = b["value"], b.get("ci") or [None, None]
    if lo is None or hi is None:
        return f"{100 * v:.1f}%" if pct else f"{v:.3f}"
    return f"{100 * v:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]" if pct else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def pct(v, digits: int = 1) -> str:
    """A fraction as a percentage: 0.9861 -> "98.6%"; None -> "n/a"."""
    return "n/a" if v is None else f"{100 * v:.{digits}f}%"


def metric(block: dict | None, *keys, fmt: str = "{:.1%}", ci: bool = True, missing: str = "n/a") -> str:
    """Format a metric from a nested results dict: metric(ev, 'leakfree_test', 'accuracy') -> '91.2% (89.5–92.8%)'.
    Accepts {"value", "ci"} dicts or bare numbers; returns `missing` when any key is absent."""
    cur = block
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return missing
        cur = cur[k]
    if isinstance(cur, dict):
        v, c = cur.get("value"), cur.get("ci")
    else:
        v, c = cur, None
    if v is None:
        return missing
    s = fmt.format(v)
    if ci and c and len(c) == 2 and c[0] is not None:
        s += f" ({fmt.format(c[0])}–{fmt.format(c[1])})"
    return s


def value(block: dict | None, *keys, default=None):
    """The bare number at block[keys...] ({"value": x} unwrapped), or `default`."""
    cur = block
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    if isinstance(cur, dict) and "value" in cur:
        return cur["value"]
    return cur


def duration(sec) -> str:
    """Seconds as "42 s" or "3.5 min"; "n/a" when unknown."""
    if sec is None:
        return "n/a"
    sec = float(sec)
    return f"{sec:.0f} s" if sec < 120 else f"{sec / 60:.1f} min"


def pct_ci(m: dict | None, key: str = "value", digits: int = 1) -> str:
    """'97.1% (95% CI 96.0–98.1)' from {"value", "ci"}."""
    if not m or m.get(key) is None:
        return "n/a"
    ci = m.get("ci")
    s = f"{100 * m[key]:.{digits}f}%"
    return s + (f" (95% CI {100 * ci[0]:.{digits}f}–{100 * ci[1]:.{digits}f})" if ci else "")


def num_ci(m: dict | None, digits: int = 3) -> str:
    """'0.912 (0.893–0.930)' from {"value", "ci"}."""
    if not m or m.get("value") is None:
        return "n/a"
    ci = m.get("ci")
    return f"{m['value']:.{digits}f}" + (f" ({ci[0]:.{digits}f}–{ci[1]:.{digits}f})" if ci else "")


def shown_path(p) -> str:
    """A path relative to the project, as the docs print it."""
    try:
        return Path(p).resolve().relative_to(config.PROJ_ROOT.resolve()).as_posix()
    except ValueError:
        return Path(p).name


def size(n: int) -> str:
    """A byte count: "512 B", "34 KB" or "1.2 MB"."""
    return f"{n} B" if n < 1024 else f"{n / 1024:.0f} KB" if n < 1024 * 1024 else megabytes(n)


def megabytes(n: int) -> str:
    """A byte count in MB."""
    return f"{n / 1024 / 1024:.1f} MB"
