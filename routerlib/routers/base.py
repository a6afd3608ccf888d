"""Router decisions and the Router interface."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tqdm.auto import tqdm

from ..catalog import CatalogError

POSITION = {"cheap": 0.0, "mid": 0.5, "expensive": 1.0}  # where the standard tiers sit, cheap to expensive


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

    def __repr__(self):
        err = f", router_error={self.router_error!r}" if self.router_error else ""
        return f"Decision({self.query_id!r} -> {self.tier}/{self.model}, router_cost_usd={self.router_cost_usd:.6f}{err})"


class Router:
    """Maps queries to decisions. Subclasses implement route()."""

    name = "router"

    def route(self, query) -> Decision:
        raise NotImplementedError

    def route_many(self, queries, progress: bool = False) -> list[Decision]:
        """Route every query, in order."""
        return [self.route(q) for q in tqdm(list(queries), desc=f"routing ({self.name})", disable=not progress)]


def step_scores(tier_index, n_tiers: int) -> np.ndarray:
    """Scores of a router that names one tier per query: 1 from that tier up, 0 below it."""
    return (np.arange(n_tiers)[None, :] >= np.asarray(tier_index)[:, None]).astype(float)
