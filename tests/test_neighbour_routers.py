"""The knn, cluster and mlp routers on small synthetic tables: what they learn, the protocol, saving."""
import numpy as np
import pandas as pd
import pytest

from routerlib.catalog import Catalog
from routerlib.queries import Query
from routerlib.routers import make, neighbours
from routerlib.routers.mlp import MLPRouter
from routerlib.routers.neighbours import ClusterRouter, KNNRouter
from routerlib.routers.saved import load_router, save_router
from routerlib.tables import TierTable

WORDS = [f"w{i}" for i in range(60)]
TOPICS = {"maths": "prove integral theorem lemma derivative", "geography": "capital river country city border",
          "cooking": "recipe bake flour oven sugar"}


def table(prompts, good, name="toy") -> TierTable:
    """A 3-tier table (or as many tiers as `good` has columns) where quality is 1 where good, else 0."""
    cat = Catalog.load()
    quality = np.asarray(good, float)
    tiers, n = list(cat.tiers)[3 - quality.shape[1]:], len(prompts)  # the dearest tiers
    cost = np.tile([1e-4, 1e-3, 1e-2][3 - len(tiers):], (n, 1))
    return TierTable(name, tiers, [cat.tiers[t] for t in tiers], quality, cost,
                     pd.Series(list(prompts), index=[f"q{i}" for i in range(n)]),
                     np.full(quality.shape, "answer", object), np.full(n, 20.0), False, cat)


def random_words_table(n=60, seed=0):
    """Prompts of 6 random words of 60 (each word recurs), a random outcome per query; the last tier always good."""
    rng = np.random.default_rng(seed)
    prompts = [" ".join(rng.choice(WORDS, 6, replace=False)) for _ in range(n)]
    good = np.column_stack([rng.random(n) < 0.5, rng.random(n) < 0.7, np.ones(n, bool)])
    return table(prompts, good)


def topics_table(per_topic=30, seed=0):
    """Three topics with disjoint words; cheap is good on geography, mid also on cooking, maths needs the top tier."""
    rng = np.random.default_rng(seed)
    prompts, good = [], []
    for topic, words in TOPICS.items():
        for i in range(per_topic):
            prompts.append(" ".join(rng.permutation(words.split())[:4]) + f" {topic} case")
            good.append([topic == "geography" and rng.random() < 0.9, topic != "maths", True])
    return table(prompts, good)


@pytest.mark.parametrize("name", ["knn", "cluster", "mlp"])
def test_protocol_repr_and_one_live_query(name):
    tt = topics_table()
    router = make(name, tt.catalog, seed=2)
    assert router.fit(tt) is router and router.name == name
    scores = router.tier_scores(tt)
    assert scores.shape == (tt.n, 3) and np.all(scores[:, -1] == 1) and np.all((scores >= 0) & (scores <= 1))
    one = router.query_scores(Query("x", tt.prompts.iloc[4]))
    assert np.allclose(one, scores[4])
    settings = router.settings()
    assert all(f"{k}=" in repr(router) for k in settings)  # repr names every parameter
    assert "seed" not in settings  # the registry passes the seed: make(name, catalog, seed, **settings) must work
    again = make(name, tt.catalog, 2, **settings).fit(tt)
    assert np.allclose(again.tier_scores(tt), scores)


@pytest.mark.parametrize("name", ["knn", "cluster", "mlp"])
def test_save_and_load_give_the_same_scores(name, tmp_path):
    tt = topics_table()
    router = make(name, tt.catalog, seed=1).fit(tt)
    loaded = load_router(save_router(router, tmp_path / f"{name}.json", thresholds=0.6))
    assert loaded.name == name and loaded.thresholds == [0.6, 0.6]
    assert np.array_equal(loaded.tier_scores(tt), router.tier_scores(tt))
    with pytest.raises(ValueError, match="not fitted"):
        make(name).fitted_part()


