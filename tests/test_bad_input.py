"""Bad input, table-driven: the command line, the Python API and data files.

Each case either raises a clear error that says what is wrong (checked by a regex), or takes a
documented, counted fallback (checked by its own assertion). None crashes a batch or corrupts a log.
"""
import json
import re

import numpy as np
import pandas as pd
import pytest

from routerlib import datasets
from routerlib.backends import Completion, Request
from routerlib.backends.runlog import RunLog
from routerlib.backends.simulated import SimulatedBackend
from routerlib.catalog import Catalog, Model, cost
from routerlib.cli import main
from routerlib.datasets.user import load_user_file
from routerlib.queries import Query, load_queries
from routerlib.routers.llm import LLMRouter
from routerlib.routers.rules import RuleRouter
from routerlib.sweep import calibrate_mix, calibrate_quality, cuts_for_mix
from routerlib.tables import split

LONG = pd.DataFrame({"query_id": ["a", "a", "b", "b"], "model": ["gpt-4o-mini", "gpt-4o"] * 2,
                     "quality": [1, 1, 0, 1], "prompt_tokens": [5] * 4, "completion_tokens": [7] * 4})


def write(tmp, name, content):
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def cli(*argv):
    """Run the command line; return (exit code, stderr text) via a SystemExit-safe wrapper."""
    def run(tmp, capsys):
        try:
            code = main([a.format(tmp=tmp) if isinstance(a, str) else a(tmp) for a in argv])
        except SystemExit as e:  # argparse rejects bad values itself
            code = e.code
        return code, capsys.readouterr().err
    return run


def catalog_file(entry):
    return lambda tmp: write(tmp, "cat.json", json.dumps({"models": [entry]}).replace('"NaN"', "NaN"))


def query_file(content):
    return lambda tmp: write(tmp, "q.jsonl", content)


def outcome_file(df):
    return lambda tmp: (df.to_csv(tmp / "o.csv", index=False), str(tmp / "o.csv"))[1]


