"""Routers that score a query by the recorded queries most like it: nearest neighbours and k-means clusters."""
from __future__ import annotations

import numpy as np

from ..tables import GOOD_ENOUGH
from .base import Router
from .classifier import TextFeatures

CHUNK_CELLS = 4_000_000  # similarities held at once while scoring (test rows x train rows): about 32 MB
QUERIES_PER_CLUSTER = 10  # a small table gets at most one cluster per this many training queries


class TextRouter(Router):
    """Shared part of the learned text routers: TextFeatures, the good-enough labels, scoring and saving.

    Subclasses implement `_learn(X, good)` and `_predict(X) -> m x (K-1)` (chance each tier but the last is good).
    """

    def __init__(self, good_enough: float = GOOD_ENOUGH, max_features: int = 20000, use_stats: bool = True,
                 thresholds=None, catalog=None):
        super().__init__(thresholds, catalog)
        self.good_enough = good_enough
        self.max_features = max_features
        self.use_stats = use_stats

    def fit(self, tt, y=None):
        """Learn from a TierTable: label k = tier k's answer was good enough."""
        if tt.n < 2:
            raise ValueError(f"{type(self).__name__} needs training queries; got {tt.n}")
        super().fit(tt)
        self.features_ = TextFeatures(self.max_features, self.use_stats)
        X = self.features_.fit_transform(tt.prompts)
        good = tt.good(self.good_enough)[:, :-1].astype(float)
        self.base_rates_ = good.mean(axis=0)
        self.n_train_ = tt.n
        self._learn(X, good)
        return self

    def predict_proba(self, texts) -> np.ndarray:
        """n x K: chance each tier is good enough (the last tier is the fallback: 1)."""
        if not hasattr(self, "features_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(train_table) first")
        X = self.features_.transform(texts)
        return np.column_stack([np.clip(self._predict(X), 0.0, 1.0), np.ones(X.shape[0])])

    def tier_scores(self, tt) -> np.ndarray:
        return self.predict_proba(tt.prompts)

    def query_scores(self, query) -> np.ndarray:
        return self.predict_proba([query.text])[0]

    def settings(self) -> dict:
        return {"good_enough": self.good_enough, "max_features": self.max_features, "use_stats": self.use_stats}

    def fitted_part(self):
        if not hasattr(self, "features_"):
            raise ValueError(f"the {type(self).__name__} is not fitted; call fit(train_table) before saving it")
        return self

    def restore(self, fitted):
        return fitted

    def _fitted_note(self) -> str:
        return f", fitted on {self.n_train_} queries" if hasattr(self, "features_") else ""


