"""The router server refuses bad input with a 4xx before any upstream call: numbers, types, content type, auth, slow
or vanishing clients, and a few hundred seeded malformed bodies."""
import contextlib
import json
import random
import socket
import time

import httpx2
import pytest

from routerlib.serve.validate import parse_chat
from conftest import SECRET
from fake_openai import FakeOpenAIServer

from routerlib.backends.live import OpenAIBackend
from routerlib.catalog import Catalog
from routerlib.routers.rules import RuleRouter
from routerlib.routers.saved import save_router
from routerlib.serve import ServerThread, create_app
from routerlib.serve.config import ConfigError, ServeConfig

GOOD = {"model": "router-rules", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
HUGE = "1" * 4400  # over Python's 4,300-digit int-str conversion limit


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("routers") / "rules.json"
    save_router(RuleRouter(), path)
    return path


@contextlib.contextmanager
def serving(rules_file, tmp_path, upstream=None, **extra):
    """The server (simulated upstream, or a fake live one) with an httpx client; yields (server, client)."""
    cfg = ServeConfig.from_dict({"routers": {"router-rules": {"file": str(rules_file)}},
                                 "run_log": str(tmp_path / "serve.jsonl"), **extra})
    backend = None if upstream is None else OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=upstream.base_url,
                                                          backoff_base=0.01, timeout=5.0)
    with ServerThread(create_app(cfg, backend)) as srv, \
            httpx2.Client(base_url=srv.base_url.removesuffix("/v1"), timeout=10) as http:
        yield srv, http


def post(http, text, content_type="application/json", **headers):
    """POST raw body text to the chat endpoint."""
    return http.post("/v1/chat/completions", content=text.encode("utf-8", "surrogatepass"),
                     headers={"content-type": content_type, **headers} if content_type else headers)


def with_field(name, raw_value):
    """The good body as JSON text with one top-level field set to a raw JSON value."""
    return json.dumps(GOOD)[:-1] + f', "{name}": {raw_value}}}'


def assert_openai_error(r, status=None):
    assert (r.status_code == status) if status else 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert isinstance(err["message"], str) and err["message"] and isinstance(err["type"], str), r.text
    return err


def test_huge_numbers_nan_and_out_of_range_values_get_400_naming_the_field_and_no_upstream_call(rules_file, tmp_path):
    cases = [("seed", HUGE, "4,400 digits"), ("temperature", f"-{HUGE}", "4,400 digits"),
             ("temperature", "NaN", "NaN"), ("temperature", "Infinity", "Infinity"), ("top_p", "-Infinity", "Infinity"),
             ("temperature", "1e400", "finite"), ("temperature", "-1", "0 to 2"), ("temperature", "2.5", "0 to 2"),
             ("top_p", "1.5", "0 to 1"), ("presence_penalty", "-3", "-2 to 2"), ("frequency_penalty", "2.1", "-2 to 2"),
             ("max_tokens", "0", "1 to"), ("max_tokens", "1e30", "1 to"), ("max_tokens", "1" + "0" * 30, "1 to"),
             ("max_completion_tokens", "1.5", "whole"), ("n", "0", "whole"), ("n", "true", "whole"),
             ("n", "2", "only n=1"), ("seed", "1.5", "whole"), ("seed", str(2 ** 64), "64-bit")]
    with FakeOpenAIServer() as fake, serving(rules_file, tmp_path, fake) as (srv, http):
        for name, raw, words in cases:
            err = assert_openai_error(post(http, with_field(name, raw)), 400)
            assert err["param"] == name and name in err["message"] and words in err["message"], (name, raw, err)
        err = assert_openai_error(post(http, json.dumps(GOOD).replace('"user"', f'"user", "name": {HUGE}')), 400)
        assert err["param"] == "messages[0].name" and "4,400 digits" in err["message"]
        err = assert_openai_error(post(http, with_field("max_completion_tokens", "0")[:-1] + ', "max_tokens": 9}'), 400)
        assert err["param"] == "max_completion_tokens"
        err = assert_openai_error(post(http, HUGE), 400)
        assert err["param"] is None and "4,400 digits" in err["message"]
        assert fake.count() == 0  # nothing reached the upstream
        assert post(http, with_field("temperature", "2")).status_code == 200 and fake.count() == 1
        m = http.get("/metrics").json()
    assert m["failed_upstream"] == 0 and m["status_counts"] == {"200": 1, "400": len(cases) + 3}


