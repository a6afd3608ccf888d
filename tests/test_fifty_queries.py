import json
import subprocess
import sys

import pytest
from tests_helpers import check_exercise_json

from routerlib.catalog import Catalog
from routerlib.cli import main
from routerlib.fifty_queries import ROUTERS, run_exercise


@pytest.mark.parametrize("router", ROUTERS)
def test_exercise_json_is_self_consistent(tmp_path, router):
    out = tmp_path / "ex.json"
    assert main(["exercise", "--router", router, "--quiet", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    check_exercise_json(doc, Catalog.load())
    s = doc["summary"]
    assert s["mode"] == "simulated" and s["simulated"] is True and "simulated" in s["quality_scale"]
    assert s["router"] == router and len(doc["rows"]) == 50
    assert s["routed_cost_usd"] < s["baseline_cost_usd"] or router == "always-expensive"  # routing saves here
    assert 0 < s["quality"] <= 1
    assert (s["router_cost_usd"] > 0) == (router in ("llm", "cascade-judge"))  # rating or judge calls are paid


def test_cascade_router_cost_is_the_answers_it_threw_away(tmp_path):
    result = run_exercise("cascade-judge", progress=False)
    rows, tiers = result.rows, result.tiers
    escalated = rows[rows["tier"] != tiers[0]]
    cheapest_accepted = rows.loc[rows["tier"] == tiers[0], "router_cost_usd"]
    assert len(escalated) and (escalated["router_cost_usd"] > cheapest_accepted.max()).all()
    assert (cheapest_accepted > 0).all()  # even an answer accepted at once paid for its judge call
    assert result.summary["router_simulated"] and "SIMULATED" in result.report()


def test_routers_that_learn_from_grades_refuse_live_answers():
    from routerlib.fifty_queries import exercise_router

    class Live:
        mode = "live"
    with pytest.raises(ValueError, match="live answers have no grade"):
        exercise_router("classifier", Live(), Catalog.load())


def test_exercise_command_prints_the_table_offline():
    done = subprocess.run([sys.executable, "-m", "routerlib", "exercise", "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "SIMULATED" in out and "all-expensive" in out and "Savings factor vs all-expensive" in out
    for tier in ("cheap", "mid", "expensive"):
        assert tier in out  # speed (2-5 s here) is measured by hand and in benchmarks, not asserted


def test_router_accuracy_moves_the_result():
    perfect = run_exercise("llm", router_accuracy=1.0, progress=False).summary
    chance = run_exercise("llm", router_accuracy=1 / 3, progress=False).summary
    assert perfect["traffic_mix"] == {"cheap": 0.6, "mid": 0.26, "expensive": 0.14}  # 30/13/7 queries
    assert perfect["savings_factor"] > chance["savings_factor"]


def test_result_tables_and_repr():
    result = run_exercise("rules", progress=False)
    tiers = result.tier_table()
    assert tiers["requests"].sum() == 50 and tiers["share"].sum() == pytest.approx(1)
    assert tiers["cost_usd"].sum() == pytest.approx(result.rows["cost_usd"].sum())
    comp = result.comparison()
    assert list(comp.index) == ["routed (incl. router)", "all-cheap", "all-mid", "all-expensive"]
    assert "ExerciseResult(50 queries, router=rules" in repr(result)


@pytest.mark.parametrize("argv, words", [
    (["exercise", "--json", "/nonexistent-dir/out.json"], "folder /nonexistent-dir does not exist"),
    (["exercise", "--router-model", "gpt-9"], "unknown model 'gpt-9'"),
    (["exercise", "--queries", "/nonexistent.jsonl"], "query file not found"),
    (["exercise", "--catalog", "/nonexistent.json"], "catalog file not found"),
])
def test_cli_bad_input_gets_a_clear_error(capsys, argv, words):
    assert main(argv + ["--quiet"]) == 2
    assert words in capsys.readouterr().err


def test_json_path_that_is_a_directory(tmp_path, capsys):
    assert main(["exercise", "--quiet", "--json", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_empty_query_in_a_query_file(tmp_path, capsys):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "text": "What is 2+2?"}\n{"id": "b", "text": "  "}\n')
    assert main(["exercise", "--quiet", "--queries", str(path)]) == 2
    assert "q.jsonl:2: query 'b' has an empty text" in capsys.readouterr().err


def test_models_json(capsys):
    assert main(["models", "--json", "-"]) == 0
    models = json.loads(capsys.readouterr().out)
    assert {"name", "tier", "input_per_mtok", "output_per_mtok", "source"} <= set(models[0])
    assert {m["name"]: m["tier"] for m in models}["gpt-4o-mini"] == "cheap"
    assert main(["models"]) == 0
    assert "gpt-4-turbo" in capsys.readouterr().out


def test_live_without_a_key_says_what_is_missing(no_openai_env, tmp_path, capsys):
    log = tmp_path / "run.jsonl"
    assert main(["exercise", "--live", "--quiet", "--run-log", str(log)]) == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and "OPENAI_BASE_URL" in err
    assert not log.exists()  # nothing started, nothing written


def test_rows_and_summary_carry_simulated_latency(tmp_path):
    out = tmp_path / "ex.json"
    assert main(["exercise", "--router", "llm", "--quiet", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    s, rows = doc["summary"], doc["rows"]
    assert all(r["latency_ms"] > 0 and r["latency_label"] == "SIMULATED" for r in rows)
    assert all(r["latency_ms"] >= r["ttft_ms"] > r["router_latency_s"] * 1000 > 0 for r in rows)  # router call first
    assert 0 < s["latency_p50_ms"] <= s["latency_p95_ms"] and "SIMULATED" in s["latency_source"]
    for t in ("cheap", "mid", "expensive"):
        by_tier, single = s["latency_by_tier"][t], s["all_tier_latency"][t]
        assert 0 < by_tier["latency_p50_ms"] <= by_tier["latency_p95_ms"]
        assert 0 < single["latency_p50_ms"] <= single["latency_p95_ms"]
    assert s["all_tier_latency"]["cheap"]["latency_p50_ms"] < s["all_tier_latency"]["expensive"]["latency_p50_ms"]


def test_simulated_latency_is_seeded_and_centred_on_the_catalog_figures():
    a, b = run_exercise("rules", progress=False), run_exercise("rules", progress=False)
    assert a.rows["latency_ms"].tolist() == b.rows["latency_ms"].tolist()
    catalog = Catalog.load()
    for model in catalog.tiers.values():
        ttft = a.outcomes.loc[a.outcomes["model"] == model, "ttft_s"] * 1000
        assert ttft.median() == pytest.approx(catalog.get(model).ttft_ms, rel=0.2)


def test_classifier_time_is_measured_and_small():
    rows = run_exercise("classifier", progress=False).rows
    assert 0 < rows["router_latency_s"].iloc[0] < 0.5 and rows["router_latency_s"].nunique() == 1


def test_models_json_gives_latency_figures_with_a_source(capsys):
    assert main(["models", "--json", "-"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    for name in Catalog.load().tiers.values():
        m = models[name]
        assert m["ttft_ms"] > 0 and m["output_tokens_per_s"] > 0
        assert "http" in m["latency_source"] and "as published" in m["latency_date"]


def test_catalog_rejects_a_bad_latency_figure():
    from routerlib.catalog import CatalogError, Model
    with pytest.raises(CatalogError, match="ttft_ms must be a number > 0"):
        Model("m", "cheap", 1, 1, ttft_ms=-5)


def test_the_default_output_says_when_the_routed_policy_is_dominated():
    result = run_exercise("llm", progress=False)
    assert result.summary["dominated_by"] == "all-mid"  # all-mid costs less at higher quality (issue #18)
    assert "DOMINATED: all-mid costs" in result.report()
    rules = run_exercise("rules", progress=False)
    assert rules.summary["dominated_by"] is None and "Not dominated" in rules.report()
    assert "Time to first token, p50 per tier (SIMULATED)" in rules.report()


def test_models_without_latency_figures_say_what_stands_in(capsys):
    assert main(["models", "--json", "-"]) == 0
    bare = [m for m in json.loads(capsys.readouterr().out) if m["ttft_ms"] is None]
    assert bare and all("tier default" in m["latency_source"] for m in bare)
