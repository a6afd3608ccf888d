"""Router decisions and the Router interface."""
from __future__ import annotations

from dataclasses import dataclass

from tqdm.auto import tqdm


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
