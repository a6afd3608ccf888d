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


class LabelOracleRouter(Router):
    """Knows the outcomes: each query to the cheapest tier that is good enough, else the best-quality one.

    A policy derived from the test labels, not an upper bound: it ignores how much better a dearer
    tier is. Scores are that step, nudged by seeded noise so a sweep can trade off part of the way.
    route() works only for queries whose outcomes it has seen (in fit() or tier_scores()).
    """

    name = "oracle-label"
    uses_test_labels = True

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
        return self._remember(tt, scores)

    def _remember(self, tt, scores) -> np.ndarray:
        self._seen = {**getattr(self, "_seen", {}), **dict(zip(tt.prompts.index, scores))}
        return scores

    def query_scores(self, query) -> np.ndarray:
        scores = getattr(self, "_seen", {}).get(query.id)
        if scores is None:
            raise ValueError(f"the {self.name} router knows only queries with recorded outcomes; {query.id!r} is "
                             "not among those it has seen (fit or score a table that holds it)")
        return scores

    def settings(self) -> dict:
        return {"good_enough": self.good_enough, "seed": self.seed}

    def __repr__(self):
        return f"LabelOracleRouter(good_enough={self.good_enough:.3f}, seed={self.seed})"


class OracleRouter(LabelOracleRouter):
    """The upper bound: knowing every outcome, the best quality any assignment reaches at each budget.

    Each query's upgrades (cheapest tier up its cost-quality hull) are ranked by quality gained per
    extra dollar, across all queries; a higher threshold buys the next upgrades in that order (queries
    no upgrade helps come last). At threshold 0.5 it has taken every upgrade that helps and no other:
    the best quality at the least cost. Its curve is the most any router can reach on these queries.
    It uses the test labels.
    """

    name = "oracle"

    def __init__(self, seed: int = 0, thresholds=None, catalog=None):
        Router.__init__(self, thresholds, catalog)
        self.seed = seed

    def tier_scores(self, tt) -> np.ndarray:
        query, low, high, _ = upgrades(tt)
        # queries no upgrade helps go last, straight to the dearest tier: those it does not hurt first (seeded ties)
        idle = np.setdiff1d(np.arange(tt.n), query)
        harm = np.nan_to_num(tt.quality[idle, -1] - tt.quality[idle, 0])
        idle = idle[np.lexsort((np.random.default_rng(self.seed).random(len(idle)), -harm))]
        # the k-th upgrade happens at threshold rank[k]: helpful ones below 0.5, so 0.5 takes them all and no more
        rank = np.r_[0.5 * (np.arange(len(query)) + 1) / (len(query) + 1),
                     0.5 + 0.5 * (np.arange(len(idle)) + 1) / (len(idle) + 1)]
        query = np.r_[query, idle]
        low, high = np.r_[low, np.zeros(len(idle), int)], np.r_[high, np.full(len(idle), len(tt.tiers) - 1)]
        scores = np.ones((tt.n, len(tt.tiers)))
        for k in range(len(tt.tiers) - 1):  # an upgrade from tier lo to hi leaves every tier in between at once
            leaves = (low <= k) & (k < high)
            scores[query[leaves], k] = rank[leaves]
        return self._remember(tt, scores)

    def settings(self) -> dict:
        return {"seed": self.seed}

    def __repr__(self):
        return f"OracleRouter(seed={self.seed})"


def upgrades(tt):
    """Every query's upgrades along its cost-quality hull, best gain per dollar first (ties: cheaper first).

    Returns arrays (query, from tier, to tier, gain per dollar). Missing quality counts as 0.
    """
    quality, cost = np.nan_to_num(tt.quality, nan=0.0), np.asarray(tt.cost, float)
    n, k = quality.shape
    rows = np.arange(n)
    at, found = np.zeros(n, int), []
    for _ in range(k - 1):  # each query climbs its hull one upgrade at a time
        later = np.arange(k)[None, :] > at[:, None]
        gain = (quality - quality[rows, at][:, None]) / np.maximum(cost - cost[rows, at][:, None], 1e-12)
        gain = np.where(later, gain, -np.inf)
        step, best = gain.argmax(axis=1), gain.max(axis=1)  # argmax: the cheaper tier among equal ratios
        moving = best > 0
        found.append(np.column_stack([rows[moving], at[moving], step[moving], best[moving], cost[rows, step][moving]]))
        at = np.where(moving, step, at)
    table = np.concatenate(found) if found else np.zeros((0, 5))
    table = table[np.lexsort((table[:, 4], -table[:, 3]))]
    return table[:, 0].astype(int), table[:, 1].astype(int), table[:, 2].astype(int), table[:, 3]


def frontier(tt) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's exact curve: $ per 1k requests and mean quality after each upgrade, all-cheapest first.

    Between two points, mixing the two assignments reaches the straight line, so no router's point
    can lie above this piecewise-linear curve.
    """
    query, low, high, _ = upgrades(tt)
    quality = np.nan_to_num(tt.quality, nan=0.0)
    spent = np.r_[tt.cost[:, 0].sum(), tt.cost[query, high] - tt.cost[query, low]].cumsum()
    gained = np.r_[quality[:, 0].sum(), quality[query, high] - quality[query, low]].cumsum()
    return spent / tt.n * 1000, gained / tt.n
