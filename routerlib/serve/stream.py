"""Streaming for `routerlib serve`: OpenAI `chat.completion.chunk` events, chunked text or a live stream passed on."""
from __future__ import annotations

import json
import time

import anyio
from starlette.responses import StreamingResponse

from ..tokens import count_message_tokens, count_tokens
from .service import Chat, RoutingService, Served, fallback_order

WORDS_PER_CHUNK = 4
CLIENT_GONE = "client disconnected"
TRUNCATED = "upstream stream ended without a finish_reason: the answer is cut short"


def sse(obj) -> str:
    """One server-sent event line."""
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


DONE = "data: [DONE]\n\n"


def _chunk(served: Served, delta: dict, finish=None, **extra) -> dict:
    return {"id": served.id, "object": "chat.completion.chunk", "created": int(time.time()), "model": served.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def usage_of(c) -> dict:
    return {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
            "total_tokens": c.prompt_tokens + c.completion_tokens}


def text_events(served: Served, chat: Chat, mode: str):
    """A finished answer (simulated, replay or cascade) as SSE chunks of a few words, then [DONE]."""
    c = served.completion
    words = (c.text or "").split(" ")
    yield sse(_chunk(served, {"role": "assistant", "content": ""}))
    for i in range(0, len(words), WORDS_PER_CHUNK):
        piece = " ".join(words[i:i + WORDS_PER_CHUNK]) + (" " if i + WORDS_PER_CHUNK < len(words) else "")
        yield sse(_chunk(served, {"content": piece}))
    yield sse(_chunk(served, {}, (c.extra or {}).get("finish_reason") or "stop", routerlib=served.info(mode)))
    if chat.include_usage:
        yield sse({**_chunk(served, {}), "choices": [], "usage": usage_of(c)})
    yield DONE


def error_event(message: str, code: str) -> str:
    """An OpenAI-style error event: the openai client raises APIError with this message."""
    return sse({"error": {"message": message, "type": "upstream_error", "param": None, "code": code}})


class EventStream(StreamingResponse):
    """An SSE response whose source is closed, and so logged, however it ends: sent, dropped or stopped."""

    def __init__(self, source, headers: dict):
        super().__init__(iter(source), media_type="text/event-stream", headers=headers)
        self.source = source

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:  # a client that left cancels the response and leaves the iterator suspended: close it now
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.source.close)


class _Logged:
    """Events for one routed request, logged exactly once by close(); cut short unless the last event was sent."""

    error = CLIENT_GONE  # until the generator resumes after its last event, or names an upstream failure
    closed = False

    def __iter__(self):
        yield from self.events
        self.close()  # every event was sent: logged before the response ends

    def close(self) -> None:
        """Stop the events where they are and log the request (only the first call does anything)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.events.close()
        except ValueError:  # still running in a worker thread (not expected): log anyway
            pass
        self.end()


class TextStream(_Logged):
    """A finished answer sent as text_events, logged when sent (or cut short when the client leaves first)."""

    def __init__(self, service: RoutingService, chat: Chat, served: Served):
        self.service, self.chat, self.served = service, chat, served
        self.events = self._events()

    def _events(self):
        yield from text_events(self.served, self.chat, self.service.mode)
        self.error = None

    def end(self) -> None:
        self.service.finish(self.served, self.chat, stream=True, error=self.error)


class StreamRelay(_Logged):
    """A live upstream stream passed through chunk by chunk (key redacted); logged when it ends.

    An upstream that breaks, or ends with no finish_reason (truncated), ends in an OpenAI error event (code
    upstream_stream_failed or upstream_stream_truncated), not [DONE], so the openai client raises APIError.
    """

    def __init__(self, service: RoutingService, chat: Chat):
        self.service, self.chat = service, chat
        self.served = served = service.route(chat)
        self.stream = None
        tuned = served.router
        for tier in fallback_order(list(tuned.tier_models()), served.decision.tier):
            model = tuned.tier_models()[tier]
            stream, attempts, error = service.backend.open_stream(chat.request(model, served.query))
            if stream is not None:
                self.stream, served.tier, served.model, self.attempts = stream, tier, model, attempts
                break
            served.errors.append(f"{tier} ({model}): {error}")
        if self.stream is None:
            service.finish(served, chat, stream=True)  # logs the failure and raises it
        self.redact, self.text, self.usage, self.finish = service.backend.stream_redactor(), [], None, None
        self.events = self._events()

    def _events(self):
        backend, served, chat, redact, first = self.service.backend, self.served, self.chat, self.redact, True
        try:
            for chunk in self.stream:
                d = chunk.to_dict()
                self.usage = d.get("usage") or self.usage
                for choice in d.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if isinstance(delta.get("content"), str) or choice.get("finish_reason"):
                        delta["content"] = redact.feed(delta.get("content") or "") + (
                            redact.flush() if choice.get("finish_reason") else "")
                        self.text.append(delta["content"])
                    self.finish = choice.get("finish_reason") or self.finish
                if not chat.include_usage:
                    d.pop("usage", None)
                    if not d.get("choices"):
                        continue
                if first:
                    d["routerlib"], first = served.info(self.service.mode), False
                yield sse(d)
        except Exception as e:  # the upstream broke mid-stream: tell the client in OpenAI's way
            self.error = backend.redact(f"{type(e).__name__}: {e}")
            yield error_event(f"upstream stream failed: {self.error}", "upstream_stream_failed")
            return
        if self.finish is None:  # the upstream closed without finishing: not a clean end for the client
            self.error = TRUNCATED
            yield error_event(TRUNCATED, "upstream_stream_truncated")
            return
        if redact.held:
            self.text.append(redact.held)
            yield sse(_chunk(served, {"content": redact.flush()}))
        yield DONE
        self.error = None

    def end(self) -> None:
        """Close the upstream stream and log what it sent, with the tokens so far."""
        from ..backends import Completion
        self.stream.close()
        served, chat = self.served, self.chat
        answer = "".join(self.text)  # what was relayed (a tail held back as maybe the key is left out)
        model = self.service.backend.catalog.get(served.model)
        if self.usage and self.usage.get("prompt_tokens") is not None:
            p, n = self.usage["prompt_tokens"], self.usage.get("completion_tokens") or 0
        else:
            p, n = count_message_tokens(list(chat.messages)), count_tokens(answer)
        served.completion = Completion(served.model, answer, p, n, model.cost(p, n), attempts=self.attempts,
                                       extra={"finish_reason": self.finish})
        self.service.finish(served, chat, stream=True, error=self.error)
