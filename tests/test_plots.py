"""Plots drawn headless (the inline backend, as in a notebook) on small synthetic tables: the drawn data, units and SIMULATED labels."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from routerlib import plots
from routerlib.catalog import Catalog
from routerlib.evaluate import Evaluation
from routerlib.metrics import non_decreasing_convex_hull
from routerlib.routers.base import DecidingCost
from routerlib.sweep import assign, single_models, sweep
from routerlib.tables import OutcomeTable, TierTable

matplotlib.use("module://matplotlib_inline.backend_inline")
TIERS = ["cheap", "mid", "expensive"]
MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4-turbo"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def tier_table(n=120, seed=0) -> TierTable:
    rng = np.random.default_rng(seed)
    d = rng.random(n)
    quality = np.column_stack([(rng.random(n) > d), (rng.random(n) > d * 0.6), (rng.random(n) > d * 0.3)]).astype(float)
    cost = np.array([0.001, 0.01, 0.05]) * (1 + rng.random((n, 1)))
    prompts = pd.Series([f"query {i}" for i in range(n)], index=[f"q{i}" for i in range(n)])
    return TierTable("synthetic", TIERS, MODELS, quality, cost, prompts, np.full((n, 3), "answer", dtype=object),
                     np.full(n, 10.0), False, Catalog.load())


def outcome_table(tt: TierTable) -> OutcomeTable:
    """The same outcomes as a long OutcomeTable, with three categories."""
    queries = pd.DataFrame({"prompt": tt.prompts, "category": [["maths", "code", "chat"][i % 3] for i in range(tt.n)]})
    rows = [{"query_id": q, "model": m, "quality": tt.quality[i, k], "quality_raw": tt.quality[i, k], "prompt_tokens": 10,
             "completion_tokens": 20, "cost_usd": tt.cost[i, k], "response": "answer"}
            for i, q in enumerate(tt.prompts.index) for k, m in enumerate(MODELS)]
    return OutcomeTable("synthetic", queries, pd.DataFrame(rows), "0-1", "given", "given")


def scores(tt, seed=1):
    return np.column_stack([np.random.default_rng(seed).random((tt.n, 2)), np.ones(tt.n)])


def evaluation(tt, router, seed=1, simulated=False, cascade=False) -> Evaluation:
    curve = sweep(tt, scores(tt, seed), np.linspace(0, 1.01, 21), cost=DecidingCost(pays_lower_tiers=cascade))
    return Evaluation("synthetic", router, curve, {}, single_models(tt), TIERS, MODELS, 0, tt.n, simulated)


def lines(ax, gid):
    return [line for line in ax.get_lines() if line.get_gid() == gid]


def test_cost_quality_front_is_the_hull_of_every_point():
    tt = tier_table()
    evals = [evaluation(tt, "random", 1), evaluation(tt, "oracle", 2), evaluation(tt, "llm", 3, simulated=True)]
    pts = pd.concat([evals[0].singles] + [e.curve for e in evals])
    hull = non_decreasing_convex_hull(pts["cost_per_1k"], pts["quality"])
    ax = plots.plot_cost_quality(evals, log_x=False).axes[0]
    (front,) = lines(ax, "pareto_front")
    np.testing.assert_allclose(front.get_xydata(), hull)
    ax = plots.plot_cost_quality(evals).axes[0]  # log x: segments filled in, still straight in linear cost
    x, y = lines(ax, "pareto_front")[0].get_xydata().T
    assert set(map(tuple, hull.round(9))) <= set(zip(x.round(9), y.round(9)))
    np.testing.assert_allclose(y, np.interp(x, hull[:, 0], hull[:, 1]))
    assert ax.get_xscale() == "log"


def test_cost_quality_draws_each_router_and_the_single_models():
    tt = tier_table()
    evals = [evaluation(tt, "random", 1), evaluation(tt, "classifier", 2), evaluation(tt, "llm", 3, simulated=True)]
    ax = plots.plot_cost_quality(evals).axes[0]
    routers = lines(ax, "router")
    assert len(routers) == len(evals)
    for line, e in zip(routers, evals):
        np.testing.assert_allclose(line.get_xydata(), e.curve[["cost_per_1k", "quality"]].to_numpy())
    assert routers[2].get_label() == "llm (SIMULATED)" and routers[2].get_linestyle() == "--"
    assert routers[0].get_linestyle() == "-" and routers[0].get_color() == plots.ROUTER_COLOURS["random"]
    (squares,) = [c for c in ax.collections if c.get_gid() == "single_models"]
    np.testing.assert_allclose(squares.get_offsets(), evals[0].singles[["cost_per_1k", "quality"]].to_numpy())
    assert [t.get_text() for t in ax.texts] == [f"{t}: {m}" for t, m in zip(TIERS, MODELS)]
    assert "$ per 1k requests" in ax.get_xlabel() and "(normalised 0-1)" in ax.get_ylabel()
    assert "SIMULATED" in ax.get_title()


def test_cost_quality_title_is_plain_without_simulated_routers_and_rejects_mixed_datasets():
    tt = tier_table()
    ax = plots.plot_cost_quality([evaluation(tt, "random")]).axes[0]
    assert "SIMULATED" not in ax.get_title()
    other = evaluation(tt, "oracle")
    other.dataset = "another"
    with pytest.raises(ValueError, match="same dataset"):
        plots.plot_cost_quality([evaluation(tt, "random"), other])
    with pytest.raises(ValueError):
        plots.plot_cost_quality([])


@pytest.mark.parametrize("simulated", [False, True])
def test_threshold_sweep_draws_cost_quality_and_mix(simulated):
    tt = tier_table()
    curve = sweep(tt, scores(tt), np.linspace(0, 1.01, 21))
    fig = plots.plot_threshold_sweep(curve, TIERS, simulated=simulated)
    main, mix, right = fig.axes  # the host, the mix panel below it, the quality twin
    np.testing.assert_allclose(main.get_lines()[0].get_xydata(), curve[["threshold", "cost_per_1k"]].to_numpy())
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), curve["quality"])
    assert len(mix.collections) == len(TIERS)  # one stacked band per tier
    top = mix.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(100)
    assert main.get_ylabel() == "$ per 1k requests" and "(normalised 0-1)" in right.get_ylabel()
    assert "(%)" in mix.get_ylabel() and "threshold" in mix.get_xlabel()
    assert ("SIMULATED" in main.get_title()) == simulated


def test_breakdown_matches_a_plain_loop_and_the_bars():
    tt = tier_table(90)
    table = outcome_table(tt)
    a = assign(scores(tt), 0.5)
    got = plots.breakdown(table, a, tt, "category")
    for group, row in got.iterrows():
        idx = [i for i in range(tt.n) if table.queries["category"].iloc[i] == group]
        assert row["queries"] == len(idx)
        assert row["routed_quality"] == pytest.approx(np.mean([tt.quality[i, a[i]] for i in idx]))
        assert row["expensive_cost_per_1k"] == pytest.approx(1000 * np.mean(tt.cost[idx, 2]))
    fig = plots.plot_breakdown(table, a, tt, "category")
    q_ax, c_ax = fig.axes
    routed, expensive = q_ax.containers
    assert [b.get_width() for b in routed] == pytest.approx(got["routed_quality"][::-1].tolist())
    assert [b.get_width() for b in c_ax.containers[1]] == pytest.approx(got["expensive_cost_per_1k"][::-1].tolist())
    assert "(normalised 0-1)" in q_ax.get_xlabel() and c_ax.get_xlabel() == "$ per 1k requests"
    assert "SIMULATED" not in q_ax.get_title()
    assert "SIMULATED" in plots.plot_breakdown(table, a, tt, simulated=True).axes[0].get_title()


def test_breakdown_by_difficulty_and_subsets():
    tt = tier_table(90)
    table = outcome_table(tt)
    test = tt.take(np.arange(30, 90))  # a split: rows are found by query id
    a = assign(scores(test), 0.5)
    got = plots.breakdown(table, a, test, "difficulty")
    assert got["queries"].sum() == test.n and set(got.index) <= {"easy", "medium", "hard"}
    easy = plots.breakdown(table, np.zeros(test.n, int), test, "difficulty").loc["easy", "routed_quality"]
    assert easy == pytest.approx(1.0)  # easy: the cheap tier's answer was good enough
    assert len(plots.plot_breakdown(table, a, test, "category", top=2).axes[0].get_yticks()) == 2
    with pytest.raises(ValueError, match="no query column"):
        plots.breakdown(table, a, test, "language")
    with pytest.raises(ValueError, match="one tier index per query"):
        plots.breakdown(table, a[:-1], test)


def test_cascade_plot_and_non_cascade_curves():
    tt = tier_table()
    curve = sweep(tt, scores(tt), np.linspace(0, 1.01, 21), cost=DecidingCost(pays_lower_tiers=True))
    fig = plots.plot_cascade(curve, simulated=True, all_expensive_per_1k=75.0)
    left, right = fig.axes
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), 100 * curve["escalation_rate"])
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), curve["cost_per_1k"])
    assert right.get_lines()[1].get_ydata()[0] == 75.0
    assert "(%)" in left.get_ylabel() and "$ per 1k requests" in right.get_ylabel()
    assert "SIMULATED" in left.get_title()
    with pytest.raises(ValueError, match="not a cascade"):
        plots.plot_cascade(sweep(tt, scores(tt), [0.5]))


def test_plots_draw_on_given_axes():
    tt = tier_table()
    fig, axes = plt.subplots(2, 2)
    assert plots.plot_cost_quality([evaluation(tt, "random")], ax=axes[0, 0]) is fig
    assert plots.plot_threshold_sweep(sweep(tt, scores(tt), [0.2, 0.8]), TIERS, ax=axes[0, 1]) is fig
    assert plots.plot_breakdown(outcome_table(tt), assign(scores(tt), 0.5), tt, ax=axes[1]) is fig


def test_mixes_draw_each_routers_shares_and_the_band():
    mixes = {"a": {"cheap": 0.75, "mid": 0.2, "expensive": 0.05}, "b": {"cheap": 0.1, "mid": 0.3, "expensive": 0.6}}
    fig = plots.plot_mixes(mixes, simulated=True, title="mix")
    ax = fig.axes[0]
    for tier in ("cheap", "mid", "expensive"):
        heights = [p.get_height() for p in ax.patches if p.get_gid() == tier]
        assert heights == pytest.approx([100 * m[tier] for m in mixes.values()])
    bands = [p for p in ax.patches if p.get_gid() == "band"]
    assert len(bands) == 6  # one shaded box per tier and router
    assert [v for b in bands[:2] for v in (b.get_y(), b.get_y() + b.get_height())] == pytest.approx([70, 80] * 2)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert "SIMULATED" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)
