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


# --- every figure function: the kit style, no text over text, nothing off the figure ---

class FakeExercise:
    """What plot_policy_costs and plot_tier_costs read of an ExerciseResult (routerlib.fifty_queries)."""

    def __init__(self):
        self.summary = {"n_queries": 50, "router": "llm", "simulated": True}

    def comparison(self):
        return pd.DataFrame({"cost_usd": [0.368, 0.0135, 0.26, 1.17], "quality": [0.86, 0.76, 0.92, 0.94]},
                            index=pd.Index(["routed (incl. router)", "all-cheap", "all-mid", "all-expensive"],
                                           name="policy"))

    def tier_table(self):
        return pd.DataFrame({"requests": [24, 13, 13, 0], "cost_per_request_usd": [0.00023, 0.0054, 0.022, np.nan]},
                            index=["cheap", "mid", "expensive", "mid-2"])


def failure_runs(n=400, seed=0) -> dict:
    """Small synthetic runs named as monitors.scenarios() names them."""
    rng = np.random.default_rng(seed)

    def run(cheap_share, latency, escalated=0.0, quality=0.8):
        tier = np.where(rng.random(n) < cheap_share, "cheap", "expensive")
        return pd.DataFrame({"tier": tier, "quality": (rng.random(n) < quality).astype(float),
                             "cost_usd": np.where(tier == "cheap", 0.0001, 0.004) + 0.004 * escalated,
                             "router_latency_s": latency + 0.001 * rng.random(n),
                             "escalated": rng.random(n) < escalated})

    return {"healthy": run(0.5, 0.004), "under-routing (all cheap)": run(1.0, 0.004, quality=0.6),
            "mitigated: quality floor": run(0.4, 0.004),
            "over-routing (all expensive)": run(0.0, 0.004), "mitigated: calibrated": run(0.5, 0.004),
            "router latency (slow LLM router, SIMULATED 250-350 ms)": run(0.5, 0.3),
            "mitigated: light classifier (measured)": run(0.5, 0.004),
            "cascade explosion (strict)": run(0.5, 0.004, 0.9),
            "mitigated: cascade accepts at 0.6": run(0.5, 0.004, 0.3)}


def savings_table():
    rows = {("two", "always-cheap"): 1.3, ("two", "always-expensive"): 1.3, ("two", "classifier"): 1.6,
            ("two", "llm (SIMULATED)"): 2.4, ("two", "rules"): np.nan, ("three", "always-cheap"): 12.55,
            ("three", "always-expensive"): 12.55, ("three", "classifier"): 12.55, ("three", "llm (SIMULATED)"): 12.55,
            ("three", "rules"): 12.55}
    return pd.DataFrame({"savings_factor_at_95pct_best": rows.values()},
                        index=pd.MultiIndex.from_tuples(rows, names=["dataset", "router"]))


def every_figure():
    """name -> a call drawing that public figure function on synthetic data."""
    from test_selection import outcome_table as selection_table

    from routerlib.routers.selection import evaluate_selection

    tt = tier_table()
    evals = [evaluation(tt, "random", 1), evaluation(tt, "classifier", 2), evaluation(tt, "llm", 3, simulated=True)]
    cascade = sweep(tt, scores(tt), np.linspace(0, 1.01, 21), cost=DecidingCost(pays_lower_tiers=True))
    mixes = {name: {"cheap": 0.7 - 0.1 * i, "mid": 0.2, "expensive": 0.1 + 0.1 * i}
             for i, name in enumerate(["random", "classifier", "llm (SIMULATED)", "cascade-verifier", "oracle"])}
    return {
        "plot_policy_costs": lambda: plots.plot_policy_costs(FakeExercise()),
        "plot_traffic_mix": lambda: plots.plot_traffic_mix({"cheap": 0.48, "mid": 0.26, "expensive": 0.26}, True),
        "plot_tier_costs": lambda: plots.plot_tier_costs(FakeExercise()),
        "plot_mixes": lambda: plots.plot_mixes(mixes, simulated=True),
        "plot_models": lambda: plots.plot_models(outcome_table(tt)),
        "plot_cost_quality": lambda: plots.plot_cost_quality(evals),
        "plot_threshold_sweep": lambda: plots.plot_threshold_sweep(sweep(tt, scores(tt), np.linspace(0, 1.01, 21)),
                                                                   TIERS),
        "plot_breakdown": lambda: plots.plot_breakdown(outcome_table(tt), assign(scores(tt), 0.5), tt),
        "plot_cascade": lambda: plots.plot_cascade(cascade, simulated=True, all_expensive_per_1k=75.0),
        "plot_selection": lambda: plots.plot_selection(evaluate_selection(selection_table(), splits=1, seed=0)),
        "plot_failure_modes": lambda: plots.plot_failure_modes(failure_runs()),
        "plot_savings": lambda: plots.plot_savings(savings_table()),
        "plot_mix_curve": lambda: plots.plot_mix_curve(mix_curve(), simulated=True),
    }


