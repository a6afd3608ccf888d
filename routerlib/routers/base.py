"""The one router protocol, the decisions routers make, and what deciding costs.

Every router: `fit(table) -> self` (a no-op where nothing is learned), `tier_scores(table)` (n x K,
the chance each tier is good enough, cheap first), `deciding_cost(table)` (what deciding spends),
and `route(query) -> Decision` for one live query. A query goes to the first tier whose score
reaches its threshold, else to the last tier; `thresholds` is a parameter of the router.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..catalog import Catalog, CatalogError

POSITION = {"cheap": 0.0, "mid": 0.5, "expensive": 1.0}  # where the standard tiers sit, cheap to expensive
DEFAULT_THRESHOLD = 0.5


def place_tier(tier: str, catalog) -> str:
    """`tier` if the catalog has it; a standard tier it lacks maps to the tier at its position (rounded up)."""
    tiers = list(catalog.tiers)
    if tier in tiers:
        return tier
    if tier not in POSITION or not tiers:
        raise CatalogError(f"unknown tier {tier!r}; tiers are {tiers}")
    return tiers[math.ceil(POSITION[tier] * (len(tiers) - 1))]


@dataclass
class Decision:
    """Which tier and model a router picked for one query, and what deciding cost."""

    query_id: str
    tier: str
    model: str
    score: float | None = None
    router_prompt_tokens: int = 0
    router_completion_tokens: int = 0
    router_cost_usd: float = 0.0
    router_latency_s: float = 0.0
    router_error: str | None = None
    calls: list = field(default_factory=list, repr=False)  # a cascade's calls while deciding, answers included

    def __repr__(self):
        err = f", router_error={self.router_error!r}" if self.router_error else ""
        return f"Decision({self.query_id!r} -> {self.tier}/{self.model}, router_cost_usd={self.router_cost_usd:.6f}{err})"


@dataclass
class DecidingCost:
    """What deciding spends on a table: per query (rating calls), per checked answer (n x K), and whether
    a query pays every tier up to the one that answers (a cascade)."""

    per_query: np.ndarray | float = 0.0
    checks: np.ndarray | None = None
    pays_lower_tiers: bool = False


def first_reaching(scores, thresholds) -> np.ndarray:
    """Tier index per query: the first tier whose score reaches its threshold, else the last."""
    scores = np.atleast_2d(np.asarray(scores, float))
    t = np.broadcast_to(np.asarray(thresholds, float), (scores.shape[1] - 1,))
    ok = np.column_stack([scores[:, :-1] >= t, np.ones(len(scores), bool)])
    return ok.argmax(axis=1)


def step_scores(tier_index, n_tiers: int) -> np.ndarray:
    """Scores of a router that names one tier per query: 1 from that tier up, 0 below it."""
    return (np.arange(n_tiers)[None, :] >= np.asarray(tier_index)[:, None]).astype(float)


class Router:
    """Base of every router. Subclasses implement tier_scores() and query_scores() (or route())."""

    name = "router"
    simulated = False  # True where the router's own decisions are simulated (ratings, judge verdicts)
    uses_thresholds = True  # False where scores are a step (one named tier): thresholds change nothing
    answers_while_routing = False  # True for a cascade: route() already holds the answer (Decision.calls)
    uses_test_labels = False  # True for the oracles: they read the outcomes they are scored on

    def __init__(self, thresholds=None, catalog: Catalog | None = None):
        self.thresholds = thresholds
        self.catalog = catalog

    # --- learning and scoring a table ---
    def fit(self, table, y=None):
        """Learn from a TierTable (nothing, unless overridden); remembers the tiers and their models."""
        self.tier_models_ = dict(zip(table.tiers, table.models))
        return self

    def tier_scores(self, table) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement tier_scores()")

    def deciding_cost(self, table) -> DecidingCost:
        """What deciding spends on a table (nothing, unless overridden)."""
        return DecidingCost()

    # --- live decisions ---
    def tier_models(self) -> dict:
        """tier -> model, cheap first: what fit() saw, else the catalog's tier defaults."""
        if getattr(self, "tier_models_", None):
            return dict(self.tier_models_)
        catalog = self.catalog or Catalog.load()
        return {t: catalog.tier_model(t).name for t in catalog.tiers}

    def threshold_vector(self, thresholds=None) -> np.ndarray:
        """Per-tier thresholds (one per tier but the last): the call's, else the router's, else 0.5."""
        chosen = thresholds if thresholds is not None else self.thresholds
        n = len(self.tier_models()) - 1
        return np.broadcast_to(np.asarray(DEFAULT_THRESHOLD if chosen is None else chosen, float), (n,)).copy()

    def route(self, query, thresholds=None) -> Decision:
        """One live decision: score the query, take the first tier whose score reaches its threshold."""
        scores = np.asarray(self.query_scores(query), float)
        k = int(first_reaching(scores[None, :], self.threshold_vector(thresholds))[0])
        tier, model = list(self.tier_models().items())[k]
        return Decision(query.id, tier, model, score=float(scores[k]))

    def query_scores(self, query) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not score single queries")

    def route_many(self, queries, progress: bool = False) -> list[Decision]:
        """Route every query, in order."""
        return [self.route(q) for q in tqdm(list(queries), desc=f"routing ({self.name})", disable=not progress)]

    def with_thresholds(self, thresholds) -> "Router":
        """A shallow copy that decides at other thresholds."""
        other = copy.copy(self)
        other.thresholds = thresholds
        return other

    # --- saving (routers/saved.py) ---
    def settings(self) -> dict:
        """JSON-safe constructor settings, enough to make() the router again."""
        return {}

    def fitted_part(self):
        """What fit() learned, to be pickled when saved (None if nothing)."""
        return None

    def restore(self, fitted) -> "Router":
        """Put back what fitted_part() returned."""
        return self
