"""Tables as notebooks show them: units from column names, tier and difficulty order, text cut at words."""
import numpy as np
import pandas as pd

from routerlib import readable
from routerlib.formatting import cut, dollars, kind_of


def test_units_follow_the_column_names():
    assert [kind_of(c) for c in ("cost_per_1k", "$ per 1k", "share_cheap", "overhead_share_of_cost", "quality",
                                 "savings_factor_at_95pct_best", "router p95 ms", "escalation_rate", ("x", "aiq"), "router_latency_s", "output_tokens_per_s")] == \
        ["dollars", "dollars", "percent", "percent", "number", "times", "ms", "percent", "number", "seconds", "number"]


def test_numbers_are_rounded_with_units():
    df = pd.DataFrame({"cost_per_1k": [0.005596, 3.178294, 1234.5], "quality": [0.666667, 1.0, np.nan],
                       "share_mid": [0.5, 0.25, 1.0], "savings x": [3.178294, 1.0, 12.0], "requests": [3, 10, 2]})
    out = readable(df)
    assert out["cost_per_1k"].tolist() == ["$0.00560", "$3.18", "$1,234"]
    assert out["quality"].tolist() == ["0.667", "1.000", ""]
    assert out["share_mid"].tolist() == ["50.0%", "25.0%", "100.0%"]
    assert out["savings x"].tolist() == ["3.18x", "1.00x", "12.00x"]
    assert out["requests"].tolist() == ["3", "10", "2"]
    assert readable(df, units={"quality": "percent"})["quality"].tolist()[:2] == ["66.7%", "100.0%"]
    assert readable(pd.Series([56.7], name="cheap share"))["cheap share"].tolist() == ["56.7%"]  # already in percent


def test_tiers_and_difficulties_come_in_their_order():
    cross = pd.crosstab(pd.Series(["easy", "hard", "medium", "easy"], name="difficulty"),
                        pd.Series(["mid", "cheap", "expensive", "cheap"], name="tier"))
    out = readable(cross)
    assert list(out.index) == ["easy", "medium", "hard"] and list(out.columns) == ["cheap", "mid", "expensive"]
    assert list(readable(pd.Series({"b": 1, "a": 2})).index) == ["b", "a"]  # other labels keep their order


def test_text_is_cut_at_a_word_boundary():
    assert cut("the quick brown fox jumps", 14) == "the quick…"
    assert cut("short\n text", 60) == "short text"
    assert cut("abcdefghijklmnop", 6) == "abcde…"
    out = readable(pd.DataFrame({"prompt": ["alpha beta gamma delta epsilon"]}), width=20)
    assert out["prompt"].iloc[0] == "alpha beta gamma…"


def test_dollars_keep_three_significant_digits_below_100():
    assert [dollars(x) for x in (0.0001234, 0.05, 1.5, 99.94, 250.0, 0.0)] == \
        ["$0.000123", "$0.0500", "$1.50", "$99.94", "$250", "$0.00"]


def test_metrics_as_rows_take_their_units_from_the_row_labels():
    table = pd.DataFrame({"rules": [0.5, 2.5, 0.25], "random": [0.4, 1.0, 0.5]}, index=["apgr", "cost_per_1k", "share_cheap"])
    out = readable(table)
    assert out.loc["cost_per_1k"].tolist() == ["$2.50", "$1.00"] and out.loc["share_cheap"].tolist() == ["25.0%", "50.0%"]
    assert list(out.columns) == ["rules", "random"] and out.loc["apgr", "rules"] == "0.500"
