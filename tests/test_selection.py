"""Model selection among every model (routers/selection.py): the lambda sweep, the oracle and random, the CLI."""
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from routerlib import plots
from routerlib.cli import main
from routerlib.metrics import non_decreasing_convex_hull
from routerlib.routers.selection import SelectionRouter, evaluate_selection, every_model_table, lambda_grid, pick
from routerlib.tables import OutcomeTable, split

# made-up models: (cost per call, chance of a good answer to a greeting, to a sum)
MODELS = {"tiny": (0.0001, 0.9, 0.1), "chatty": (0.0004, 0.95, 0.3), "mathy": (0.002, 0.2, 0.95),
          "big": (0.02, 0.9, 0.9)}


def prompts(n, seed=0):
    """Half greetings, half sums, in a seeded order; True where the prompt is a sum."""
    rng = np.random.default_rng(seed)
    maths = rng.permutation(np.arange(n) % 2 == 1)
    text = [f"solve the equation x + {i} = {2 * i} for x" if m else f"say hello to my friend number {i}"
            for i, m in enumerate(maths)]
    return text, maths


def long_rows(n=160, seed=0, models=MODELS) -> pd.DataFrame:
    """One row per query and model: 0/1 quality by the model's skill at the prompt's kind, cost near its price."""
    rng = np.random.default_rng(seed)
    text, maths = prompts(n, seed)
    rows = []
    for i, (t, m) in enumerate(zip(text, maths)):
        for model, (cost, greet, sums) in models.items():
            rows.append({"query_id": f"q{i}", "prompt": t, "model": model,
                         "quality": float(rng.random() < (sums if m else greet)),
                         "cost_usd": cost * (0.8 + 0.4 * rng.random())})
    return pd.DataFrame(rows)


def outcome_table(n=160, seed=0, models=MODELS) -> OutcomeTable:
    rows = long_rows(n, seed, models)
    queries = rows.drop_duplicates("query_id").set_index("query_id")[["prompt"]].assign(category="made-up")
    outcomes = rows.assign(quality_raw=rows["quality"], prompt_tokens=10, completion_tokens=20, response="answer")
    return OutcomeTable("two-kinds", queries, outcomes.drop(columns="prompt"), "0/1", "given", "given")


@pytest.fixture(scope="module")
def result():
    return evaluate_selection(outcome_table(), splits=3, seed=0)


def test_lambda_zero_picks_the_best_predicted_model_and_a_large_lambda_the_cheapest():
    tt = every_model_table(outcome_table())
    assert tt.models == ["tiny", "chatty", "mathy", "big"]  # cheapest mean cost first
    train_ids, test_ids = split(outcome_table(), 0.5, 0)
    train, test = tt.take_ids(train_ids), tt.take_ids(test_ids)
    router = SelectionRouter().fit(train)
    assert "fitted on 4 models" in repr(router) and router.cost_per_1k_.shape == (4,)
    predicted = router.predict_quality(test.prompts)
    assert predicted.shape == (test.n, 4) and predicted.min() >= 0 and predicted.max() <= 1
    at_zero = router.choose(test.prompts)
    np.testing.assert_array_equal(at_zero, predicted.argmax(axis=1))
    maths = test.prompts.str.startswith("solve").to_numpy()
    names = np.array(router.select(test.prompts))
    assert (names[maths] == "mathy").mean() > 0.9 and set(names[~maths]) <= {"tiny", "chatty"}
    for lam in (1e9, np.inf):
        assert set(SelectionRouter(lam=lam).fit(train).select(test.prompts)) == {"tiny"}
    lams = lambda_grid(router.cost_per_1k_)
    assert lams[0] == 0 and np.isinf(lams[-1]) and np.all(np.diff(lams) > 0)
    assert set(router.choose(test.prompts, lams[-2:-1])[0]) == {0}  # the largest finite lambda: the cheapest already


def test_pick_breaks_ties_towards_the_cheaper_model():
    quality = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    cost = np.array([3.0, 1.0, 2.0])
    np.testing.assert_array_equal(pick(quality, cost, [0.0, np.inf]), [[1, 1], [1, 1]])
    np.testing.assert_array_equal(pick(quality, [9.0, 9.0, 1.0], [0.0, np.inf]), [[0, 2], [2, 2]])


