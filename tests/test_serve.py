"""The router server for real: uvicorn on 127.0.0.1, the openai client, simulated and fault-injecting upstreams."""
import contextlib
import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import openai
import pytest
from conftest import REPO, SECRET
from fake_openai import FakeOpenAIServer
from test_saved_routers import toy_table

from routerlib.backends.live import OpenAIBackend
from routerlib.backends.runlog import RunLog
from routerlib.backends.simulated import SimulatedBackend
from routerlib.catalog import Catalog
from routerlib.queries import load_queries
from routerlib.routers.cascade import CascadeRouter, HeuristicScorer
from routerlib.routers.classifier import ClassifierRouter
from routerlib.routers.llm import LLMRouter
from routerlib.routers.rules import RuleRouter
from routerlib.routers.saved import save_router
from routerlib.serve import ServerThread, create_app
from routerlib.serve.config import ConfigError, ServeConfig
from routerlib.serve.stats import ServeLog

HARD = "Prove that there are infinitely many prime numbers."
EASY = "What is the capital of France?"


def ask(text):
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def router_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("routers")
    save_router(ClassifierRouter().fit(toy_table()), d / "clf.json", thresholds=[0.5, 0.5])
    save_router(RuleRouter(), d / "rules.json")
    save_router(CascadeRouter(HeuristicScorer(), 0.5), d / "cascade.json")
    save_router(LLMRouter(SimulatedBackend(), fallback_tier="mid"), d / "llm.json")
    return d


def config(router_files, tmp_path, **extra):
    routers = {f"router-{k}": {"file": str(router_files / f"{k}.json")} for k in ("clf", "rules", "cascade", "llm")}
    return ServeConfig.from_dict({"routers": routers, "run_log": str(tmp_path / "serve.jsonl"), **extra})


@contextlib.contextmanager
def serving(cfg, backend=None):
    with ServerThread(create_app(cfg, backend)) as srv:
        srv.client = openai.OpenAI(base_url=srv.base_url, api_key="client-token", max_retries=0)
        srv.http = httpx2.Client(base_url=srv.base_url.removesuffix("/v1"), timeout=10)
        yield srv
        srv.http.close()


def live(fake, **kw):
    kw = {"backoff_base": 0.01, "timeout": 5.0, **kw}
    return OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=fake.base_url, **kw)


