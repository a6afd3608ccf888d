"""OpenAIBackend: live calls through the openai SDK to OpenAI or any OpenAI-compatible server."""
from __future__ import annotations

import email.utils
import json
import math
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import openai
from tqdm.auto import tqdm

from ..catalog import Catalog
from ..tokens import count_message_tokens, count_tokens, token_method
from .base import Backend, Completion, MissingCredentialsError, Request
from .runlog import RunLog

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
             openai.APIConnectionError, openai.APIResponseValidationError, json.JSONDecodeError)
NO_KEY_NEEDED = "no-key-needed"  # what local servers get when no key is set; they ignore it
OPENAI_URL = "https://api.openai.com/v1"  # where calls go when no base URL is set
NO_ANSWER = ("ConnectError", "ConnectTimeout")  # the transport's errors when the server does not answer at all


def missing_credentials_message() -> str:
    return ("live mode needs OPENAI_API_KEY (for api.openai.com), or OPENAI_BASE_URL pointing at an "
            "OpenAI-compatible server (Ollama, vLLM, llama.cpp), or a base_url on each model used. "
            "Example: export OPENAI_API_KEY=...  or  export OPENAI_BASE_URL=http://127.0.0.1:11434/v1")


class ServerUnreachableError(ConnectionError):
    """Several calls in a row got no answer at all from one server: a batch stops instead of failing every call."""

    def __init__(self, url: str, cause: str, calls: int):
        super().__init__(f"no answer from {url}: {calls} calls in a row could not connect ({cause}). Start the "
                         "server, or check OPENAI_BASE_URL (or the model's base_url in the catalog)")
        self.url, self.cause, self.calls = url, cause, calls


def _no_answer(error) -> str | None:
    """The underlying error if the server did not answer at all (refused, connect timeout, unknown host)."""
    cause = error.__cause__
    if isinstance(error, openai.APIConnectionError) and type(cause).__name__ in NO_ANSWER:
        return f"{type(cause).__name__}: {cause}"
    return None


class Secret:
    """Holds an API key; its str and repr never show it."""

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self):
        return "Secret('***')"

    __str__ = __repr__


class StreamRedactor:
    """Replaces a secret in streamed text, holding back a tail that could be the start of it."""

    def __init__(self, secret: str | None):
        self.secret, self.held = secret, ""

    def feed(self, text: str) -> str:
        if not self.secret:
            return text
        s = (self.held + text).replace(self.secret, "***")
        keep = next((k for k in range(min(len(s), len(self.secret) - 1), 0, -1) if s.endswith(self.secret[:k])), 0)
        self.held = s[len(s) - keep:] if keep else ""
        return s[:len(s) - keep] if keep else s

    def flush(self) -> str:
        out, self.held = self.held, ""
        return out

    def __repr__(self):
        return f"StreamRedactor(secret={'set' if self.secret else None}, held={len(self.held)} chars)"


