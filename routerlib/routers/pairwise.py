"""RouteLLM's pairwise routers: what they share, and the similarity-weighted ranking router (sw-ranking).

Shared: a dense query embedding, pairwise outcomes and a batched Bradley-Terry fit (mf.py holds the
matrix factorisation router). A pair (a, b) of models on a query is an outcome of their qualities: a
wins, b wins, or a tie. RouteLLM drops ties (matrix factorisation) or counts them as half a win each (its
Elo fit); here a tie may also go to the cheaper model, which makes a win chance the chance that the
cheaper model is at least as good.
"""
from __future__ import annotations

import numpy as np

from .base import Router
from .classifier import TextFeatures

TIES = ("cheaper", "half", "drop")  # a tie is won by the cheaper model, half a win each, or left out


def sigmoid(x):
    """The logistic function, without overflow warnings."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x)))


class QueryEmbedding:
    """TextFeatures (TF-IDF and text statistics) reduced by TruncatedSVD to `dims`, rows of unit length (float32)."""

    def __init__(self, dims: int = 128, max_features: int = 20000, use_stats: bool = True, seed: int = 0):
        self.dims = dims
        self.max_features = max_features
        self.use_stats = use_stats
        self.seed = seed

    def fit_transform(self, texts) -> np.ndarray:
        """Learn the vocabulary and the reduction on `texts`; their embeddings (n x dims_)."""
        from sklearn.decomposition import TruncatedSVD

        self.features_ = TextFeatures(self.max_features, self.use_stats)
        X = self.features_.fit_transform(texts)
        self.dims_ = max(1, min(self.dims, X.shape[1] - 1, X.shape[0] - 1))
        self.svd_ = TruncatedSVD(self.dims_, random_state=self.seed)
        return self._unit(self.svd_.fit_transform(X))

    def transform(self, texts) -> np.ndarray:
        return self._unit(self.svd_.transform(self.features_.transform(texts)))

    @staticmethod
    def _unit(Z):
        norm = np.linalg.norm(Z, axis=1, keepdims=True)
        return (Z / np.where(norm > 0, norm, 1.0)).astype(np.float32)

    def __repr__(self):
        return f"QueryEmbedding(dims={self.dims}, max_features={self.max_features}, use_stats={self.use_stats})"


def compared_models(tt, outcomes=None):
    """n x M qualities of the models compared, cheapest (by mean cost) first, and the tier models' columns.

    Without `outcomes` the models are the tier models; with an OutcomeTable, every model it recorded on
    these queries (NaN where it has no outcome).
    """
    if outcomes is None:
        return np.asarray(tt.quality, float), np.arange(len(tt.models))
    ids = tt.prompts.index
    quality = outcomes.wide("quality").reindex(index=ids)
    cost = outcomes.wide("cost_usd").reindex(index=ids).mean()
    for k, m in enumerate(tt.models):  # the tier table's own figures for its models
        quality[m], cost[m] = tt.quality[:, k], tt.cost[:, k].mean()
    order = cost.sort_values(kind="stable").index
    return quality[order].to_numpy(float), order.get_indexer(tt.models)


def pair_index(n_models: int):
    """Every pair (a, b) with a < b: columns a and b of the compared models."""
    a, b = np.triu_indices(n_models, k=1)
    return a, b


def pair_outcomes(quality, ties: str = "cheaper"):
    """Per query and pair (a, b), a cheaper than b: target (1 a wins, 0 b wins, 0.5 half) and weight (0 left out)."""
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    a, b = pair_index(quality.shape[1])
    qa, qb = quality[:, a], quality[:, b]
    tie = qa == qb
    y = np.where(qa > qb, 1.0, 0.0)
    y[tie] = 1.0 if ties == "cheaper" else 0.5
    weight = ~(np.isnan(qa) | np.isnan(qb))
    if ties == "drop":
        weight &= ~tie
    return y, weight.astype(float)


def pair_matrix(n_models: int) -> np.ndarray:
    """P x M: +1 at each pair's first model, -1 at its second (a pair's logit is beta @ S.T)."""
    a, b = pair_index(n_models)
    S = np.zeros((len(a), n_models))
    S[np.arange(len(a)), a], S[np.arange(len(a)), b] = 1.0, -1.0
    return S


def bradley_terry(total, wins, prior, l2: float, steps: int = 25) -> np.ndarray:
    """Weighted Bradley-Terry coefficients per row (pulled to `prior` by `l2`), by Newton steps on all rows at once."""
    # row r maximises sum_p wins[r,p] log s(b_a - b_b) + (total - wins)[r,p] log s(b_b - b_a) - l2/2 |b - prior[r]|^2,
    # s the logistic function and the pairs (a, b) as pair_index orders them
    total, wins = np.atleast_2d(total), np.atleast_2d(wins)
    n_pairs = total.shape[1]
    n_models = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    S = pair_matrix(n_models)
    prior = np.broadcast_to(np.asarray(prior, float), (len(total), n_models))
    ridge = (l2 + 1e-9) * np.eye(n_models)  # the tiny term only pins the free shift when l2 is 0
    beta = prior.copy()
    for _ in range(steps):
        p = sigmoid(beta @ S.T)
        grad = (total * p - wins) @ S + l2 * (beta - prior)
        hess = np.einsum("rp,pi,pj->rij", total * p * (1 - p), S, S) + ridge
        beta = beta - np.clip(np.linalg.solve(hess, grad[..., None])[..., 0], -4.0, 4.0)
    return beta


def tier_probabilities(beta, tier_columns) -> np.ndarray:
    """n x K: s(beta_k - beta_K) for each tier model k against the top tier's model, the top tier 1."""
    beta = np.asarray(beta, float)[:, tier_columns]
    return np.column_stack([sigmoid(beta[:, :-1] - beta[:, -1:]), np.ones(len(beta))])


