"""RouteLLM's pairwise routers: matrix factorisation (mf) and similarity-weighted Bradley-Terry (sw-ranking)."""
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from routerlib.catalog import Catalog
from routerlib.queries import Query
from routerlib.routers import make
from routerlib.routers.mf import MFRouter
from routerlib.routers.pairwise import SWRankingRouter, bradley_terry, pair_outcomes
from routerlib.routers.saved import load_router, save_router
from routerlib.tables import OutcomeTable, TierTable

MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4-turbo"]
TOPICS = ["rivers", "dogs", "paris", "music", "cheese", "trains", "stars", "tea", "snow", "boats"]


def prompt(hard: bool, i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return (f"Prove the theorem about {topic} with a rigorous derivation, step {i}" if hard
            else f"What is a fun fact about {topic}? Answer briefly, item {i}")


def toy_table(n=80, tiers=3, seed=0) -> TierTable:
    """Easy prompts: every tier is right; hard prompts: only the tiers above the cheapest are (a little noise)."""
    rng = np.random.default_rng(seed)
    hard = np.arange(n) % 2 == 1
    cheap = np.where(hard, rng.random(n) < 0.1, rng.random(n) < 0.95)
    quality = np.column_stack([cheap] + [rng.random(n) < 0.9 for _ in range(tiers - 1)]).astype(float)
    names = ["cheap", "mid", "expensive"] if tiers == 3 else ["cheap", "expensive"]
    models = MODELS if tiers == 3 else [MODELS[0], MODELS[-1]]
    prompts = pd.Series([prompt(h, i) for i, h in enumerate(hard)], index=[f"q{i}" for i in range(n)])
    return TierTable("toy", names, models, quality, np.tile(np.linspace(1e-4, 1e-2, tiers), (n, 1)), prompts,
                     np.full((n, tiers), "answer", object), np.full(n, 20.0), False, Catalog.load())


def fresh(n=20) -> list:
    return [prompt(i % 2 == 1, 80 + i) for i in range(n)]  # numbers the training prompts (0-79) did not use


@pytest.fixture(scope="module")
def table():
    return toy_table()


@pytest.mark.parametrize("router", [MFRouter(epochs=200, seed=3), SWRankingRouter(neighbours=20)], ids=repr)
def test_both_follow_the_protocol(router, table):
    train, test = table.take(np.arange(60)), table.take(np.arange(60, 80))
    assert router.fit(train) is router
    scores = router.tier_scores(test)
    assert scores.shape == (20, 3) and np.all(scores[:, -1] == 1)
    assert np.all((scores >= 0) & (scores <= 1))
    one = router.query_scores(Query("x", test.prompts.iloc[0]))
    assert np.allclose(one, scores[0], atol=1e-6)
    assert router.route(Query("x", test.prompts.iloc[0])).tier in table.tiers


def test_registry_builds_them_with_their_parameters_in_repr():
    mf, sw = make("mf", seed=2), make("sw-ranking", neighbours=7)
    assert isinstance(mf, MFRouter) and mf.seed == 2 and mf.name == "mf"
    assert isinstance(sw, SWRankingRouter) and sw.neighbours == 7 and sw.name == "sw-ranking"
    for text in ("dim=64", "text_dims=128", "epochs=", "lr=", "l2=", "ties='cheaper'"):
        assert text in repr(mf)
    for text in ("neighbours=7", "gamma=", "prior=", "ties='cheaper'"):
        assert text in repr(sw)
    assert "fitted" in repr(MFRouter(epochs=5).fit(toy_table(20)))


@pytest.mark.parametrize("tiers", [2, 3])
def test_mf_learns_which_kind_of_prompt_the_cheap_tier_handles(tiers):
    router = MFRouter(epochs=300, seed=0).fit(toy_table(tiers=tiers))
    cheap = router.predict_proba(fresh())[:, 0]
    easy, hard = cheap[0::2], cheap[1::2]
    assert easy.min() > hard.max()  # every new easy prompt ranks above every new hard one
    assert easy.mean() > 0.8 and hard.mean() < 0.3


def test_mf_is_seeded_and_shrinks_its_loss():
    tt = toy_table()
    a, b = MFRouter(epochs=100, seed=1).fit(tt), MFRouter(epochs=100, seed=1).fit(tt)
    assert np.array_equal(a.tier_scores(tt), b.tier_scores(tt))
    start = MFRouter(epochs=1, seed=1).fit(tt).loss_
    assert a.loss_ < start - 0.2


def weights_by_hand(router, text):
    """RouteLLM's weighting: exp(gamma * cosine / top cosine) over the most similar training queries, summing to 1."""
    z = router.embedding_.transform([text])[0].astype(float)
    train = router.train_embeddings_.astype(float)
    sims = train @ z / (np.linalg.norm(train, axis=1) * np.linalg.norm(z))
    kept = np.argsort(-sims)[:router.neighbours]
    w = np.zeros(len(train))
    w[kept] = np.exp(router.gamma * sims[kept] / sims.max())
    return w / w.sum()


def test_sw_ranking_with_two_models_and_no_prior_is_the_weighted_win_share():
    tt = toy_table(30, tiers=2)
    router = SWRankingRouter(neighbours=8, gamma=3.0, prior=0.0).fit(tt)
    text = fresh(1)[0]
    w = weights_by_hand(router, text)
    cheap_at_least_as_good = tt.quality[:, 0] >= tt.quality[:, 1]  # ties go to the cheaper model
    assert router.predict_proba([text])[0, 0] == pytest.approx(w @ cheap_at_least_as_good, abs=1e-5)


def test_sw_ranking_equals_a_weighted_bradley_terry_fit_by_hand():
    tt = toy_table(24, seed=5)
    router = SWRankingRouter(neighbours=10, gamma=2.0, prior=0.3, ties="half").fit(tt)
    text = fresh(2)[1]
    w = weights_by_hand(router, text)
    q, pairs = tt.quality, [(0, 1), (0, 2), (1, 2)]

    def nll(beta, weights, centre, l2):
        total = 0.0
        for a, b in pairs:
            y = np.where(q[:, a] > q[:, b], 1.0, np.where(q[:, a] < q[:, b], 0.0, 0.5))
            d = beta[a] - beta[b]
            total += weights @ (y * np.logaddexp(0, -d) + (1 - y) * np.logaddexp(0, d))
        return total + l2 / 2 * np.sum((beta - centre) ** 2)

    overall = minimize(nll, np.zeros(3), args=(np.full(len(q), 1 / len(q)), np.zeros(3), 1e-3), tol=1e-12).x
    beta = minimize(nll, overall, args=(w, overall, 0.3), tol=1e-12).x
    want = 1 / (1 + np.exp(-(beta[:2] - beta[2])))
    assert np.allclose(router.predict_proba([text])[0], [*want, 1.0], atol=1e-5)


def test_batched_bradley_terry_matches_an_optimiser_row_by_row():
    rng = np.random.default_rng(0)
    total = rng.random((4, 6)) + 0.1  # 4 problems over 4 models (6 pairs)
    wins = total * rng.random((4, 6))
    prior = rng.normal(size=(4, 4))
    a, b = np.triu_indices(4, k=1)
    got = bradley_terry(total, wins, prior, 0.5)
    for r in range(4):
        def nll(beta):
            d = beta[a] - beta[b]
            return wins[r] @ np.logaddexp(0, -d) + (total[r] - wins[r]) @ np.logaddexp(0, d) + \
                0.25 * np.sum((beta - prior[r]) ** 2)
        assert np.allclose(got[r], minimize(nll, prior[r], tol=1e-12).x, atol=1e-5)


def test_pair_outcomes_treat_ties_as_asked():
    quality = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [np.nan, 1.0]])
    assert pair_outcomes(quality, "cheaper")[0][:, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert pair_outcomes(quality, "half")[0][:3, 0].tolist() == [0.5, 0.0, 1.0]
    assert pair_outcomes(quality, "drop")[1][:, 0].tolist() == [0.0, 1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="ties must be one of"):
        pair_outcomes(quality, "coin")


def outcome_table(tt: TierTable) -> OutcomeTable:
    """The tier table's outcomes plus one more model ("extra") that is right on hard prompts only."""
    rows = [{"query_id": qid, "model": m, "quality": tt.quality[i, k], "quality_raw": tt.quality[i, k],
             "prompt_tokens": 20, "completion_tokens": 10, "cost_usd": tt.cost[i, k], "response": "answer"}
            for i, qid in enumerate(tt.prompts.index) for k, m in enumerate(tt.models)]
    rows += [{"query_id": qid, "model": "extra", "quality": float("Theorem" in p or "theorem" in p),
              "quality_raw": 0, "prompt_tokens": 20, "completion_tokens": 10, "cost_usd": 7e-3, "response": "answer"}
             for qid, p in tt.prompts.items()]
    queries = pd.DataFrame({"prompt": tt.prompts, "category": "toy"})
    return OutcomeTable("toy", queries, pd.DataFrame(rows), "0/1", "given", "given")


@pytest.mark.parametrize("kind", [MFRouter, SWRankingRouter])
def test_an_outcome_table_adds_its_other_models_as_comparisons(kind):
    tt = toy_table()
    router = kind(seed=0).fit(tt, outcomes=outcome_table(tt))
    assert router.tier_columns_.tolist() == [0, 1, 3]  # "extra" sits between mid and expensive by cost
    scores = router.predict_proba(fresh())
    assert scores.shape == (20, 3) and np.all(scores[:, -1] == 1)
    assert scores[0::2, 0].mean() > scores[1::2, 0].mean() + 0.3


@pytest.mark.parametrize("name, params", [("mf", {"epochs": 50}), ("sw-ranking", {"neighbours": 15})])
def test_save_and_load_give_the_same_scores(name, params, table, tmp_path):
    router = make(name, table.catalog, seed=4, **params).fit(table)
    path = save_router(router, tmp_path / f"{name}.json", thresholds=[0.6, 0.4])
    loaded = load_router(path)
    assert loaded.name == name and loaded.thresholds == [0.6, 0.4] and loaded.settings() == router.settings()
    assert np.array_equal(loaded.predict_proba(fresh()), router.predict_proba(fresh()))
    assert [loaded.route(Query("q", t)).tier for t in fresh()] == [router.route(Query("q", t)).tier for t in fresh()]


@pytest.mark.parametrize("kind", [MFRouter, SWRankingRouter])
def test_unfitted_routers_say_so(kind, tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        kind().predict_proba(["hello"])
    with pytest.raises(ValueError, match="not fitted"):
        kind().fitted_part()
    with pytest.raises(ValueError, match="needs training queries"):
        kind().fit(toy_table(1))