def test_knn_scores_a_query_by_its_near_duplicate():
    train = random_words_table()
    dupes = table([p + " w0" for p in train.prompts], train.good())  # each query with one word more
    router = KNNRouter(k=1, prior=0.0).fit(train)
    index, sim = router.neighbours(router.features_.transform(dupes.prompts))
    assert np.array_equal(index[:, 0], np.arange(train.n)) and np.all(sim > 0.8)
    assert np.allclose(router.tier_scores(dupes)[:, :2], train.good()[:, :2])
    # with the default 20 neighbours and a prior the near-duplicate still dominates the score
    scores = KNNRouter().fit(train).tier_scores(dupes)[:, 0]
    assert scores[train.good()[:, 0]].min() > scores[~train.good()[:, 0]].max()


def test_knn_weights_neighbours_by_similarity_and_falls_back_to_the_overall_rate():
    train = random_words_table()
    router = KNNRouter(k=5, power=2, prior=0.5).fit(train)
    X = router.features_.transform(["w3 w7 w11 w19 w23 w42", "zzz unknown words only"])
    index, sim = router.neighbours(X)
    w = sim[0] ** 2
    want = (np.einsum("j,jk->k", w, router.good_[index[0]]) + 0.5 * router.base_rates_) / (w.sum() + 0.5)
    assert np.allclose(router._predict(X)[0], want)
    assert np.allclose(router._predict(X)[1], router.base_rates_)  # no word in common: the overall rate


def test_knn_chunks_give_the_same_neighbours(monkeypatch):
    train = random_words_table(80)
    router = KNNRouter(k=7).fit(train)
    whole = router.tier_scores(train)
    monkeypatch.setattr(neighbours, "CHUNK_CELLS", 3 * train.n)  # three test rows at a time
    assert np.allclose(router.tier_scores(train), whole)


def test_cluster_rates_are_cluster_means_shrunk_towards_the_overall_rate():
    tt = topics_table()
    good = tt.good()[:, :2].astype(float)
    for prior in (0.0, 10.0):
        router = ClusterRouter(n_clusters=3, prior=prior).fit(tt)
        labels = router.clusters(tt.prompts)
        topic = np.repeat(np.arange(3), 30)
        assert len(set(zip(labels, topic))) == 3  # the three topics are the three clusters
        for c in range(3):
            rows = labels == c
            want = (good[rows].sum(axis=0) + prior * good.mean(axis=0)) / (rows.sum() + prior)
            assert np.allclose(router.rates_[c], want) and router.sizes_[c] == rows.sum()
        assert np.allclose(router.tier_scores(tt)[:, :2], router.rates_[labels])
    assert "3 clusters" in repr(router) and "n_clusters=3" in repr(router)


def test_cluster_count_shrinks_for_small_tables():
    router = ClusterRouter(n_clusters=20).fit(topics_table(per_topic=10))
    assert router.n_clusters_ == 3 and len(router.rates_) == 3  # 30 queries: one cluster per 10 at most


def test_mlp_learns_a_separable_problem():
    def prompts_and_labels(n, seed):
        rng = np.random.default_rng(seed)
        hard = rng.random(n) < 0.5
        subjects = rng.choice(WORDS, n)
        prompts = [("prove the theorem about " if h else "what is the capital of ") + s for h, s in zip(hard, subjects)]
        return prompts, np.column_stack([~hard, ~hard | (rng.random(n) < 0.5), np.ones(n, bool)])

    train, test = (table(*prompts_and_labels(n, seed)) for n, seed in ((300, 0), (100, 1)))
    router = MLPRouter(seed=0).fit(train)
    cheap = router.tier_scores(test)[:, 0]
    assert np.mean((cheap >= 0.5) == test.good()[:, 0]) > 0.95  # chance is about 0.5
    assert router.model_.early_stopping  # 300 queries: early stopping on a held-out tenth


def test_mlp_gives_a_constant_tier_its_rate_and_two_tiers_work():
    tt = topics_table()
    all_good = table(tt.prompts, np.column_stack([tt.good()[:, 0], np.ones((tt.n, 2), bool)]))
    router = MLPRouter().fit(all_good)
    assert list(router.outputs_) == [0] and np.all(router.tier_scores(all_good)[:, 1] == 1)
    two = table(tt.prompts, tt.good()[:, [0, 2]])
    scores = MLPRouter().fit(two).tier_scores(two)
    assert scores.shape == (tt.n, 2) and np.all(scores[:, 1] == 1)
