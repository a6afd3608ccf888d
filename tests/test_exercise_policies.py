import json

import numpy as np
import pandas as pd
import pytest

from routerlib.cli import main
from routerlib.fifty_queries.policies import mix_weights, parse_mix, policy_table, weighted_percentile
from routerlib.fifty_queries import compare_policies, run_exercise


@pytest.fixture(scope="module")
def comparison():
    return compare_policies()


def test_one_table_holds_every_strategy_and_baseline(comparison):
    t = comparison.table
    assert list(t.index) == ["rules", "classifier", "cascade", "cascade-judge", "llm", "all-cheap", "all-mid",
                             "all-expensive", "oracle"]
    assert np.allclose(t[["cheap_requests", "mid_requests", "expensive_requests"]].sum(axis=1), 50)
    assert np.allclose(t["cost_usd"], t["cost_per_request_usd"] * 50)
    assert np.allclose(t["savings_vs_all_expensive"], t.at["all-expensive", "cost_per_request_usd"]
                       / t["cost_per_request_usd"])
    assert t.at["oracle", "dominated_by"].startswith("reference")
    out = comparison.report()
    assert "SIMULATED" in out and "DOMINATED by" in out and "PolicyComparison(9 policies" in repr(comparison)


def test_the_llm_router_is_dominated_by_a_cheaper_better_policy(comparison):
    t = comparison.table
    by = t.at["llm", "dominated_by"]
    assert by and t.at[by, "cost_per_request_usd"] <= t.at["llm", "cost_per_request_usd"]
    assert t.at[by, "quality"] >= t.at["llm", "quality"]
    assert t.at["all-mid", "dominated_by"] != "" or t.at["all-mid", "quality"] > t.drop("oracle")["quality"].max() - 1


def test_savings_against_the_cheapest_tier_keeping_quality(comparison):
    t = comparison.table
    for policy, row in t.iterrows():
        tier = row["cheapest_tier_keeping_quality"]
        if not tier:
            assert row["quality"] > t.loc[["all-cheap", "all-mid", "all-expensive"], "quality"].max()
            continue
        assert t.at[tier, "quality"] >= row["quality"] - 1e-12
        cheaper = t.loc[["all-cheap", "all-mid", "all-expensive"]]
        cheaper = cheaper[cheaper["cost_per_request_usd"] < t.at[tier, "cost_per_request_usd"]]
        assert (cheaper["quality"] < row["quality"]).all()
        assert row["savings_vs_that_tier"] == pytest.approx(t.at[tier, "cost_per_request_usd"]
                                                            / row["cost_per_request_usd"])


def test_mix_weights_reproduce_the_requested_mix_exactly():
    difficulty = ["easy"] * 30 + ["medium"] * 13 + ["hard"] * 7
    w = mix_weights(difficulty, parse_mix("75/20/5"))
    assert w.sum() == pytest.approx(1)
    shares = pd.Series(w).groupby(pd.Series(difficulty)).sum()
    assert shares.to_dict() == pytest.approx({"easy": 0.75, "medium": 0.20, "hard": 0.05}, abs=1e-12)


def test_metrics_at_a_mix_are_weighted_means():
    result = run_exercise("rules", progress=False)
    mix = parse_mix("75/20/5")
    t = result.policies(mix).table
    rows = result.rows
    w = mix_weights(rows["difficulty"], mix)
    assert t.at["rules", "quality"] == pytest.approx(np.sum(w * rows["quality"]))
    cost = rows["cost_usd"] + rows["router_cost_usd"]
    assert t.at["rules", "cost_per_request_usd"] == pytest.approx(np.sum(w * cost))
    by_difficulty = rows.assign(q=rows["quality"]).groupby("difficulty")["q"].mean()
    assert t.at["rules", "quality"] == pytest.approx(sum(mix[d] * by_difficulty[d] for d in mix))
    assert t.at["rules", "cheap_requests"] == pytest.approx(50 * np.sum(w * (rows["tier"] == "cheap")))


def test_weighted_percentile():
    assert weighted_percentile([1, 2, 3, 4], [1, 1, 1, 1], 50) == pytest.approx(2.5)
    assert weighted_percentile([1, 100], [0.99, 0.01], 50) < 2
    assert weighted_percentile([1, 100], [0.01, 0.99], 50) > 99
    assert weighted_percentile([np.nan], [1], 50) is None


def test_dominated_marking_on_a_made_up_table():
    frames = {name: pd.DataFrame({"id": ["a", "b"], "difficulty": ["easy", "hard"], "tier": tier,
                                  "cost_usd": cost, "quality": q, "latency_ms": [1.0, 2.0]})
              for name, tier, cost, q in [("r", "cheap", [1, 1], [1, 0]), ("all-cheap", "cheap", [1, 1], [1, 0]),
                                          ("all-expensive", "expensive", [5, 5], [1, 1]),
                                          ("worse", "expensive", [6, 6], [1, 0])]}
    t = policy_table(frames, ["cheap", "expensive"])
    assert t.at["worse", "dominated_by"] == "r" and t.at["r", "dominated_by"] == ""  # a tie dominates neither
    assert t.at["all-expensive", "dominated_by"] == ""


