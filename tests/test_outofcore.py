"""DuckDB sweeps of Parquet logs equal sweep() on the loaded tier table, without loading the rows."""
import numpy as np
import pandas as pd
import pytest

from routerlib.bench.biglog import generate
from routerlib.datasets.columnar import load_log
from routerlib.datasets.sources import DataFormatError
from routerlib.routers.base import DecidingCost
from routerlib.sweep import sweep

duckdb = pytest.importorskip("duckdb")
from routerlib.datasets.outofcore import sweep_parquet  # noqa: E402


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A generated log with a score per outcome row (ties on a 0.1 grid, some NaN), and the same scores as n x K."""
    folder = tmp_path_factory.mktemp("ooc")
    outcomes, _ = generate(folder, 2000, seed=4)
    tt = load_log(outcomes)
    rng = np.random.default_rng(0)
    scores = np.round(rng.random((tt.n, len(tt.tiers))), 1)
    scores[rng.random(tt.n) < 0.05, 0] = np.nan
    rows = pd.read_parquet(outcomes)
    rows["score"] = scores[tt.prompts.index.get_indexer(rows["query_id"]),
                           rows["model"].astype(str).map({m: k for k, m in enumerate(tt.models)}).to_numpy()]
    rows.to_parquet(folder / "scored.parquet")
    rows[["query_id", "model", "score"]].sample(frac=1, random_state=0).to_parquet(folder / "scores.parquet")
    return folder, tt, scores, rows


def same(got, ref):
    assert list(got.columns) == list(ref.columns) and len(got) == len(ref)
    shares = [c for c in ref.columns if c.startswith("share_")]
    assert np.array_equal(got[shares].to_numpy(), ref[shares].to_numpy())
    np.testing.assert_allclose(got.to_numpy(float), ref.to_numpy(float), rtol=1e-9, atol=0)


@pytest.mark.parametrize("thresholds", [np.linspace(0, 1, 11), [0.35, np.nan, np.inf, -np.inf, 0.3, 2.0]])
@pytest.mark.parametrize("cascade", [False, True])
def test_equals_the_in_memory_sweep(scored, thresholds, cascade):
    folder, tt, scores, _ = scored
    ref = sweep(tt, scores, thresholds, DecidingCost(per_query=np.full(tt.n, 2e-5), pays_lower_tiers=cascade))
    same(sweep_parquet(folder / "scored.parquet", thresholds, cascade=cascade, per_query=2e-5), ref)
    same(sweep_parquet(folder / "outcomes.parquet", thresholds, scores=folder / "scores.parquet", cascade=cascade,
                       per_query=2e-5), ref)


def test_default_thresholds_partitions_and_left_out_queries(scored, tmp_path):
    folder, tt, scores, rows = scored
    scores = np.nan_to_num(scores, nan=0.45)  # sweep()'s default thresholds are quantiles, NaN-free
    rows = rows.assign(score=np.nan_to_num(rows["score"], nan=0.45)).drop(index=[7])  # query of row 7 loses a tier
    rows.iloc[:3000].to_parquet(tmp_path / "a.parquet")
    rows.iloc[3000:].sample(frac=1, random_state=1).to_parquet(tmp_path / "b.parquet")
    keep = tt.prompts.index != rows.loc[6, "query_id"]
    same(sweep_parquet(str(tmp_path / "*.parquet"), memory_limit="200MB"), sweep(tt.take(keep), scores[keep]))


@pytest.mark.parametrize("change, message", [
    (lambda r: pd.concat([r, r.head(1)]), "more than one outcome"),
    (lambda r: r.assign(quality=r["quality"] * 2), "quality outside 0-1"),
    (lambda r: r.drop(columns="score"), "no score column"),
    (lambda r: r.drop(columns="cost_usd"), "missing column"),
])
def test_bad_logs_fail_in_one_line(scored, tmp_path, change, message):
    change(scored[3]).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataFormatError, match=message) as err:
        sweep_parquet(tmp_path / "bad.parquet", [0.5])
    assert "\n" not in str(err.value)
