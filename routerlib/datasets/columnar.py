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


def _read(path: Path, columns=None, dictionaries=()) -> dict:
    """Named columns of a Parquet or CSV file as Arrow arrays; Parquet `dictionaries` columns come as dictionaries."""
    import pyarrow as pa
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=[c for c in columns or names if c in names],
                              read_dictionary=[c for c in dictionaries if c in names])
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
    """Integer codes of a column (no nulls) and its distinct values, in order of first appearance."""
    import pyarrow as pa
    import pyarrow.compute as pc
    few = pa.types.is_dictionary(col.type) and max((len(c.dictionary) for c in col.chunks), default=0) <= 64
    if few:  # a few values (the models) read as a dictionary: keep the file's codes, drop unused values
        col = col.unify_dictionaries()
    elif pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not few:
        col = pc.dictionary_encode(col)  # one dictionary shared by every chunk, in order of first appearance
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in col.chunks] or [[]]).astype(np.int64)
    dictionary = col.chunk(0).dictionary.cast(pa.string()) if col.num_chunks else pa.array([], pa.string())
    if not few:
        return codes, dictionary
    used = np.flatnonzero(np.bincount(codes, minlength=len(dictionary)))
    used = used[np.argsort([np.argmax(codes == u) for u in used], kind="stable")]
    remap = np.full(len(dictionary), -1)
    remap[used] = np.arange(len(used))
    return remap[codes], dictionary.take(pa.array(used, pa.int64()))


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
    a prompts file (query_id, prompt), read on first use of `.prompts`. Queries lacking a tier's quality or cost are
    left out, with a note."""
    path = Path(outcomes)
    if not path.is_file():
        raise FileNotFoundError(f"outcome log not found: {path}")
    if prompts is not None:
        _has_prompt_columns(Path(prompts))
    cols = _read(path, LOG_COLUMNS + ["prompt_tokens"], dictionaries=["model"])
    missing = [c for c in LOG_COLUMNS if c not in cols]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {missing}; a log needs {', '.join(LOG_COLUMNS)}")
    if cols["query_id"].null_count:
        raise DataFormatError(f"{path}: {cols['query_id'].null_count} row(s) have no query_id")
    if cols["model"].null_count:
        raise DataFormatError(f"{path}: {cols['model'].null_count} row(s) have no model")
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
    keep = slice(None) if keep.all() else keep  # no copies when every query is kept
    query_ids = pd.Index(ids.cast("string").to_pandas(), name="query_id")
    text = (_Prompts(Path(prompts), ids, query_ids, keep) if prompts is not None
            else pd.Series(query_ids, index=query_ids)[keep])
    left_out = 0 if isinstance(keep, slice) else int((~keep).sum())
    notes = [f"left out {left_out} of {n} queries with no recorded quality or cost for a tier model"] if left_out else []
    names = [(t if (t := (tiers or {}).get(m)) else catalog.get(m).tier) for m in placed]
    return LogTable(name or path.stem, names, placed, grid["quality"][keep], grid["cost"][keep], text,
                    np.full((n - left_out, k), None, dtype=object), tokens[keep], False, catalog, notes)


class LogTable(TierTable):
    """A TierTable whose prompt text is read from the prompts file on first use (sweeps and monitors need none)."""

    @property
    def prompts(self) -> pd.Series:
        if isinstance(text := self.__dict__["prompts"], _Prompts):
            text = self.__dict__["prompts"] = text()
        return text

    @prompts.setter
    def prompts(self, value):
        self.__dict__["prompts"] = value

    @property
    def n(self) -> int:
        return len(self.quality)

    def take(self, index) -> TierTable:
        """Rows `index`; text not yet read stays unread (a sample of a big log needs none for a sweep)."""
        text = self.__dict__["prompts"]
        if not isinstance(text, _Prompts):
            return super().take(index)
        idx = np.arange(self.n)[index]
        return LogTable(self.name, self.tiers, self.models, self.quality[idx], self.cost[idx], text.rows(idx),
                        self.responses[idx], self.prompt_tokens[idx], self.simulated, self.catalog, list(self.notes))


class _Prompts:
    """The prompts file's text for the log's query ids, read when first asked for."""

    def __init__(self, path: Path, log_ids, query_ids: pd.Index, keep):
        self.path, self.log_ids, self.query_ids, self.keep = path, log_ids, query_ids, keep
        self.rows_ = None  # positions within the table's rows, after a take()

    def __call__(self) -> pd.Series:
        text = _prompts(_read(self.path, ["query_id", "prompt"]), self.path, self.log_ids, self.query_ids)[self.keep]
        return text if self.rows_ is None else text.iloc[self.rows_]

    def rows(self, idx) -> "_Prompts":
        """The same text, to be read later, for rows `idx` of the table."""
        out = _Prompts(self.path, self.log_ids, self.query_ids, self.keep)
        out.rows_ = idx if self.rows_ is None else self.rows_[idx]
        return out


def _has_prompt_columns(path: Path):
    """Fail now, not at first use, when the prompts file is missing or lacks query_id or prompt."""
    if not path.is_file():
        raise FileNotFoundError(f"prompts file not found: {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq
        names = pq.read_schema(path).names
    else:
        import pyarrow.csv as pcsv
        names = pcsv.open_csv(path).schema.names
    if not {"query_id", "prompt"} <= set(names):
        raise DataFormatError(f"{path}: a prompts file needs columns query_id and prompt")


def _prompts(cols: dict, path, log_ids, query_ids: pd.Index) -> pd.Series:
    """Prompt text per query id from the prompts file's columns (empty where the file lacks one)."""
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
