"""Baselines: random at a traffic mix, always one tier, and the oracle (cheapest good-enough tier)."""
from __future__ import annotations

import numpy as np

from ..replay import GOOD_ENOUGH
from .base import step_scores


class RandomRouter:
    """Scores drawn at random: any single threshold sends a random share of queries up (seeded)."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def tier_scores(self, tt) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return np.column_stack([rng.random((tt.n, len(tt.tiers) - 1)), np.ones(tt.n)])

    def __repr__(self):
        return f"RandomRouter(seed={self.seed})"


class AlwaysRouter:
    """Every query to one tier."""

    def __init__(self, tier: str):
        self.tier = tier
        self.name = f"always-{tier}"

    def tier_scores(self, tt) -> np.ndarray:
        if self.tier not in tt.tiers:
            raise ValueError(f"unknown tier {self.tier!r}; tiers are {tt.tiers}")
        return step_scores(np.full(tt.n, tt.tiers.index(self.tier)), len(tt.tiers))

    def __repr__(self):
        return f"AlwaysRouter({self.tier!r})"


class OracleRouter:
    """Knows the outcomes: the cheapest tier that is good enough, else the best-quality one.

    Scores are that step, nudged by a little seeded noise so a threshold sweep can also trade
    off part of the way (sending first the queries that need a dearer tier).
    """

    name = "oracle"

    def __init__(self, good_enough: float = GOOD_ENOUGH, seed: int = 0):
        self.good_enough = good_enough
        self.seed = seed

    def tier_scores(self, tt) -> np.ndarray:
        step = step_scores(oracle_tiers(tt, self.good_enough), len(tt.tiers))
        noise = np.random.default_rng(self.seed).random(step.shape) * 0.01
        scores = step * 0.99 + noise
        scores[:, -1] = 1.0
        return scores

    def __repr__(self):
        return f"OracleRouter(good_enough={self.good_enough:.3f}, seed={self.seed})"


def oracle_tiers(tt, good_enough: float = GOOD_ENOUGH) -> np.ndarray:
    """Per query, the cheapest good-enough tier; where none is, the best (cheapest among equals)."""
    good = tt.good(good_enough)
    best = np.nan_to_num(tt.quality, nan=-1.0).argmax(axis=1)
    return np.where(good.any(axis=1), good.argmax(axis=1), best)
