"""The user's own outcomes: CSV/Parquet in long or wide form, and the kit's own run logs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..backends.runlog import RunLog
from ..catalog import Catalog
from ..tables import OutcomeTable, as_text, priced
from ..tokens import token_method
from .common import as_quality, read_table, token_counts
from .routerbench import from_wide
from .sources import DataFormatError

LONG_HELP = ("long form needs columns model, quality (0-1), query_id or query, and cost_usd or "
             "prompt_tokens + completion_tokens; optional: prompt/query text, response, category")


def _long(df: pd.DataFrame, name: str, catalog: Catalog, where) -> OutcomeTable:
    missing = [c for c in ("model", "quality") if c not in df]
    if "query_id" not in df and "query" not in df:
        missing.append("query_id (or query)")
    if "cost_usd" not in df and not {"prompt_tokens", "completion_tokens"} <= set(df):
        missing.append("cost_usd (or prompt_tokens and completion_tokens)")
    if missing:
        raise DataFormatError(f"{where}: missing column(s) {missing}; {LONG_HELP}")
    text = (df["prompt"] if "prompt" in df else df.get("query"))
    text = text.map(as_text) if text is not None else None
    raw_ids = df["query_id"] if "query_id" in df else df["query"]
    bad = raw_ids.isna() | (raw_ids.astype(str).str.strip() == "")
    if bad.any():
        raise DataFormatError(f"{where}: empty query id on file line {int(bad.to_numpy().argmax()) + 2}")
    ids = raw_ids.astype(str)
    quality = as_quality(df["quality"], where)
    if quality.isna().all():
        raise DataFormatError(f"{where}: the quality column holds no values; give each answer's quality in 0-1")
    if not quality.dropna().between(0, 1).all():
        raise DataFormatError(f"{where}: quality must be between 0 and 1 (normalise it, keep the original "
                              "in quality_raw)")
    counted = "prompt_tokens" not in df and text is not None
    out = pd.DataFrame({
        "query_id": ids, "model": df["model"].astype(str), "quality": quality,
        "quality_raw": df.get("quality_raw", df["quality"]),
        "prompt_tokens": pd.to_numeric(df["prompt_tokens"], errors="coerce") if "prompt_tokens" in df
        else token_counts(text.astype(str)) if counted else float("nan"),
        "completion_tokens": pd.to_numeric(df.get("completion_tokens"), errors="coerce")
        if "completion_tokens" in df else float("nan"),
        "cost_usd": pd.to_numeric(df["cost_usd"], errors="coerce") if "cost_usd" in df else float("nan"),
        "response": df.get("response")})
    for col in ("prompt_tokens", "completion_tokens", "cost_usd"):
        if (out[col] < 0).any():
            raise DataFormatError(f"{where}: negative {col} on row {int((out[col] < 0).idxmax()) + 2}")
    if out["cost_usd"].isna().any():
        unpriced = out["cost_usd"].isna()
        out.loc[unpriced, "cost_usd"] = priced(out[unpriced], catalog)
    first = pd.DataFrame({"query_id": ids, "prompt": text if text is not None else ids,
                          "category": df.get("category", name)}).drop_duplicates("query_id")
    return OutcomeTable(name, first.set_index("query_id"), out, quality_scale="quality 0-1 as given",
                        token_method=f"prompt tokens counted from the text ({token_method()}); completion tokens "
                        "unknown" if counted else "as given", cost_method="as given, else tokens x catalog price",
                        source=str(where))


def load_user_file(path, catalog=None) -> OutcomeTable:
    """A user outcome file: long (one row per query and model) or wide (RouterBench layout)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"outcome file not found: {path}")
    catalog = catalog or Catalog.load()
    df = read_table(path)
    if df.empty:
        raise DataFormatError(f"{path}: the file holds no rows")
    if {"model", "quality"} & set(df.columns):  # wide files have a column per model instead
        return _long(df, path.stem, catalog, path)
    return from_wide(df, path.stem, catalog, path, source=str(path))


def load_run_log(path, catalog=None) -> OutcomeTable:
    """Finished answer calls of a live run log, as a replayable table (quality unknown unless recorded)."""
    log = RunLog(path) if not isinstance(path, RunLog) else path
    rows = [r for r in log.records if r.get("error") is None and r.get("purpose") == "answer" and r.get("query_id")]
    if not rows:
        raise DataFormatError(f"{log.path}: no finished answer calls to replay")
    df = pd.DataFrame(rows).drop_duplicates(["query_id", "model"], keep="last")
    prompts = df.get("prompt", pd.Series(index=df.index, dtype=object)).fillna(df["query_id"])
    out = pd.DataFrame({
        "query_id": df["query_id"].astype(str), "model": df["model"], "quality": df.get("quality", float("nan")),
        "quality_raw": df.get("quality", float("nan")), "prompt_tokens": df["prompt_tokens"],
        "completion_tokens": df["completion_tokens"], "cost_usd": df["cost_usd"], "response": df["text"]})
    queries = pd.DataFrame({"prompt": prompts.to_numpy(), "category": "run log"},
                           index=df["query_id"].astype(str).to_numpy()).groupby(level=0).first()
    return OutcomeTable(f"runlog:{log.path.stem}", queries, out, quality_scale="unknown unless graded",
                        token_method="reported by the server", cost_method="recorded per call (USD)",
                        source=str(log.path))

