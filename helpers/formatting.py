"""One formatter per kind of number, so the same number prints the same in the README, the model card, the notebooks,
the CLI and the dashboard.
"""
from __future__ import annotations

from pathlib import Path

from . import config


# The house style, one per kind of number (README, model card, notebooks, CLI and dashboard all call these):
#   a percentage with its CI  -> pct_ci: "98.6% (95% CI 97.8–99.2)"
#   a plain number with its CI -> num_ci: "0.986 (0.978–0.992)"
# and the digits of each metric are fixed by its name (DIGITS), so one record prints one way everywhere.
PCT_METRICS = {"accuracy", "per_group_accuracy", "sensitivity", "specificity", "precision", "recall", "coverage",
               "ece", "ece_raw", "ece_calibrated"}
DIGITS = {"accuracy": 1, "per_group_accuracy": 1, "precision": 1, "recall": 1, "coverage": 1,
          "sensitivity": 2, "specificity": 2, "ece": 1, "ece_raw": 1, "ece_calibrated": 1,
          "macro_f1": 3, "f1": 3, "roc_auc": 4, "auc": 4, "temperature": 2}


def digits_for(key: str | None, default: int = 3) -> int:
    """How many decimals a metric prints with (of its percentage when it is one): DIGITS, else `default`."""
    return DIGITS.get(key or "", default)


def fmt_metric(key: str, block, ci: bool = True, missing: str = "n/a") -> str:
    """A metric by its name, in the house style: fmt_metric("accuracy", b) -> "98.6% (95% CI 97.8–99.2)",
    fmt_metric("roc_auc", b) -> "0.9996 (0.9991–0.9999)". `block` is a {"value", "ci"} dict or a bare number."""
    if block is None or (isinstance(block, dict) and block.get("value") is None):
        return missing
    b = block if isinstance(block, dict) else {"value": block}
    if not ci:
        b = {"value": b["value"]}
    if key in PCT_METRICS:
        return pct_ci(b, digits=digits_for(key, 1))
    return num_ci(b, digits=digits_for(key))


def value_ci(b: dict | None, pct: bool = True, key: str | None = None) -> str:
    """A {"value", "ci"} block for the CLI, in the house style (pct_ci or num_ci; digits by `key` when given)."""
    if not b or b.get("value") is None:
        return "n/a"
    if key:
        return fmt_metric(key, b)
    return pct_ci(b) if pct else num_ci(b)


def pct(v, digits: int = 1) -> str:
    """A fraction as a percentage: 0.9861 -> "98.6%"; None -> "n/a"."""
    return "n/a" if v is None else f"{100 * v:.{digits}f}%"


def metric(block: dict | None, *keys, fmt: str | None = None, ci: bool = True, missing: str = "n/a") -> str:
    """A metric from a nested results dict, in the house style: metric(ev, 'leakfree_test', 'accuracy') ->
    '91.2% (95% CI 89.5–92.8)'. The last key picks the style and digits (fmt_metric); `fmt` ("{:.2%}", "{:.3f}")
    only matters for a key the house style does not know (default "{:.1%}"). Returns `missing` when any key is absent."""
    cur = block
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return missing
        cur = cur[k]
    key = keys[-1] if keys else None
    if isinstance(cur, dict):
        cur = {"value": cur.get("value"), "ci": cur.get("ci")}
    if key in DIGITS:
        return fmt_metric(key, cur, ci=ci, missing=missing)
    fmt = fmt or "{:.1%}"  # an unknown key: a percentage unless the caller says otherwise
    pct_style = fmt.endswith("%}")
    digits = int(fmt.split(".")[1][0]) if "." in fmt else 1
    b = cur if isinstance(cur, dict) else {"value": cur}
    if b.get("value") is None:
        return missing
    b = b if ci else {"value": b["value"]}
    return pct_ci(b, digits=digits) if pct_style else num_ci(b, digits=digits)


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


def _ci(m: dict) -> list | None:
    ci = m.get("ci")
    if not ci or len(ci) != 2 or any(c is None or c != c for c in ci):  # None or NaN: no interval to print
        return None
    return ci


def pct_ci(m: dict | None, key: str = "value", digits: int = 1) -> str:
    """The one style for a percentage with its CI: '97.1% (95% CI 96.0–98.1)' from {"value", "ci"}."""
    if not m or m.get(key) is None:
        return "n/a"
    ci = _ci(m)
    s = f"{100 * m[key]:.{digits}f}%"
    return s + (f" (95% CI {100 * ci[0]:.{digits}f}–{100 * ci[1]:.{digits}f})" if ci else "")


def num_ci(m: dict | None, digits: int = 3) -> str:
    """The one style for a plain number with its CI: '0.912 (0.893–0.930)' from {"value", "ci"}."""
    if not m or m.get("value") is None:
        return "n/a"
    ci = _ci(m)
    return f"{m['value']:.{digits}f}" + (f" ({ci[0]:.{digits}f}–{ci[1]:.{digits}f})" if ci else "")


def auc(m: dict | None) -> str:
    """ROC-AUC with its CI, the same number of decimals everywhere: '0.9996 (0.9991–0.9999)'."""
    return num_ci(m, digits=DIGITS["roc_auc"])


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


def threshold(t) -> str:
    """A probability threshold (abstain, screening): three significant digits, "0.913"; "n/a" when unknown."""
    return "n/a" if t is None else f"{float(t):.3g}"