def mix_curve() -> pd.DataFrame:
    """Savings and quality of three policies against the easy share, as PolicyComparison.easy_share_curve gives."""
    share = np.linspace(0.3, 0.95, 14)
    return pd.concat([pd.DataFrame({"policy": name, "easy_share": share, "savings": base * (1 + share),
                                    "quality": q - 0.1 * (1 - share)})
                      for name, base, q in [("rules", 3.0, 0.93), ("all-mid", 4.5, 0.95), ("all-expensive", 1.0, 1.0)]])


def test_every_figure_function_has_a_synthetic_case():
    public = {n for n in dir(plots) if n.startswith("plot_") and callable(getattr(plots, n))}
    assert public == set(every_figure())  # a new plot_ function must be added to every_figure()


@pytest.mark.parametrize("name", sorted(every_figure()))
def test_figure_text_is_legible_and_never_overlaps(name):
    from figure_check import drawn_texts, small_texts, text_overlaps, unlabelled_axes

    fig = every_figure()[name]()
    fig.canvas.draw()
    assert fig.dpi == 100
    assert len(drawn_texts(fig)) > 5
    assert text_overlaps(fig) == []
    assert small_texts(fig) == []
    assert unlabelled_axes() == []


def test_importing_plots_leaves_the_global_style_alone():
    import subprocess
    import sys

    code = ("import matplotlib as mpl; before = dict(mpl.rcParams); import routerlib.plots as p; "
            "assert dict(mpl.rcParams) == before; "
            "with_kit = None\n"
            "with p.kit_style():\n    with_kit = mpl.rcParams['figure.dpi']\n"
            "assert with_kit == 100 and dict(mpl.rcParams) == before")
    subprocess.run([sys.executable, "-c", code], check=True)
    before = dict(matplotlib.rcParams)
    plots.plot_traffic_mix({"cheap": 0.7, "mid": 0.25, "expensive": 0.05})
    assert dict(matplotlib.rcParams) == before


def test_dollars_and_percent_axes():
    assert [plots.dollars(v) for v in (0, 0.005, 0.1, 1, 7.36, 10, 100, 1200)] == [
        "$0", "$0.005", "$0.10", "$1", "$7.36", "$10", "$100", "$1.2k"]
    ax = plots.plot_cost_quality([evaluation(tier_table(), "random")]).axes[0]
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(t.startswith("$") and "10^" not in t for t in labels)
    ax = plots.plot_traffic_mix({"cheap": 0.7, "mid": 0.25, "expensive": 0.05}).axes[0]
    ax.figure.canvas.draw()
    assert {t.get_text() for t in ax.get_yticklabels()} >= {"0%", "100%"}


def test_policy_costs_show_quality_and_mark_dominated_policies():
    cost_ax, q_ax = plots.plot_policy_costs(FakeExercise()).axes
    table = FakeExercise().comparison()
    assert [b.get_width() for b in q_ax.containers[0]] == pytest.approx(table["quality"].tolist())
    assert [b.get_width() for b in cost_ax.containers[0]] == pytest.approx((table["cost_usd"] * 20).tolist())
    ticks = [t.get_text() for t in cost_ax.get_yticklabels()]
    assert ticks[0] == "routed (incl. router)\n(dominated by all-mid)"  # costs more than all-mid, lower quality
    assert not any("dominated" in t for t in ticks[1:])
    assert list(plots.dominated([1, 2, 3], [0.5, 0.4, 0.9])) == [-1, 0, -1]


