"""The live path for real: the openai SDK against a fake OpenAI-compatible server on 127.0.0.1."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, SECRET
from fake_openai import FakeOpenAIServer
from tests_helpers import check_exercise_json

from routerlib.backends import Request
from routerlib.backends.live import MissingCredentialsError, OpenAIBackend
from routerlib.backends.runlog import RunLog
from routerlib.catalog import Catalog
from routerlib.fifty_queries import run_exercise
from routerlib.queries import Query
from routerlib.routers.llm import LLMRouter

Q = Query("q1", "What is the capital of France?", "simple_fact", "easy")


def backend_for(srv, **kw):
    kw = {"backoff_base": 0.01, "timeout": 5.0, **kw}
    return OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=srv.base_url, **kw)


def test_normal_answer_is_priced_from_reported_usage(fake_server):
    c = backend_for(fake_server).complete(Request.ask("gpt-4o", Q))
    assert c.ok and c.text.startswith("Answer from gpt-4o: What is the capital")
    assert c.prompt_tokens == 6 and c.completion_tokens == len(c.text.split()) and c.attempts == 1
    assert c.cost_usd == pytest.approx((6 * 2.5 + c.completion_tokens * 10) / 1e6)
    sent = fake_server.requests[0]
    assert sent["body"]["model"] == "gpt-4o" and sent["body"]["messages"][-1]["content"] == Q.text
    assert sent["headers"]["authorization"] == f"Bearer {SECRET}"


def test_router_json_answer_routes_and_is_costed(fake_server):
    fake_server.behaviours["gpt-4o-mini"] = "router-json"
    fake_server.router_rating = "hard"
    d = LLMRouter(backend_for(fake_server)).route(Q)
    assert (d.tier, d.model, d.router_error) == ("expensive", "gpt-4-turbo", None)
    assert d.router_prompt_tokens > 0 and d.router_cost_usd == pytest.approx(
        (d.router_prompt_tokens * 0.15 + d.router_completion_tokens * 0.6) / 1e6)
    assert fake_server.requests[0]["body"]["messages"][0]["role"] == "system"


def test_malformed_router_answer_falls_back_and_is_counted(fake_server):
    fake_server.behaviours["gpt-4o-mini"] = "router-bad"
    d = LLMRouter(backend_for(fake_server), fallback_tier="mid").route(Q)
    assert d.tier == "mid" and "unparseable rating" in d.router_error and d.router_cost_usd > 0


def test_429_then_success_honours_retry_after(fake_server):
    fake_server.behaviours["gpt-4o"] = "429-once"
    start = time.perf_counter()
    c = backend_for(fake_server, backoff_base=0.0).complete(Request.ask("gpt-4o", Q))
    assert c.ok and c.attempts == 2 and fake_server.count("gpt-4o") == 2
    assert time.perf_counter() - start >= 0.2  # the server said Retry-After: 0.2


def test_repeated_500s_give_up_after_bounded_retries(fake_server, tmp_path):
    fake_server.behaviours["gpt-4o"] = "500"
    log = RunLog(tmp_path / "run.jsonl")
    c = backend_for(fake_server, max_retries=2, run_log=log).complete(Request.ask("gpt-4o", Q))
    assert not c.ok and "InternalServerError" in c.error and c.attempts == 3 and c.cost_usd == 0
    assert fake_server.count("gpt-4o") == 3
    rec = json.loads((tmp_path / "run.jsonl").read_text().splitlines()[-1])
    assert rec["error"] == c.error and rec["attempts"] == 3  # the failure is recorded, not silent


def test_timeout_is_retried_then_reported(fake_server):
    fake_server.behaviours["gpt-4o"] = "slow"
    fake_server.slow_seconds = 2.0
    c = backend_for(fake_server, timeout=0.3, max_retries=1).complete(Request.ask("gpt-4o", Q))
    assert not c.ok and "Timeout" in c.error and c.attempts == 2 and fake_server.count("gpt-4o") == 2


def test_invalid_json_body_is_an_error_not_a_crash(fake_server):
    fake_server.behaviours["gpt-4o"] = "invalid-json"
    c = backend_for(fake_server, max_retries=1).complete(Request.ask("gpt-4o", Q))
    assert not c.ok and c.error and c.attempts == 2


def test_concurrency_is_bounded(fake_server):
    fake_server.default, fake_server.slow_seconds = "slow", 0.1
    qs = [Query(f"q{i}", f"question number {i}") for i in range(12)]
    done = backend_for(fake_server, concurrency=3).complete_many([Request.ask("gpt-4o", q) for q in qs],
                                                                  progress=False)
    assert all(c.ok for c in done) and [c.text[-2:].strip() for c in done] == [str(i)[-2:] for i in range(12)]
    assert fake_server.peak_in_flight == 3


def test_run_log_skips_finished_calls(fake_server, tmp_path):
    reqs = [Request.ask("gpt-4o", Query(f"q{i}", f"question {i}")) for i in range(5)]
    first = backend_for(fake_server, run_log=tmp_path / "run.jsonl").complete_many(reqs, progress=False)
    again = backend_for(fake_server, run_log=tmp_path / "run.jsonl").complete_many(reqs, progress=False)
    assert fake_server.count() == 5 and all(c.from_log for c in again)
    assert [(c.text, c.cost_usd) for c in first] == [(c.text, c.cost_usd) for c in again]


def test_per_model_base_url_needs_no_key(fake_server, no_openai_env):
    cat = Catalog.load().with_base_url("gpt-4o", fake_server.base_url)
    backend = OpenAIBackend(cat)
    assert backend.complete(Request.ask("gpt-4o", Q)).ok
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        backend.complete(Request.ask("gpt-4-turbo", Q))  # served by api.openai.com: needs a key


def test_live_exercise_end_to_end(fake_server, tmp_path):
    fake_server.behaviours["router"] = "router-json"
    fake_server.router_rating = "medium"
    cat = Catalog.load()
    from routerlib.catalog import Model
    cat.add(Model("router", "cheap", 0.15, 0.60, source="test"))
    backend = OpenAIBackend(cat, api_key=SECRET, base_url=fake_server.base_url, run_log=tmp_path / "r.jsonl")
    result = run_exercise("llm", backend=backend, router_model="router", progress=False)
    doc = json.loads(json.dumps(result.to_json()))
    check_exercise_json(doc, cat)
    s = doc["summary"]
    assert s["mode"] == "live" and s["simulated"] is False and s["quality"] is None
    assert s["traffic_mix"]["mid"] == pytest.approx(1.0) and s["router_errors"] == 0
    assert fake_server.count() == 200 and len(RunLog(tmp_path / "r.jsonl")) == 200
    assert all(r["latency_label"] == "measured" and r["latency_ms"] > 0 for r in doc["rows"])  # wall clock, live
    assert s["latency_label"] == "measured" and 0 < s["latency_p50_ms"] <= s["latency_p95_ms"]


def _cli(env_extra, *args):
    env = {**os.environ, "OPENAI_API_KEY": SECRET, **env_extra}
    return subprocess.Popen([sys.executable, "-m", "routerlib", "exercise", "--live", "--quiet", *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killed_live_run_resumes_without_repeating_finished_calls(tmp_path):
    log = tmp_path / "run.jsonl"
    with FakeOpenAIServer(default="slow", slow_seconds=0.05) as srv:
        proc = _cli({"OPENAI_BASE_URL": srv.base_url}, "--run-log", str(log), "--concurrency", "2")
        deadline = time.time() + 60
        while srv.count() < 40 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.3)  # let the server finish noting requests that were already on the wire
        received_first = srv.count()
        finished_first = len({r["key"] for r in RunLog(log).records if r["error"] is None})
        assert 0 < received_first - finished_first <= 2  # only the calls in flight were lost
        srv.default = "ok"
        proc = _cli({"OPENAI_BASE_URL": srv.base_url}, "--run-log", str(log), "--json", str(tmp_path / "o.json"))
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert srv.count() - received_first == 200 - finished_first  # nothing finished was asked again
    doc = json.loads((tmp_path / "o.json").read_text())
    check_exercise_json(doc, Catalog.load())
    assert len({r["key"] for r in RunLog(log).records}) == 200


def test_backend_repr_hides_the_key(fake_server):
    text = repr(backend_for(fake_server))
    assert SECRET not in text and "api_key=set" in text


def test_live_cascade_escalates_on_low_logprob_confidence(fake_server):
    from routerlib.routers.cascade import (
        CascadeRouter,
        HeuristicScorer,
        JudgeScorer,
        LogprobScorer,
    )
    fake_server.logprob = {"gpt-4o-mini": -2.0, "gpt-4o": -0.01}  # exp(-2) = 0.14: unsure; exp(-0.01) = 0.99
    backend = backend_for(fake_server)
    d = CascadeRouter(LogprobScorer(), 0.5).route(Q, backend=backend)  # tiers: the catalog's defaults
    calls = d.calls
    assert (d.tier, d.model) == ("mid", "gpt-4o") and [c.model for c in calls] == ["gpt-4o-mini", "gpt-4o"]
    assert d.router_cost_usd == pytest.approx(calls[0].cost_usd) and calls[0].extra["logprobs"][0] == -2.0
    assert all(r["body"].get("logprobs") for r in fake_server.requests)
    d = CascadeRouter(HeuristicScorer(), backend=backend).route(Q)
    assert d.tier == "cheap" and len(d.calls) == 1 and d.router_cost_usd == 0  # a plain answer passes the heuristics
    fake_server.behaviours["judge"] = "ok"  # replies "Answer from judge: ..." -> neither YES nor NO
    cat = Catalog.load()
    from routerlib.catalog import Model
    cat.add(Model("judge", "cheap", 0.15, 0.6))
    judged = OpenAIBackend(cat, api_key=SECRET, base_url=fake_server.base_url)
    d = CascadeRouter(JudgeScorer("judge"), catalog=Catalog.load()).route(Q, backend=judged)
    calls = d.calls
    assert d.tier == "expensive" and [c.model for c in calls] == ["gpt-4o-mini", "judge", "gpt-4o", "judge",
                                                                  "gpt-4-turbo"]
    assert d.router_cost_usd == pytest.approx(sum(c.cost_usd for c in calls[:-1]))
    fake_server.behaviours["gpt-4o-mini"] = "500"  # a failed answer escalates without paying the judge to read it
    judged = OpenAIBackend(cat, api_key=SECRET, base_url=fake_server.base_url, max_retries=0)
    d = CascadeRouter(JudgeScorer("judge")).route(Q, backend=judged)
    assert [c.model for c in d.calls] == ["gpt-4o-mini", "gpt-4o", "judge", "gpt-4-turbo"] and not d.calls[0].ok


def test_fifty_query_live_exercise_survives_a_server_failing_30_percent(tmp_path):
    from routerlib.catalog import Model
    with FakeOpenAIServer(default="fail-rate:0.3", behaviours={"router": "fail-rate:0.3:router-json"},
                          router_rating="easy", seed=7) as srv:
        cat = Catalog.load().add(Model("router", "cheap", 0.15, 0.60, source="test"))
        log = tmp_path / "run.jsonl"
        backend = OpenAIBackend(cat, api_key=SECRET, base_url=srv.base_url, run_log=log, max_retries=1,
                                backoff_base=0.001)
        result = run_exercise("llm", backend=backend, router_model="router", progress=False)
        doc = json.loads(json.dumps(result.to_json()))
        check_exercise_json(doc, cat)  # row costs = tokens x price, totals add up
        s, rows = doc["summary"], doc["rows"]
        assert s["failed_calls"] + s["router_errors"] > 0  # the faults really happened
        for r in rows:  # every query answered, or explicitly failed at no cost
            assert (r["error"] is None and r["completion_tokens"] > 0) or (r["error"] and r["cost_usd"] == 0)
        assert s["unanswered"] == sum(r["error"] is not None for r in rows)
        assert s["fallbacks"] == sum(r["fallback"] for r in rows) and all(
            r["tier"] != r["routed_tier"] for r in rows if r["fallback"])
        records = RunLog(log).records
        billed = [r for r in records if r["error"] is None]
        assert len({r["key"] for r in billed}) == len(billed)  # no call billed twice
        assert len(billed) == sum(r["status"] == 200 for r in srv.requests)  # every 200 is one logged call
        assert len(records) == 200  # 50 ratings + 150 answers, each recorded once, failed or not
        total_billed = sum(r["cost_usd"] for r in billed)
        assert total_billed == pytest.approx(sum(s["all_tier_cost_usd"].values()) + s["router_cost_usd"])


def test_truncated_answers_are_flagged(fake_server, tmp_path):
    fake_server.behaviours["gpt-4o"] = "truncated"
    backend = OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=fake_server.base_url,
                            run_log=tmp_path / "r.jsonl")
    qs = [Query("t1", "Explain routing.", "summarisation", "easy")]
    result = run_exercise("rules", backend=backend, queries=qs, progress=False)
    assert result.outcomes.set_index("model").loc["gpt-4o", "truncated"]
    assert RunLog(tmp_path / "r.jsonl").records[-1]["finish_reason"] in ("stop", "length")
    assert any(r["finish_reason"] == "length" for r in RunLog(tmp_path / "r.jsonl").records)


def test_sampling_options_are_part_of_the_call_and_its_run_log_key():
    q = Query("q1", "What is 2 + 2?")
    plain = Request.ask("gpt-4o-mini", q)
    warm = plain.with_sampling({"temperature": 0.7, "stop": ["\n"]})
    assert plain.options == () and plain.sampling() == {}
    assert warm.sampling() == {"temperature": 0.7, "stop": ["\n"]} and warm.messages == plain.messages
    assert warm.key() != plain.key() and warm.key() == plain.with_sampling({"stop": ["\n"], "temperature": 0.7}).key()
    assert plain.with_sampling({}).key() == plain.key()  # keys of logs written before options existed still match
    with FakeOpenAIServer() as fake:
        backend = OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=fake.base_url, max_retries=0)
        assert backend.complete(warm).ok
        stream, attempts, error = backend.open_stream(warm)
        assert error is None and attempts == 1
        stream.close()
    assert [{k: r["body"].get(k) for k in ("temperature", "stop")} for r in fake.requests] == [
        {"temperature": 0.7, "stop": ["\n"]}] * 2
    assert fake.requests[1]["body"]["stream"] is True
