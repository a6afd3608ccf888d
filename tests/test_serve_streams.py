"""Streams that end early: clients that drop live or simulated streams, and upstreams that stop mid-answer."""
import dataclasses
import inspect
import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from pathlib import Path

import openai
import pytest
import test_serve
from fake_openai import FakeOpenAIServer, _Handler
from test_serve import EASY, ask, config, live, serving

from routerlib.backends.runlog import RunLog
from routerlib.backends.simulated import SimulatedBackend

router_files = test_serve.router_files  # the fixture with the saved routers

WORDS = 3000  # a "drip" answer: this many one-word chunks, `gap` seconds apart (half a minute: never done in a test)


class DripFake(FakeOpenAIServer):
    """A live upstream that streams a long answer slowly ("drip"), or stops after five words ("drip-cut")."""

    def __init__(self, default="drip", gap=0.01, **kw):
        super().__init__(default=default, **kw)
        self.gap = gap
        self.open_streams = self.dropped = 0  # answers being streamed now; streams whose reader (the router) left

    def start(self):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_DripHandler,), {"fake": self}))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def chat(self, body, headers=None):
        spec = self.behaviours.get(body["model"], self.default)
        if not body.get("stream") or spec not in ("drip", "drip-cut"):
            return super().chat(body, headers)
        return 200, self.events(body["model"], spec, (body.get("stream_options") or {}).get("include_usage")), {}

    def events(self, model, spec, usage):
        """The SSE bytes of the answer, one event at a time; stops early when the server stops."""
        base = {"id": "chatcmpl-drip", "object": "chat.completion.chunk", "created": 0, "model": model}

        def event(**fields):
            return f"data: {json.dumps(base | fields)}\n\n".encode()

        def delta(d, finish=None):
            return event(choices=[{"index": 0, "delta": d, "finish_reason": finish}])

        yield delta({"role": "assistant", "content": ""})
        words = 5 if spec == "drip-cut" else WORDS
        for i in range(words):
            if self._stop.wait(self.gap):
                return
            yield delta({"content": f"w{i} "})
        if spec == "drip-cut":
            return  # the connection closes with no finish_reason and no [DONE]
        yield delta({}, "stop")
        if usage:
            yield event(choices=[], usage={"prompt_tokens": 9, "completion_tokens": words, "total_tokens": 9 + words})
        yield b"data: [DONE]\n\n"


class _DripHandler(_Handler):
    """Writes a generator payload as a stream (HTTP/1.0: the body ends when the connection closes)."""

    def _send(self, rec, status, payload, headers=None):
        if not inspect.isgenerator(payload):
            return super()._send(rec, status, payload, headers)
        rec["status"], fake = status, self.fake
        with fake._lock:
            fake.open_streams += 1
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in payload:
                self.wfile.write(piece)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            with fake._lock:
                fake.dropped += 1
        finally:
            with fake._lock:
                fake.open_streams -= 1