def test_cost_quality_highlight_draws_the_rest_thin_and_grey():
    tt = tier_table()
    evals = [evaluation(tt, "random", 1), evaluation(tt, "classifier", 2), evaluation(tt, "knn", 3)]
    ax = plots.plot_cost_quality(evals, highlight=["classifier"]).axes[0]
    random, classifier, knn = lines(ax, "router")
    assert classifier.get_color() == plots.ROUTER_COLOURS["classifier"] and classifier.get_linewidth() > 1.5
    assert random.get_color() == knn.get_color() == "0.72" and random.get_linewidth() < 1
    assert lines(ax, "pareto_front") and ax.get_legend() is not None
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "classifier" in labels and "random" not in labels and "other routers" in labels


def test_cost_quality_title_says_simulated_only_when_every_router_is():
    tt = tier_table()
    mixed = plots.plot_cost_quality([evaluation(tt, "random"), evaluation(tt, "llm", simulated=True)]).axes[0]
    assert "dashed lines: SIMULATED" in mixed.get_title() and "SIMULATED data" not in mixed.get_title()
    alone = plots.plot_cost_quality([evaluation(tt, "llm", simulated=True)]).axes[0]
    assert "[SIMULATED data]" in alone.get_title()


def test_models_plot_marks_the_front_of_the_single_models():
    ax = plots.plot_models(outcome_table(tier_table())).axes[0]
    assert lines(ax, "pareto_front") and sorted(t.get_text() for t in ax.texts) == sorted(MODELS)


def test_breakdown_by_difficulty_puts_easy_at_the_top():
    tt = tier_table(90)
    fig = plots.plot_breakdown(outcome_table(tt), assign(scores(tt), 0.5), tt, "difficulty")
    ticks = sorted(fig.axes[0].get_yticklabels(), key=lambda t: -t.get_position()[1])
    assert [t.get_text().split(" ")[0] for t in ticks] == ["easy", "medium", "hard"]


def test_traffic_mix_shades_a_band_per_tier():
    ax = plots.plot_traffic_mix({"cheap": 0.5, "mid": 0.3, "expensive": 0.2}).axes[0]
    bands = [p for p in ax.patches if p.get_gid() == "band"]
    assert [(b.get_y(), b.get_height()) for b in bands] == [pytest.approx((70, 10)), pytest.approx((15, 10)),
                                                           pytest.approx((2, 3))]


def test_savings_draws_single_tiers_as_a_line_and_says_not_reached():
    fig = plots.plot_savings(savings_table())
    three, two = fig.axes  # datasets in sorted order
    assert [t.get_text() for t in three.get_yticklabels()] == ["rules", "llm (SIMULATED)", "classifier"]
    for ax in (three, two):
        assert 1 in [line.get_xdata()[0] for line in ax.get_lines()]
    assert [b.get_width() for b in two.patches] == pytest.approx([0, 2.4, 1.6])
    assert "not reached" in [t.get_text().strip() for t in two.texts]
    fig = plots.plot_savings(savings_table().drop(("three", "rules")))
    assert "not run" in [t.get_text().strip() for t in fig.axes[0].texts]
    assert [b.get_hatch() or "" for b in two.patches] == ["", "//", ""]
    assert "12.55x" in three.get_title() and not any("always-" in t.get_text() for t in three.get_yticklabels())


def test_failure_modes_read_the_monitors_limits():
    from routerlib.monitors import monitors

    watch = monitors(min_quality=0.55)
    fig = plots.plot_failure_modes(failure_runs(), watch)
    panels = {ax.get_title().split(":")[0]: ax for ax in fig.axes}
    assert set(panels) == {"Under-routing", "Over-routing", "Router latency", "Cascade explosion"} or len(fig.axes) == 5
    limits = [line.get_ydata()[0] for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "limit"]
    assert limits == pytest.approx([0.55, 200, 40])
    latency = next(ax for ax in fig.axes if ax.get_title().startswith("Router latency"))
    assert any("SIMULATED" in t.get_text() for t in latency.get_xticklabels())
    assert [p.get_hatch() or "" for p in latency.patches] == ["", "//", ""]
