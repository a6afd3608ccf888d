"""The backend interface: a Request goes in, a Completion comes out."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from tqdm.auto import tqdm

from ..queries import Query


class MissingCredentialsError(RuntimeError):
    """Live mode was asked for without a key or a server to talk to."""


@dataclass(frozen=True)
class Request:
    """One chat call: which model, the messages, and what it is for ('answer' or 'route')."""

    model: str
    messages: tuple
    query: Query | None = None
    purpose: str = "answer"
    max_tokens: int | None = None
    logprobs: bool = False  # ask the server for token log-probabilities (live confidence)
    options: tuple = ()  # sampling options passed through, as sorted (name, JSON text) pairs; see with_sampling

    def with_sampling(self, options: dict) -> "Request":
        """The same request with sampling options (temperature, top_p, stop, seed, ...) for the server."""
        return replace(self, options=tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in options.items())))

    def sampling(self) -> dict:
        """The sampling options as keyword arguments for chat.completions.create."""
        return {k: json.loads(v) for k, v in self.options}

    @classmethod
    def ask(cls, model: str, query: Query, purpose: str = "answer", system: str | None = None,
            max_tokens: int | None = None, logprobs: bool = False) -> "Request":
        """A request whose user message is the query's text, after an optional system prompt."""
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": query.text}]
        return cls(model, tuple(messages), query, purpose, max_tokens, logprobs)

    def key(self, base_url: str | None = None) -> str:
        """A stable id for this call, used by the run log to skip finished calls."""
        blob = json.dumps([self.model, base_url, self.purpose, list(self.messages), self.max_tokens]
                          + ([True] if self.logprobs else []) + ([list(self.options)] if self.options else []),
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def __repr__(self):
        qid = self.query.id if self.query else None
        return f"Request(model={self.model!r}, query={qid!r}, purpose={self.purpose!r})"


@dataclass
class Completion:
    """What one call returned and cost; `error` is set (and cost 0) when it failed."""

    model: str
    text: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    error: str | None = None
    attempts: int = 1
    quality: float | None = None
    simulated: bool = False
    from_log: bool = False
    token_method: str = "reported by server"
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self):
        state = f"error={self.error!r}" if self.error else f"text={(self.text or '')[:30]!r}"
        tag = " simulated" if self.simulated else ""
        return (f"Completion({self.model!r}{tag}, {state}, tokens={self.prompt_tokens}+"
                f"{self.completion_tokens}, cost_usd={self.cost_usd:.6f})")


class Backend:
    """Answers Requests. Subclasses implement complete(); complete_many() may run them concurrently."""

    mode = "abstract"

    def complete(self, request: Request) -> Completion:
        raise NotImplementedError

    def complete_many(self, requests, progress: bool = True, desc: str = "calls") -> list[Completion]:
        """Answer every request in order, with a progress bar."""
        return [self.complete(r) for r in tqdm(list(requests), desc=desc, disable=not progress)]
