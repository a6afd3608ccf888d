"""LLM-as-router: a cheap model rates each query easy/medium/hard, mapped to a tier."""
from __future__ import annotations

import json
import re

import numpy as np

from ..backends import Request
from ..catalog import Catalog
from ..queries import Query
from ..tables import difficulty_labels
from .base import DecidingCost, Decision, Router, place_tier, step_scores

ROUTER_PROMPT = (
    "You route user requests to language models of different strength and price. Rate how hard the "
    "request below is for a small, cheap model to answer well:\n"
    "- easy: lookup, classification, extraction, reformatting, short summaries\n"
    "- medium: code, multi-step reasoning, calculations, longer analysis\n"
    "- hard: proofs, system design, subtle multi-constraint problems\n"
    'Reply with JSON only, for example {"difficulty": "medium"}.')
DEFAULT_LABELS = {"easy": "cheap", "medium": "mid", "hard": "expensive"}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)


def parse_rating(text: str | None, labels=tuple(DEFAULT_LABELS)) -> str | None:
    """The difficulty label in a rating reply (JSON, fenced JSON, or one bare label), else None."""
    if not text:
        return None
    candidates = _FENCE.findall(text) + _OBJECT.findall(text)
    for blob in candidates:
        try:
            obj = json.loads(blob.strip())
        except ValueError:
            continue
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key.lower() in ("difficulty", "rating", "level", "label") and isinstance(value, str):
                    if value.strip().lower() in labels:
                        return value.strip().lower()
    found = {w.lower() for w in re.findall(r"[A-Za-z]+", text)} & set(labels)
    return found.pop() if len(found) == 1 else None


class LLMRouter(Router):
    """Ask `router_model` (default: the cheapest tier's model) for a difficulty label.

    Unparseable or failed ratings go to `fallback_tier` and are counted as router errors.
    """

    name = "llm"
    uses_thresholds = False

    def __init__(self, backend=None, router_model=None, labels=None, fallback_tier="expensive",
                 catalog=None, prompt=ROUTER_PROMPT, cache=True, cache_size=100_000, thresholds=None):
        super().__init__(thresholds, catalog or getattr(backend, "catalog", None) or Catalog.load())
        self.backend = backend
        self.router_model = router_model or self.catalog.tier_model(next(iter(self.catalog.tiers))).name
        self.labels = {label: place_tier(t, self.catalog) for label, t in (labels or DEFAULT_LABELS).items()}
        self.fallback_tier = place_tier(fallback_tier, self.catalog)
        self.prompt = prompt
        self.cache = cache
        self.cache_size = cache_size  # a long-running server must not grow without bound: oldest entries go first
        self.catalog.get(self.router_model)
        self._decisions: dict = {}  # normalised query text -> (tier, model)
        self.cache_hits = self.cache_misses = 0

    def request(self, query) -> Request:
        """The rating call for one query."""
        return Request.ask(self.router_model, query, purpose="route", system=self.prompt, max_tokens=20)

    def decide(self, query, completion) -> Decision:
        """Turn a rating call's completion into a Decision, counting its cost."""
        label = parse_rating(completion.text, tuple(self.labels)) if completion.ok else None
        error = None
        if label is None:
            error = completion.error or f"unparseable rating: {(completion.text or '')[:80]!r}"
        tier = self.labels[label] if label else self.fallback_tier
        return Decision(query.id, tier, self.catalog.tier_model(tier).name, score=None,
                        router_prompt_tokens=completion.prompt_tokens,
                        router_completion_tokens=completion.completion_tokens,
                        router_cost_usd=completion.cost_usd, router_latency_s=completion.latency_s,
                        router_error=error)

    @property
    def simulated(self) -> bool:
        """True when the ratings come from the simulator (directly, or as a replay's rater)."""
        rater = getattr(self.backend, "router_backend", None) or self.backend
        return getattr(rater, "mode", None) == "simulated"

    def route(self, query, thresholds=None) -> Decision:
        """One rating call (or a cached decision); thresholds change nothing."""
        return self.route_many([query])[0]

    def route_many(self, queries, progress: bool = False) -> list[Decision]:
        """Rate each distinct query once; repeats (same normalised text) reuse the cached decision."""
        if self.backend is None:
            raise ValueError("the LLM router needs a backend for its rating calls: LLMRouter(backend) or, for a "
                             "saved router, load_router(path, backend=...)")
        queries = list(queries)
        keys = [normalise(q.text) if self.cache else f"{i}\0{q.text}" for i, q in enumerate(queries)]
        first = {}  # key -> position of the query that is rated (the others reuse its decision)
        for i, key in enumerate(keys):
            if not (self.cache and key in self._decisions):
                first.setdefault(key, i)
        done = self.backend.complete_many([self.request(queries[i]) for i in first.values()], progress=progress,
                                          desc="routing (llm)")
        made = {key: self.decide(queries[i], c) for (key, i), c in zip(first.items(), done)}
        out = []
        for i, (q, key) in enumerate(zip(queries, keys)):
            if first.get(key) == i:
                d = made[key]
                self.cache_misses += 1
                if self.cache and d.router_error is None:
                    self._decisions[key] = (d.tier, d.model)
                    if len(self._decisions) > self.cache_size:
                        del self._decisions[next(iter(self._decisions))]
            else:  # a repeat: the decision is reused, nothing is paid
                tier, model = self._decisions.get(key) or (made[key].tier, made[key].model)
                d = Decision(q.id, tier, model)
                self.cache_hits += 1
            out.append(d)
        return out

    def cache_info(self) -> dict:
        """Decision-cache hits, misses and hit rate so far."""
        total = self.cache_hits + self.cache_misses
        return {"hits": self.cache_hits, "misses": self.cache_misses, "size": len(self._decisions),
                "hit_rate": self.cache_hits / total if total else 0.0}

    def _rate(self, tt, difficulty: dict | None = None):
        """Rate a table's queries once: (tier index per query, rating cost per query), kept for that table."""
        key = (tt.name, tuple(tt.prompts), tuple(tt.prompts.index), tuple(tt.tiers))
        rated = self.__dict__.setdefault("_rated", {})  # a few tables' ratings: a second look is not a second call
        if key not in rated:
            difficulty = difficulty or difficulty_labels(tt)
            queries = [Query(str(q), text, difficulty=difficulty.get(q)) for q, text in tt.prompts.items()]
            decisions = self.route_many(queries)
            index = {t: i for i, t in enumerate(tt.tiers)}
            tiers = np.array([index[place_tier(d.tier, tt.catalog)] for d in decisions])
            rated[key] = (tiers, np.array([d.router_cost_usd for d in decisions]))
            while len(rated) > 4:
                del rated[next(iter(rated))]
        return rated[key]

    def tier_scores(self, tt) -> np.ndarray:
        """The rated tier's step per query. A simulated rater is right about the outcome-derived difficulty."""
        return step_scores(self._rate(tt)[0], len(tt.tiers))

    def deciding_cost(self, tt) -> DecidingCost:
        """Each query's rating call."""
        return DecidingCost(per_query=self._rate(tt)[1])

    def settings(self) -> dict:
        return {"router_model": self.router_model, "labels": self.labels, "fallback_tier": self.fallback_tier,
                "prompt": self.prompt, "cache": self.cache}

    def __repr__(self):
        return (f"LLMRouter(router_model={self.router_model!r}, labels={self.labels}, "
                f"fallback_tier={self.fallback_tier!r}, cache={self.cache}, backend={type(self.backend).__name__})")


def normalise(text: str) -> str:
    """Cache key of a query: lower case, single spaces."""
    return " ".join(text.lower().split())