CLI_CASES = [
    ("json path in a missing folder", cli("exercise", "--quiet", "--json", "{tmp}/nope/out.json"), "does not exist"),
    ("json path is a folder", cli("exercise", "--quiet", "--json", "{tmp}"), "is a directory"),
    ("empty query file", cli("exercise", "--quiet", "--queries", query_file("")), "holds no queries"),
    ("non-UTF-8 query file", cli("exercise", "--quiet", "--queries", query_file(b'{"id": "a", "text": "\xe9"}\n')),
     "not UTF-8"),
    ("malformed JSONL line", cli("exercise", "--quiet", "--queries", query_file('{"id": "a", "text": "hi"\n')),
     r"q.jsonl:1: Expecting"),
    ("duplicate query ids", cli("exercise", "--quiet", "--queries",
                                query_file('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')), "duplicate id 'a'"),
    ("whitespace query", cli("exercise", "--quiet", "--queries", query_file('{"id": "a", "text": "  "}\n')),
     "empty text"),
    ("wrong type for text", cli("exercise", "--quiet", "--queries", query_file('{"id": "a", "text": 42}\n')),
     "empty text"),
    ("NaN price", cli("exercise", "--quiet", "--catalog", catalog_file(
        {"name": "m", "tier": "cheap", "input_per_mtok": "NaN", "output_per_mtok": 1})), "finite number >= 0"),
    ("negative price", cli("models", "--catalog", catalog_file(
        {"name": "m", "tier": "cheap", "input_per_mtok": -1, "output_per_mtok": 1})), "finite number >= 0"),
    ("model without a price", cli("models", "--catalog", catalog_file({"name": "m", "tier": "cheap"})),
     "has no input_per_mtok price"),
    ("unknown tier in catalog", cli("models", "--catalog", catalog_file(
        {"name": "m", "tier": "gold", "input_per_mtok": 1, "output_per_mtok": 1})), "unknown tier 'gold'"),
    ("non-UTF-8 catalog", cli("models", "--catalog", lambda tmp: write(tmp, "c.json", b"\xff\xfe{")),
     "not valid UTF-8 JSON"),
    ("unknown router model", cli("exercise", "--quiet", "--router-model", "gpt-9"), "unknown model 'gpt-9'"),
    ("router accuracy out of range", cli("exercise", "--router-accuracy", "1.5"), "between 0 and 1"),
    ("unknown router name", cli("exercise", "--router", "magic"), "invalid choice"),
    ("unknown dataset", cli("evaluate", "--dataset", "nope", "--router", "random"), "unknown dataset 'nope'"),
    ("test share out of range", cli("evaluate", "--dataset", outcome_file(LONG), "--router", "random",
                                    "--test-share", "1.5"), "between 0 and 1"),
    ("non-positive limit", cli("exercise", "--dataset", outcome_file(LONG), "--limit", "0"), "at least 1"),
    ("mistyped run-log path", cli("evaluate", "--dataset", "{tmp}/nope/typo.jsonl", "--router", "random"),
     "outcome file not found"),
    ("non-numeric quality", cli("evaluate", "--router", "random", "--dataset",
                                outcome_file(LONG.assign(quality=["oops", 1, 0, 1]))), "quality must be a number"),
    ("data describe without a name", cli("data", "describe"), "required: names"),
    ("replay and live together", cli("exercise", "--dataset", outcome_file(LONG), "--live"), "cannot be combined"),
    ("outcome file missing columns", cli("evaluate", "--dataset", outcome_file(LONG.drop(columns="model")),
                                         "--router", "random"), r"missing column\(s\) \['model'\]"),
    ("pickle as outcomes", cli("evaluate", "--dataset", lambda t: write(t, "o.pkl", b"not read"), "--router",
                               "random", "--json", "{tmp}/out.json"), "refusing to read a pickle"),
    ("one model only", cli("evaluate", "--dataset", outcome_file(LONG[LONG["model"] == "gpt-4o"]), "--router",
                           "random", "--json", "{tmp}/out.json"), "at least two tiers"),
    ("one model only, compare", cli("compare", "--dataset", outcome_file(LONG.assign(model="mine", cost_usd=1)[::2]),
                                    "--json", "{tmp}/out.json"), "at least two tiers"),
    ("no cost and no price", cli("evaluate", "--router", "random", "--dataset",
                                 outcome_file(LONG.assign(model="mine"))),
     r"no cost for model\(s\) \['mine'\]"),
    ("infinite cost", cli("evaluate", "--router", "random", "--dataset", outcome_file(
        LONG.drop(columns=["prompt_tokens", "completion_tokens"]).assign(cost_usd=[1, np.inf, 1, 1]))),
     "cost_usd must be finite"),
    ("no quality at all", cli("evaluate", "--router", "random", "--dataset", outcome_file(LONG.assign(quality=np.nan))),
     "quality column holds no values"),
    ("describe a good and a broken file", cli("data", "describe", outcome_file(LONG),
                                              lambda t: write(t, "g.csv", '\x00,"unterminated'), "--json",
                                              "{tmp}/out.json"), "cannot be parsed"),
    ("negative seed", cli("exercise", "--seed", "-1"), "at least 0"),
    ("abbreviated flag", cli("evaluate", "--dataset", "x", "--router", "random", "--split", "2"), "unrecognized"),
]


