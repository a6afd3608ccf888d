"""A fast scorer for one query at a time: a fitted ClassifierRouter's maths without scikit-learn's per-call checks.

predict_proba() on a single text spends ~5 ms in input validation; the same TF-IDF, scaling and
logistic maths in numpy take ~0.2 ms. The fast scorer is checked against predict_proba() on probe
texts when it is built, and is not used (None is returned) if it differs or does not apply.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from .routers.classifier import text_stats

PROBES = ("What is the capital of France?", "Prove that there are infinitely many primes.",
          "def f(x):\n    return x ** 2 + 1  # explain this code", "zzzz qqqq", "a")


class FastClassifierScores:
    """Callable text -> chance each tier is good enough (last tier 1), equal to ClassifierRouter.predict_proba."""

    def __init__(self, router):
        v = router.vectorizer_
        if router.embedder is not None or v.norm != "l2" or not v.use_idf or v.binary:
            raise ValueError("fast path covers TF-IDF (l2, idf) plus text statistics only")
        self.analyzer, self.vocab, self.idf, self.sublinear = v.build_analyzer(), v.vocabulary_, v.idf_, v.sublinear_tf
        n_text = len(self.vocab)
        fitted = [m for m in router.models_ if m is not None]
        width = n_text + (router.scaler_.mean_.shape[0] if router.use_stats else 0)
        if any(m.coef_.shape != (1, width) for m in fitted):
            raise ValueError("unexpected coefficient shape")
        self.use_stats = router.use_stats
        self.mean = router.scaler_.mean_ if router.use_stats else None
        self.scale = router.scaler_.scale_ if router.use_stats else None
        self.fitted = np.array([m is not None for m in router.models_])
        coef = np.vstack([m.coef_[0] for m in fitted]) if fitted else np.zeros((0, width))
        self.w_text, self.w_stats = coef[:, :n_text], coef[:, n_text:]
        self.intercept = np.array([m.intercept_[0] for m in fitted])
        self.base_rates = np.asarray(router.base_rates_[:len(router.models_)], float)

    def __call__(self, text: str) -> np.ndarray:
        counts = Counter(i for i in map(self.vocab.get, self.analyzer(text)) if i is not None)
        idx = np.fromiter(counts.keys(), int, len(counts))
        tf = np.fromiter(counts.values(), float, len(counts))
        w = ((1 + np.log(tf)) if self.sublinear else tf) * self.idf[idx]
        norm = np.sqrt(w @ w)
        z = self.w_text[:, idx] @ (w / norm if norm else w) + self.intercept
        if self.use_stats:
            z = z + self.w_stats @ ((text_stats([text])[0] - self.mean) / self.scale)
        p = self.base_rates.copy()
        p[self.fitted] = 1 / (1 + np.exp(-z))
        return np.r_[p, 1.0]

    def __repr__(self):
        return f"FastClassifierScores({len(self.vocab)} terms, {len(self.fitted)} tier models)"


def fast_scores(router):
    """A FastClassifierScores equal to router.predict_proba on the probe texts, else None."""
    try:
        fast = FastClassifierScores(router)
        want = router.predict_proba(list(PROBES))
        got = np.vstack([fast(t) for t in PROBES])
    except (AttributeError, ValueError, TypeError, IndexError):
        return None
    return fast if np.allclose(got, want, rtol=1e-9, atol=1e-12) else None
