"""Matrix factorisation router (RouteLLM's mf): a bilinear score per model and query, learned from pairwise outcomes."""
from __future__ import annotations

import numpy as np

from .base import Router
from .pairwise import QueryEmbedding, compared_models, pair_matrix, pair_outcomes, sigmoid, tier_probabilities


def adam(params: dict, loss_and_gradients, steps: int, lr: float, beta1=0.9, beta2=0.999, eps=1e-8) -> float:
    """Minimise in place by `steps` full-batch Adam steps; the last loss."""
    first = {k: np.zeros_like(v) for k, v in params.items()}
    second = {k: np.zeros_like(v) for k, v in params.items()}
    loss = float("nan")
    for t in range(1, steps + 1):
        loss, grads = loss_and_gradients(params)
        for k, g in grads.items():
            first[k] = beta1 * first[k] + (1 - beta1) * g
            second[k] = beta2 * second[k] + (1 - beta2) * g * g
            params[k] -= lr * (first[k] / (1 - beta1 ** t)) / (np.sqrt(second[k] / (1 - beta2 ** t)) + eps)
    return loss


def model_scores(params: dict, Z) -> np.ndarray:
    """n x M: delta(m, q) = w . (v_m / |v_m| * W z_q) + b_m for every query embedding z_q and model m."""
    V = params["V"] / np.linalg.norm(params["V"], axis=1, keepdims=True)
    return (Z @ params["W"].T) @ (params["w"] * V).T + params["b"]


def pairwise_loss(params: dict, Z, target, weight, S, l2: float):
    """Weighted logistic loss of delta(a) - delta(b) on every pair, plus l2/2 |W|^2 and |w|^2; and its gradients."""
    norm = np.linalg.norm(params["V"], axis=1, keepdims=True)
    V = params["V"] / norm
    E = params["w"] * V  # M x dim: the model embeddings times the output weights
    U = Z @ params["W"].T  # n x dim: the projected queries
    d = (U @ E.T + params["b"]) @ S.T  # n x P: delta(a) - delta(b)
    loss = float(np.sum(weight * (np.logaddexp(0.0, d) - target * d)))
    loss += l2 / 2 * float(np.sum(params["W"] ** 2) + params["w"] @ params["w"])
    G = (weight * (sigmoid(d) - target)) @ S  # n x M: d loss / d delta
    grad_E, grad_U = G.T @ U, G @ E
    grad_V = grad_E * params["w"]
    return loss, {"W": grad_U.T @ Z + l2 * params["W"], "w": np.sum(grad_E * V, axis=0) + l2 * params["w"],
                  "V": (grad_V - V * np.sum(grad_V * V, axis=1, keepdims=True)) / norm, "b": G.sum(axis=0)}


class MFRouter(Router):
    """Matrix factorisation (RouteLLM's mf): each model's score on a query is bilinear in a model and a query embedding.

    A query's embedding z (QueryEmbedding: TF-IDF and text statistics reduced by TruncatedSVD to `text_dims`)
    is projected to `dim` (u = W z); model m has a learned embedding v_m, used at unit length, and a bias b_m:
    delta(m, q) = w . (v_m / |v_m| * u) + b_m. fit() minimises the mean logistic loss of delta(a) - delta(b)
    over every pair of models on every training query (targets from their qualities, see `ties`), plus
    l2/2 (|W|^2 + |w|^2), by `epochs` full-batch Adam steps from a start seeded by `seed`.
    Tier k scores s(delta(k, q) - delta(K, q)), the learned chance its model beats the top tier's model
    (with ties="cheaper": is at least as good as it); the top tier scores 1. RouteLLM sends a query to the
    strong model when s(delta(strong) - delta(weak)) reaches its threshold: one minus this score.
    """

    name = "mf"

    def __init__(self, dim: int = 64, text_dims: int = 128, epochs: int = 300, lr: float = 0.01, l2: float = 1e-4,
                 ties: str = "cheaper", max_features: int = 20000, use_stats: bool = True, seed: int = 0,
                 thresholds=None, catalog=None):
        super().__init__(thresholds, catalog)
        self.dim = dim
        self.text_dims = text_dims
        self.epochs = epochs
        self.lr = lr
        self.l2 = l2
        self.ties = ties
        self.max_features = max_features
        self.use_stats = use_stats
        self.seed = seed

    def fit(self, tt, y=None, outcomes=None):
        """Learn from a TierTable's tier models (or every model of the OutcomeTable `outcomes` on its queries)."""
        if tt.n < 2:
            raise ValueError(f"MFRouter needs training queries; got {tt.n}")
        super().fit(tt)
        quality, self.tier_columns_ = compared_models(tt, outcomes)
        self.embedding_ = QueryEmbedding(self.text_dims, self.max_features, self.use_stats, self.seed)
        Z = self.embedding_.fit_transform(tt.prompts)
        target, weight = pair_outcomes(quality, self.ties)
        target, weight = target.astype(np.float32), (weight / max(weight.sum(), 1.0)).astype(np.float32)
        n_models, rng = quality.shape[1], np.random.default_rng(self.seed)
        shapes = {"W": (self.dim, Z.shape[1]), "V": (n_models, self.dim), "w": (self.dim,)}
        self.params_ = {k: rng.normal(0.0, 1.0, shape).astype(np.float32) for k, shape in shapes.items()}
        self.params_["w"] /= np.sqrt(self.dim)  # scores start near 0: every pair a coin toss
        self.params_["b"] = np.zeros(n_models, np.float32)
        S = pair_matrix(n_models).astype(np.float32)
        self.loss_ = adam(self.params_, lambda p: pairwise_loss(p, Z, target, weight, S, self.l2), self.epochs, self.lr)
        return self

    def predict_proba(self, texts) -> np.ndarray:
        """n x K: per query, the learned chance each tier's model beats the top tier's (the last column 1)."""
        if not hasattr(self, "params_"):
            raise RuntimeError("MFRouter is not fitted; call fit(train_table) first")
        Z = self.embedding_.transform([str(t) for t in texts])
        return tier_probabilities(model_scores(self.params_, Z), self.tier_columns_)

    def tier_scores(self, tt) -> np.ndarray:
        return self.predict_proba(tt.prompts)

    def query_scores(self, query) -> np.ndarray:
        return self.predict_proba([query.text])[0]

    def settings(self) -> dict:  # the seed comes from the registry (make(name, catalog, seed))
        return {"dim": self.dim, "text_dims": self.text_dims, "epochs": self.epochs, "lr": self.lr, "l2": self.l2,
                "ties": self.ties, "max_features": self.max_features, "use_stats": self.use_stats}

    def fitted_part(self):
        if not hasattr(self, "params_"):
            raise ValueError("the MFRouter is not fitted; call fit(train_table) before saving it")
        return self

    def restore(self, fitted):
        return fitted

    def __repr__(self):
        fitted = f", fitted: loss {self.loss_:.4f}" if hasattr(self, "params_") else ""
        return (f"MFRouter(dim={self.dim}, text_dims={self.text_dims}, epochs={self.epochs}, lr={self.lr}, "
                f"l2={self.l2}, ties={self.ties!r}, seed={self.seed}{fitted})")