@pytest.mark.parametrize("name, run, words", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_command_line(name, run, words, tmp_path, capsys, no_openai_env):
    code, err = run(tmp_path, capsys)
    assert code == 2 and re.search(words, err), err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    if "usage:" not in err:  # argparse's own errors come after its usage lines
        assert lines[0].startswith("error: ") and all(line.startswith("  ") for line in lines[1:]), err
        assert len(lines) == 1 or name not in ONE_LINE, err
    assert not (tmp_path / "out.json").exists()  # no partial output


ONE_LINE = {"pickle as outcomes", "one model only", "one model only, compare", "infinite cost", "no quality at all",
            "describe a good and a broken file"}


def test_a_pickle_is_refused_without_being_read(tmp_path, capsys):
    import pickle
    import subprocess

    class Runs:
        def __reduce__(self):
            return subprocess.call, (["touch", str(tmp_path / "ran")],)
    (tmp_path / "o.pkl").write_bytes(pickle.dumps(Runs()))
    assert main(["evaluate", "--dataset", str(tmp_path / "o.pkl"), "--router", "random"]) == 2
    assert not (tmp_path / "ran").exists()
    with pytest.raises(ValueError, match="refusing to read a pickle"):
        datasets.load(f"hf:{tmp_path / 'o.pkl'}")
    assert not (tmp_path / "ran").exists()


def test_bytes_prompts_are_text(tmp_path):
    path = tmp_path / "o.parquet"
    many = pd.concat([LONG.assign(query_id=LONG["query_id"] + str(i)) for i in range(20)], ignore_index=True)
    many.assign(prompt=[b"hi", b"hi", "caf\u00e9".encode(), "caf\u00e9".encode()] * 20).to_parquet(path)
    table = load_user_file(path)
    assert table.queries["prompt"].tolist()[:2] == ["hi", "caf\u00e9"]
    assert main(["evaluate", "--dataset", str(path), "--router", "random", "--splits", "1", "--quiet"]) == 0


def test_json_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("{}")
    (tmp_path / "link.json").symlink_to(target)
    assert main(["exercise", "--quiet", "--json", str(tmp_path / "link.json")]) == 0
    assert (tmp_path / "link.json").is_symlink() and json.loads(target.read_text())["summary"]["n_queries"] == 50


def test_describe_two_files_gives_both(tmp_path):
    a, b = outcome_file(LONG)(tmp_path), str(tmp_path / "b.csv")
    LONG.to_csv(b, index=False)
    assert main(["data", "describe", a, b, "--json", str(tmp_path / "d.json")]) == 0
    assert [d["name"] for d in json.loads((tmp_path / "d.json").read_text())] == ["o", "b"]


def api(fn, exc, words):
    return fn, exc, words


API_CASES = [
    ("empty query", api(lambda t: Query("q", ""), ValueError, "empty text")),
    ("huge query", api(lambda t: Query("q", "x" * 300_000), ValueError, "over the 200,000 limit")),
    ("negative tokens", api(lambda t: cost("gpt-4o", -3, 1), ValueError, "prompt_tokens must be a number >= 0")),
    ("tokens of the wrong type", api(lambda t: cost("gpt-4o", "ten", 1), ValueError, "must be a number")),
    ("unknown model", api(lambda t: Catalog.load().get("gpt-5-ultra"), KeyError, "unknown model")),
    ("model without price", api(lambda t: Model("m", "cheap", None, 1), ValueError, "has no input_per_mtok")),
    ("rating accuracy out of range", api(lambda t: SimulatedBackend(router_accuracy=-0.1), ValueError,
                                         "between 0 and 1")),
    ("unknown tier in a rule map", api(lambda t: RuleRouter(tier_map={"proof": "gold"}), ValueError,
                                       "unknown tier 'gold'")),
    ("target mix not summing to 1", api(lambda t: calibrate_mix(np.ones((4, 3)), [0.5, 0.2, 0.2]), ValueError,
                                        "sum to 1")),
    ("negative target share", api(lambda t: cuts_for_mix(np.zeros(4), [1.2, -0.2]), ValueError, "shares >= 0")),
    ("quality floor out of range", api(lambda t: calibrate_quality(None, None, 1.5), ValueError, "min_retained")),
    ("split share out of range", api(lambda t: split(load_user_file(outcome_file(LONG)(t)), 0.0), ValueError,
                                     "test_share")),
    ("user file quality out of range", api(lambda t: load_user_file(outcome_file(LONG.assign(quality=7))(t)),
                                           ValueError, "between 0 and 1")),
    ("user file negative tokens", api(lambda t: load_user_file(outcome_file(LONG.assign(prompt_tokens=-1))(t)),
                                      ValueError, "negative prompt_tokens")),
    ("user file duplicate outcomes", api(lambda t: load_user_file(outcome_file(pd.concat([LONG, LONG.iloc[:1]]))(t)),
                                         ValueError, "more than one outcome")),
    ("empty user file", api(lambda t: load_user_file(write(t, "e.csv", "query_id,model,quality,cost_usd\n")),
                            ValueError, "holds no rows")),
    ("missing data file", api(lambda t: datasets.load("routellm-gsm8k", t), FileNotFoundError,
                              "gsm8k_responses.csv")),
]


@pytest.mark.parametrize("name, case", API_CASES, ids=[c[0] for c in API_CASES])
def test_python_api(name, case, tmp_path):
    fn, exc, words = case
    with pytest.raises(exc, match=words):
        fn(tmp_path)


# --- documented, counted fallbacks: the batch goes on and the log stays whole ---

class _Flaky:
    """A backend whose third rating call fails."""

    mode = "test"

    def complete_many(self, requests, progress=False, desc=""):
        return [Completion(r.model, None, error="InternalServerError: boom") if i == 2 else
                Completion(r.model, '{"difficulty": "easy"}', 50, 5, cost_usd=1e-5) for i, r in enumerate(requests)]


def test_one_failed_rating_does_not_stop_the_batch():
    decisions = LLMRouter(_Flaky(), catalog=Catalog.load()).route_many(load_queries()[:5])
    assert len(decisions) == 5 and [d.router_error is not None for d in decisions] == [False, False, True, False, False]
    assert decisions[2].tier == "expensive"  # the documented fallback tier


def test_unparseable_rating_falls_back_and_is_counted():
    from routerlib.fifty_queries import run_exercise

    class Garbled(SimulatedBackend):
        def complete(self, request):
            done = super().complete(request)
            if request.purpose == "route" and request.query.id in ("q01", "q02"):
                done.text = "no idea, sorry"
            return done
    s = run_exercise("llm", backend=Garbled(), progress=False).summary
    assert s["router_errors"] == 2 and s["n_queries"] == 50


def test_corrupted_run_log_line_is_skipped_counted_and_left_alone(tmp_path):
    path = tmp_path / "run.jsonl"
    good = {"key": "k1", "error": None, "cost_usd": 0.1}
    path.write_text(json.dumps(good) + "\n{broken\n" + json.dumps({**good, "key": "k2"}) + "\n")
    before = path.read_bytes()
    with pytest.warns(UserWarning, match="skipped 1 unreadable line"):
        log = RunLog(path)
    assert log.bad_lines == 1 and log.finished("k1") and log.finished("k2")
    assert path.read_bytes() == before  # reading never rewrites the log


def test_append_after_a_cut_short_line_starts_a_new_line(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps({"key": "k1", "error": None}) + "\n" + '{"key": "k2", "err')
    with pytest.warns(UserWarning):
        log = RunLog(path)
    log.append({"key": "k3", "error": None})
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["key"] == "k1" and json.loads(lines[-1])["key"] == "k3"
    with pytest.warns(UserWarning):
        assert RunLog(path).finished("k3")


def test_a_failed_call_in_a_live_batch_is_recorded_and_the_rest_answered(fake_server, tmp_path):
    from conftest import SECRET

    from routerlib.backends.live import OpenAIBackend
    fake_server.behaviours["gpt-4o"] = "500"
    backend = OpenAIBackend(api_key=SECRET, base_url=fake_server.base_url, max_retries=0,
                            run_log=tmp_path / "r.jsonl")
    done = backend.complete_many([Request.ask(m, Query("q", "hi")) for m in ("gpt-4o-mini", "gpt-4o", "gpt-4-turbo")],
                                 progress=False)
    assert [c.ok for c in done] == [True, False, True]
    assert [r["error"] is not None for r in RunLog(tmp_path / "r.jsonl").records].count(True) == 1

