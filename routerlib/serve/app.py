"""An OpenAI-compatible HTTP server (Starlette + uvicorn) that routes each chat request with a saved router.

    python -m routerlib serve --config serve.json [--host 127.0.0.1] [--port 8000]

Endpoints: POST /v1/chat/completions (the model name picks a router alias), GET /v1/models,
GET /metrics (traffic mix, cost per 1k requests, errors, failure-mode monitors), GET /health.
Every error is an OpenAI-style body; stack traces stay in the server log.
"""
from __future__ import annotations

import hmac
import logging
import threading
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .config import ServeConfig
from .service import ApiError, RoutingService
from .stream import EventStream, StreamRelay, TextStream
from .validate import parse_chat, read_body

log = logging.getLogger("routerlib.serve")


def error_response(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), e.status, headers=e.headers)


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
        scheme, _, given = request.headers.get("authorization", "").partition(" ")  # the scheme is case-insensitive
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), service.token.encode()):
            raise ApiError(401, "missing or wrong bearer token; send Authorization: Bearer <token> "
                                f"(the server's token is in ${config.auth_token_env})", code="invalid_api_key",
                           headers={"www-authenticate": "Bearer"})

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
        chat = parse_chat(await read_body(request, config.max_body_bytes, config.read_timeout_s))
        tuned = service.resolve(chat.model)[1]  # an unknown alias fails before any work
        if chat.stream and service.mode == "live" and not tuned.answers_while_routing:  # pass the upstream stream through
            relay = await run_in_threadpool(StreamRelay, service, chat)
            return EventStream(relay, relay.served.headers(service.mode))  # closes the upstream and logs at the end
        served = await run_in_threadpool(service.answer, chat)
        headers = served.headers(service.mode)
        headers["x-routerlib-cost-usd"] = f"{served.completion.cost_usd:.8f}"
        if chat.stream:
            return EventStream(TextStream(service, chat, served), headers)  # logged once sent, or cut short
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


def _protocol(timeout: float):
    """uvicorn's h11 protocol, closing a connection whose next request's headers take over `timeout` s to arrive."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        headers_due = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._expect_headers()

        def on_response_complete(self):
            super().on_response_complete()
            self._expect_headers()

        def connection_lost(self, exc):
            if self.headers_due:
                self.headers_due.cancel()
            super().connection_lost(exc)

        def _expect_headers(self):
            if self.headers_due:
                self.headers_due.cancel()
            self.headers_due = self.loop.call_later(timeout, self._headers_late)

        def _headers_late(self):
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():  # no request begun in time
                self.transport.close()

    return Protocol


def server_config(app, host: str, port: int):
    """uvicorn settings: slow headers or bodies time out, idle keep-alive ends after 5 s, at most 16 KB of headers."""
    import uvicorn
    timeout = app.state.service.config.read_timeout_s
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, http=_protocol(timeout),
                          timeout_keep_alive=5, h11_max_incomplete_event_size=16 * 1024, limit_concurrency=1000)


class ServerThread:
    """Serve an app with uvicorn on 127.0.0.1 (a free port) in a background thread: for tests and notebooks."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import uvicorn
        self.server = uvicorn.Server(server_config(app, host, port))
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
    uvicorn.Server(server_config(app, host, port)).run()
