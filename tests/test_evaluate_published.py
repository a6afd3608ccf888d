"""RouteLLM's published figures as stored, and the table that puts the kit's routers beside them."""
import pandas as pd

from routerlib import published


def test_published_figures_are_complete_and_in_range():
    doc = published.routellm_published()
    assert "2406.18665" in doc["source"] and "strong model" in doc["cpt_unit"]
    assert set(doc["results"]) == {"routellm-mtbench", "routellm-mmlu", "routellm-gsm8k"}
    for rows in doc["results"].values():
        assert len(rows) == 9 and rows[0]["router"] == "random"
        assert all(0 < r["apgr"] < 1 and 0 < r["cpt50"] < 100 for r in rows)
        assert 0.49 <= rows[0]["apgr"] <= 0.51  # random recovers about half the gap


def test_beside_routellm_puts_ours_and_theirs_in_one_table(monkeypatch, capsys):
    calls = []

    def fake_compare(table, names, seed, splits, catalog=None, deployable=True):
        calls.append((table, tuple(names), seed, splits))
        apgr = [0.5 + i / 100 for i in range(len(names))]
        return pd.DataFrame({"apgr": apgr, "apgr_lo": [a - 0.01 for a in apgr], "apgr_hi": [a + 0.01 for a in apgr],
                             "cpt50": [50.0 - i for i in range(len(names))]}, index=pd.Index(names, name="router"))
    monkeypatch.setattr(published, "compare", fake_compare)
    monkeypatch.setattr(published, "leave_one_out", lambda tables, name, router, seed: {"apgr": 0.6, "cpt50": 40.0})
    monkeypatch.setattr(published.datasets, "load", lambda name, data_dir, catalog=None: f"table {name}")
    table = published.beside_routellm(seed=3, splits=4)
    assert [c[0] for c in calls] == ["table routellm-mtbench", "table routellm-mmlu", "table routellm-gsm8k"]
    assert all(c[2] == 3 and c[3] == 4 for c in calls)
    loo = [r for r in published.OURS if r == "random" or r in published.LEARNED]
    assert len(table) == 3 * (len(published.OURS) + len(loo) + 9)
    assert set(table["protocol"]) == {"in-domain", "leave-one-out", "paper"} == set(published.PROTOCOL)


def test_leave_one_out_trains_without_the_benchmark_it_scores():
    from conftest import mirror_dir

    from routerlib import datasets
    if mirror_dir() is None:
        import pytest
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    tables = {n: datasets.load(n, mirror_dir()) for n in published.BENCHMARKS}
    test = published.whole(tables["routellm-mtbench"])
    train = published.concat([published.whole(t) for n, t in tables.items() if n != "routellm-mtbench"])
    assert not set(test.prompts) & set(train.prompts) and test.n == 72  # the whole benchmark, none of it trained on
    random = published.leave_one_out(tables, "routellm-mtbench", "random")
    assert 0.4 <= random["apgr"] <= 0.6  # the mean of many draws
    clf = published.leave_one_out(tables, "routellm-mtbench", "classifier")
    assert 0 < clf["apgr"] < 1.5 and 0 <= clf["cpt50"] <= 100


def test_best_learned_router_is_set_beside_the_papers_best():
    rows = [{"dataset": "d", "protocol": "in-domain", "router": "classifier", "apgr": 0.55, "apgr_lo": 0.5,
             "apgr_hi": 0.6}, {"dataset": "d", "protocol": "in-domain", "router": "oracle", "apgr": 0.9,
                               "apgr_lo": 0.88, "apgr_hi": 0.92},
            {"dataset": "d", "protocol": "paper", "router": "MF (arena)", "apgr": 0.622},
            {"dataset": "d", "protocol": "paper", "router": "BERT (arena)", "apgr": 0.5}]
    line = published.best_learned(pd.DataFrame(rows), "d")
    assert "best learned router in-domain classifier, APGR 0.550 (95% interval 0.500 to 0.600)" in line
    assert "RouteLLM's best published MF (arena), 0.622" in line  # the oracle is not a learned router