@pytest.mark.parametrize("mix, words", [
    ("80/30/5", "must add up to 100, but 80/30/5 adds up to 115"),
    ("75/25", "expects 3 percentages for easy/medium/hard"),
    ("x/y/z", "e.g. 75/20/5"),
])
def test_bad_mix_gets_a_one_line_error(capsys, mix, words):
    assert main(["exercise", "--quiet", "--mix", mix]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_mix_for_a_difficulty_with_no_queries(tmp_path, capsys):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "text": "What is 2+2?", "difficulty": "easy", "task_type": "math"}\n'
                    '{"id": "b", "text": "Prove it.", "difficulty": "medium", "task_type": "math"}\n')
    assert main(["exercise", "--quiet", "--router", "rules", "--queries", str(path), "--mix", "70/20/10"]) == 2
    err = capsys.readouterr().err
    assert "no query is labelled hard" in err and "give it 0" in err and len(err.strip().splitlines()) == 1


def test_rules_at_75_20_5_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["exercise", "--router", "rules", "--quiet", "--mix", "75/20/5", "--json", str(out)]) == 0
    at = json.loads(out.read_text())["summary"]["at_mix"]
    assert at["numbers"] == "SIMULATED" and at["mix"] == {"easy": 0.75, "medium": 0.2, "hard": 0.05}
    assert at["savings_factor"] >= 5  # quality at 75/20/5 is 0.94 of all-expensive's: the README says why
    assert at["quality_vs_all-expensive"] == pytest.approx(at["quality"] / at["all-expensive_quality"])
    assert "importance weights" in capsys.readouterr().out


def test_compare_and_requests_per_day_print_daily_costs(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["exercise", "--compare", "--requests-per-day", "100000", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Dollars per day at 100,000 requests/day (SIMULATED)" in printed and "assumes" in printed
    doc = json.loads(out.read_text())
    daily = {r["policy"]: r for r in doc["daily"]}
    policies = {r["policy"]: r for r in doc["policies"]}
    assert doc["numbers"] == "SIMULATED" and set(daily) == set(policies)
    for name, row in daily.items():
        assert row["usd_per_day"] == pytest.approx(policies[name]["cost_per_request_usd"] * 100000)
    assert daily["rules"]["material_usd_per_day"] == "$30-50"


def test_compare_refuses_live(capsys):
    assert main(["exercise", "--compare", "--live", "--quiet"]) == 2
    assert "--compare runs every strategy on the simulated answers" in capsys.readouterr().err


def test_deciding_overhead_beside_the_material(comparison):
    t = comparison.table
    llm = run_exercise("llm", progress=False).rows
    assert t.at["llm", "router_usd_per_request"] == pytest.approx(llm["router_cost_usd"].mean())
    assert t.at["llm", "router_ms_mean"] == pytest.approx(llm["router_latency_s"].mean() * 1000)
    assert t.at["cascade-judge", "router_ms_above_cheap"] > t.at["cascade-judge", "router_ms_mean"] > 0
    assert (t.loc[["rules", "all-cheap", "all-mid", "all-expensive"], "router_ms_mean"] == 0).all()
    out = comparison.report()
    assert "Deciding overhead (SIMULATED" in out and "100-200 ms, ~$0.0001" in out


def test_one_router_per_day_and_every_router_refuses_a_mix(capsys):
    assert main(["exercise", "--router", "rules", "--quiet", "--requests-per-day", "1000"]) == 0
    out = capsys.readouterr().out
    assert "Dollars per day at 1,000 requests/day (SIMULATED)" in out and "rules" in out.split("Dollars per day")[1]
    assert main(["exercise", "--every-router", "--mix", "75/20/5"]) == 2
    assert "not --every-router" in capsys.readouterr().err


def test_spread_over_seeds_gives_each_policy_a_mean_interval_and_dominance_count():
    from routerlib import over_seeds, spread_cells
    from scipy import stats
    runs = {s: compare_policies(seed=s) for s in range(3)}
    spread = over_seeds(runs)
    per_seed = [runs[s].table.at["llm", "savings_vs_all_expensive"] for s in runs]
    assert spread.at["llm", "savings_vs_all_expensive"] == pytest.approx(np.mean(per_seed))
    half = stats.t.ppf(0.975, 2) * np.std(per_seed, ddof=1) / np.sqrt(3)
    assert spread.at["llm", "savings_vs_all_expensive_hi"] == pytest.approx(np.mean(per_seed) + half)
    dominated = sum(bool(runs[s].table.at["llm", "dominated_by"]) for s in runs)
    assert spread.at["llm", "dominated_in"] == f"{dominated} of 3"
    assert spread.at["oracle", "dominated_in"] == "reference"  # a reference is outside dominance
    assert " ± " in spread_cells(spread).at["rules", "quality"]
