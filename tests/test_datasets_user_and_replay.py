"""User outcome files (long and wide), run logs as datasets, and the ReplayBackend."""
import json

import pandas as pd
import pytest
from tests_helpers import check_exercise_json

from routerlib import datasets
from routerlib.backends import Request
from routerlib.backends.replay import ReplayBackend, replay_inputs
from routerlib.backends.runlog import RunLog
from routerlib.catalog import Catalog
from routerlib.cli import main
from routerlib.datasets.sources import DataFormatError
from routerlib.datasets.user import load_run_log, load_user_file
from routerlib.fifty_queries import run_exercise
from routerlib.queries import Query
from routerlib.tables import TierTable, dataset_catalog, difficulty_labels

LONG = pd.DataFrame({
    "query_id": ["a", "a", "a", "b", "b", "b"], "prompt": ["hi"] * 3 + ["prove it"] * 3,
    "model": ["gpt-4o-mini", "gpt-4o", "gpt-4-turbo"] * 2,
    "quality": [1, 1, 1, 0, 0.5, 1], "prompt_tokens": [10] * 6, "completion_tokens": [20] * 6})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_user_file(tmp_path, suffix):
    path = tmp_path / f"mine{suffix}"
    LONG.to_csv(path, index=False) if suffix == ".csv" else LONG.to_parquet(path)
    t = load_user_file(path)
    assert t.n_queries == 2 and t.models == ["gpt-4o-mini", "gpt-4o", "gpt-4-turbo"]
    assert t.wide("cost_usd").loc["a", "gpt-4o"] == pytest.approx((10 * 2.5 + 20 * 10) / 1e6)
    assert t.queries.loc["b", "prompt"] == "prove it"


@pytest.mark.parametrize("drop, words", [
    (["model"], "'model'"),
    (["query_id"], "query_id (or query)"),
    (["completion_tokens"], "cost_usd (or prompt_tokens and completion_tokens)"),
])
def test_long_file_missing_columns_are_named(tmp_path, drop, words):
    path = tmp_path / "bad.csv"
    LONG.drop(columns=drop).to_csv(path, index=False)
    with pytest.raises(DataFormatError, match="missing column") as e:
        load_user_file(path)
    assert words in str(e.value)


@pytest.mark.parametrize("column, value, words", [
    ("quality", 7, "quality must be between 0 and 1"),
    ("prompt_tokens", -3, "negative prompt_tokens"),
])
def test_long_file_bad_values(tmp_path, column, value, words):
    df = LONG.copy()
    df.loc[2, column] = value
    df.to_csv(path := tmp_path / "bad.csv", index=False)
    with pytest.raises(DataFormatError, match=words):
        load_user_file(path)


def test_duplicate_outcomes_are_rejected(tmp_path):
    pd.concat([LONG, LONG.iloc[:1]]).to_csv(path := tmp_path / "dup.csv", index=False)
    with pytest.raises(ValueError, match="more than one outcome"):
        load_user_file(path)


