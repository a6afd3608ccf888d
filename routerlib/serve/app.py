"""An OpenAI-compatible HTTP server (Starlette + uvicorn) that routes each chat request with a saved router.

    python -m routerlib serve --config serve.json [--host 127.0.0.1] [--port 8000]

Endpoints: POST /v1/chat/completions (the model name picks a router alias), GET /v1/models,
GET /metrics (traffic mix, cost per 1k requests, errors, failure-mode monitors), GET /health.
Every error is an OpenAI-style body; stack traces stay in the server log.
"""
from __future__ import annotations

import hmac
import json
import logging
import threading
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from .config import ServeConfig
from .service import ApiError, Chat, RoutingService
from .stream import StreamRelay, text_events

log = logging.getLogger("routerlib.serve")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def error_response(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), e.status, headers=e.headers)


def _text(content, i: int) -> str:
    """Message content as text: a string, or a list of {"type": "text", "text": ...} parts."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return " ".join(p["text"] for p in content if p.get("type") == "text" and isinstance(p.get("text"), str))
    raise ApiError(400, f"messages[{i}].content must be a string or a list of content parts", param=f"messages[{i}]")


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
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "'stream_options' must be an object", param="stream_options")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ApiError(400, "'max_tokens' must be a whole number of at least 1", param="max_tokens")
    if body.get("n", 1) != 1:
        raise ApiError(400, "only n=1 is supported", param="n")
    return Chat(model, tuple(messages), user, stream, bool(options.get("include_usage")), max_tokens,
                sampling_options(body))


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# sampling options passed to the upstream model, with the check each value must pass
SAMPLING = {
    "temperature": (_number, "a number"), "top_p": (_number, "a number"),
    "presence_penalty": (_number, "a number"), "frequency_penalty": (_number, "a number"),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
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


async def read_body(request: Request, limit: int):
    """The request body as JSON, refusing bodies over `limit` bytes (413) and bad JSON (400)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body is {int(declared):,} bytes, over this server's limit of {limit:,}",
                       code="request_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is over this server's limit of {limit:,} bytes", code="request_too_large")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\ud800) parses but cannot be logged
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f"the request body is not valid JSON: {e}") from None
    except UnicodeEncodeError:
        raise ApiError(400, "the request body has an unpaired UTF-16 surrogate escape; send valid Unicode") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    return body


def completion_body(served, mode: str) -> dict:
    c = served.completion
    return {"id": served.id, "object": "chat.completion", "created": int(time.time()), "model": served.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text},
                         "finish_reason": (c.extra or {}).get("finish_reason") or "stop"}],
            "usage": {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                      "total_tokens": c.prompt_tokens + c.completion_tokens},
            "routerlib": served.info(mode)}


def create_app(config, backend=None) -> Starlette:
    """The Starlette app for a ServeConfig (or a config file path); `backend` overrides the upstream (tests)."""
    config = config if isinstance(config, ServeConfig) else ServeConfig.from_file(config)
    service = RoutingService(config, backend)

    def authorize(request: Request):
        if service.token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {service.token}".encode()):
            raise ApiError(401, "missing or wrong bearer token; send Authorization: Bearer <token> "
                                f"(the server's token is in ${config.auth_token_env})", code="invalid_api_key")

    def guarded(handler):
        async def endpoint(request: Request):
            try:
                authorize(request)
                return await handler(request)
            except ApiError as e:
                if e.status < 500:
                    service.traffic.rejected(e.status)
                return error_response(e)
            except Exception:  # a bug: the client gets a plain 500, the server log gets the traceback
                log.exception("unhandled error serving %s %s", request.method, request.url.path)
                service.traffic.rejected(500)
                return error_response(ApiError(500, "internal error in the router server; see its log",
                                               "server_error", "internal_error"))
        return endpoint

    async def chat(request: Request):
        chat = parse_chat(await read_body(request, config.max_body_bytes))
        tuned = service.resolve(chat.model)[1]  # an unknown alias fails before any work
        if chat.stream and service.mode == "live" and not tuned.answers_while_routing:  # pass the upstream stream through
            relay = await run_in_threadpool(StreamRelay, service, chat)
            return StreamingResponse(iter(relay), media_type="text/event-stream",
                                     headers=relay.served.headers(service.mode))
        served = await run_in_threadpool(service.answer, chat)
        headers = served.headers(service.mode)
        headers["x-routerlib-cost-usd"] = f"{served.completion.cost_usd:.8f}"
        if chat.stream:
            return StreamingResponse(text_events(served, chat, service.mode), media_type="text/event-stream",
                                     headers=headers)
        return JSONResponse(completion_body(served, service.mode), headers=headers)

    async def models(request: Request):
        return JSONResponse({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "routerlib",
             "routerlib": {"router": t.name, "tiers": t.tier_models(), "thresholds": t.thresholds}}
            for name, t in service.routers.items()]})

    async def metrics(request: Request):
        return JSONResponse(await run_in_threadpool(service.traffic.metrics))

    async def health(request: Request):
        return JSONResponse({"status": "ok", "upstream": service.mode})

    async def not_found(request: Request, exc: HTTPException):
        e = ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}; this server has "
                                      "POST /v1/chat/completions, GET /v1/models, GET /metrics and GET /health",
                     code="not_found" if exc.status_code == 404 else "method_not_allowed")
        service.traffic.rejected(e.status)
        return error_response(e)

    app = Starlette(routes=[Route("/v1/chat/completions", guarded(chat), methods=["POST"]),
                            Route("/v1/models", guarded(models), methods=["GET"]),
                            Route("/metrics", guarded(metrics), methods=["GET"]),
                            Route("/health", health, methods=["GET"])],
                    exception_handlers={HTTPException: not_found})
    app.state.service = service
    return app


class ServerThread:
    """Serve an app with uvicorn on 127.0.0.1 (a free port) in a background thread: for tests and notebooks."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import uvicorn
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.time() > deadline:
                raise RuntimeError("the router server did not start; see the log above")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"ServerThread({self.base_url if self.server.started else 'not started'})"


def run(config_path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted (what `python -m routerlib serve` runs)."""
    import uvicorn
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(config_path)
    service = app.state.service
    if host not in ("127.0.0.1", "localhost", "::1") and service.token is None:
        log.warning("listening on %s without a client token: anyone who can reach it spends your upstream budget; "
                    "set auth_token_env in the config", host)
    print(f"routerlib serve: http://{host}:{port}/v1  aliases {list(service.routers)}  upstream {service.mode}"
          f"{' (SIMULATED answers)' if service.mode == 'simulated' else ''}  run log {service.log.path}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
