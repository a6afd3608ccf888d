"""Partitioned batch routing on a local Dask cluster gives the single-machine decisions."""
import numpy as np
import pandas as pd
import pytest

from routerlib.bench.biglog import generate
from routerlib.routers.classifier import ClassifierRouter
from routerlib.routers.partitioned import decisions, route_partitions, split_log
from routerlib.datasets.columnar import load_log


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("log")
    outcomes, prompts = generate(folder, 3000, seed=4)
    tt = load_log(outcomes, prompts)
    router = ClassifierRouter(max_features=2000).fit(tt.take(np.arange(1000)))
    return router, prompts, folder


def test_split_and_route_here_equals_one_batch(fitted, tmp_path):
    router, prompts, _ = fitted
    parts = split_log(prompts, tmp_path / "parts", rows_per_part=700)
    assert len(parts) == 5
    got = decisions(route_partitions(router, parts, thresholds=0.6))
    text = pd.read_parquet(prompts)
    assert got["query_id"].tolist() == text["query_id"].tolist()
    assert got["tier"].tolist() == router.tiers_of(list(text["prompt"]), 0.6).tolist()
    with pytest.raises(ValueError, match="rows_per_part"):
        split_log(prompts, tmp_path / "x", 0)


def test_local_dask_cluster_gives_the_same_decisions(fitted, tmp_path):
    distributed = pytest.importorskip("distributed")
    router, prompts, _ = fitted
    parts = split_log(prompts, tmp_path / "parts", rows_per_part=1000)
    here = decisions(route_partitions(router, parts))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c, \
            distributed.Client(c) as client:
        there = route_partitions(router, parts, client=client, out_dir=tmp_path / "routed")
    assert all("written" in r for r in there)
    pd.testing.assert_frame_equal(decisions(there), here)
