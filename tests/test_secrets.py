"""The API key never reaches logs, run logs, JSON, reprs or error messages, even when a server echoes it."""
import logging

import pytest
from conftest import SECRET

from routerlib.backends import Request
from routerlib.cli import main
from routerlib.queries import Query


def test_key_is_never_written_or_shown(fake_server, tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_server.base_url)
    fake_server.behaviours.update({"gpt-4o-mini": "router-json", "gpt-4-turbo": "401-echo"})
    log, out = tmp_path / "run.jsonl", tmp_path / "out.json"
    assert main(["exercise", "--live", "--quiet", "--run-log", str(log), "--json", str(out)]) == 0

    sent = [r["headers"].get("authorization") for r in fake_server.requests]
    assert sent and all(h == f"Bearer {SECRET}" for h in sent)  # the key really was used
    echoed = [r for r in fake_server.requests if r["status"] == 401]
    assert echoed  # and the server really echoed it back in its error messages

    from routerlib.backends.runlog import RunLog
    errors = [r["error"] for r in RunLog(log).records if r["error"]]
    assert errors and all("Incorrect API key provided: ***" in e for e in errors)
    printed = capsys.readouterr()
    for where, text in [("run log", log.read_text()), ("json", out.read_text()), ("stdout", printed.out),
                        ("stderr", printed.err), ("logging", caplog.text)]:
        assert SECRET not in text, f"API key leaked into {where}"


def test_key_stays_out_of_reprs_and_exceptions(fake_server):
    from routerlib.backends.live import OpenAIBackend
    fake_server.default = "401-echo"
    backend = OpenAIBackend(api_key=SECRET, base_url=fake_server.base_url)
    c = backend.complete(Request.ask("gpt-4o", Query("q", "hi")))
    assert not c.ok and "***" in c.error
    for text in (repr(backend), repr(c), c.error, str(vars(backend))):
        assert SECRET not in text


@pytest.mark.parametrize("argv", [["exercise", "--quiet"], ["models", "--json", "-"]])
def test_offline_commands_do_not_print_the_key(monkeypatch, capsys, argv):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert SECRET not in printed.out + printed.err
