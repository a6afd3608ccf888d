"""Tables as a notebook shows them: rounded, with units, tiers and difficulties in order, text cut at words."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

ORDERS = (("easy", "medium", "hard"), ("cheap", "mid", "expensive"))
_UNITS = [  # (pattern on the lower-cased column name, kind), first match wins
    (r"(?<!per)_s$|seconds", "seconds"), (r"\bms\b|_ms$|latency", "ms"),
    (r"savings|(^|_)x$|\bx\b|factor|^vs_", "times"),
    (r"share|rate\b|_rate|retained|escalated|proportion|_pct$|^%|%$", "percent"),
    (r"\$|cost|usd|spend|price|per_mtok", "dollars"),
]


def kind_of(column) -> str:
    """The unit a column name implies: dollars, percent, times, ms, seconds, or number."""
    name = str(column[-1] if isinstance(column, tuple) else column).lower()
    return next((kind for pattern, kind in _UNITS if re.search(pattern, name)), "number")


def dollars(x: float) -> str:
    """$1,234 above $100, cents above $1, three significant digits below ($0.0123)."""
    if not np.isfinite(x):
        return ""
    if abs(x) >= 100:
        return f"${x:,.0f}"
    digits = max(2, 2 - int(np.floor(np.log10(abs(x))))) if x else 2
    return f"${x:.{digits}f}"


def number(x: float) -> str:
    """Three decimals (three significant digits when smaller)."""
    if not np.isfinite(x):
        return ""
    digits = 3 if abs(x) >= 0.01 or x == 0 else 2 - int(np.floor(np.log10(abs(x))))
    return f"{x:.{digits}f}"


FORMATS = {"dollars": dollars, "number": number, "count": lambda x: f"{x:,.0f}" if np.isfinite(x) else "",
           "percent": lambda x: f"{100 * x:.1f}%" if np.isfinite(x) else "",
           "times": lambda x: f"{x:.2f}x" if np.isfinite(x) else "", "ms": lambda x: f"{x:,.0f} ms" if np.isfinite(x) else "",
           "seconds": lambda x: f"{x:.3g} s" if np.isfinite(x) else ""}


def cut(text: str, width: int = 60) -> str:
    """Text on one line, cut at the last word boundary before width, with an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    head = text[: width - 1]
    return (head.rsplit(" ", 1)[0] if " " in head else head).rstrip(",.;:") + "…"


def _ordered(index: pd.Index) -> pd.Index:
    """Index values in difficulty or tier order when they are difficulties or tiers."""
    values = list(index)
    for order in ORDERS:
        if values and set(values) <= set(order) | {"All", "total"}:
            return pd.Index([v for v in (*order, "All", "total") if v in values], name=index.name)
    return index


def _by_rows(frame: pd.DataFrame, units) -> bool:
    """True when the row labels name the units and the columns do not (a table of metrics by router)."""
    numeric = all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes)
    return (numeric and not units and all(kind_of(c) == "number" for c in frame.columns)
            and any(kind_of(r) != "number" for r in frame.index))


def readable(df: pd.DataFrame | pd.Series, width: int = 60, units: dict | None = None) -> pd.DataFrame:
    """A copy to display: numbers rounded with the unit their column names imply (or `units`), rows and
    columns in difficulty and tier order, text cut at a word boundary."""
    frame = df.to_frame() if isinstance(df, pd.Series) else df
    frame = frame.reindex(index=_ordered(frame.index), columns=_ordered(frame.columns))
    if _by_rows(frame, units):
        return readable(frame.T, width, units).T
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col]
        kind = (units or {}).get(col) or kind_of(col)
        if pd.api.types.is_bool_dtype(values):
            out[col] = values
        elif pd.api.types.is_numeric_dtype(values):
            numbers = values.astype(float)
            if kind == "number" and np.allclose(numbers.dropna() % 1, 0):
                kind = "count"
            if kind == "percent" and numbers.max() > 1 + 1e-9:  # already in percent
                numbers = numbers / 100
            out[col] = numbers.map(FORMATS[kind])
        else:
            out[col] = values.map(lambda v: cut(v, width) if isinstance(v, str) else v)
    out.columns = frame.columns
    return out
