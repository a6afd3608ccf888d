"""Checks shared by several test files."""
import pytest


def check_exercise_json(doc, catalog):
    """The exercise JSON's own arithmetic: row costs, totals and the savings ratio."""
    s, rows = doc["summary"], doc["rows"]
    keys = {"mode", "router", "baseline_model", "baseline_cost_usd", "routed_cost_usd", "router_cost_usd",
            "savings_factor", "traffic_mix", "quality"}
    assert keys <= set(s)
    for r in rows:
        assert {"id", "difficulty", "task_type", "tier", "model", "prompt_tokens", "completion_tokens",
                "cost_usd", "router_cost_usd", "quality"} <= set(r)
        m = catalog.get(r["model"])
        assert m.tier == r["tier"]
        expected = (r["prompt_tokens"] * m.input_per_mtok + r["completion_tokens"] * m.output_per_mtok) / 1e6
        assert r["cost_usd"] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    total = sum(r["cost_usd"] for r in rows) + sum(r["router_cost_usd"] for r in rows)
    assert s["routed_cost_usd"] == pytest.approx(total, rel=1e-12)
    assert s["router_cost_usd"] == pytest.approx(sum(r["router_cost_usd"] for r in rows), rel=1e-12)
    assert s["savings_factor"] == pytest.approx(s["baseline_cost_usd"] / s["routed_cost_usd"], rel=1e-12)
    assert sum(s["traffic_mix"].values()) == pytest.approx(1)
    for tier, share in s["traffic_mix"].items():
        assert share == pytest.approx(sum(r["tier"] == tier for r in rows) / len(rows))
