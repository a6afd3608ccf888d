"""Reading data files with errors that name the file and line."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..tokens import count_tokens
from .sources import DataFormatError


def read_jsonl(path: Path) -> list[dict]:
    """JSON objects, one per line; a bad line is an error naming file and line."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataFormatError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise DataFormatError(f"{path}:{lineno}: expected a JSON object")
                rows.append(row)
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path}: not UTF-8 text ({e})") from None
    return rows


PICKLES = (".pkl", ".pickle")


def read_table(path: Path, required=(), trusted_pickle: bool = False) -> pd.DataFrame:
    """A CSV or Parquet file, checked for the required columns; a pickle only if `trusted_pickle` (it can run code)."""
    path = Path(path)
    if path.suffix.lower() in PICKLES and not trusted_pickle:
        raise DataFormatError(f"{path}: refusing to read a pickle, since loading one can run code; give outcomes as "
                              "CSV, Parquet or JSONL (e.g. pandas.read_pickle on a file you trust, then .to_parquet)")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif path.suffix.lower() in PICKLES:
            df = pd.read_pickle(path)
        else:
            df = pd.read_csv(path)
    except FileNotFoundError:
        raise
    except Exception as e:  # pandas raises many types; each names the line where it knows it
        raise DataFormatError(f"{path}: cannot be parsed: {e}") from None
    if not isinstance(df, pd.DataFrame):
        raise DataFormatError(f"{path}: expected a table, got {type(df).__name__}")
    require_columns(df, required, path)
    return df


def require_columns(df: pd.DataFrame, required, where) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataFormatError(f"{where}: missing column(s) {missing}; it has {list(df.columns)[:12]}")


def as_bool_quality(series: pd.Series, where) -> pd.Series:
    """True/False (or 1/0) correctness as 1.0/0.0, NaN where missing; anything else is an error."""
    mapped = series.map(lambda v: 1.0 if v in (True, 1, "True", "true", "1") else
                        0.0 if v in (False, 0, "False", "false", "0") else float("nan"))
    bad = series.notna() & mapped.isna()
    if bad.any():
        raise DataFormatError(f"{where}: correctness must be True/False or 1/0, got {series[bad].iloc[0]!r}")
    return mapped


def token_counts(texts: pd.Series) -> pd.Series:
    """Tokens per text, counting each distinct text once; NaN for missing texts."""
    unique = {t: count_tokens(t) for t in texts.dropna().unique()}
    return texts.map(unique).astype(float)


def as_quality(series: pd.Series, where) -> pd.Series:
    """Quality in 0-1 from numbers or True/False; empty stays missing, anything else is an error naming the row."""
    if series.dtype == bool or series.map(lambda v: isinstance(v, bool)).any():
        series = series.map(lambda v: float(v) if isinstance(v, bool) else v)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & (series.astype(str).str.strip() != "") & numbers.isna()
    if bad.any():
        row = bad.to_numpy().argmax()
        raise DataFormatError(f"{where}: quality must be a number or True/False, got {series[bad].iloc[0]!r} "
                              f"(data row {row + 1})")
    return numbers.astype(float)
