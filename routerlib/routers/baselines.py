"""Baselines: random at a traffic mix, always one tier, and the oracle (cheapest good-enough tier)."""
from __future__ import annotations

import hashlib

import numpy as np

from ..tables import GOOD_ENOUGH, label_tiers
from .base import Router, step_scores


class RandomRouter(Router):
    """Scores drawn at random: any single threshold sends a random share of queries up (seeded)."""

    name = "random"

    def __init__(self, seed: int = 0, thresholds=None, catalog=None):
        super().__init__(thresholds, catalog)
        self.seed = seed

    def tier_scores(self, tt) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return np.column_stack([rng.random((tt.n, len(tt.tiers) - 1)), np.ones(tt.n)])

    def query_scores(self, query) -> np.ndarray:
        digest = hashlib.sha256(f"{self.seed}|{query.id}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        return np.r_[rng.random(len(self.tier_models()) - 1), 1.0]

    def settings(self) -> dict:
        return {"seed": self.seed}

    def __repr__(self):
        return f"RandomRouter(seed={self.seed})"


class AlwaysRouter(Router):
    """Every query to one tier."""
    uses_thresholds = False

    def __init__(self, tier: str, thresholds=None, catalog=None):
        super().__init__(thresholds, catalog)
        self.tier = tier
        self.name = f"always-{tier}"

    def _index(self, tiers) -> int:
        if self.tier not in tiers:
            raise ValueError(f"unknown tier {self.tier!r}; tiers are {list(tiers)}")
        return list(tiers).index(self.tier)

    def tier_scores(self, tt) -> np.ndarray:
        return step_scores(np.full(tt.n, self._index(tt.tiers)), len(tt.tiers))

    def query_scores(self, query) -> np.ndarray:
        tiers = self.tier_models()
        return step_scores([self._index(tiers)], len(tiers))[0]

    def settings(self) -> dict:
        return {"tier": self.tier}

    def __repr__(self):
        return f"AlwaysRouter({self.tier!r})"


class OracleRouter(Router):
    """Knows the outcomes: the cheapest tier that is good enough, else the best-quality one.

    Scores are that step, nudged by a little seeded noise so a threshold sweep can also trade
    off part of the way (sending first the queries that need a dearer tier). It uses the test
    labels: an upper reference, never a deployable router. route() works only for queries whose
    outcomes it has seen (in fit() or tier_scores()).
    """

    name = "oracle"

    def __init__(self, good_enough: float = GOOD_ENOUGH, seed: int = 0, thresholds=None, catalog=None):
        super().__init__(thresholds, catalog)
        self.good_enough = good_enough
        self.seed = seed

    def fit(self, tt, y=None):
        super().fit(tt)
        self.tier_scores(tt)
        return self

    def tier_scores(self, tt) -> np.ndarray:
        step = step_scores(label_tiers(tt, self.good_enough), len(tt.tiers))
        noise = np.random.default_rng(self.seed).random(step.shape) * 0.01
        scores = step * 0.99 + noise
        scores[:, -1] = 1.0
        self._seen = {**getattr(self, "_seen", {}), **dict(zip(tt.prompts.index, scores))}
        return scores

    def query_scores(self, query) -> np.ndarray:
        scores = getattr(self, "_seen", {}).get(query.id)
        if scores is None:
            raise ValueError(f"the oracle knows only queries with recorded outcomes; {query.id!r} is not among "
                             "those it has seen (fit or score a table that holds it)")
        return scores

    def settings(self) -> dict:
        return {"good_enough": self.good_enough, "seed": self.seed}

    def __repr__(self):
        return f"OracleRouter(good_enough={self.good_enough:.3f}, seed={self.seed})"
