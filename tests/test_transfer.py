"""Out of domain (leave one dataset out), the verdict per dataset, and AIQ's hull counting the single tiers."""
import numpy as np
import pandas as pd
import pytest

from routerlib.catalog import Catalog
from routerlib.cli import main
from routerlib.evaluate import curve_metrics
from routerlib.spread import dataset_verdict
from routerlib.sweep import single_models
from routerlib.tables import TierTable, transferred


def tier_table(name, quality, tiers=None, models=None):
    quality = np.asarray(quality, float)
    n, k = quality.shape
    tiers = tiers or ["cheap", "mid", "expensive"][-k:] if k < 3 else ["cheap", "mid", "expensive"]
    models = models or ["gpt-4o-mini", "gpt-4o", "gpt-4-turbo"][:k] if k == 3 else ["gpt-4o-mini", "gpt-4-turbo"]
    prompts = pd.Series([f"{name} prompt {i}" for i in range(n)], index=[f"{name}{i}" for i in range(n)])
    cost = np.tile(np.linspace(0.001, 0.01, k), (n, 1))
    responses = np.array([[f"{name} answer {i} tier {j}" for j in range(k)] for i in range(n)], dtype=object)
    return TierTable(name, tiers, models, quality, cost, prompts, responses, np.full(n, 10.0), False, Catalog.load())


def test_labels_map_through_each_datasets_tiers():
    two = tier_table("two", [[1, 1], [0, 1], [0, 0]], ["cheap", "expensive"])  # cheapest good: 0, 1, none
    three = tier_table("three", [[0, 1, 1], [0, 0, 1], [1, 1, 1]])  # cheapest good: 1 (mid), 2, 0
    train = transferred(three, [two, three])
    good = train.good()
    assert good.tolist() == [[True, True, True], [False, False, True], [False, False, False],
                             [False, True, True], [False, False, True], [True, True, True]]
    assert train.tiers == three.tiers and train.models == three.models and train.n == 6
    assert train.responses[0].tolist() == ["two answer 0 tier 0", "two answer 0 tier 1", "two answer 0 tier 1"]
    back = transferred(two, [three])  # three tiers onto two: mid's position 0.5 rounds up to the dearest
    assert back.good().tolist() == [[False, True], [False, True], [True, True]]


def test_hull_counts_each_tier_alone_so_a_one_point_router_is_not_penalised():
    tt = tier_table("t", [[1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 1]])
    singles = single_models(tt)
    one_point = singles.iloc[[0]][["cost_per_1k", "quality"]]  # a router sending everything to the cheap tier
    m = curve_metrics(tt, np.ones((4, 3)), one_point, singles)
    hull_of_singles = curve_metrics(tt, np.ones((4, 3)), singles[["cost_per_1k", "quality"]], singles)
    assert m["aiq"] == pytest.approx(hull_of_singles["aiq"]) and m["aiq"] > float(singles["quality"].iloc[0])


def verdict_table(rows):
    return pd.DataFrame(rows, columns=["router", "aiq_gain_vs_random", "aiq_gain_lo", "aiq_gain_hi", "simulated"]
                        ).set_index("router")


def test_dataset_verdict_in_words():
    table = verdict_table([("random", 0, np.nan, np.nan, False), ("oracle", 0.3, 0.2, 0.4, False),
                           ("classifier", 0.02, 0.01, 0.03, False), ("knn", 0.03, 0.005, 0.05, False),
                           ("llm", 0.09, 0.05, 0.1, True), ("rules", -0.02, -0.03, -0.01, False)])
    text = dataset_verdict(table, "mmlu")
    assert text.startswith("On mmlu the best router that reliably beats random is knn: AIQ +0.030")
    assert "reliably worse than random: rules (" in text  # the oracle (test labels) and simulated llm are not picked
    none = verdict_table([("random", 0, np.nan, np.nan, False), ("classifier", 0.01, -0.01, 0.03, False)])
    assert "no router beats random reliably" in dataset_verdict(none, "mine")
    only_simulated = verdict_table([("llm", 0.09, 0.05, 0.1, True)])
    assert "no router beats random reliably" in dataset_verdict(only_simulated, "x")


def test_lodo_trains_on_the_other_datasets_and_tests_on_the_same_halves(data_mirror, capsys):
    args = ["evaluate", "--dataset", "routellm-mtbench", "--router", "classifier", "--splits", "1", "--quiet",
            "--data-dir", str(data_mirror)]
    assert main([*args, "--protocol", "lodo"]) == 0
    lodo = capsys.readouterr().out
    assert "protocol: leave one dataset out" in lodo and "routellm-mmlu" in lodo and "routellm-mtbench, " not in lodo
    assert main(args) == 0
    in_domain = capsys.readouterr().out
    test_sizes = [line.split(" train / ")[1].split()[0] for text in (lodo, in_domain)
                  for line in text.splitlines() if " train / " in line]
    assert len(set(test_sizes)) == 1  # the same test halves
    train_sizes = [int(line.split(" split(s) of ")[1].split()[0]) for line in lodo.splitlines() if " train / " in line]
    assert min(train_sizes) > 10_000  # MMLU alone has 14,037 prompts
