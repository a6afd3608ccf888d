"""MLP router: a small neural network (one hidden layer) on TextFeatures, one output per tier but the last."""
from __future__ import annotations

import warnings

import numpy as np

from ..tables import GOOD_ENOUGH
from .neighbours import TextRouter

EARLY_STOPPING_MIN = 100  # below this many training queries, no validation share is held out for early stopping
PATIENCE = 3  # epochs without a better validation score before stopping (the best epoch's weights are kept)


class MLPRouter(TextRouter):
    """One multi-label MLPClassifier: output k = chance tier k is good enough; the last tier is the fallback.

    A tier whose training answers were all good (or all not) gets its overall rate instead of an output.
    Early stopping holds out 10% of the training queries (tables of 100 queries or more).
    """

    name = "mlp"

    def __init__(self, hidden: int = 64, alpha: float = 1e-3, max_iter: int = 50, seed: int = 0,
                 good_enough: float = GOOD_ENOUGH, max_features: int = 5000, use_stats: bool = True,
                 thresholds=None, catalog=None):
        super().__init__(good_enough, max_features, use_stats, thresholds, catalog)
        self.hidden = hidden
        self.alpha = alpha
        self.max_iter = max_iter
        self.seed = seed

    def _learn(self, X, good):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        varying = (good.min(axis=0) < good.max(axis=0))
        self.outputs_ = np.flatnonzero(varying)  # the tiers the network predicts
        self.model_ = None
        if not len(self.outputs_):
            return
        y = good[:, self.outputs_].astype(int)
        y = y[:, 0] if y.shape[1] == 1 else y  # one tier: a plain binary classifier
        minority = min(y.sum(axis=0).min(), (1 - y).sum(axis=0).min())
        early = X.shape[0] >= EARLY_STOPPING_MIN and minority >= 2  # a binary split is stratified: 2 of each
        self.model_ = MLPClassifier((self.hidden,), alpha=self.alpha, max_iter=self.max_iter, early_stopping=early,
                                    n_iter_no_change=PATIENCE, random_state=self.seed)
        with warnings.catch_warnings():  # a capped number of epochs is intended, not a failure to report
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(X, y)

    def _predict(self, X):
        out = np.tile(self.base_rates_, (X.shape[0], 1))
        if self.model_ is not None:
            p = self.model_.predict_proba(X)
            out[:, self.outputs_] = p[:, 1:] if len(self.outputs_) == 1 else p
        return out

    def settings(self) -> dict:  # the seed comes from the registry (make(name, catalog, seed))
        return {"hidden": self.hidden, "alpha": self.alpha, "max_iter": self.max_iter, **super().settings()}

    def __repr__(self):
        return (f"MLPRouter(hidden={self.hidden}, alpha={self.alpha}, max_iter={self.max_iter}, seed={self.seed}, "
                f"good_enough={self.good_enough:.3f}, max_features={self.max_features}, "
                f"use_stats={self.use_stats}{self._fitted_note()})")
