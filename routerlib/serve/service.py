"""The routing service behind `routerlib serve`: pick a router by alias, route, answer upstream with fallback, log."""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field, replace

from ..backends import Backend, Completion, Request
from ..catalog import Catalog
from ..queries import Query
from ..routers.base import Decision, Router
from ..routers.llm import normalise
from ..routers.saved import check_thresholds, load_router
from .config import ServeConfig
from .stats import ServeLog, Traffic

TRANSIENT = ("RateLimitError", "APITimeoutError", "APIConnectionError")  # upstream busy or away: 503, not 502


class ApiError(Exception):
    """An error sent to the client as an OpenAI-style body {"error": {message, type, param, code}}."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def __repr__(self):
        return f"ApiError({self.status}, {self.message!r})"


@dataclass(frozen=True)
class Chat:
    """A checked chat-completion request: the routing text is the last user message."""

    model: str
    messages: tuple
    text: str
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    sampling: tuple = ()  # (name, value) pairs passed to the upstream: temperature, top_p, stop, seed, ...

    def request(self, model: str, query: Query) -> Request:
        """The upstream call for one tier's model: the whole conversation, max_tokens and sampling options."""
        return Request(model, self.messages, query, "answer", self.max_tokens).with_sampling(dict(self.sampling))


@dataclass
class Served:
    """One routed request: the decision, the tier and model that answered, and what it cost."""

    id: str
    alias: str
    router: Router = field(repr=False)
    query: Query
    decision: Decision
    router_s: float
    tier: str | None = None
    model: str | None = None
    completion: Completion | None = None
    errors: list = field(default_factory=list)
    escalated: bool = False
    started: float = field(default_factory=time.perf_counter)

    @property
    def fallback(self) -> bool:
        return self.tier is not None and self.tier != self.decision.tier

    def info(self, mode: str) -> dict:
        """The `routerlib` field of a response: what routed it, who answered, what routing cost."""
        c = self.completion
        return {"alias": self.alias, "router": self.router.name, "tier": self.tier, "model": self.model,
                "routed_tier": self.decision.tier, "fallback": self.fallback, "score": self.decision.score,
                "router_cost_usd": self.decision.router_cost_usd, "router_latency_ms": self.router_s * 1000,
                "cost_usd": c.cost_usd if c else 0.0, "upstream": mode, "simulated": bool(c and c.simulated)}

    def headers(self, mode: str) -> dict:
        return {"x-routerlib-model": self.model or "", "x-routerlib-tier": self.tier or "",
                "x-routerlib-routed-tier": self.decision.tier, "x-routerlib-alias": self.alias,
                "x-routerlib-router-cost-usd": f"{self.decision.router_cost_usd:.8f}",
                "x-routerlib-simulated": "true" if self.completion and self.completion.simulated else "false",
                "x-routerlib-upstream": mode, "x-request-id": self.id}


def fallback_order(tiers: list, tier: str) -> list:
    """The routed tier, then the dearer tiers upwards, then the cheaper ones downwards."""
    k = tiers.index(tier)
    return tiers[k:] + tiers[:k][::-1]


class _Recorder(Backend):
    """A cascade's backend: answers get the client's whole request; remembers (purpose, completion, seconds)."""

    def __init__(self, backend, chat: Chat):
        self.backend, self.mode, self.chat, self.calls = backend, backend.mode, chat, []

    def complete(self, request):
        if request.purpose == "answer":  # the cascade asks with the routing text only; send the whole conversation
            request = replace(self.chat.request(request.model, request.query), logprobs=request.logprobs)
        start = time.perf_counter()
        c = self.backend.complete(request)
        self.calls.append((request.purpose, c, time.perf_counter() - start))
        return c


