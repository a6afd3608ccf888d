"""A tiny fake OpenAI-compatible chat-completions server for offline tests (stdlib only).

    with FakeOpenAIServer({"cheap": "ok", "strong": "429-once"}) as srv:
        client = OpenAI(base_url=srv.base_url, api_key="test")
        ...
        assert srv.count("strong") == 2

Behaviour specs (chosen per requested model via ``srv.behaviours``, else ``srv.default``):
"ok", "router-json", "router-bad", "429-once", "500", "slow", "invalid-json", "truncated" (finish_reason length),
"fail-rate:<p>[:<behaviour otherwise>]",
"401-echo" (a 401 whose message repeats the bearer token, as some servers do, to test redaction).
Streaming (``"stream": true``) is not supported.
"""
import itertools
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
MODELS_PATHS = ("/v1/models", "/models")


def error_body(message, type_="invalid_request_error", code=None):
    """Build an OpenAI-style error body."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _text(content):
    """Flatten message content (a string or a list of {"type": "text", "text": ...} parts) to text."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


class FakeOpenAIServer:
    """Fake OpenAI server on 127.0.0.1 whose per-model behaviour is set in ``behaviours``."""

    def __init__(self, behaviours=None, default="ok", router_rating="hard", slow_seconds=3.0, seed=0):
        self.behaviours = dict(behaviours or {})  # model name -> behaviour spec
        self.default = default  # spec for models not in `behaviours`
        self.router_rating = router_rating  # difficulty returned by "router-json"
        self.slow_seconds = slow_seconds  # delay used by "slow"
        self.seed = seed  # seed for "fail-rate:<p>"
        self.logprob = {}  # model -> log-probability reported for every token when the client asks
        self.requests = []  # one dict per request received
        self.in_flight = 0  # chat requests being answered now
        self.peak_in_flight = 0  # the most answered at once
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rate_limited = set()  # models that already got their "429-once"
        self._ids = itertools.count(1)
        self._rng = None
        self._httpd = None
        self._thread = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self):
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # daemon handler threads
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Wake any sleeping handlers and shut the server down."""
        self._stop.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def __repr__(self):
        where = self.base_url if self._httpd else "not started"
        return f"<FakeOpenAIServer {where} requests={self.count()} behaviours={self.behaviours!r}>"

    # -- inspection ----------------------------------------------------------------
    def count(self, model=None):
        """Number of requests received, optionally only those for `model`."""
        with self._lock:
            return sum(1 for r in self.requests if model is None or r["model"] == model)

    def _record(self, **request):
        with self._lock:
            self.requests.append(request)
        return request

    # -- behaviour -------------------------------------------------------------------
    def chat(self, body, headers=None):
        """Return (status, payload, extra_headers) for a chat request, or None when shutting down."""
        model = body["model"]
        spec = self.behaviours.get(model, self.default)
        content = None
        if spec == "429-once":
            with self._lock:
                first = model not in self._rate_limited
                self._rate_limited.add(model)
            if first:
                err = error_body(f"Rate limit reached for {model} (fake).", "rate_limit_error", "rate_limit_exceeded")
                return 429, err, {"Retry-After": "0.2"}
        elif spec == "401-echo":
            token = (headers or {}).get("authorization", "").removeprefix("Bearer ")
            return 401, error_body(f"Incorrect API key provided: {token}.", code="invalid_api_key"), {}
        elif spec == "500":
            return 500, error_body("The server had an error (fake).", "server_error"), {}
        elif spec == "slow":
            if self._stop.wait(self.slow_seconds):  # returns early if the server is stopping
                return None
        elif spec == "invalid-json":
            return 200, b'{"choices": [', {}
        if spec in ("429-once", "slow"):  # past their first effect these answer normally
            spec = "ok"
        if spec.startswith("fail-rate:"):  # "fail-rate:<p>[:<behaviour when not failing>]"
            _, p, *then = spec.split(":", 2)
            with self._lock:
                self._rng = self._rng or random.Random(self.seed)
                fail = self._rng.random() < float(p)
            if fail:
                return 500, error_body("Random failure (fake).", "server_error"), {}
            spec = then[0] if then else "ok"
        if spec == "truncated":
            reply = self.completion(model, body.get("messages") or [], "This answer stops in the mid")
            reply["choices"][0]["finish_reason"] = "length"
            return 200, reply, {}
        if spec == "router-json":
            content = f'Sure! ```json\n{{"difficulty": "{self.router_rating}"}}\n```'
        elif spec == "router-bad":
            content = "I think this one is kind of tricky."
        elif spec != "ok":
            return 500, error_body(f"Unknown fake behaviour {spec!r}.", "server_error"), {}
        reply = self.completion(model, body.get("messages") or [], content)
        if body.get("logprobs"):
            words = reply["choices"][0]["message"]["content"].split()
            lp = self.logprob.get(model, -0.05)
            reply["choices"][0]["logprobs"] = {"content": [
                {"token": w, "logprob": lp, "bytes": None, "top_logprobs": []} for w in words]}
        return 200, reply, {}

    def completion(self, model, messages, content=None):
        """Build a chat.completion response; default content echoes the last user message."""
        texts = [_text(m.get("content")) for m in messages if isinstance(m, dict)]
        if content is None:
            users = [_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            content = f"Answer from {model}: {(users[-1] if users else '')[:40]}"
        prompt_tokens = max(1, sum(len(t.split()) for t in texts))
        completion_tokens = max(1, len(content.split()))
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


class _Handler(BaseHTTPRequestHandler):
    """Request handler; `fake` is bound to the owning FakeOpenAIServer by start()."""

    fake = None

    def log_message(self, *args):
        """Keep test output quiet."""

    def do_GET(self):
        rec = self.fake._record(model=None, path=self.path, headers=self._headers(), body=None, status=None)
        if self.path.split("?")[0] in MODELS_PATHS:
            names = sorted(self.fake.behaviours)
            self._send(rec, 200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]})
        else:
            self._send(rec, 404, error_body(f"Unknown path {self.path}", code="not_found"))

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        model = body.get("model") if isinstance(body, dict) else None
        rec = self.fake._record(model=model, path=self.path, headers=self._headers(), body=body, status=None)
        if self.path.split("?")[0] not in CHAT_PATHS:
            return self._send(rec, 404, error_body(f"Unknown path {self.path}", code="not_found"))
        if not isinstance(body, dict) or not isinstance(model, str):
            return self._send(rec, 400, error_body("Request body must be a JSON object with a 'model'."))
        with self.fake._lock:
            self.fake.in_flight += 1
            self.fake.peak_in_flight = max(self.fake.peak_in_flight, self.fake.in_flight)
        try:
            result = self.fake.chat(body, self._headers())
        finally:
            with self.fake._lock:
                self.fake.in_flight -= 1
        if result is not None:
            self._send(rec, *result)

    def _headers(self):
        """Request headers with lower-case names (clients differ in how they spell them)."""
        return {k.lower(): v for k, v in self.headers.items()}

    def _send(self, rec, status, payload, headers=None):
        """Write a JSON response (payload is a dict, or raw bytes) and note its status."""
        rec["status"] = status
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # client gave up (e.g. timed out)
            pass