def test_null_means_the_default_as_openai_treats_it(rules_file, tmp_path):
    with serving(rules_file, tmp_path) as (srv, http):
        for name in ("stream", "n", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "seed"):
            assert post(http, with_field(name, "null")).status_code == 200, name
        body = {**GOOD, "stream": None, "n": None, "stream_options": None, "max_completion_tokens": None,
                "max_tokens": 50}
        r = http.post("/v1/chat/completions", json=body)
        assert r.status_code == 200 and r.json()["object"] == "chat.completion"
        assert_openai_error(post(http, with_field("stream_options", '{"include_usage": "yes"}')), 400)


def test_post_bodies_must_be_declared_json(rules_file, tmp_path):
    with serving(rules_file, tmp_path) as (srv, http):
        body = json.dumps(GOOD)
        for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", "application/jsonx", None):
            err = assert_openai_error(post(http, body, content_type), 415)
            assert "application/json" in err["message"], content_type
        for content_type in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
            assert post(http, body, content_type).status_code == 200, content_type
        m = http.get("/metrics").json()
    assert m["answered"] == 3 and m["status_counts"]["415"] == 6


def test_bearer_scheme_is_case_insensitive_and_a_401_says_bearer(rules_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_SERVE_TOKEN", "client-token")
    with serving(rules_file, tmp_path, auth_token_env="TEST_SERVE_TOKEN") as (srv, http):
        body = json.dumps(GOOD)
        for given in ("Bearer client-token", "bearer client-token", "BEARER  client-token"):
            assert post(http, body, authorization=given).status_code == 200, given
        for given in (None, "client-token", "Basic client-token", "Bearer wrong", "Bearer client-token2", "Bearer"):
            r = post(http, body, **({"authorization": given} if given else {}))
            assert assert_openai_error(r, 401)["code"] == "invalid_api_key"
            assert r.headers["www-authenticate"] == "Bearer"
        assert http.get("/v1/models", headers={"authorization": "bearer client-token"}).status_code == 200


def raw_request(port, head: bytes, body: bytes = b"", wait: float = 5.0) -> bytes:
    """Send a request's bytes on a socket, then read until the server closes it or `wait` seconds pass."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(head + body)
        got = b""
        with contextlib.suppress(socket.timeout):
            while chunk := s.recv(65536):
                got += chunk
        return got


HEAD = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n")


def test_a_client_that_drops_mid_body_is_not_a_server_failure(rules_file, tmp_path, caplog):
    with serving(rules_file, tmp_path) as (srv, http):
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(HEAD + b'{"model": "router-rules", "mess')  # and hangs up
        deadline = time.time() + 5
        while (m := http.get("/metrics").json())["requests"] == 0 and time.time() < deadline:
            time.sleep(0.02)
        assert http.post("/v1/chat/completions", json=GOOD).status_code == 200
    assert m["status_counts"] == {"499": 1} and m["failed_upstream"] == 0 and m["answered"] == 0
    assert "Traceback" not in caplog.text and "ClientDisconnect" not in caplog.text


def test_slow_bodies_get_408_and_slow_headers_are_cut_off(rules_file, tmp_path):
    with serving(rules_file, tmp_path, read_timeout_s=0.5) as (srv, http):
        start = time.time()
        got = raw_request(srv.port, HEAD, b'{"model": "router-rules", ')  # the rest never comes
        assert got.startswith(b"HTTP/1.1 408 ") and time.time() - start < 3, got
        assert json.loads(got.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
        start = time.time()
        assert raw_request(srv.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n") == b""  # closed, no reply
        assert time.time() - start < 3
        assert http.post("/v1/chat/completions", json=GOOD).status_code == 200
        m = http.get("/metrics").json()
    assert m["status_counts"] == {"200": 1, "408": 1}


def test_read_timeout_must_be_a_positive_number(rules_file):
    for bad in (0, -1, "30", True, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="read_timeout_s"):
            ServeConfig.from_dict({"routers": {"r": {"file": str(rules_file)}}, "read_timeout_s": bad})
    assert ServeConfig.from_dict({"routers": {"r": {"file": str(rules_file)}}}).read_timeout_s == 30


# -- seeded malformed bodies -------------------------------------------------------------------------------------------

FIELDS_BAD = {  # top-level field -> JSON values it must refuse
    "model": [5, "", [], {}, True, "gpt-4o", "router-rules:9"],
    "messages": ["hi", [], {}, [1], ["user"], [[]], [{"content": "x"}], [{"role": "wizard", "content": "x"}],
                [{"role": "user", "content": 7}], [{"role": "system", "content": "x"}],
                [{"role": "user", "content": ""}],
                [{"role": "user", "content": [1]}], [{"role": "user", "content": [{"type": "image_url"}]}], None],
    "stream": ["yes", 1, 0, [], {}], "stream_options": ["x", [], 1, True, {"include_usage": 1}],
    "max_tokens": [0, -1, 1.5, "10", True, [], 10 ** 30], "max_completion_tokens": [0, -5, 2.5, "1", False, {}],
    "n": [0, 2, -1, 1.5, "1", True, []], "temperature": [-0.1, 2.01, "hot", True, [], {}, -5],
    "top_p": [-0.1, 1.5, "1", False, [0.5]], "presence_penalty": [-2.5, 3, "0", [], True],
    "frequency_penalty": [-2.01, 9, "x", {}], "seed": [1.5, "7", True, 2 ** 64, -2 ** 63 - 1, []],
    "stop": [1, [1], [None], {}, True, [["x"]]], "response_format": ["json", [], 1, True], "user": [1, [], {}, True],
}
SPECIAL = ["NaN", "Infinity", "-Infinity", "1e400", "-1e999", HUGE, "-" + HUGE]  # raw JSON numbers to refuse


def garbage(rng, depth=0):
    """A random JSON value, nested a few levels."""
    kind = rng.randrange(7 if depth < 4 else 5)
    if kind == 5:
        return [garbage(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return {str(rng.randrange(99)): garbage(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [None, True, rng.random() * 1e6 - 5e5, rng.randrange(-9, 9),
            "".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(8)))][kind]


def malformed(rng) -> tuple[str, str]:
    """(kind, raw body text) of one body the server must refuse."""
    kind = rng.choice(["junk", "field", "fields", "nested", "special", "deep", "missing", "truncated", "top", "type"])
    body = json.loads(json.dumps(GOOD))
    if kind == "junk":
        return kind, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200))).decode("latin-1")
    if kind in ("field", "fields"):
        for name in rng.sample(sorted(FIELDS_BAD), 1 if kind == "field" else rng.randrange(2, 5)):
            body[name] = rng.choice(FIELDS_BAD[name])
    elif kind == "nested":  # garbage where a number, string or message belongs
        name = rng.choice(["temperature", "seed", "stop", "model", "n", "max_tokens", "messages"])
        body[name] = [{"role": "user", "content": [{"x": garbage(rng)}]}] if name == "messages" else {"x": garbage(rng)}
    elif kind == "special":  # NaN, Infinity or a huge integer somewhere, even in a field the server ignores
        where = rng.choice(["temperature", "top_p", "seed", "max_tokens", "n", "logit_bias", "messages[0].name"])
        text = json.dumps(body).replace('"user"', '"user", "name": @@', 1) if where.startswith("messages") else \
            with_field(where, "@@")
        return kind, text.replace("@@", rng.choice(SPECIAL))
    elif kind == "deep":
        depth = rng.choice([2000, 20000, 100000])
        return kind, with_field(rng.choice(["temperature", "messages", "metadata"]), "[" * depth + "]" * depth)
    elif kind == "missing":
        body.pop(rng.choice(["model", "messages"]))
    elif kind == "truncated":
        text = json.dumps({**body, "temperature": 0.5})
        return kind, text[:rng.randrange(len(text))]
    elif kind == "top":
        return kind, json.dumps(rng.choice([[], [GOOD], "hi", 1, None, True, 1.5, [1, 2]]))
    elif kind == "type":
        return "type:" + rng.choice(["text/plain", "application/x-www-form-urlencoded", "none"]), json.dumps(GOOD)
    return kind, json.dumps(body)


@pytest.mark.parametrize("seed", [0, 1])
def test_seeded_malformed_bodies_get_4xx_and_never_reach_the_upstream(rules_file, tmp_path, seed):
    rng = random.Random(seed)
    seen = set()
    with FakeOpenAIServer() as fake, serving(rules_file, tmp_path, fake) as (srv, http):
        for i in range(150):
            kind, text = malformed(rng)
            seen.add(kind.split(":")[0])
            content_type = kind.split(":")[1] if kind.startswith("type:") else "application/json"
            before = fake.count()
            r = post(http, text, None if content_type == "none" else content_type)
            if r.status_code == 200 and content_type == "application/json":  # a mutation that left a valid body
                parse_chat(json.loads(text))  # the validator agrees it is valid, else this raises
                continue
            assert_openai_error(r)
            assert fake.count() == before, (kind, text[:300], r.text)  # refused before any upstream call
            if i % 10 == 0:  # still serving
                assert post(http, json.dumps(GOOD)).status_code == 200
        assert post(http, json.dumps(GOOD)).status_code == 200
        m = http.get("/metrics").json()
    assert len(seen) == 10 and m["failed_upstream"] == 0 and "500" not in m["status_counts"]
