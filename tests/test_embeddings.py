"""The light sentence embeddings (extra embeddings-light): real vectors, a disk cache, a classifier that uses them."""
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("wordllama", reason="the embeddings-light extra is not installed")

from routerlib.routers.classifier import ClassifierRouter
from routerlib.routers.embeddings import CachedEmbedder, WordLlamaEmbedder, light_embedder

SIMILAR = [("How do I reverse a list in Python?", "What is the way to reverse a Python list?"),
           ("Write a poem about the ocean.", "Compose a short poem about the sea."),
           ("What are the symptoms of the flu?", "Which signs show that someone has influenza?")]
UNRELATED = ["What is the capital of France?", "Solve 3x + 5 = 20 for x.", "Write a SQL query counting orders."]


@pytest.fixture(scope="module")
def model():
    return WordLlamaEmbedder()


def test_vectors_are_finite_rows_one_per_text(model):
    vectors = model(["hello world", "", "a much longer text " * 50])
    assert vectors.shape == (3, 256) and np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1, atol=1e-5)
    assert model([]).shape == (0, 256)


def test_similar_sentences_are_closer_than_unrelated_ones(model):
    a = model([s[0] for s in SIMILAR])
    b = model([s[1] for s in SIMILAR])
    c = model(UNRELATED)
    assert np.all(np.sum(a * b, axis=1) > np.sum(a * c, axis=1) + 0.2)


def test_order_of_the_texts_does_not_change_a_vector(model):
    texts = ["short", "a much longer text about routing queries", "mid length text"]
    assert np.allclose(model(texts)[::-1], model(texts[::-1]))


class Counting:
    """A stand-in model that counts its calls."""
    name = "counting"

    def __init__(self):
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        return np.array([[len(t), t.count(" ")] for t in texts], dtype=np.float32)


def test_cache_returns_the_same_array_without_calling_the_model_again():
    inner = Counting()
    cached = CachedEmbedder(inner)
    texts = ["one", "two words", "three more words"]
    first = cached(texts)
    again = cached(list(texts))
    assert inner.calls == 1 and np.array_equal(first, again) and again.dtype == np.float32
    cached(texts[::-1])  # other texts (here: another order) are another entry
    assert inner.calls == 2


def test_cache_lives_under_routerlib_cache_dir_and_writes_no_temporary_files():
    root = Path(os.environ["ROUTERLIB_CACHE_DIR"])  # conftest gives every test its own
    cached = CachedEmbedder(Counting())
    cached(["a", "b"])
    files = list(root.rglob("*"))
    npy = [f for f in files if f.is_file()]
    assert len(npy) == 1 and npy[0].suffix == ".npy" and npy[0].parent == root / "embeddings" / "counting"
    assert cached.path(["a", "b"]) == npy[0]


def test_single_live_queries_skip_the_cache():
    inner = Counting()
    cached = CachedEmbedder(inner)
    cached(["one query"])
    cached(["one query"])
    assert inner.calls == 2 and not (Path(os.environ["ROUTERLIB_CACHE_DIR"]) / "embeddings").exists()


def test_a_damaged_cache_file_is_computed_again():
    inner = Counting()
    cached = CachedEmbedder(inner)
    cached.path(["a", "b"]).parent.mkdir(parents=True)
    cached.path(["a", "b"]).write_bytes(b"not an array")
    assert cached(["a", "b"]).shape == (2, 2) and inner.calls == 1
    assert cached(["a", "b"]).shape == (2, 2) and inner.calls == 1


def test_light_embedder_hits_the_cache_without_loading_the_model_and_faster():
    import time

    texts = [f"query number {i} about routing and models" for i in range(300)]
    first = light_embedder()
    start = time.perf_counter()
    computed = first(texts)
    miss = time.perf_counter() - start
    second = light_embedder()  # a notebook re-run: a new embedder, the same cache dir
    start = time.perf_counter()
    read = second(texts)
    hit = time.perf_counter() - start
    assert np.array_equal(computed, read) and first.embedder.calls == 1
    assert second.embedder.calls == 0 and second.embedder.model_ is None and hit < miss


def small_table(n=60, seed=0):
    from routerlib.catalog import Catalog
    from routerlib.tables import TierTable

    rng = np.random.default_rng(seed)
    hard = rng.random(n) < 0.4
    quality = np.column_stack([(~hard) & (rng.random(n) < 0.9), rng.random(n) < 0.95]).astype(float)
    prompts = [("prove the theorem about " if h else "what is the capital of ") + f"item {i}" for i, h in enumerate(hard)]
    responses = np.where(quality > 0, "The answer is 42.", "I'm not sure.").astype(object)
    return TierTable("toy", ["cheap", "expensive"], ["gpt-4o-mini", "gpt-4o"], quality,
                     np.tile([0.0002, 0.01], (n, 1)), pd.Series(prompts, index=[f"q{i}" for i in range(n)]),
                     responses, np.full(n, 20.0), False, Catalog.load())


def test_classifier_router_fits_and_scores_with_the_light_embedder():
    from routerlib.queries import Query

    tt = small_table()
    train, test = tt.take(np.arange(40)), tt.take(np.arange(40, 60))
    router = ClassifierRouter(embedder=light_embedder()).fit(train)
    scores = router.tier_scores(test)
    assert scores.shape == (test.n, 2) and np.all(scores[:, -1] == 1) and np.isfinite(scores).all()
    one = np.array([router.predict_proba_one(t) for t in test.prompts])  # the by-hand live path agrees
    assert np.allclose(one, scores, atol=1e-9)
    hard = np.array(["prove" in p for p in test.prompts])
    assert scores[~hard, 0].mean() > scores[hard, 0].mean()
    assert router.route(Query("q", test.prompts.iloc[0])).tier in test.tiers
    restored = pickle.loads(pickle.dumps(router))  # a saved router keeps its embedder, without the loaded model
    assert np.allclose(restored.tier_scores(test), scores)
