"""Sweeps of Parquet logs bigger than memory: DuckDB reads the files and returns per-threshold sums, never the rows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..sweep import SortedSweep
from .columnar import LOG_COLUMNS, _tier_order
from .sources import DataFormatError


def sweep_parquet(outcomes, thresholds=None, scores=None, score_column: str = "score", tiers: dict | None = None,
                  catalog: Catalog | None = None, cascade: bool = False, per_query: float = 0.0,
                  memory_limit: str | None = None, temp_directory=None) -> pd.DataFrame:
    """sweep(load_log(outcomes), scores, thresholds) computed by DuckDB straight from Parquet (a file, a glob or a list).

    Each outcome row (query_id, model) carries the router's score for that model's tier: a `score_column` of the
    log, or of the Parquet file(s) `scores` (query_id, model, score) joined on query and model; a missing or NaN
    score never reaches a threshold. Like load_log, queries lacking a tier's quality or cost are left out.
    `thresholds=None` takes the scores' quantiles, as sweep() does. `cascade`/`per_query` are DecidingCost's.
    """
    import duckdb
    settings = {"memory_limit": memory_limit, "temp_directory": temp_directory, "preserve_insertion_order": False}
    con = duckdb.connect(config={k: v if isinstance(v, bool) else str(v) for k, v in settings.items() if v is not None})
    try:
        log = _source(outcomes)
        names = {d[0] for d in con.execute(f"SELECT * FROM {log} LIMIT 0").description}
        missing = [c for c in LOG_COLUMNS if c not in names]
        if missing:
            raise DataFormatError(f"{outcomes}: missing column(s) {missing}; a log needs {', '.join(LOG_COLUMNS)}")
        if scores is None and score_column not in names:
            raise DataFormatError(f"{outcomes}: no {score_column} column; give the scores as a column or as scores=")
        _check(con, log, outcomes)
        models = [m for (m,) in con.execute(f"SELECT DISTINCT model::VARCHAR FROM {log}").fetchall()]
        catalog = catalog or Catalog.load()
        placed = _tier_order(models, catalog, tiers)
        if len(placed) < 2:
            raise DataFormatError(f"{outcomes}: routing needs at least two tiers, got models {models}")
        con.execute("CREATE TEMP TABLE tier_of (model VARCHAR, k INTEGER)")
        con.executemany("INSERT INTO tier_of VALUES (?, ?)", [(m, k) for k, m in enumerate(placed)])
        con.execute(f"CREATE TEMP VIEW rows_ AS {_rows(log, scores, score_column)}")
        con.execute(f"CREATE TEMP TABLE per_query AS {_pivot(len(placed), cascade, thresholds is None)}")
        n, twice, base_cost, base_quality = con.execute(
            "SELECT count(*), count(*) FILTER (twice_), sum(paid_), sum(quality_) FROM per_query").fetchall()[0]
        if twice:
            raise DataFormatError(f"{outcomes}: more than one outcome for a query and model")
        if not n:
            raise DataFormatError(f"{outcomes}: no query has a quality and cost for every tier model {placed}")
        thresholds = _default_thresholds(con, len(placed)) if thresholds is None else np.asarray(thresholds, float)
        thresholds = np.atleast_1d(thresholds)
        grid = np.unique(thresholds[~np.isnan(thresholds)])
        con.register("grid", pd.DataFrame({"t": grid, "b": np.arange(1, len(grid) + 1)}))
        per_bin = [_binned(con, k, grid) for k in range(len(placed) - 1)]
    finally:
        con.close()
    names = [(t if (t := (tiers or {}).get(m)) else catalog.get(m).tier) for m in placed]
    return _Binned(names, n, np.array([base_cost or 0.0, base_quality or 0.0, float(n)]), per_query * n, cascade,
                   grid, per_bin).curve(thresholds, with_thresholds=True)


def _source(paths) -> str:
    """read_parquet(...) of a path, a glob or a list of them, quoted for SQL."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return "read_parquet([" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "])"


def _check(con, log: str, where):
    """load_log's checks on whole columns, in one pass: ids and models present, quality 0-1, cost finite >= 0."""
    q, c = "quality::DOUBLE", "cost_usd::DOUBLE"  # NaN passes (the query is left out), as in load_log
    bad = con.execute(f"""SELECT count(*) FILTER (query_id IS NULL), count(*) FILTER (model IS NULL),
        count(*) FILTER (NOT isnan({q}) AND ({q} < 0 OR {q} > 1)), count(*) FILTER ({c} < 0 OR isinf({c})) FROM {log}""")
    for count, what in zip(bad.fetchall()[0], ["have no query_id", "have no model", "have a quality outside 0-1",
                                             "have a cost_usd that is negative or infinite"]):
        if count:
            raise DataFormatError(f"{where}: {count} row(s) {what}")


