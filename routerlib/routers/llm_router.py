"""LLM-as-router: a cheap model rates each query easy/medium/hard, mapped to a tier."""
from __future__ import annotations

import json
import re

from ..backends import Request
from ..catalog import Catalog
from .base import Decision, Router, place_tier

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

    def __init__(self, backend, router_model=None, labels=None, fallback_tier="expensive",
                 catalog=None, prompt=ROUTER_PROMPT):
        self.backend = backend
        self.catalog = catalog or getattr(backend, "catalog", None) or Catalog.load()
        self.router_model = router_model or self.catalog.tier_model(next(iter(self.catalog.tiers))).name
        self.labels = {label: place_tier(t, self.catalog) for label, t in (labels or DEFAULT_LABELS).items()}
        self.fallback_tier = place_tier(fallback_tier, self.catalog)
        self.prompt = prompt
        self.catalog.get(self.router_model)

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

    def route(self, query) -> Decision:
        return self.decide(query, self.backend.complete(self.request(query)))

    def route_many(self, queries, progress: bool = False) -> list[Decision]:
        queries = list(queries)
        done = self.backend.complete_many([self.request(q) for q in queries], progress=progress, desc="routing (llm)")
        return [self.decide(q, c) for q, c in zip(queries, done)]

    def __repr__(self):
        return (f"LLMRouter(router_model={self.router_model!r}, labels={self.labels}, "
                f"fallback_tier={self.fallback_tier!r}, backend={type(self.backend).__name__})")