def _retry_after(error) -> float | None:
    """Seconds the server asked us to wait (Retry-After or retry-after-ms); None if absent or unreadable."""
    response = getattr(error, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if headers.get("retry-after-ms"):
            seconds = float(headers["retry-after-ms"]) / 1000
        elif headers.get("retry-after"):
            value = headers["retry-after"]
            try:
                seconds = float(value)
            except ValueError:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        else:
            return None
    except (TypeError, ValueError, IndexError, OverflowError):  # a garbled header: fall back to our backoff
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _extra(response) -> dict:
    """finish_reason, and per-token log-probabilities when the server sent them."""
    choice = response.choices[0]
    extra = {"finish_reason": getattr(choice, "finish_reason", None)}
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if content:
        extra["logprobs"] = [t.logprob for t in content]
    return extra


class OpenAIBackend(Backend):
    """Real chat-completion calls with timeouts, bounded retries, bounded concurrency and a run log."""

    mode = "live"

    def __init__(self, catalog=None, api_key=None, base_url=None, timeout=60.0, max_retries=3,
                 concurrency=4, run_log=None, backoff_base=0.5, max_wait=60.0, unreachable_after=3):
        self.catalog = catalog or Catalog.load()
        key = api_key or os.environ.get("OPENAI_API_KEY")
        self._api_key = Secret(key) if key else None
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff_base = backoff_base
        self.max_wait = max_wait
        self.unreachable_after = unreachable_after  # calls in a row with no answer that stop a batch; 0: never
        self.run_log = RunLog(run_log) if isinstance(run_log, (str, os.PathLike)) else run_log
        self._clients: dict = {}
        self._unanswered: dict = {}  # base URL -> (calls in a row that got no answer, the last cause)
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # set while a stopped batch waits for its calls in flight

    def _base_url(self, model) -> str | None:
        return model.base_url or self.base_url

    def check_credentials(self, models) -> None:
        """Raise MissingCredentialsError if any of these models could not be called."""
        for name in models:
            if self._base_url(self.catalog.get(name)) is None and not self._api_key:
                raise MissingCredentialsError(missing_credentials_message())

    def _client(self, base_url):
        with self._lock:
            if base_url not in self._clients:
                if base_url is None and not self._api_key:
                    raise MissingCredentialsError(missing_credentials_message())
                self._clients[base_url] = openai.OpenAI(
                    api_key=self._api_key.reveal() if self._api_key else NO_KEY_NEEDED, base_url=base_url,
                    timeout=self.timeout, max_retries=0)  # retries are ours, so they are counted
            return self._clients[base_url]

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key.reveal(), "***") if self._api_key and text else text

    def _wait(self, error, attempt: int) -> float:
        asked = _retry_after(error)
        if asked is not None:
            return min(asked, self.max_wait)
        return min(self.backoff_base * 2 ** attempt * (0.5 + random.random() / 2), self.max_wait)

    def redact(self, text: str) -> str:
        """`text` with the API key replaced by ***."""
        return self._redact(text)

    def stream_redactor(self) -> "StreamRedactor":
        """A redactor for streamed text, where the key could arrive split across chunks."""
        return StreamRedactor(self._api_key.reveal() if self._api_key else None)

    def _create(self, request: Request, **extra):
        """One chat.completions.create with our retries: (response or None, attempts, redacted error or None)."""
        model = self.catalog.get(request.model)
        base_url = self._base_url(model)
        client, error, unanswered = self._client(base_url), None, None
        kwargs = {"model": model.api_name or model.name, "messages": list(request.messages), **request.sampling(),
                  **({"max_tokens": request.max_tokens} if request.max_tokens else {}),
                  **({"logprobs": True} if request.logprobs else {}), **extra}
        for attempt in range(1, self.max_retries + 2):
            try:
                response = client.chat.completions.create(**kwargs)
                self._count_unanswered(base_url, None)
                return response, attempt, None
            except RETRYABLE as e:
                error, unanswered = self._redact(f"{type(e).__name__}: {e}"), _no_answer(e)
                if attempt > self.max_retries or self._stopping.wait(self._wait(e, attempt - 1)):
                    break  # out of retries, or the batch stopped: no more waiting
            except Exception as e:  # 4xx and the unexpected: not worth retrying, but recorded
                error, unanswered = self._redact(f"{type(e).__name__}: {e}"), None
                break
        self._count_unanswered(base_url, unanswered and self._redact(unanswered))
        return None, attempt, error

    def _count_unanswered(self, base_url, cause: str | None) -> None:
        """Count calls in a row that got no answer at all from this server; any answer, even an error, resets it."""
        with self._lock:
            calls = self._unanswered.get(base_url, (0, None))[0]
            self._unanswered[base_url] = (calls + 1, cause) if cause else (0, None)

    def _stop_if_unreachable(self, request: Request) -> None:
        """Raise ServerUnreachableError if the server of this request has not answered the last few calls."""
        base_url = self._base_url(self.catalog.get(request.model))
        calls, cause = self._unanswered.get(base_url, (0, None))
        if self.unreachable_after and calls >= self.unreachable_after:
            raise ServerUnreachableError(base_url or OPENAI_URL, cause, calls)

    def open_stream(self, request: Request):
        """A streaming call (usage included) with our retries: (stream or None, attempts, redacted error or None)."""
        return self._create(request, stream=True, stream_options={"include_usage": True})

    def complete(self, request: Request) -> Completion:
        model = self.catalog.get(request.model)
        key = request.key(self._base_url(model))
        if self.run_log is not None and (done := self.run_log.finished(key)):
            return Completion(model.name, done["text"], done["prompt_tokens"], done["completion_tokens"],
                              done["cost_usd"], done["latency_s"], attempts=done["attempts"], from_log=True,
                              extra={"finish_reason": done.get("finish_reason")})
        start = time.perf_counter()
        response, attempt, error = self._create(request)
        latency = time.perf_counter() - start
        result = self._completion(model, request, response, latency, attempt, error)
        if self.run_log is not None:
            self.run_log.append({
                "key": key, "query_id": request.query.id if request.query else None, "model": model.name,
                "purpose": request.purpose, "prompt": request.messages[-1].get("content"),
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens, "cost_usd": result.cost_usd,
                "latency_s": latency, "attempts": attempt, "text": result.text, "error": result.error,
                "finish_reason": result.extra.get("finish_reason")})
        return result

    def _completion(self, model, request, response, latency, attempts, error) -> Completion:
        if response is None:
            return Completion(model.name, None, latency_s=latency, attempts=attempts,
                              error=error or "no response")
        try:
            text = self._redact(response.choices[0].message.content or "")
        except (AttributeError, IndexError, TypeError):
            return Completion(model.name, None, latency_s=latency, attempts=attempts,
                              error="malformed response: no choices[0].message.content")
        usage, method = getattr(response, "usage", None), "reported by server"
        if usage is not None and usage.prompt_tokens is not None:
            prompt_tokens, completion_tokens = usage.prompt_tokens, usage.completion_tokens or 0
        else:  # some local servers send no usage block
            prompt_tokens, completion_tokens = count_message_tokens(list(request.messages)), count_tokens(text)
            method = token_method()
        return Completion(model.name, text, prompt_tokens, completion_tokens,
                          model.cost(prompt_tokens, completion_tokens), latency, attempts=attempts,
                          token_method=method, extra=_extra(response))

    def complete_many(self, requests, progress: bool = True, desc: str = "calls") -> list[Completion]:
        """Answer requests with at most `concurrency` in flight; results keep the input order."""
        requests = list(requests)
        self.check_credentials({r.model for r in requests})
        results: list = [None] * len(requests)
        pool = ThreadPoolExecutor(max_workers=max(1, self.concurrency))
        try:
            futures = {pool.submit(self.complete, r): i for i, r in enumerate(requests)}
            for fut in tqdm(as_completed(futures), total=len(futures), desc=desc, disable=not progress):
                results[futures[fut]] = fut.result()
                self._stop_if_unreachable(requests[futures[fut]])
        except BaseException:  # Ctrl-C, a dead server or a bug: no more calls; those in flight end unretried, logged
            self._stopping.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._stopping.clear()
            raise
        pool.shutdown(wait=True)
        return results

    def __repr__(self):
        key = "set" if self._api_key else "not set"
        return (f"OpenAIBackend(base_url={self.base_url!r}, api_key={key}, timeout={self.timeout}, "
                f"max_retries={self.max_retries}, concurrency={self.concurrency}, run_log={self.run_log!r})")