def test_wide_user_file_and_a_clear_error_without_costs(tmp_path):
    wide = pd.DataFrame({"prompt": ["q1", "q2"], "gpt-4o-mini": [1, 0], "gpt-4o-mini|total_cost": [0.001, 0.002],
                         "gpt-4o": [1, 1], "gpt-4o|total_cost": [0.01, 0.02]})
    wide.to_csv(path := tmp_path / "wide.csv", index=False)
    t = datasets.load(str(path))
    assert t.models == ["gpt-4o-mini", "gpt-4o"] and t.wide("cost_usd")["gpt-4o"].sum() == pytest.approx(0.03)
    pd.DataFrame({"prompt": ["q1"], "gpt-4o": [1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"no cost for model 'gpt-4o': add a `gpt-4o\|total_cost` column"):
        load_user_file(path)


def test_empty_and_missing_user_files(tmp_path):
    (tmp_path / "empty.csv").write_text("query_id,model,quality,cost_usd\n")
    with pytest.raises(DataFormatError, match="holds no rows"):
        load_user_file(tmp_path / "empty.csv")
    with pytest.raises(FileNotFoundError, match="outcome file not found"):
        load_user_file(tmp_path / "nope.csv")


def test_replay_backend_answers_from_the_table(tmp_path):
    LONG.to_csv(path := tmp_path / "mine.csv", index=False)
    t = load_user_file(path)
    backend = ReplayBackend(t)
    c = backend.complete(Request.ask("gpt-4o", Query("b", "prove it")))
    assert (c.quality, c.prompt_tokens, c.completion_tokens) == (0.5, 10, 20)
    assert c.cost_usd == pytest.approx(t.wide("cost_usd").loc["b", "gpt-4o"])
    missing = backend.complete(Request.ask("gpt-4o", Query("zzz", "?")))
    assert not missing.ok and "not recorded" in missing.error
    rating = backend.complete(Request.ask("gpt-4o-mini", Query("a", "hi"), purpose="route"))
    assert not rating.ok and "router_backend" in rating.error


def test_difficulty_labels_follow_the_cheapest_good_enough_tier(tmp_path):
    LONG.to_csv(path := tmp_path / "mine.csv", index=False)
    t = load_user_file(path)
    cat = dataset_catalog(t)
    assert cat.tiers == {"cheap": "gpt-4o-mini", "mid": "gpt-4o", "expensive": "gpt-4-turbo"}
    assert difficulty_labels(TierTable.from_table(t, cat)) == {"a": "easy", "b": "hard"}


def test_exercise_on_replayed_outcomes_is_self_consistent(tmp_path):
    LONG.to_csv(path := tmp_path / "mine.csv", index=False)
    table = load_user_file(path)
    backend, queries, catalog = replay_inputs(table, router_accuracy=1.0)
    result = run_exercise("llm", backend=backend, queries=queries, catalog=catalog, progress=False)
    doc = json.loads(json.dumps(result.to_json()))
    check_exercise_json(doc, catalog)
    s = doc["summary"]
    assert s["mode"] == "replay" and s["router_simulated"] and s["traffic_mix"] == {
        "cheap": 0.5, "mid": 0.0, "expensive": 0.5}
    assert s["all_tier_cost_usd"]["mid"] == pytest.approx(table.wide("cost_usd")["gpt-4o"].sum())
    assert s["quality"] == pytest.approx(1.0)  # a perfect rater sends 'a' cheap (good) and 'b' to the top tier (good)
    assert s["latency_label"] == "not recorded" and "replayed answers carry no timing" in s["latency_source"]
    assert all(r["latency_label"] == "not recorded" for r in doc["rows"])


def test_exercise_cli_on_a_two_tier_dataset(data_mirror, tmp_path, capsys):
    out = tmp_path / "mt.json"
    assert main(["exercise", "--quiet", "--dataset", "routellm-mtbench", "--data-dir", str(data_mirror),
                 "--router", "rules", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["summary"]["mode"] == "replay" and len(doc["rows"]) == 72
    assert set(doc["summary"]["traffic_mix"]) == {"cheap", "expensive"}
    table = datasets.load("routellm-mtbench", data_mirror)
    check_exercise_json(doc, dataset_catalog(table))


def test_a_live_run_log_becomes_a_replayable_dataset(fake_server, tmp_path):
    from conftest import SECRET

    from routerlib.backends.live import OpenAIBackend
    log = tmp_path / "run.jsonl"
    backend = OpenAIBackend(Catalog.load(), api_key=SECRET, base_url=fake_server.base_url, run_log=log)
    queries = [Query("q1", "What is 2+2?"), Query("q2", "Name a prime.")]
    backend.complete_many([Request.ask(m, q) for q in queries for m in ("gpt-4o-mini", "gpt-4o")], progress=False)
    table = datasets.load(str(log))
    assert table.n_queries == 2 and set(table.models) == {"gpt-4o-mini", "gpt-4o"}
    assert table.queries.loc["q1", "prompt"] == "What is 2+2?"
    replayed = ReplayBackend(table).complete(Request.ask("gpt-4o", queries[0]))
    recorded = next(r for r in RunLog(log).records if r["query_id"] == "q1" and r["model"] == "gpt-4o")
    assert (replayed.text, replayed.cost_usd) == (recorded["text"], recorded["cost_usd"])
    assert table.outcomes["quality"].isna().all()  # no grader: unknown, not zero
    with pytest.raises(DataFormatError, match="no finished answer calls"):
        load_run_log(tmp_path / "empty.jsonl")


def test_replay_uses_the_users_catalog_for_their_own_models(tmp_path, capsys):
    from routerlib.cli import main
    LONG.assign(model=LONG["model"].replace({"gpt-4o-mini": "llama3"})).to_csv(tmp_path / "o.csv", index=False)
    (tmp_path / "cat.json").write_text(json.dumps({"models": [{"name": "llama3", "tier": "cheap",
                                                               "input_per_mtok": 0, "output_per_mtok": 0}]}))
    assert main(["exercise", "--quiet", "--router", "rules", "--dataset", str(tmp_path / "o.csv"),
                 "--catalog", str(tmp_path / "cat.json")]) == 0
    assert "llama3" in capsys.readouterr().out


def test_tiers_are_chosen_among_undominated_models():
    from routerlib.catalog import Catalog
    from routerlib.tables import OutcomeTable, choose_tiers
    rows = []
    for q in range(4):  # mid's best model scores below cheap at ten times the price: the mid tier is dropped
        for model, quality, cost in [("gpt-4o-mini", 0.6, 0.001), ("gpt-4o", 0.5, 0.01), ("gpt-4-turbo", 0.9, 0.03)]:
            rows.append({"query_id": str(q), "model": model, "quality": quality, "quality_raw": quality,
                         "prompt_tokens": 1, "completion_tokens": 1, "cost_usd": cost, "response": None})
    table = OutcomeTable("toy", pd.DataFrame({"prompt": ["p"] * 4, "category": ["c"] * 4}, index=list("0123")),
                         pd.DataFrame(rows), "0-1", "given", "given")
    catalog, notes = choose_tiers(table, Catalog.load())
    assert catalog.tiers == {"cheap": "gpt-4o-mini", "expensive": "gpt-4-turbo"}
    assert len(notes) == 1 and "dropped tier 'mid'" in notes[0]