class KNNRouter(TextRouter):
    """Scores a query by its k most similar training queries (cosine on TextFeatures), weighted by similarity.

    With weight w = similarity ** power, tier score = (sum of w x "tier good enough" over the neighbours + prior x
    the overall rate) / (sum of w + prior): `power` lets a near-duplicate outweigh loosely similar neighbours, and
    a query with no close neighbour falls back towards the overall rate (`prior` counts as identical neighbours).
    """

    name = "knn"

    def __init__(self, k: int = 20, power: float = 3.0, prior: float = 1.0, good_enough: float = GOOD_ENOUGH,
                 max_features: int = 20000, use_stats: bool = False, thresholds=None, catalog=None):
        super().__init__(good_enough, max_features, use_stats, thresholds, catalog)
        self.k = k
        self.power = power
        self.prior = prior

    def _learn(self, X, good):
        from sklearn.preprocessing import normalize

        self.train_ = normalize(X).T.tocsr()  # features x train queries, unit columns: a product gives cosines
        self.good_ = good

    def neighbours(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(index, similarity) of each row's k nearest training queries (any order), m x k each."""
        from sklearn.preprocessing import normalize

        X, n_train = normalize(X).tocsr(), self.train_.shape[1]
        k = min(self.k, n_train)
        index, sim = np.empty((X.shape[0], k), np.intp), np.empty((X.shape[0], k))
        step = max(1, CHUNK_CELLS // n_train)
        for start in range(0, X.shape[0], step):  # chunks bound memory: a 7,000 x 7,000 table is ~400 MB at once
            s = (X[start:start + step] @ self.train_).toarray()
            top = np.argpartition(s, n_train - k, axis=1)[:, n_train - k:] if k < n_train else np.indices(s.shape)[1]
            index[start:start + step], sim[start:start + step] = top, np.take_along_axis(s, top, axis=1)
        return index, sim

    def _predict(self, X):
        index, sim = self.neighbours(X)
        w = np.clip(sim, 0.0, None) ** self.power
        votes = np.einsum("mj,mjk->mk", w, self.good_[index])
        return (votes + self.prior * self.base_rates_) / (w.sum(axis=1, keepdims=True) + self.prior + 1e-12)

    def settings(self) -> dict:
        return {"k": self.k, "power": self.power, "prior": self.prior, **super().settings()}

    def __repr__(self):
        return (f"KNNRouter(k={self.k}, power={self.power}, prior={self.prior}, good_enough={self.good_enough:.3f}, "
                f"max_features={self.max_features}, use_stats={self.use_stats}{self._fitted_note()})")


class ClusterRouter(TextRouter):
    """K-means over the queries (TextFeatures reduced by TruncatedSVD); a tier's score is its rate in the cluster.

    Per cluster and tier: (good-enough answers + prior x the overall rate) / (queries + prior), so a small
    cluster leans on the overall rate. In the spirit of Avengers-Pro: per-cluster quality, no neural training.
    A table of n queries gets at most n // 10 clusters (`n_clusters_`).
    """

    name = "cluster"

    def __init__(self, n_clusters: int = 20, n_components: int = 100, prior: float = 10.0, seed: int = 0,
                 good_enough: float = GOOD_ENOUGH, max_features: int = 20000, use_stats: bool = False,
                 thresholds=None, catalog=None):
        super().__init__(good_enough, max_features, use_stats, thresholds, catalog)
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.prior = prior
        self.seed = seed

    def _learn(self, X, good):
        from sklearn.cluster import KMeans
        from sklearn.decomposition import TruncatedSVD

        n_components = max(1, min(self.n_components, X.shape[1] - 1, X.shape[0] - 1))
        self.svd_ = TruncatedSVD(n_components, random_state=self.seed).fit(X) if X.shape[1] > 1 else None
        Z = self._reduce(X)
        distinct = len(np.unique(Z, axis=0))
        self.n_clusters_ = int(max(1, min(self.n_clusters, X.shape[0] // QUERIES_PER_CLUSTER, distinct)))
        self.kmeans_ = KMeans(self.n_clusters_, n_init=1, random_state=self.seed).fit(Z)
        labels = self.kmeans_.labels_
        self.sizes_ = np.bincount(labels, minlength=self.n_clusters_)
        hits = np.zeros((self.n_clusters_, good.shape[1]))
        np.add.at(hits, labels, good)
        self.rates_ = (hits + self.prior * self.base_rates_) / (self.sizes_[:, None] + self.prior + 1e-12)

    def _reduce(self, X):
        from sklearn.preprocessing import normalize

        return normalize(self.svd_.transform(X) if self.svd_ is not None else X.toarray())

    def clusters(self, texts) -> np.ndarray:
        """The cluster of each text (an index into `rates_` and `sizes_`)."""
        if not hasattr(self, "kmeans_"):
            raise RuntimeError("ClusterRouter is not fitted; call fit(train_table) first")
        return self.kmeans_.predict(self._reduce(self.features_.transform(texts)))

    def _predict(self, X):
        return self.rates_[self.kmeans_.predict(self._reduce(X))]

    def settings(self) -> dict:  # the seed comes from the registry (make(name, catalog, seed))
        return {"n_clusters": self.n_clusters, "n_components": self.n_components, "prior": self.prior,
                **super().settings()}

    def __repr__(self):
        fitted = f", fitted: {self.n_clusters_} clusters of {self.n_train_} queries" if hasattr(self, "kmeans_") else ""
        return (f"ClusterRouter(n_clusters={self.n_clusters}, n_components={self.n_components}, prior={self.prior}, "
                f"seed={self.seed}, good_enough={self.good_enough:.3f}, max_features={self.max_features}, "
                f"use_stats={self.use_stats}{fitted})")