class StreamingFake(FakeOpenAIServer):
    """The fault-injecting fake plus SSE streaming (3-character pieces) and 'echo-key' (answers with its key)."""

    def chat(self, body, headers=None):
        spec = self.behaviours.get(body["model"], self.default)
        if spec == "echo-key":
            token = (headers or {}).get("authorization", "").removeprefix("Bearer ")
            result = 200, self.completion(body["model"], body["messages"], f"your key is {token} and more"), {}
        elif spec == "stream-break":  # a few chunks, then a broken event: the upstream fails mid-stream
            result = 200, self.completion(body["model"], body["messages"], "the start of an answer that breaks"), {}
        else:
            result = super().chat(body, headers)
        if not body.get("stream") or result is None or result[0] != 200 or isinstance(result[1], bytes):
            return result
        reply = result[1]
        text = reply["choices"][0]["message"]["content"]
        base = {k: reply[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        events = [base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
        events += [base | {"choices": [{"index": 0, "delta": {"content": text[i:i + 3]}}]} for i in range(0, len(text), 3)]
        events.append(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(base | {"choices": [], "usage": reply["usage"]})
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode()
        if spec == "stream-break":
            return 200, b"\n\n".join(sse.split(b"\n\n")[:3]) + b"\n\ndata: {broken\n\n", {}
        return 200, sse + b"data: [DONE]\n\n", {}


def test_plain_and_streaming_answers_through_the_openai_client(router_files, tmp_path):
    with serving(config(router_files, tmp_path)) as srv:
        raw = srv.client.chat.completions.with_raw_response.create(model="router-clf", messages=ask(HARD))
        r = raw.parse()
        info = r.model_extra["routerlib"]
        assert info["alias"] == "router-clf" and info["router"] == "classifier" and info["simulated"] is True
        assert r.model == info["model"] == Catalog.load().tiers[info["tier"]] and "simulated answer" in r.choices[0].message.content
        assert raw.headers["x-routerlib-model"] == r.model and raw.headers["x-routerlib-tier"] == info["tier"]
        assert raw.headers["x-routerlib-simulated"] == "true" and float(raw.headers["x-routerlib-router-cost-usd"]) == 0
        model = Catalog.load().get(r.model)
        assert info["cost_usd"] == pytest.approx(model.cost(r.usage.prompt_tokens, r.usage.completion_tokens))

        chunks = list(srv.client.chat.completions.create(model="router-clf", messages=ask(HARD), stream=True,
                                                         stream_options={"include_usage": True}))
        assert all(c.object == "chat.completion.chunk" for c in chunks) and len(chunks) >= 4
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == r.choices[0].message.content  # the same simulated answer, chunked
        assert chunks[-1].usage.completion_tokens == r.usage.completion_tokens
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"

        for alias in ("router-rules", "router-cascade", "router-llm"):
            got = srv.client.chat.completions.create(model=alias, messages=ask(EASY))
            assert got.model_extra["routerlib"]["router"] == alias.split("-")[1].replace("clf", "classifier")
        metrics = srv.http.get("/metrics").json()
    records = RunLog(tmp_path / "serve.jsonl").records
    assert [r["alias"] for r in records] == ["router-clf", "router-clf", "router-rules", "router-cascade", "router-llm"]
    assert [r["stream"] for r in records] == [False, True, False, False, False]
    assert records[0]["tier"] == info["tier"] and records[0]["cost_usd"] == info["cost_usd"]
    assert all(r["simulated"] and r["status"] == 200 and r["error"] is None for r in records)
    assert metrics["requests"] == metrics["answered"] == 5 and metrics["streamed"] == 1
    assert metrics["upstream"] == {"mode": "simulated", "simulated": True} and metrics["simulated_answers"] == 5


def test_metrics_give_mix_cost_per_1k_and_monitor_alerts(router_files, tmp_path):
    queries = load_queries()[:40]
    with serving(config(router_files, tmp_path)) as srv:
        for q in queries:
            srv.client.chat.completions.create(model="router-rules", messages=ask(q.text))
        m = srv.http.get("/metrics").json()
    records = RunLog(tmp_path / "serve.jsonl").records
    tiers = [r["tier"] for r in records]
    assert m["requests_per_tier"] == {t: tiers.count(t) for t in set(tiers)}
    assert m["traffic_mix"] == pytest.approx({t: tiers.count(t) / 40 for t in set(tiers)})
    total = sum(r["cost_usd"] for r in records)
    assert m["cost_per_1k_requests_usd"] == pytest.approx(total / 40 * 1000) and m["cost_usd"] == pytest.approx(total)
    assert m["monitors"]["window"] == 40
    over = tiers.count("expensive") / 40 > 0.10  # the over-routing monitor's limit: 5% target + 5 points slack
    assert over and any(a["monitor"] == "over-routing" for a in m["monitors"]["alerts"])
    assert m["monitors"]["healthy"] is False and m["latency_ms"]["p99"] > 0


def test_bad_requests_get_4xx_openai_errors_and_the_server_keeps_serving(router_files, tmp_path):
    good = {"model": "router-rules", "messages": ask(EASY)}
    bad = [
        (400, {"model": "router-rules"}, "messages"),
        (400, {"model": "router-rules", "messages": "hi"}, "messages"),
        (400, {"model": "router-rules", "messages": []}, "messages"),
        (400, {"model": "router-rules", "messages": [{"role": "user", "content": 7}]}, "messages[0]"),
        (400, {"model": "router-rules", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0]"),
        (400, {"model": "router-rules", "messages": [{"role": "system", "content": "only a system prompt"}]}, "messages"),
        (400, {**good, "stream": "yes"}, "stream"),
        (400, {**good, "max_tokens": -1}, "max_tokens"),
        (400, {**good, "n": 3}, "n"),
        (400, {"messages": ask(EASY)}, "model"),
        (400, {"model": 5, "messages": ask(EASY)}, "model"),
        (400, [1, 2], None),
        (404, {"model": "gpt-4o", "messages": ask(EASY)}, "model"),
        (400, {"model": "router-clf:2.0", "messages": ask(EASY)}, "model"),
        (400, {"model": "router-rules", "messages": ask("x" * 300_000)}, "messages"),
    ]
    with serving(config(router_files, tmp_path, max_body_bytes=400_000)) as srv:
        for status, body, param in bad:
            r = srv.http.post("/v1/chat/completions", json=body)
            assert r.status_code == status, (body, r.text)
            err = r.json()["error"]
            assert set(err) == {"message", "type", "param", "code"} and err["param"] == param and err["message"]
            assert srv.http.post("/v1/chat/completions", json=good).status_code == 200
        typed = {"content-type": "application/json"}
        raw = [(400, lambda: srv.http.post("/v1/chat/completions", content=b"{not json", headers=typed)),
               (400, lambda: srv.http.post("/v1/chat/completions", content=b"\xff\xfe", headers=typed)),
               (400, lambda: srv.http.post("/v1/chat/completions", content=b"[" * 50_000 + b"]" * 50_000,
                                           headers=typed)),
               (400, lambda: srv.http.post("/v1/chat/completions", content=json.dumps(
                   {"model": "router-rules", "messages": ask("lone \ud800 surrogate")}).encode(), headers=typed)),
               (413, lambda: srv.http.post("/v1/chat/completions", content=b"x" * 500_000, headers=typed)),
               (415, lambda: srv.http.post("/v1/chat/completions", content=b"{}")),
               (404, lambda: srv.http.get("/v2/nothing")),
               (405, lambda: srv.http.get("/v1/chat/completions"))]
        for status, send in raw:
            r = send()
            assert r.status_code == status and r.json()["error"]["message"], r.text
            assert srv.http.post("/v1/chat/completions", json=good).status_code == 200
        with pytest.raises(openai.NotFoundError, match="router-clf"):  # the client sees the aliases it may use
            srv.client.chat.completions.create(model="router-unknown", messages=ask(EASY))
        m = srv.http.get("/metrics").json()
    assert m["answered"] == len(bad) + len(raw) and m["status_counts"]["404"] == 3 and m["status_counts"]["413"] == 1
    assert "500" not in m["status_counts"] and len(RunLog(tmp_path / "serve.jsonl").records) == m["answered"]


def test_bearer_token_is_required_when_configured(router_files, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_SERVE_TOKEN", "client-token")
    with serving(config(router_files, tmp_path, auth_token_env="TEST_SERVE_TOKEN")) as srv:
        assert srv.client.chat.completions.create(model="router-rules", messages=ask(EASY)).choices
        wrong = openai.OpenAI(base_url=srv.base_url, api_key="wrong", max_retries=0)
        for call in (lambda: wrong.chat.completions.create(model="router-rules", messages=ask(EASY)),
                     lambda: wrong.models.list()):
            with pytest.raises(openai.AuthenticationError, match="bearer token"):
                call()
        assert srv.http.get("/metrics").status_code == 401 and srv.http.get("/health").status_code == 200
    monkeypatch.delenv("TEST_SERVE_TOKEN")
    with pytest.raises(ConfigError, match="TEST_SERVE_TOKEN"):
        config(router_files, tmp_path, auth_token_env="TEST_SERVE_TOKEN").auth_token()


def test_a_bug_gives_a_plain_500_without_a_stack_trace(router_files, tmp_path, caplog):
    class Broken(SimulatedBackend):
        def complete(self, request):
            if "break" in request.messages[-1]["content"]:
                raise ZeroDivisionError("secret internals")
            return super().complete(request)

    with serving(config(router_files, tmp_path), Broken()) as srv:
        r = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask("please break")})
        assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
        assert "Traceback" not in r.text and "secret internals" not in r.text and "ZeroDivision" not in r.text
        assert srv.client.chat.completions.create(model="router-rules", messages=ask(EASY)).choices
    assert "ZeroDivisionError" in caplog.text  # the server log has it


def test_live_upstream_retries_falls_back_and_fails_cleanly(router_files, tmp_path):
    with FakeOpenAIServer() as fake, serving(config(router_files, tmp_path), live(fake, max_retries=1)) as srv:
        fake.behaviours["gpt-4o-mini"] = "500"  # EASY routes to cheap: it fails, the next tier up answers
        raw = srv.client.chat.completions.with_raw_response.create(model="router-rules", messages=ask(EASY))
        info = raw.parse().model_extra["routerlib"]
        assert (info["routed_tier"], info["tier"], info["fallback"]) == ("cheap", "mid", True)
        assert fake.count("gpt-4o-mini") == 2 and raw.headers["x-routerlib-simulated"] == "false"

        fake.behaviours["gpt-4o-mini"] = "429-once"
        r = srv.client.chat.completions.create(model="router-rules", messages=ask(EASY))
        assert r.model == "gpt-4o-mini" and not r.model_extra["routerlib"]["fallback"]

        fake.default = "500"
        fake.behaviours.clear()
        with pytest.raises(openai.APIStatusError) as e:
            srv.client.chat.completions.create(model="router-rules", messages=ask(EASY))
        assert e.value.status_code == 502 and "every tier failed" in e.value.message
        assert e.value.body["code"] == "upstream_failed" and "Traceback" not in str(e.value.body)
        assert e.value.body["type"] == "upstream_error" and fake.count() == 3 + 2 + 3 * 2  # then 3 tiers x 2 attempts
        fake.default = "ok"
        assert srv.client.chat.completions.create(model="router-rules", messages=ask(EASY)).choices
    records = RunLog(tmp_path / "serve.jsonl").records
    assert [r["status"] for r in records] == [200, 200, 502, 200]
    assert records[0]["fallback"] and "cheap (gpt-4o-mini): InternalServerError" in records[0]["upstream_errors"][0]
    assert records[1]["attempts"] == 2 and records[2]["error"] and records[2]["cost_usd"] == 0


def test_timeouts_everywhere_give_503(router_files, tmp_path):
    with FakeOpenAIServer(default="slow", slow_seconds=1.0) as fake, \
            serving(config(router_files, tmp_path), live(fake, max_retries=0, timeout=0.2)) as srv:
        r = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask(EASY)})
        assert r.status_code == 503 and r.json()["error"]["code"] == "upstream_unavailable"
        assert r.headers["retry-after"] == "1"


def test_live_streaming_passes_upstream_chunks_through(router_files, tmp_path):
    with StreamingFake() as fake, serving(config(router_files, tmp_path), live(fake)) as srv:
        stream = srv.client.chat.completions.create(model="router-rules", messages=ask(EASY), stream=True)
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert text == f"Answer from gpt-4o-mini: {EASY}"[:len(text)] and len(text) > 20
        assert len(chunks) >= len(text) // 3  # the upstream's own 3-character pieces came through
        assert chunks[0].model_extra["routerlib"]["tier"] == "cheap" and all(c.usage is None for c in chunks)
        fake.behaviours["gpt-4o-mini"] = "500"
        chunks = list(srv.client.chat.completions.create(model="router-rules", messages=ask(EASY), stream=True,
                                                         stream_options={"include_usage": True}))
        assert chunks[0].model == "gpt-4o" and chunks[-1].usage.prompt_tokens > 0  # fell back while opening
    records = RunLog(tmp_path / "serve.jsonl").records
    assert [(r["tier"], r["fallback"], r["stream"]) for r in records] == [("cheap", False, True), ("mid", True, True)]
    assert records[0]["text"] == text and records[1]["cost_usd"] == pytest.approx(
        Catalog.load().get("gpt-4o").cost(records[1]["prompt_tokens"], records[1]["completion_tokens"]))


def test_upstream_key_never_reaches_clients_logs_or_metrics(router_files, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []
    with StreamingFake(default="echo-key") as fake, serving(config(router_files, tmp_path), live(fake)) as srv:
        r = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask(EASY)})
        seen.append(r.text + str(r.headers))
        s = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask(EASY), "stream": True})
        seen.append(s.text)
        fake.default = "401-echo"
        for stream in (False, True):
            e = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask(EASY),
                                                            "stream": stream})
            assert e.status_code == 502 and "Incorrect API key provided: ***" in e.text
            seen.append(e.text)
        seen.append(srv.http.get("/metrics").text)
    assert "your key is *** and more" in r.json()["choices"][0]["message"]["content"]
    assert "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "")
                   for line in s.text.splitlines() if line.startswith("data: {")) == (
        "your key is *** and more")  # redacted although the key came split over many chunks
    seen += [(tmp_path / "serve.jsonl").read_text(), caplog.text, repr(srv.client)]
    assert fake.requests and all(SECRET in r["headers"]["authorization"] for r in fake.requests)
    for text in seen:
        assert SECRET not in text and SECRET[:12] not in text