class SWRankingRouter(Router):
    """Similarity-weighted Bradley-Terry ratings (RouteLLM's sw_ranking), fitted afresh for every query.

    A new query's `neighbours` most similar training queries (cosine of QueryEmbedding vectors) weigh
    exp(gamma * sim / top sim), normalised to sum 1 (RouteLLM weighs every comparison 10 ** (sim / top sim),
    gamma = ln 10). The models' Bradley-Terry coefficients beta are fitted to the weighted pairwise
    outcomes of those queries (see `ties`), pulled towards the ratings fitted on all training queries
    with strength `prior`, by Newton steps on every query at once. Tier k scores s(beta_k - beta_K), the
    chance its model beats the top tier's (with ties="cheaper": is at least as good as it); the top tier
    scores 1. RouteLLM sends a query to the strong model when s(beta_K - beta_k) reaches its threshold,
    that is, when this score falls to one minus it.
    """

    name = "sw-ranking"

    def __init__(self, neighbours: int | None = 100, gamma: float = float(np.log(10)), prior: float = 0.1,
                 ties: str = "cheaper", text_dims: int = 128, max_features: int = 20000, use_stats: bool = True,
                 seed: int = 0, thresholds=None, catalog=None):
        super().__init__(thresholds, catalog)
        self.neighbours = neighbours
        self.gamma = gamma
        self.prior = prior
        self.ties = ties
        self.text_dims = text_dims
        self.max_features = max_features
        self.use_stats = use_stats
        self.seed = seed

    def fit(self, tt, y=None, outcomes=None):
        """Embed the training queries and keep their pairwise outcomes (optionally of every model in `outcomes`)."""
        if tt.n < 2:
            raise ValueError(f"SWRankingRouter needs training queries; got {tt.n}")
        super().fit(tt)
        quality, self.tier_columns_ = compared_models(tt, outcomes)
        self.embedding_ = QueryEmbedding(self.text_dims, self.max_features, self.use_stats, self.seed)
        self.train_embeddings_ = self.embedding_.fit_transform(tt.prompts)
        target, weight = pair_outcomes(quality, self.ties)
        self.pair_weights_, self.pair_wins_ = weight.astype(np.float32), (weight * target).astype(np.float32)
        self.ratings_ = bradley_terry(weight.mean(axis=0), (weight * target).mean(axis=0), 0.0, 1e-3)[0]
        return self

    def neighbour_outcomes(self, embeddings, chunk: int = 1024):
        """Per query and pair: its neighbours' similarity weights summed over their comparisons, and over their wins."""
        train = self.train_embeddings_
        m = min(self.neighbours or len(train), len(train))
        total = np.empty((len(embeddings), self.pair_weights_.shape[1]))
        wins = np.empty_like(total)
        for start in range(0, len(embeddings), chunk):
            rows = slice(start, start + chunk)
            sim = embeddings[rows] @ train.T
            keep = np.zeros(sim.shape, bool)
            np.put_along_axis(keep, np.argpartition(-sim, m - 1, axis=1)[:, :m], True, axis=1)
            top = sim.max(axis=1, keepdims=True)
            weights = np.where(keep, np.exp(self.gamma * (sim - top) / np.maximum(top, 1e-6)), 0.0)
            weights /= weights.sum(axis=1, keepdims=True)
            total[rows], wins[rows] = weights @ self.pair_weights_, weights @ self.pair_wins_
        return total, wins

    def predict_proba(self, texts) -> np.ndarray:
        """n x K: per query, the similarity-weighted BT chance each tier's model beats the top tier's (last: 1)."""
        if not hasattr(self, "ratings_"):
            raise RuntimeError("SWRankingRouter is not fitted; call fit(train_table) first")
        total, wins = self.neighbour_outcomes(self.embedding_.transform([str(t) for t in texts]))
        return tier_probabilities(bradley_terry(total, wins, self.ratings_, self.prior), self.tier_columns_)

    def tier_scores(self, tt) -> np.ndarray:
        return self.predict_proba(tt.prompts)

    def query_scores(self, query) -> np.ndarray:
        return self.predict_proba([query.text])[0]

    def settings(self) -> dict:  # the seed comes from the registry (make(name, catalog, seed))
        return {"neighbours": self.neighbours, "gamma": self.gamma, "prior": self.prior, "ties": self.ties,
                "text_dims": self.text_dims, "max_features": self.max_features, "use_stats": self.use_stats}

    def fitted_part(self):
        if not hasattr(self, "ratings_"):
            raise ValueError("the SWRankingRouter is not fitted; call fit(train_table) before saving it")
        return self

    def restore(self, fitted):
        return fitted

    def __repr__(self):
        fitted = f", fitted on {len(self.train_embeddings_)} queries" if hasattr(self, "ratings_") else ""
        return (f"SWRankingRouter(neighbours={self.neighbours}, gamma={self.gamma:.3g}, prior={self.prior}, "
                f"ties={self.ties!r}, text_dims={self.text_dims}{fitted})")
