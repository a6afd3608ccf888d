"""The columnar log loader against the row-wise user-file path, and its one-line errors."""
import numpy as np
import pandas as pd
import pytest

from routerlib.bench.biglog import generate
from routerlib.datasets.columnar import load_log
from routerlib.datasets.sources import DataFormatError
from routerlib.datasets.user import load_user_file
from routerlib.tables import TierTable


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("log"), 3000, seed=2)


def test_columnar_log_equals_the_row_wise_path(log):
    outcomes, prompts = log
    fast = load_log(outcomes, prompts)
    slow = TierTable.from_table(load_user_file(outcomes))
    assert fast.tiers == slow.tiers and fast.models == slow.models and fast.n == slow.n == 3000
    assert np.array_equal(fast.quality, slow.quality) and np.array_equal(fast.cost, slow.cost)
    assert list(fast.prompts.index) == list(slow.prompts.index)
    text = pd.read_parquet(prompts).set_index("query_id")["prompt"]
    assert list(fast.prompts) == list(text.loc[fast.prompts.index])
    assert np.array_equal(fast.prompt_tokens, slow.prompt_tokens)


def test_csv_shuffled_prompts_and_missing_rows(log, tmp_path):
    outcomes, prompts = log
    rows = pd.read_parquet(outcomes)
    rows = rows.drop(index=[4]).sample(frac=1, random_state=0)  # one outcome missing, rows in any order
    rows.to_csv(tmp_path / "log.csv", index=False)
    pd.read_parquet(prompts).sample(frac=1, random_state=1).to_parquet(tmp_path / "p.parquet")
    tt = load_log(tmp_path / "log.csv", tmp_path / "p.parquet")
    assert tt.n == 2999 and tt.notes and "left out 1" in tt.notes[0]
    ref = load_log(outcomes, prompts)
    keep = ref.prompts.index.isin(tt.prompts.index)
    order = tt.prompts.index.get_indexer(ref.prompts.index[keep])
    assert np.array_equal(tt.quality[order], ref.quality[keep]) and list(tt.prompts.iloc[order]) == list(ref.prompts[keep])


@pytest.mark.parametrize("change, message", [
    (lambda r: r.assign(quality=r["quality"] * 2), "quality must be between 0 and 1"),
    (lambda r: r.assign(cost_usd=-r["cost_usd"]), "cost_usd must be finite"),
    (lambda r: pd.concat([r, r.head(1)]), "more than one outcome"),
    (lambda r: r.drop(columns="cost_usd"), "missing column"),
    (lambda r: r.assign(model=r["model"].astype(str).replace("gpt-4o", "my-model")), "no tier for model"),
])
def test_bad_logs_fail_in_one_line(log, tmp_path, change, message):
    change(pd.read_parquet(log[0])).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataFormatError, match=message) as err:
        load_log(tmp_path / "bad.parquet")
    assert "\n" not in str(err.value)
