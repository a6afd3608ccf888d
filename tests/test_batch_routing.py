"""Batch features and batch routing equal the per-text Python path and the single-query route()."""
import numpy as np
import pandas as pd
import pytest

from routerlib.queries import Query
from routerlib.routers import batch
from routerlib.routers.classifier import ClassifierRouter, text_stats
from routerlib.sweep import assign
from routerlib.tables import TierTable

TRICKY = ["Héllo wörld, ça va? 12 ² ³ ٣ İstanbul ΣΑΣ ΟΔΟΣ", "AB cd_ef  x\x1cy\n\nz ``` done", "", "a", "I x",
          "def foo(): return x<=1", "日本語のテキスト what is 2+2?", "\u2003spaced\u3000words\x85end\u200b!",
          "e\u0301t\u00e9 na\u00efve", "tab\tsep\x0bvt\x0cff\rcr", "x" * 3000, "the the the the of of",
          "What is the capital of France? Explain your answer.", "ﬁne ligature Ǆ dz", "math: a^2 + b^2 = c^2 / 4 > 3",
          "ΣΣ İİ xİy the ΣΑΣ", "def", "a`b``c``` x def\ny", "outside the BMP \U0001d400\U0001d401 😀😀 ab"]


@pytest.fixture(params=["numpy", "numba"])
def path(request, monkeypatch):
    """Each test runs on the numpy path and, when numba (the `scale` extra) is installed, on the compiled one."""
    if request.param == "numpy":
        monkeypatch.setattr(batch, "JIT", None)
    elif batch.JIT is None:
        pytest.skip("numba is not installed (pip install -e '.[scale]'): the compiled path is not tested")
    return request.param


def corpus(n=400, seed=0):
    rng = np.random.default_rng(seed)
    words = ("what is the capital of france explain code def return python sum prove that integer prime "
             "translate poem story über café ναι 数学 question answer hard easy value x2 a_b").split()
    texts = [" ".join(rng.choice(words, rng.integers(1, 40))) + rng.choice(["?", "", "\n```", " 42"])
             for _ in range(n)]
    return texts + TRICKY


def table(texts, seed=0, k=3):
    rng = np.random.default_rng(seed)
    n = len(texts)
    hard = np.array([len(t) for t in texts]) / 200
    quality = (rng.random((n, k)) > np.clip(hard[:, None] * np.linspace(1, 0.2, k), 0, 1)).astype(float)
    tiers = ["cheap", "mid", "expensive"][:k] if k == 3 else ["cheap", "expensive"]
    return TierTable("t", tiers, [f"m{j}" for j in range(k)], quality, np.tile(np.logspace(-3, -1, k), (n, 1)),
                     pd.Series(texts, index=[f"q{i}" for i in range(n)]), np.full((n, k), "a", dtype=object),
                     np.full(n, 5.0), False, None)


def test_counts_and_text_stats_equal_the_python_path(path):
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    texts = corpus()
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True).fit(texts)
    fast, slow = batch.counts(vec, texts), CountVectorizer.transform(vec, texts)
    assert (fast != slow).nnz == 0 and np.array_equal(fast.indices, slow.indices)
    assert np.array_equal(batch.text_stats(texts), text_stats(texts))
    assert batch.counts(vec, []).shape == (0, len(vec.vocabulary_)) and batch.text_stats([]).shape == (0, 7)


@pytest.mark.parametrize("threads", [1, 2])
def test_counts_across_chunks(monkeypatch, path, threads):
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    monkeypatch.setattr(batch, "CHUNK_CHARS", 500)
    monkeypatch.setattr(batch, "THREAD_CHARS", 300)
    monkeypatch.setattr(batch, "THREADS", threads)
    texts = corpus(60, seed=3)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1).fit(texts)
    assert (batch.counts(vec, texts) != CountVectorizer.transform(vec, texts)).nnz == 0
    assert np.array_equal(batch.text_stats(texts), text_stats(texts))


def test_both_paths_give_the_same_arrays(monkeypatch):
    from sklearn.feature_extraction.text import TfidfVectorizer
    if batch.JIT is None:
        pytest.skip("numba is not installed (pip install -e '.[scale]'): only the numpy path exists")
    texts = corpus(seed=5)
    for ngrams in [(1, 1), (1, 2)]:
        vec = TfidfVectorizer(ngram_range=ngrams, min_df=2).fit(texts)
        compiled, stats = batch.counts_and_stats(vec, texts)
        monkeypatch.setattr(batch, "JIT", None)
        plain = batch.counts(vec, texts)
        assert np.array_equal(stats, batch.text_stats(texts))
        monkeypatch.undo()
        for a, b in [(compiled.data, plain.data), (compiled.indices, plain.indices), (compiled.indptr, plain.indptr)]:
            assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("k", [2, 3])
def test_batch_decisions_equal_single_query_route(k, path):
    texts = [t for t in corpus(seed=k) if t.strip()]  # route() refuses an empty query
    router = ClassifierRouter(max_features=500).fit(table(texts, k, k))
    scores = router.predict_proba(texts)
    for t in (0.3, 0.5, 0.7):
        single = [router.route(Query(str(i), s), thresholds=t).tier for i, s in enumerate(texts)]
        assert np.array(router.tiers_of(texts, t)).tolist() == single
        assert np.array(list(router.tier_models()))[assign(scores, t)].tolist() == single
    one = np.array([router.predict_proba_one(s) for s in texts])
    np.testing.assert_allclose(scores, one, rtol=0, atol=1e-12)


def test_batch_decisions_equal_route_on_real_prompts(data_mirror, path):
    from routerlib import datasets
    from routerlib.tables import train_test
    train, _ = train_test(datasets.load("arena-bench", data_mirror))
    router = ClassifierRouter().fit(train)
    prompts = [str(p) for p in train_test(datasets.load("routellm-mmlu", data_mirror))[1].prompts[:1500]]
    for t in (0.3, 0.6):
        single = [router.route(Query(str(i), p), thresholds=t).tier for i, p in enumerate(prompts)]
        assert np.array(router.tiers_of(prompts, t)).tolist() == single