def test_the_oracle_curve_dominates(result):
    for run in result.runs:
        curves, singles = run["curves"], run["singles"]
        hull = non_decreasing_convex_hull(curves["oracle"]["cost_per_1k"], curves["oracle"]["quality"])
        for name in ("selection", "random"):
            c = curves[name]
            reach = c["cost_per_1k"] >= hull[0, 0]
            assert reach.all()  # the oracle's cheapest point is the cheapest answer to each query
            assert np.all(np.interp(c["cost_per_1k"], hull[:, 0], hull[:, 1]) >= c["quality"] - 1e-3)
        assert np.all(np.interp(singles["cost_per_1k"], hull[:, 0], hull[:, 1]) >= singles["quality"] - 1e-3)
        oracle = run["figures"]["oracle"]
        for name in ("selection", "random"):
            assert oracle["aiq"] >= run["figures"][name]["aiq"]
            assert oracle["gap_recovered"] >= run["figures"][name]["gap_recovered"]


def test_figures_lie_in_their_ranges_and_the_router_beats_random_here(result):
    for curve in ("selection", "random", "oracle"):
        for v in result.values(curve, "aiq") + result.values(curve, "quality_at_lambda_0"):
            assert 0 <= v <= 1
        assert all(0 < v < 2 for v in result.values(curve, "gap_recovered"))
    gain = result.vs_random("aiq")
    assert gain["wins"] == 3 and gain["gain_ci95"][0] > 0 and "beats random" in gain["verdict"]
    assert 0 < result.oracle_share() <= 1
    assert "Selection(two-kinds: 4 models" in repr(result)
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["metrics"]["oracle"]["aiq_ci95"][0] is not None
    assert len(doc["metrics"]["selection"]["aiq_per_split"]) == 3
    assert set(doc["curves_split_1"]) == {"selection", "random", "oracle"} and "gap_recovered" in doc["definitions"]


def test_random_between_two_models_recovers_half_the_gap():
    two = {"tiny": MODELS["tiny"], "big": MODELS["big"]}
    run = evaluate_selection(outcome_table(models=two), splits=1).runs[0]
    assert list(run["curves"]["random"]["model"]) == ["tiny", "big"]
    assert run["figures"]["random"]["gap_recovered"] == pytest.approx(0.5)


def test_queries_lacking_an_outcome_are_left_out_with_a_note():
    table = outcome_table()
    table.outcomes.loc[0, "quality"] = np.nan
    tt = every_model_table(table)
    assert tt.n == table.n_queries - 1 and "left out 1 of 160" in tt.notes[0]


def test_plot_draws_the_three_curves_and_the_single_models(result):
    ax = plots.plot_selection(result).axes[0]
    assert {line.get_gid() for line in ax.get_lines()} >= {"selection", "oracle", "random"}
    assert any(c.get_gid() == "single_models" for c in ax.collections)
    assert ax.get_xscale() == "log" and "$ per 1k" in ax.get_xlabel() and "4 models" in ax.get_title()
    assert "SIMULATED" not in ax.get_title()
    plt.close("all")


def test_cli_models_all_on_a_csv_of_four_made_up_models(tmp_path, capsys):
    path, out = tmp_path / "four.csv", tmp_path / "out.json"
    long_rows().to_csv(path, index=False)
    assert main(["evaluate", "--dataset", str(path), "--models", "all", "--splits", "2", "--quiet",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for words in ("model selection on four: 4 models, 2 split(s)", "lambda curve of the router", "mathy",
                  "verdict: selection", "oracle (reads the test labels"):
        assert words in printed
    doc = json.loads(out.read_text())
    assert doc["models_compared"] == "all" and set(doc["models"]) == set(MODELS)
    assert main(["evaluate", "--dataset", str(path), "--models", "all", "--router", "rules"]) == 2
    assert "works with --models tiers only" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", str(path)]) == 2
    assert "needs --router" in capsys.readouterr().err


def test_cli_models_all_on_routerbench_mbpp(data_mirror, capsys):
    assert main(["evaluate", "--dataset", "routerbench-mbpp", "--models", "all", "--splits", "2", "--quiet",
                 "--data-dir", str(data_mirror)]) == 0
    printed = capsys.readouterr().out
    assert "model selection on routerbench-mbpp: 11 models, 2 split(s)" in printed
    assert "gpt-4-1106-preview" in printed and "verdict: selection" in printed
