"""Live runs stop soon, with a clear error, when the server does not answer at all; HTTP errors never stop them."""
import json
import os
import socket
import subprocess
import sys
import time
from http.server import ThreadingHTTPServer

import fake_openai
import pytest
from conftest import REPO, SECRET
from fake_openai import FakeOpenAIServer, error_body

from routerlib.backends import Request
from routerlib.backends.live import OpenAIBackend, ServerUnreachableError
from routerlib.backends.runlog import RunLog
from routerlib.catalog import Catalog
from routerlib.fifty_queries import run_exercise
from routerlib.queries import Query, load_queries

REQUESTS = [Request.ask("gpt-4o", Query(f"q{i}", f"question {i}")) for i in range(10)]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_on(port, monkeypatch, **kw) -> FakeOpenAIServer:
    """A fake server that will listen on this port when started."""
    monkeypatch.setattr(fake_openai, "ThreadingHTTPServer",
                        lambda _, handler: ThreadingHTTPServer(("127.0.0.1", port), handler))
    return FakeOpenAIServer(**kw)


def backend_at(port, **kw) -> OpenAIBackend:
    return OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=f"http://127.0.0.1:{port}/v1", **kw)


def read_jsonl(path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_closed_port_stops_the_batch_naming_the_url(tmp_path):
    port, log = closed_port(), tmp_path / "run.jsonl"
    start = time.perf_counter()
    with pytest.raises(ServerUnreachableError, match=f"http://127.0.0.1:{port}/v1") as caught:
        backend_at(port, run_log=log).complete_many(REQUESTS, progress=False)  # default retries and backoff
    assert time.perf_counter() - start < 20  # about 3 s: three calls, each retried with backoff
    assert "Connection refused" in str(caught.value) and "OPENAI_BASE_URL" in str(caught.value)
    records = read_jsonl(log)
    assert 3 <= len(records) < len(REQUESTS) and all(r["error"] for r in records)


def test_stopped_run_resumes_once_the_server_answers(tmp_path, monkeypatch):
    port, log = closed_port(), tmp_path / "run.jsonl"
    with server_on(port, monkeypatch):
        backend_at(port, run_log=log).complete_many(REQUESTS[:4], progress=False)
    with pytest.raises(ServerUnreachableError):
        backend_at(port, run_log=log, backoff_base=0.01).complete_many(REQUESTS, progress=False)
    assert RunLog(log).bad_lines == 0 and len(read_jsonl(log)) > 4
    with server_on(port, monkeypatch) as srv:
        again = backend_at(port, run_log=log).complete_many(REQUESTS, progress=False)
        assert all(c.ok for c in again) and sum(c.from_log for c in again) == 4
        assert srv.count() == 6  # only the calls not finished before


def test_an_answer_resets_the_count(tmp_path, monkeypatch):
    port = closed_port()
    backend = backend_at(port, max_retries=0, unreachable_after=3)
    assert not any(c.ok for c in backend.complete_many(REQUESTS[:2], progress=False))
    with server_on(port, monkeypatch):
        assert backend.complete_many(REQUESTS[2:3], progress=False)[0].ok
    assert not any(c.ok for c in backend.complete_many(REQUESTS[3:5], progress=False))  # 2 in a row, not 4
    with pytest.raises(ServerUnreachableError, match="3 calls in a row"):
        backend.complete_many(REQUESTS[5:6], progress=False)


def test_http_errors_never_stop_a_batch():
    with FakeOpenAIServer(default="500") as srv:
        backend = OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=srv.base_url, max_retries=0)
        done = backend.complete_many(REQUESTS, progress=False)
    assert all("InternalServerError" in c.error for c in done) and srv.count() == len(REQUESTS)


class FailsOneQuery(FakeOpenAIServer):
    """Answers HTTP 500 to every call about one query and normally to the rest."""

    failing = load_queries()[0].text

    def chat(self, body, headers=None):
        if body["messages"][-1]["content"] == self.failing:
            return 500, error_body("This query fails (fake).", "server_error"), {}
        return super().chat(body, headers)


def test_a_query_answered_with_http_500_stays_a_per_query_failure(tmp_path):
    with FailsOneQuery() as srv:
        backend = OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=srv.base_url, max_retries=1,
                                backoff_base=0.001, concurrency=1, unreachable_after=1)
        s = run_exercise("rules", backend=backend, progress=False).summary
    assert s["failed_calls"] == 3 and s["unanswered"] == 1 and srv.count() == 150 + 3


def test_cli_live_run_against_a_closed_port_exits_non_zero_naming_the_url(tmp_path):
    url, log = f"http://127.0.0.1:{closed_port()}/v1", tmp_path / "run.jsonl"
    env = {**os.environ, "OPENAI_BASE_URL": url, "OPENAI_API_KEY": "test-key", "ROUTERLIB_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "routerlib", "exercise", "--live", "--quiet", "--run-log", str(log)],
                          check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and url in done.stderr and "Traceback" not in done.stderr
    assert "partial" in done.stderr and "0 call(s) finished" in done.stderr and "Savings factor" not in done.stdout
    assert RunLog(log).bad_lines == 0 and all(r["error"] for r in read_jsonl(log))