def test_llm_router_rating_call_is_costed_and_thresholds_can_be_picked_by_name(router_files, tmp_path):
    with FakeOpenAIServer(behaviours={"gpt-4o-mini": "router-json"}, router_rating="hard") as fake, \
            serving(config(router_files, tmp_path), live(fake)) as srv:
        raw = srv.client.chat.completions.with_raw_response.create(model="router-llm", messages=ask(EASY))
        info = raw.parse().model_extra["routerlib"]
        assert info["tier"] == "expensive" and info["router_cost_usd"] > 0
        assert float(raw.headers["x-routerlib-router-cost-usd"]) == pytest.approx(info["router_cost_usd"], rel=1e-6)
        low = srv.client.chat.completions.create(model="router-clf:0,0", messages=ask(HARD))
        high = srv.client.chat.completions.create(model="router-clf:1,1", messages=ask(HARD))
        assert (low.model_extra["routerlib"]["tier"], high.model_extra["routerlib"]["tier"]) == ("cheap", "expensive")
        m = srv.http.get("/metrics").json()
    assert m["router_cost_usd"] == pytest.approx(info["router_cost_usd"]) and m["upstream"]["simulated"] is False


def test_config_errors_are_clear(router_files, tmp_path):
    good = {"routers": {"r": {"file": "x.json"}}}
    for doc, message in [({}, "needs \"routers\""), ({**good, "colour": 1}, "unknown key"),
                         ({**good, "auth_token": "abc"}, "never write a token"),
                         ({**good, "upstream": {"mode": "live", "api_key": "sk"}}, "never write a token"),
                         ({**good, "upstream": {"mode": "cloud"}}, "upstream.mode"),
                         ({"routers": {"a:b": {"file": "x"}}}, "no ':'"),
                         ({**good, "max_body_bytes": "big"}, "max_body_bytes")]:
        with pytest.raises(ConfigError, match=message):
            ServeConfig.from_dict(doc)
    (tmp_path / "c.json").write_text(json.dumps({"routers": {"r": {"file": "missing.json"}}}))
    with pytest.raises(ValueError, match="router file not found"):
        create_app(tmp_path / "c.json")


