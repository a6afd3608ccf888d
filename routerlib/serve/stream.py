"""Streaming for `routerlib serve`: OpenAI `chat.completion.chunk` SSE events, chunked text or a live stream passed through."""
from __future__ import annotations

import json
import time

from ..tokens import count_message_tokens, count_tokens
from .service import Chat, RoutingService, Served, fallback_order

WORDS_PER_CHUNK = 4


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


class StreamRelay:
    """A live upstream stream passed through chunk by chunk (key redacted); logged when it ends."""

    def __init__(self, service: RoutingService, chat: Chat):
        self.service, self.chat = service, chat
        self.served = served = service.route(chat)
        self.stream = None
        tuned = served.router
        for tier in fallback_order(list(tuned.tier_models()), served.decision.tier):
            stream, attempts, error = service.backend.open_stream(chat.request(tuned.tier_models()[tier], served.query))
            if stream is not None:
                self.stream, served.tier, served.model, self.attempts = stream, tier, tuned.tier_models()[tier], attempts
                break
            served.errors.append(f"{tier} ({tuned.tier_models()[tier]}): {error}")
        if self.stream is None:
            service.finish(served, chat, stream=True)  # logs the failure and raises it

    def __iter__(self):
        from ..backends import Completion
        backend, served, chat = self.service.backend, self.served, self.chat
        redact, text, usage, finish, error, first = backend.stream_redactor(), [], None, None, "client disconnected", True
        try:
            for chunk in self.stream:
                d = chunk.to_dict()
                usage = d.get("usage") or usage
                for choice in d.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if isinstance(delta.get("content"), str) or choice.get("finish_reason"):
                        delta["content"] = redact.feed(delta.get("content") or "") + (
                            redact.flush() if choice.get("finish_reason") else "")
                        text.append(delta["content"])
                    finish = choice.get("finish_reason") or finish
                if not chat.include_usage:
                    d.pop("usage", None)
                    if not d.get("choices"):
                        continue
                if first:
                    d["routerlib"], first = served.info(self.service.mode), False
                yield sse(d)
            if redact.held:
                text.append(redact.held)
                yield sse(_chunk(served, {"content": redact.flush()}))
            yield DONE
            error = None
        except Exception as e:  # the upstream broke mid-stream: tell the client in OpenAI's way
            error = backend.redact(f"{type(e).__name__}: {e}")
            yield sse({"error": {"message": f"upstream stream failed: {error}", "type": "upstream_error",
                                 "param": None, "code": "upstream_stream_failed"}})
        finally:
            self.stream.close()
            answer = "".join(text)
            model = backend.catalog.get(served.model)
            if usage and usage.get("prompt_tokens") is not None:
                p, n = usage["prompt_tokens"], usage.get("completion_tokens") or 0
            else:
                p, n = count_message_tokens(list(chat.messages)), count_tokens(answer)
            served.completion = Completion(served.model, answer, p, n, model.cost(p, n), attempts=self.attempts,
                                           extra={"finish_reason": finish})
            self.service.finish(served, chat, stream=True, error=error)
