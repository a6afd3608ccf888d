"""Big outcome logs (millions of rows) straight to a TierTable: columns read with pyarrow, checked and placed with
array operations, never a Python loop over rows and never a second copy of the outcome columns."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..tables import TierTable
from .sources import DataFormatError

LOG_COLUMNS = ["query_id", "model", "quality", "cost_usd"]  # required; prompt_tokens is kept when present


def _read(path: Path, columns=None) -> dict:
    """Named columns of a Parquet or CSV file as Arrow arrays (one chunk each)."""
    import pyarrow as pa
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=[c for c in columns or names if c in names])
    else:
        import pyarrow.csv as pcsv
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
            include_columns=columns, include_missing_columns=False, column_types={"query_id": pa.string()}))
    return {name: table.column(name) for name in table.column_names}


def _numbers(col, name: str, where) -> np.ndarray:
    import pyarrow.compute as pc
    try:
        return pc.cast(col, "float64").to_numpy(zero_copy_only=False)
    except Exception:
        raise DataFormatError(f"{where}: column {name} must be numeric") from None


def _codes(col):
    """Integer codes of a column and its distinct values, in order of first appearance."""
    import pyarrow.compute as pc
    if str(col.type).startswith("dictionary"):
        col = col.cast(col.type.value_type)
    encoded = pc.dictionary_encode(col.combine_chunks() if hasattr(col, "combine_chunks") else col)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def _tier_order(models: list, catalog: Catalog, tiers: dict | None) -> list:
    """Model indices cheap to dear, one per tier: by `tiers` ({model: tier}) else by the catalog's tier of each."""
    order = list(catalog.tiers)
    named = tiers or {m: catalog.get(m).tier for m in models if m in catalog}
    unknown = [m for m in models if m not in named]
    if unknown:
        raise DataFormatError(f"no tier for model(s) {unknown}; give tiers={{model: tier}} or add them to the catalog")
    placed = sorted(models, key=lambda m: order.index(named[m]) if named[m] in order else len(order))
    seen = [named[m] for m in placed]
    if len(set(seen)) != len(seen):
        raise DataFormatError(f"one model per tier, got {dict(zip(placed, seen))}; pass tiers= to choose")
    return placed


def load_log(outcomes, prompts=None, catalog: Catalog | None = None, tiers: dict | None = None,
             name: str | None = None) -> TierTable:
    """A TierTable from a long outcome log (query_id, model, quality 0-1, cost_usd; Parquet or CSV) and optionally
    a prompts file (query_id, prompt). Queries lacking a tier's quality or cost are left out, with a note."""
    path = Path(outcomes)
    if not path.is_file():
        raise FileNotFoundError(f"outcome log not found: {path}")
    cols = _read(path, LOG_COLUMNS + ["prompt_tokens"])
    missing = [c for c in LOG_COLUMNS if c not in cols]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {missing}; a log needs {', '.join(LOG_COLUMNS)}")
    if cols["query_id"].null_count:
        raise DataFormatError(f"{path}: {cols['query_id'].null_count} row(s) have no query_id")
    q_code, ids = _codes(cols.pop("query_id"))
    m_code, model_names = _codes(cols.pop("model"))
    quality, cost = _numbers(cols.pop("quality"), "quality", path), _numbers(cols.pop("cost_usd"), "cost_usd", path)
    if ((quality < 0) | (quality > 1)).any():
        raise DataFormatError(f"{path}: quality must be between 0 and 1 (row {int(np.argmax((quality < 0) | (quality > 1)))})")
    bad = (cost < 0) | np.isinf(cost)
    if bad.any():
        raise DataFormatError(f"{path}: cost_usd must be finite and at least 0 (row {int(np.argmax(bad))})")
    models, catalog = model_names.to_pylist(), catalog or Catalog.load()
    placed = _tier_order(models, catalog, tiers)
    column = np.full(len(models), -1)
    column[[models.index(m) for m in placed]] = np.arange(len(placed))
    n, k = len(ids), len(placed)
    if k < 2:
        raise DataFormatError(f"{path}: routing needs at least two tiers, got models {models}")
    slot = q_code * k + column[m_code]
    if np.bincount(slot, minlength=n * k).max(initial=0) > 1:
        raise DataFormatError(f"{path}: more than one outcome for a query and model")
    grid = {}
    for key, values in (("quality", quality), ("cost", cost)):
        grid[key] = np.full(n * k, np.nan)
        grid[key][slot] = values
        grid[key] = grid[key].reshape(n, k)
    del quality, cost
    tokens = np.full(n, np.nan)
    if "prompt_tokens" in cols:
        first = m_code == models.index(placed[0])
        tokens[q_code[first]] = _numbers(cols.pop("prompt_tokens"), "prompt_tokens", path)[first]
    keep = ~(np.isnan(grid["quality"]).any(axis=1) | np.isnan(grid["cost"]).any(axis=1))
    query_ids = pd.Index(ids.cast("string").to_pandas(), name="query_id")
    text = _prompts(Path(prompts), ids, query_ids) if prompts is not None else pd.Series(query_ids, index=query_ids)
    notes = [] if keep.all() else [f"left out {int((~keep).sum())} of {n} queries with no recorded quality or cost "
                                   "for a tier model"]
    names = [(t if (t := (tiers or {}).get(m)) else catalog.get(m).tier) for m in placed]
    return TierTable(name or path.stem, names, placed, grid["quality"][keep], grid["cost"][keep], text[keep],
                     np.full((int(keep.sum()), k), None, dtype=object), tokens[keep], False, catalog, notes)


def _prompts(path: Path, log_ids, query_ids: pd.Index) -> pd.Series:
    """Prompt text per query id (empty where the prompts file lacks one)."""
    cols = _read(path, ["query_id", "prompt"])
    if "prompt" not in cols or "query_id" not in cols:
        raise DataFormatError(f"{path}: a prompts file needs columns query_id and prompt")
    import pyarrow as pa
    import pyarrow.compute as pc
    ids = cols["query_id"].cast("string")
    prompt = cols["prompt"].cast(cols["prompt"].type if "string" in str(cols["prompt"].type) else "string")
    if len(ids) == len(log_ids) and ids.equals(pa.chunked_array([log_ids.cast("string")])):
        taken = pc.fill_null(prompt, "")  # the same queries in the same order: no join
    else:
        where = pd.Index(ids.to_pandas()).get_indexer(query_ids)
        taken = pc.fill_null(prompt.take(pa.array(where, pa.int64(), mask=where < 0)), "")
    return pd.Series(taken.to_pandas().array, index=query_ids, name="prompt")  # Arrow-backed text: no str per prompt
