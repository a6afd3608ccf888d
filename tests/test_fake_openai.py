"""Tests for the fake OpenAI server itself, using only urllib."""
import json
import time
import urllib.error
import urllib.request

import pytest
from fake_openai import FakeOpenAIServer

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is two plus two?"}]


def request(url, payload=None, data=None, method=None, timeout=5, headers=None):
    """Send a request; return (status, headers, raw body bytes) even for HTTP errors."""
    if payload is not None:
        data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def chat(srv, model, messages=MESSAGES, **kwargs):
    return request(srv.base_url + "/chat/completions", {"model": model, "messages": messages}, **kwargs)


@pytest.fixture
def srv():
    with FakeOpenAIServer() as server:
        yield server


def test_base_url_and_repr(srv):
    assert srv.base_url.startswith("http://127.0.0.1:") and srv.base_url.endswith("/v1")
    assert srv.base_url in repr(srv)
    assert "not started" in repr(FakeOpenAIServer())


def test_ok_returns_chat_completion(srv):
    status, headers, raw = chat(srv, "small-model")
    assert status == 200 and headers["Content-Type"] == "application/json"
    body = json.loads(raw)
    assert body["object"] == "chat.completion" and body["model"] == "small-model" and body["id"]
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": "Answer from small-model: What is two plus two?"}
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 8, "total_tokens": 15}


def test_ok_truncates_last_user_message_to_40_chars(srv):
    messages = [{"role": "user", "content": "first"}, {"role": "user", "content": "x" * 100}]
    content = json.loads(chat(srv, "m", messages)[2])["choices"][0]["message"]["content"]
    assert content == "Answer from m: " + "x" * 40


def test_path_without_v1_prefix_is_accepted(srv):
    url = f"http://127.0.0.1:{srv.port}/chat/completions"
    assert request(url, {"model": "m", "messages": MESSAGES})[0] == 200


def test_429_once_then_ok(srv):
    srv.behaviours["busy"] = "429-once"
    status, headers, raw = chat(srv, "busy")
    assert status == 429 and headers["Retry-After"] == "0.2"
    error = json.loads(raw)["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded" and error["message"]
    assert chat(srv, "busy")[0] == 200
    assert chat(srv, "busy")[0] == 200
    assert [r["status"] for r in srv.requests] == [429, 200, 200]


def test_500_always(srv):
    srv.behaviours["broken"] = "500"
    for _ in range(2):
        status, _, raw = chat(srv, "broken")
        assert status == 500 and json.loads(raw)["error"]["type"] == "server_error"


def test_invalid_json(srv):
    srv.behaviours["garbled"] = "invalid-json"
    status, headers, raw = chat(srv, "garbled")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert raw == b'{"choices": ['
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)


def test_router_json_and_router_bad(srv):
    srv.behaviours.update({"judge": "router-json", "confused-judge": "router-bad"})
    srv.router_rating = "easy"
    content = json.loads(chat(srv, "judge")[2])["choices"][0]["message"]["content"]
    assert content.startswith("Sure! ```json\n")
    assert json.loads(content.split("```json")[1].split("```")[0]) == {"difficulty": "easy"}
    content = json.loads(chat(srv, "confused-judge")[2])["choices"][0]["message"]["content"]
    assert content == "I think this one is kind of tricky."


def test_fail_rate_is_seeded_and_reproducible():
    def statuses(seed):
        with FakeOpenAIServer({"flaky": "fail-rate:0.5"}, seed=seed) as srv:
            return [chat(srv, "flaky")[0] for _ in range(12)]

    first = statuses(0)
    assert first == statuses(0) and set(first) == {200, 500}
    with FakeOpenAIServer({"never": "fail-rate:0", "always": "fail-rate:1"}) as srv:
        assert chat(srv, "never")[0] == 200 and chat(srv, "always")[0] == 500


def test_slow_answers_after_delay(srv):
    srv.behaviours["sloth"] = "slow"
    srv.slow_seconds = 0.2
    start = time.monotonic()
    assert chat(srv, "sloth")[0] == 200
    assert time.monotonic() - start >= 0.2


def test_slow_triggers_client_timeout_and_does_not_block_shutdown():
    srv = FakeOpenAIServer({"sloth": "slow"}, slow_seconds=30).start()
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        chat(srv, "sloth", timeout=0.2)
    assert srv.count("sloth") == 1  # recorded on arrival, even though it never answered
    start = time.monotonic()
    srv.stop()
    assert time.monotonic() - start < 1


def test_unknown_path_is_404(srv):
    status, _, raw = request(srv.base_url + "/nope", {"model": "m"})
    assert status == 404 and "error" in json.loads(raw)
    assert request(srv.base_url + "/nope")[0] == 404


def test_bad_body_is_400(srv):
    status, _, raw = request(srv.base_url + "/chat/completions", data=b"this is not json")
    assert status == 400 and json.loads(raw)["error"]["type"] == "invalid_request_error"
    assert request(srv.base_url + "/chat/completions", [1, 2])[0] == 400  # JSON, but not an object
    assert srv.requests[0]["body"] is None and srv.requests[0]["status"] == 400


def test_models_lists_behaviours(srv):
    srv.behaviours.update({"a": "ok", "b": "500"})
    status, _, raw = request(srv.base_url + "/models")
    assert status == 200
    assert json.loads(raw) == {"object": "list", "data": [{"id": "a", "object": "model"},
                                                          {"id": "b", "object": "model"}]}


def test_requests_are_recorded_and_counted(srv):
    srv.behaviours["busy"] = "429-once"
    chat(srv, "a", headers={"Authorization": "Bearer sk-test"})
    chat(srv, "a")
    chat(srv, "busy")
    assert srv.count() == 3 and srv.count("a") == 2 and srv.count("busy") == 1 and srv.count("zzz") == 0
    first = srv.requests[0]
    assert first["model"] == "a" and first["path"] == "/v1/chat/completions" and first["status"] == 200
    assert first["headers"]["authorization"] == "Bearer sk-test"
    assert first["body"] == {"model": "a", "messages": MESSAGES}
    assert srv.requests[2]["status"] == 429