def drop_after(port, events=3, text=EASY):
    """A client that reads a few events of a stream, then closes its socket: (request id, the text it got)."""
    body = json.dumps({"model": "router-rules", "messages": ask(text), "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        data = b""
        while len(re.findall(rb"data: (\{.*?\})\n\n", data)) < events:
            more = s.recv(65536)
            assert more, f"the server ended the stream early: {data[-300:]!r}"
            data += more
    request_id = re.search(rb"x-request-id: (\S+)", data, re.IGNORECASE).group(1).decode()
    got = [json.loads(e) for e in re.findall(rb"data: (\{.*?\})\n\n", data)]
    return request_id, "".join(c["choices"][0]["delta"].get("content") or "" for c in got if c.get("choices"))


def upstream_sockets(port) -> int:
    """Open TCP connections (established, or closed by the peer only) from anyone in this host to `port`."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        remote, state = line.split()[2:4]
        count += int(remote.split(":")[1], 16) == port and state in ("01", "08")
    return count


def until(check, timeout=15.0) -> bool:
    """Poll `check` until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def logged(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_dropped_live_streams_are_logged_counted_and_closed_upstream(router_files, tmp_path):
    path = tmp_path / "serve.jsonl"
    with DripFake() as fake, serving(config(router_files, tmp_path), live(fake)) as srv:
        clients = [drop_after(srv.port) for _ in range(5)]  # five clients drop their streams one after another
        assert until(lambda: logged(path) == 5 and fake.open_streams == 0 and upstream_sockets(fake.port) == 0), (
            f"{logged(path)} of 5 dropped streams logged, {fake.open_streams} upstream streams still open, "
            f"{upstream_sockets(fake.port)} sockets")
        with ThreadPoolExecutor(20) as pool:  # then twenty at once
            clients += list(pool.map(lambda _: drop_after(srv.port, events=4), range(20)))
        assert until(lambda: logged(path) == 25 and fake.open_streams == 0 and upstream_sockets(fake.port) == 0), (
            f"{logged(path)} of 25 dropped streams logged, {fake.open_streams} upstream streams still open, "
            f"{upstream_sockets(fake.port)} sockets")
        m = srv.http.get("/metrics").json()
    records = {r["key"]: r for r in RunLog(path).records}
    assert sorted(records) == sorted(key for key, _ in clients) and fake.dropped == 25  # none ran to its end
    for key, got in clients:
        rec = records[key]
        assert (rec["error"], rec["status"], rec["stream"], rec["finish_reason"]) == (
            "client disconnected", 200, True, None)
        assert got.startswith("w0 ") and rec["text"].startswith(got)  # the tokens relayed so far, at least
        assert rec["completion_tokens"] >= len(got.split()) and rec["cost_usd"] > 0
    assert m["requests"] == m["streamed"] == m["streams_cut_short"] == 25 and m["answered"] == 0
    assert m["status_counts"] == {"200": 25} and m["cost_usd"] == pytest.approx(
        sum(r["cost_usd"] for r in records.values()))


def test_a_truncated_upstream_stream_is_logged_and_reported_cut_short(router_files, tmp_path):
    with DripFake(default="drip-cut", gap=0) as fake, serving(config(router_files, tmp_path), live(fake)) as srv:
        with pytest.raises(openai.APIError, match="finish_reason"):  # the client is told; no clean end
            list(srv.client.chat.completions.create(model="router-rules", messages=ask(EASY), stream=True))
        r = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask(EASY), "stream": True})
        m = srv.http.get("/metrics").json()
    assert r.status_code == 200 and "upstream_stream_truncated" in r.text and "[DONE]" not in r.text
    assert '"finish_reason": "stop"' not in r.text
    records = RunLog(tmp_path / "serve.jsonl").records
    assert len(records) == 2 and fake.dropped == 0
    for rec in records:
        assert rec["text"] == "w0 w1 w2 w3 w4 " and rec["completion_tokens"] > 0 and rec["cost_usd"] > 0
        assert "finish_reason" in rec["error"] and rec["status"] == 200 and rec["finish_reason"] is None
    assert m["streams_cut_short"] == 2 and m["answered"] == 0


class LongWinded(SimulatedBackend):
    """Simulated answers, far longer than any socket buffer when the prompt asks for an essay."""

    def complete(self, request):
        c = super().complete(request)
        return dataclasses.replace(c, text=c.text + " more" * 100_000) if "essay" in request.query.text else c


def test_a_simulated_stream_cut_short_by_its_client_is_logged_as_such(router_files, tmp_path):
    path = tmp_path / "serve.jsonl"
    with serving(config(router_files, tmp_path), LongWinded()) as srv:
        chunks = list(srv.client.chat.completions.create(model="router-rules", messages=ask(EASY), stream=True))
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert until(lambda: logged(path) == 1)
        key, got = drop_after(srv.port, events=2, text="Write an essay on the capital of France.")
        assert until(lambda: logged(path) == 2), f"{logged(path)} of 2 streams logged"
        m = srv.http.get("/metrics").json()
    done, dropped = RunLog(path).records
    assert done["error"] is None and done["stream"] and done["status"] == 200
    assert dropped["key"] == key and dropped["error"] == "client disconnected" and dropped["status"] == 200
    assert dropped["text"].startswith(got) and dropped["completion_tokens"] > 0  # the whole answer was paid for
    assert m["requests"] == 2 and m["answered"] == 1 and m["streams_cut_short"] == 1