def test_command_line_serves_on_127_0_0_1(router_files, tmp_path):
    (tmp_path / "serve.json").write_text(json.dumps({"routers": {"router-rules": {"file": str(router_files / "rules.json")}},
                                                     "run_log": "log.jsonl"}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "routerlib", "serve", "--config", str(tmp_path / "serve.json"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.time() + 30
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx2.ConnectError:
                assert time.time() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none")
        assert client.chat.completions.create(model="router-rules", messages=ask(EASY)).model == "gpt-4o-mini"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert f"http://127.0.0.1:{port}/v1" in out and "SIMULATED" in out
    assert len(RunLog(tmp_path / "log.jsonl").records) == 1


def test_replay_upstream_answers_recorded_prompts_only(router_files, tmp_path):
    import pandas as pd
    rows = [{"query_id": q, "prompt": p, "model": m, "quality": 1.0, "prompt_tokens": 10, "completion_tokens": 5,
             "response": f"recorded {m} answer to {q}"}
            for q, p in (("q1", EASY), ("q2", HARD)) for m in ("gpt-4o-mini", "gpt-4o", "gpt-4-turbo")]
    pd.DataFrame(rows).to_csv(tmp_path / "outcomes.csv", index=False)
    cfg = config(router_files, tmp_path, upstream={"mode": "replay", "dataset": str(tmp_path / "outcomes.csv")})
    with serving(cfg) as srv:
        r = srv.client.chat.completions.create(model="router-rules", messages=ask(EASY))
        assert r.choices[0].message.content == "recorded gpt-4o-mini answer to q1" and r.usage.prompt_tokens == 10
        assert r.model_extra["routerlib"]["upstream"] == "replay" and not r.model_extra["routerlib"]["simulated"]
        with pytest.raises(openai.BadRequestError, match="recorded"):
            srv.client.chat.completions.create(model="router-rules", messages=ask("something never recorded"))
        assert srv.http.get("/metrics").json()["upstream"] == {"mode": "replay", "simulated": False}


def test_cascade_escalates_past_a_failing_tier_on_a_live_upstream(router_files, tmp_path):
    with FakeOpenAIServer(behaviours={"gpt-4o-mini": "500"}) as fake, \
            serving(config(router_files, tmp_path), live(fake, max_retries=0)) as srv:
        info = srv.client.chat.completions.create(model="router-cascade", messages=ask(EASY)).model_extra["routerlib"]
        chunks = list(srv.client.chat.completions.create(model="router-cascade", messages=ask(EASY), stream=True))
    assert (info["router"], info["tier"], info["model"]) == ("cascade", "mid", "gpt-4o")
    assert "".join(c.choices[0].delta.content or "" for c in chunks).startswith("Answer from gpt-4o:")
    records = RunLog(tmp_path / "serve.jsonl").records
    assert all(r["escalated"] and "cheap: InternalServerError" in r["upstream_errors"][0] for r in records)


class HedgingCheapTier(SimulatedBackend):
    """Simulated answers, but the cheap tier hedges (heuristic confidence 0.7); records every call; optional delay."""

    def __init__(self, delay=0.0):
        super().__init__()
        self.delay, self.seen = delay, []

    def complete(self, request):
        self.seen.append(request)
        time.sleep(self.delay)
        c = super().complete(request)
        return dataclasses.replace(c, text="It might be Paris.") if request.model == "gpt-4o-mini" else c


def test_cascade_thresholds_from_the_config_and_the_model_name_are_applied(router_files, tmp_path):
    cfg = config(router_files, tmp_path)
    cfg.routers["router-strict"] = (router_files / "cascade.json", [0.9])
    with serving(cfg, HedgingCheapTier()) as srv:
        tier = (lambda model: srv.client.chat.completions.create(model=model, messages=ask(EASY))
                .model_extra["routerlib"]["tier"])
        assert [tier(m) for m in ("router-cascade", "router-cascade:0.9", "router-strict", "router-cascade:0.6")] == [
            "cheap", "mid", "mid", "cheap"]  # the saved threshold is 0.5; the cheap answer scores 0.7


def test_cascade_sends_the_whole_conversation_and_max_tokens_upstream(router_files, tmp_path):
    backend = HedgingCheapTier()
    messages = [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Bonjour"}, {"role": "user", "content": EASY}]
    with serving(config(router_files, tmp_path), backend) as srv:
        r = srv.client.chat.completions.create(model="router-cascade:0.9", messages=messages, max_tokens=7)
    answers = [q for q in backend.seen if q.purpose == "answer"]
    assert [q.model for q in answers] == ["gpt-4o-mini", "gpt-4o"] and r.usage.completion_tokens <= 7
    assert all(list(q.messages) == messages and q.max_tokens == 7 for q in answers)


def test_cascade_router_latency_leaves_out_the_accepted_answers_own_time(router_files, tmp_path):
    with serving(config(router_files, tmp_path), HedgingCheapTier(delay=0.3)) as srv:
        info = (lambda model: srv.client.chat.completions.create(model=model, messages=ask(EASY))
                .model_extra["routerlib"])
        fast, slow = info("router-cascade"), info("router-cascade:0.9")
    assert fast["tier"] == "cheap" and fast["router_latency_ms"] < 150  # no call was thrown away
    assert slow["tier"] == "mid" and 300 <= slow["router_latency_ms"] < 450  # the cheap answer was


def test_a_stream_that_breaks_upstream_is_logged_costed_and_counted(router_files, tmp_path):
    with StreamingFake(default="stream-break") as fake, serving(config(router_files, tmp_path), live(fake)) as srv:
        r = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask(EASY), "stream": True})
        m = srv.http.get("/metrics").json()
    assert r.status_code == 200 and "upstream_stream_failed" in r.text
    [rec] = RunLog(tmp_path / "serve.jsonl").records
    assert rec["text"] == "the st" and rec["error"].startswith("JSONDecodeError")
    assert rec["cost_usd"] > 0  # the tokens sent were paid for
    assert m["cost_usd"] == pytest.approx(rec["cost_usd"]) and m["streams_cut_short"] == 1 and m["answered"] == 0


def test_concurrent_writers_end_a_cut_short_run_log_line_once(tmp_path, monkeypatch):
    path = tmp_path / "serve.jsonl"
    path.write_bytes(b'{"key": "killed mid-wri')
    log = ServeLog(path)
    real_fsync = os.fsync

    def slow_fsync(fd):  # holds the lock a while, as an fsync on a busy disk does
        time.sleep(0.05)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    writers = [threading.Thread(target=log.append, args=({"key": f"k{i}"},)) for i in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 6 and b"" not in lines[1:-1]  # the cut line, 4 records, then the final newline
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):  # the cut line only
        assert sorted(r["key"] for r in RunLog(path).records) == ["k0", "k1", "k2", "k3"]


def test_stopping_the_server_closes_its_run_log_and_a_restart_writes_on(router_files, tmp_path):
    app = create_app(config(router_files, tmp_path))
    for _ in range(2):
        with ServerThread(app) as srv, openai.OpenAI(base_url=srv.base_url, api_key="x") as client:
            client.chat.completions.create(model="router-rules", messages=ask(EASY))
        open_files = [os.readlink(fd) for fd in Path("/proc/self/fd").iterdir() if fd.is_symlink()]
        assert str(tmp_path / "serve.jsonl") not in open_files  # no handle left open: none leaks per server
    assert len(RunLog(tmp_path / "serve.jsonl").records) == 2


def test_sampling_options_reach_the_upstream_plain_streaming_and_in_a_cascade(router_files, tmp_path):
    options = {"temperature": 0.2, "top_p": 0.9, "seed": 7, "stop": ["\n\n"], "response_format": {"type": "text"}}
    with StreamingFake() as fake, serving(config(router_files, tmp_path), live(fake)) as srv:
        srv.client.chat.completions.create(model="router-rules", messages=ask(EASY), **options)
        list(srv.client.chat.completions.create(model="router-rules", messages=ask(EASY), stream=True, **options))
        srv.client.chat.completions.create(model="router-cascade", messages=ask(EASY), temperature=0.0)
        srv.client.chat.completions.create(model="router-rules", messages=ask(EASY))
        for value in ("hot", True):
            r = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask(EASY),
                                                            "temperature": value})
            assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
        r = srv.http.post("/v1/chat/completions", json={"model": "router-rules", "messages": ask(EASY), "stop": [1]})
        assert r.status_code == 400 and "list of strings" in r.json()["error"]["message"]
    bodies = [q["body"] for q in fake.requests]
    assert len(bodies) == 4  # the bad requests never reached the upstream
    assert all({k: b[k] for k in options} == options for b in bodies[:2]) and bodies[1]["stream"] is True
    assert bodies[2]["temperature"] == 0.0 and not set(options) & set(bodies[3])
