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
    (lambda r: r.assign(model=r["model"].astype(object).where(r.index != 3, None)), "have no model"),
    (lambda r: r.assign(model=r["model"].astype(str).replace("gpt-4o", "my-model")), "no tier for model"),
])
def test_bad_logs_fail_in_one_line(log, tmp_path, change, message):
    change(pd.read_parquet(log[0])).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataFormatError, match=message) as err:
        load_log(tmp_path / "bad.parquet")
    assert "\n" not in str(err.value)


def test_prompt_text_is_read_on_first_use_only(log, monkeypatch):
    import routerlib.datasets.columnar as columnar
    reads = []
    real = columnar._read
    monkeypatch.setattr(columnar, "_read", lambda path, *a, **k: reads.append(path.name) or real(path, *a, **k))
    tt = load_log(*log)
    sample = tt.take(np.array([7, 2, 9])).take(np.array([2, 0]))  # a sample of a sample: rows 9 and 7
    assert reads == ["outcomes.parquet"] and sample.quality.shape == (2, 3)  # take() leaves the text unread
    assert sample.prompts.tolist() == tt.prompts.iloc[[9, 7]].tolist() and list(sample.prompts.index) == ["q9", "q7"]
    assert reads == ["outcomes.parquet", "prompts.parquet", "prompts.parquet"]  # each table read its own, once
    tt = load_log(*log)
    first, again = tt.prompts, tt.prompts
    assert first is again and reads.count("prompts.parquet") == 3 and len(first) == 3000


def test_a_categorical_model_column_with_unused_values(log, tmp_path):
    rows = pd.read_parquet(log[0])
    rows["model"] = pd.Categorical(rows["model"].astype(str), categories=["unused-model", "gpt-4-turbo", "gpt-4o",
                                                                        "gpt-4o-mini", "another"])
    rows.to_parquet(tmp_path / "cat.parquet")
    tt, ref = load_log(tmp_path / "cat.parquet"), load_log(log[0])
    assert tt.models == ref.models and np.array_equal(tt.quality, ref.quality) and np.array_equal(tt.cost, ref.cost)
    assert tt.prompts.index.equals(ref.prompts.index)


@pytest.mark.parametrize("columns, message", [(["query_id"], "needs columns query_id and prompt"), (None, "not found")])
def test_a_bad_prompts_file_fails_at_load(log, tmp_path, columns, message):
    prompts = tmp_path / "p.parquet"
    if columns:
        pd.read_parquet(log[1], columns=columns).to_parquet(prompts)
    with pytest.raises((DataFormatError, FileNotFoundError), match=message):
        load_log(log[0], prompts)
