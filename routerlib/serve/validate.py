"""Request checks for `routerlib serve`: read the body (type, size, time, JSON) and check a chat request's fields.

Every check raises ApiError with a 4xx status that names the field, so a bad request never costs an upstream call.
"""
from __future__ import annotations

import asyncio
import json
import math

from starlette.requests import ClientDisconnect, Request

from .service import ApiError, Chat

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
MAX_INT_DIGITS = 4300  # Python's int-str conversion limit: a longer integer could not even be logged
MAX_TOKENS = 2 ** 31 - 1
CLOSE = {"connection": "close"}  # for replies sent before the whole body was read


def _text(content, i: int) -> str:
    """Message content as text: a string, or a list of {"type": "text", "text": ...} parts."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return " ".join(p["text"] for p in content if p.get("type") == "text" and isinstance(p.get("text"), str))
    raise ApiError(400, f"messages[{i}].content must be a string or a list of content parts", param=f"messages[{i}]")


def _get(body: dict, name: str, default):
    """body[name], with null or absent meaning the default (as OpenAI treats them)."""
    value = body.get(name)
    return default if value is None else value


def parse_chat(body) -> Chat:
    """Check a chat-completion body; ApiError (400) says what is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required: a router alias (GET /v1/models lists them)", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' is required: a non-empty list of {role, content} objects", param="messages")
    user = ""
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ApiError(400, f"messages[{i}] must be an object with a role in {list(ROLES)}", param=f"messages[{i}]")
        text = _text(m.get("content"), i)
        user = text if m["role"] == "user" else user
    if not user.strip():
        raise ApiError(400, "'messages' needs a user message with text to route on", param="messages")
    stream = _get(body, "stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", param="stream")
    options = _get(body, "stream_options", {})
    if not isinstance(options, dict) or not isinstance(_get(options, "include_usage", False), bool):
        raise ApiError(400, "'stream_options' must be an object like {\"include_usage\": true}", param="stream_options")
    for name in ("max_tokens", "max_completion_tokens"):
        if body.get(name) is not None and not _whole(1, MAX_TOKENS)(body[name]):
            raise ApiError(400, f"'{name}' must be a whole number from 1 to {MAX_TOKENS:,}", param=name)
    n = _get(body, "n", 1)
    if not _whole(1, math.inf)(n):
        raise ApiError(400, "'n' must be a whole number of at least 1", param="n")
    if n != 1:
        raise ApiError(400, "only n=1 is supported: this server returns one choice per request", param="n")
    return Chat(model, tuple(messages), user, stream, _get(options, "include_usage", False),
                _get(body, "max_completion_tokens", body.get("max_tokens")), sampling_options(body))


def _number(v) -> bool:
    """A finite JSON number (true and false are not numbers)."""
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and math.isfinite(v))


def _between(low, high):
    return lambda v: _number(v) and low <= v <= high


def _whole(low, high):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


# sampling options passed to the upstream model, with the check each value must pass (OpenAI's ranges)
SAMPLING = {
    "temperature": (_between(0, 2), "a number from 0 to 2"), "top_p": (_between(0, 1), "a number from 0 to 1"),
    "presence_penalty": (_between(-2, 2), "a number from -2 to 2"),
    "frequency_penalty": (_between(-2, 2), "a number from -2 to 2"),
    "seed": (_whole(-2 ** 63, 2 ** 63 - 1), "a whole number (64-bit)"),
    "stop": (lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
             "a string or a list of strings"),
    "response_format": (lambda v: isinstance(v, dict), "an object"), "user": (lambda v: isinstance(v, str), "a string"),
}


def sampling_options(body: dict) -> tuple:
    """The body's sampling options, checked, as (name, value) pairs; ApiError (400) names a bad one."""
    pairs = []
    for name, (ok, kind) in SAMPLING.items():
        if body.get(name) is not None:
            if not ok(body[name]):
                raise ApiError(400, f"'{name}' must be {kind}", param=name)
            pairs.append((name, body[name]))
    return tuple(pairs)


class _Refused:
    """A number JSON parsing accepts but the server refuses (NaN, Infinity, 1e999, an integer too long)."""

    def __init__(self, why: str):
        self.why = why


def _path_to(body, target) -> str | None:
    """Where `target` is in a parsed body, like "messages[0].name" ("" for the body itself)."""
    todo = [(body, "")]
    while todo:
        node, path = todo.pop()
        if node is target:
            return path
        for key, value in (enumerate(node) if isinstance(node, list) else node.items()):
            if value is target or isinstance(value, (dict, list)):
                step = f"[{key}]" if isinstance(node, list) else f".{key}" if path else key
                todo.append((value, path + step))
    return None


def loads(raw: bytes):
    """Parse a JSON body; a NaN, an infinity or an integer too long is a 400 naming the field it is in."""
    refused = []

    def refuse(why: str) -> _Refused:
        refused.append(_Refused(why))
        return refused[-1]

    def whole(text: str):
        digits = len(text.lstrip("-"))
        return int(text) if digits <= MAX_INT_DIGITS else refuse(
            f"an integer with {digits:,} digits (the limit is {MAX_INT_DIGITS:,})")

    def real(text: str):
        value = float(text)
        return value if math.isfinite(value) else refuse(f"{text[:40]}, out of range of a finite number")

    try:
        body = json.loads(raw, parse_constant=lambda s: refuse(f"{s}, not a finite number"), parse_int=whole,
                          parse_float=real)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f"the request body is not valid JSON: {e}") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    if refused:
        path = _path_to(body, refused[0])
        where = f"'{path}' is" if path else "the request body has"
        raise ApiError(400, f"{where} {refused[0].why}; send a finite number in range", param=path or None)
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\ud800) parses but cannot be logged
    except UnicodeEncodeError:
        raise ApiError(400, "the request body has an unpaired UTF-16 surrogate escape; send valid Unicode") from None
    return body


async def _read(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body is over this server's limit of {limit:,} bytes",
                           code="request_too_large", headers=CLOSE)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request: Request, limit: int, timeout: float = 30.0):
    """The request body as JSON: 415 unless declared JSON, 413 over `limit` bytes, 408 after `timeout` s, 400 if bad."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, f"send the body as JSON with Content-Type: application/json (got {media_type or 'none'!r})",
                       code="unsupported_media_type", headers=CLOSE)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 15 or int(declared) > limit):
        raise ApiError(413, f"the request body (Content-Length: {declared[:20]}) is over this server's limit of "
                            f"{limit:,} bytes", code="request_too_large", headers=CLOSE)
    try:
        raw = await asyncio.wait_for(_read(request, limit), timeout)
    except asyncio.TimeoutError:
        raise ApiError(408, f"the request body took over {timeout:g} s to arrive", code="request_timeout",
                       headers=CLOSE) from None
    except ClientDisconnect:  # the client is gone: nobody reads this reply, and it is no server failure
        raise ApiError(499, "the client closed the connection before sending the whole body",
                       code="client_closed_request") from None
    return loads(raw)