def _rows(log: str, scores, score_column: str) -> str:
    """Outcome rows with their tier index and score (NaN as NULL: DuckDB ranks NaN above every number)."""
    def number(column):
        return f"CASE WHEN isnan({column}::DOUBLE) THEN NULL ELSE {column}::DOUBLE END"
    joined = "" if scores is None else (f"LEFT JOIN {_source(scores)} s ON o.query_id::VARCHAR = s.query_id::VARCHAR "
                                        "AND o.model::VARCHAR = s.model::VARCHAR")
    score = f"{'o' if scores is None else 's'}.{score_column}"
    return (f"SELECT o.query_id::VARCHAR AS query_id, t.k, {number('o.quality')} AS quality, "
            f"{number('o.cost_usd')} AS cost, {number(score)} AS score "
            f"FROM {log} o JOIN tier_of t ON o.model::VARCHAR = t.model {joined}")


def _pivot(k: int, cascade: bool, scores: bool) -> str:
    """One row per complete query (or one with a repeated outcome, twice_): what the sweep sums, and no more. The cost
    and quality on the last tier; per cheaper tier, the running maximum of the scores (reach) and the changes there."""
    cols = ", ".join(f"count(*) FILTER (k = {j}) AS n{j}, any_value(quality) FILTER (k = {j}) AS q{j}, "
                     f"any_value(cost) FILTER (k = {j}) AS c{j}, any_value(score) FILTER (k = {j}) AS s{j}"
                     for j in range(k))
    out = [" OR ".join(f"n{j} > 1" for j in range(k)) + " AS twice_",
           (" + ".join(f"c{j}" for j in range(k)) if cascade else f"c{k - 1}") + " AS paid_", f"q{k - 1} AS quality_"]
    for j in range(k - 1):
        out += [f"greatest({', '.join(f's{i}' for i in range(j + 1))}) AS r{j}",
                (f"-c{j + 1}" if cascade else f"c{j} - c{j + 1}") + f" AS dc{j}", f"q{j} - q{j + 1} AS dq{j}"]
        out += [f"s{j}"] if scores else []
    complete = " AND ".join(f"n{j} = 1 AND q{j} IS NOT NULL AND c{j} IS NOT NULL" for j in range(k))
    return (f"SELECT {', '.join(out)} FROM (SELECT {cols} FROM rows_ GROUP BY query_id) "
            f"WHERE ({complete}) OR twice_")


def _binned(con, k: int, grid: np.ndarray) -> np.ndarray:
    """Per threshold bin (queries whose reach at tier k passes grid[:b]): count and the cost and quality changes."""
    rows = con.execute(f"SELECT b, count(*), sum(dc{k}), sum(dq{k}) FROM per_query ASOF JOIN grid ON r{k} >= t "
                       "GROUP BY b").fetchall()
    per_bin = np.zeros((4, len(grid) + 1))
    for b, *sums in rows:  # count, cost and quality changes; the count of known qualities does not change
        per_bin[:3, b] = sums
    return per_bin


def _default_thresholds(con, k: int) -> np.ndarray:
    """default_thresholds() of the complete queries' scores on every tier but the last: quantiles, then above all."""
    scores = " UNION ALL ".join(f"SELECT s{j} AS s FROM per_query" for j in range(k - 1))
    levels = ", ".join(repr(float(q)) for q in np.linspace(0, 1, 200))
    qs, top = con.execute(f"SELECT quantile_cont(s, [{levels}]), max(s) FROM ({scores})").fetchall()[0]
    return np.r_[np.unique(qs), np.nextafter(top, np.inf)]


class _Binned(SortedSweep):
    """SortedSweep's curve from per-bin sums computed elsewhere (by DuckDB): the same formulas, the same columns."""

    def __init__(self, tiers, n, base, extra, cascade, grid, per_bin):
        self.tiers, self.n, self.base, self.extra, self.cascade = list(tiers), int(n), base, extra, cascade
        self.grid, self.per_bin, self.sorted = grid, per_bin, None

    def _tier(self, k: int, thresholds: np.ndarray):
        above = np.cumsum(self.per_bin[k][:, ::-1], axis=1)[:, ::-1][:, 1:]  # reaching grid[j]: bins > j
        at, found = np.searchsorted(self.grid, thresholds), ~np.isnan(thresholds)
        out = np.zeros((4, len(thresholds)))
        out[:, found] = above[:, at[found]]
        return np.round(out[0]).astype(int), out[1:]