def make_backend(upstream: dict, catalog: Catalog):
    """The upstream Backend a config names (live keys come from the environment, wrapped in Secret)."""
    mode = upstream["mode"]
    if mode == "simulated":
        from ..backends.simulated import SimulatedBackend
        return SimulatedBackend(catalog, seed=upstream.get("seed", 0))
    if mode == "replay":
        from .. import datasets
        from ..backends.replay import ReplayBackend
        from ..backends.simulated import SimulatedBackend
        from ..tables import dataset_catalog
        table = datasets.load(upstream["dataset"], upstream.get("data_dir"), catalog)
        rated = SimulatedBackend(catalog, seed=upstream.get("seed", 0))
        return ReplayBackend(table, router_backend=rated, catalog=dataset_catalog(table, catalog))
    from ..backends.live import OpenAIBackend
    key = os.environ.get(upstream.get("api_key_env", "OPENAI_API_KEY")) or None
    return OpenAIBackend(catalog, api_key=key, base_url=upstream.get("base_url"),
                         timeout=upstream.get("timeout", 60.0), max_retries=upstream.get("max_retries", 3))


class RoutingService:
    """Aliases of saved routers over one upstream backend, with a run log and traffic figures."""

    def __init__(self, config: ServeConfig, backend: Backend | None = None):
        self.config = config
        self.routers: dict[str, Router] = {}
        for name, (path, thresholds) in config.routers.items():
            tuned = load_router(path)
            self.routers[name] = tuned if thresholds is None else tuned.with_thresholds(
                check_thresholds(tuned, thresholds, len(tuned.tier_models())))
        catalog = Catalog.load()
        if config.catalog:
            catalog.update_from_file(config.catalog)
        for tuned in self.routers.values():
            for m in tuned.catalog.models.values():
                if m.name not in catalog:
                    catalog.add(m, check=False)
        self.backend = backend or make_backend(config.upstream, catalog)
        if hasattr(self.backend, "check_credentials"):
            # every model a router calls: its tiers, and a rating or judge model (the file's catalog holds them all)
            self.backend.check_credentials({m for t in self.routers.values()
                                            for m in [*t.tier_models().values(), *t.catalog.models]})
        for tuned in self.routers.values():
            if hasattr(tuned, "backend"):  # rating calls (a cascade's answers go through each request's recorder)
                tuned.backend = self.backend
        self.mode = self.backend.mode
        self.token = config.auth_token()
        self.log = ServeLog(config.run_log)
        self.traffic = Traffic(self.mode, config.monitor_window)
        table = getattr(self.backend, "table", None)
        self._replay_ids = ({normalise(p): q for q, p in table.queries["prompt"].items()} if table is not None
                            else None)

    # -- routing ------------------------------------------------------------------------
    def resolve(self, name: str) -> tuple[str, Router]:
        """The router for a model name: '<alias>' or '<alias>:<threshold>[,<threshold>]'."""
        alias, _, custom = name.partition(":")
        tuned = self.routers.get(alias)
        if tuned is None:
            raise ApiError(404, f"The model {name!r} does not exist on this router server; use one of "
                                f"{sorted(self.routers)} (GET /v1/models lists them).", code="model_not_found",
                           param="model")
        if custom:
            try:
                tuned = tuned.with_thresholds(check_thresholds(tuned, [float(x) for x in custom.split(",")],
                                                               len(tuned.tier_models())))
            except ValueError as e:
                raise ApiError(400, f"bad thresholds in model {name!r}: {e}", code="invalid_thresholds",
                               param="model") from None
        return alias, tuned

    def query(self, chat: Chat) -> Query:
        """The routing query; under replay its id is the recorded query with the same prompt."""
        qid = "rq-" + hashlib.sha256(json.dumps(chat.messages, sort_keys=True).encode()).hexdigest()[:16]
        if self._replay_ids is not None:
            qid = self._replay_ids.get(normalise(chat.text))
            if qid is None:
                raise ApiError(400, f"the replay upstream answers only the {len(self._replay_ids)} prompts recorded "
                                    "in its dataset; send one of them as the last user message",
                               code="prompt_not_recorded", param="messages")
        try:
            return Query(qid, chat.text)
        except ValueError as e:
            raise ApiError(400, str(e), param="messages") from None

    def route(self, chat: Chat) -> Served:
        """Resolve the alias and decide the tier (a cascade decides later, while answering)."""
        alias, tuned = self.resolve(chat.model)
        query = self.query(chat)
        start = time.perf_counter()
        first, model = next(iter(tuned.tier_models().items()))
        decision = Decision(query.id, first, model) if tuned.answers_while_routing else tuned.route(query)
        return Served(f"chatcmpl-rl{uuid.uuid4().hex[:24]}", alias, tuned, query, decision,
                      time.perf_counter() - start, started=start)

    # -- answering ----------------------------------------------------------------------
    def answer(self, chat: Chat) -> Served:
        """Route and answer in full (the routed tier, else the next that answers); logged; ApiError if none does."""
        served = self.route(chat)
        tuned = served.router
        if tuned.answers_while_routing:
            self._cascade(chat, tuned, served)
        else:
            for tier in fallback_order(list(tuned.tier_models()), served.decision.tier):
                model = tuned.tier_models()[tier]
                c = self.backend.complete(chat.request(model, served.query))
                if c.ok:
                    served.tier, served.model, served.completion = tier, model, c
                    break
                served.errors.append(f"{tier} ({model}): {c.error}")
        if not chat.stream or served.completion is None:  # a streamed answer is logged by its TextStream once sent
            self.finish(served, chat, stream=chat.stream)
        return served

    def _cascade(self, chat: Chat, tuned: Router, served: Served) -> None:
        recorder = _Recorder(self.backend, chat)
        decision = tuned.route(served.query, backend=recorder)
        answers = [(c, tier) for (purpose, c, _), tier in zip(
            [x for x in recorder.calls if x[0] == "answer"], tuned.tier_models())]
        ok = [(c, tier) for c, tier in answers if c.ok]
        served.errors = [f"{tier}: {c.error}" for c, tier in answers if not c.ok]
        served.router_s = time.perf_counter() - served.started
        if ok:  # the accepted answer, or the dearest that answered if the last tier failed
            c, tier = answers[-1] if answers[-1][0].ok else ok[-1]
            overhead = sum(x.cost_usd for _, x, _ in recorder.calls if x is not c)
            served.router_s -= sum(s for _, x, s in recorder.calls if x is c)  # the answer's own time is not routing
            served.decision = Decision(served.query.id, decision.tier, decision.model, router_cost_usd=overhead)
            served.tier, served.model, served.completion = tier, c.model, c
            served.escalated = tier != next(iter(tuned.tier_models()))

    def failure(self, served: Served) -> ApiError:
        """The error for a request no tier could answer: 503 if every failure was transient, else 502."""
        transient = served.errors and all(e.split(": ", 1)[-1].startswith(TRANSIENT) for e in served.errors)
        status = 503 if transient else 502
        return ApiError(status, f"every tier failed upstream for request {served.id}: " + "; ".join(served.errors),
                        "upstream_error", "upstream_unavailable" if transient else "upstream_failed",
                        headers={"retry-after": "1"} if transient else None)

    def finish(self, served: Served, chat: Chat, stream: bool = False, error: str | None = None) -> None:
        """Write the request to the run log and the traffic figures; raise the failure if nothing answered."""
        c = served.completion
        failed = c is None or error is not None
        status = (self.failure(served).status if c is None else 200)
        rec = {"key": served.id, "query_id": served.query.id, "model": served.model, "purpose": "serve",
               "prompt": chat.text, "prompt_tokens": c.prompt_tokens if c else 0,
               "completion_tokens": c.completion_tokens if c else 0, "cost_usd": c.cost_usd if c else 0.0,
               "latency_s": time.perf_counter() - served.started, "attempts": c.attempts if c else None,
               "text": c.text if c else None,
               "error": (error or "; ".join(served.errors) or "no answer") if failed else None,
               "finish_reason": (c.extra or {}).get("finish_reason") if c else None,
               "alias": served.alias, "router": served.router.name, "tier": served.tier,
               "routed_tier": served.decision.tier, "fallback": served.fallback, "score": served.decision.score,
               "router_cost_usd": served.decision.router_cost_usd, "router_latency_s": served.router_s,
               "upstream": self.mode, "simulated": bool(c and c.simulated), "quality": c.quality if c else None,
               "escalated": served.escalated, "stream": stream, "status": status,
               "upstream_errors": served.errors or None}
        self.log.append(rec)
        self.traffic.add(rec)
        if c is None:
            raise self.failure(served)

    def __repr__(self):
        return (f"RoutingService(aliases={list(self.routers)}, upstream={self.mode}, log={self.log!r}, "
                f"auth={'on' if self.token else 'off'})")
