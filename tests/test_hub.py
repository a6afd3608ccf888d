"""Hugging Face datasets: hub loaders (long, RouterBench wide, LLMRouterBench) on local files, and the
OutcomeTable <-> datasets.Dataset round trip. Everything runs offline through datasets.load_dataset."""
import json
import subprocess
import sys

import datasets as hf
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from routerlib import OutcomeTable
from routerlib import datasets as rl_datasets
from routerlib.datasets.hub import load_hub, load_llmrouterbench_hub, load_routerbench_hub
from routerlib.datasets.sources import DataFormatError, DataNotFoundError

LONG = pd.DataFrame({
    "query_id": ["q1", "q1", "q2", "q2", "q3", "q3"], "prompt": ["add 2+2"] * 2 + ["prove it"] * 2 + ["hello"] * 2,
    "category": ["math"] * 4 + ["chat"] * 2, "model": ["gpt-4o-mini", "gpt-4o"] * 3,
    "quality": [1.0, 1.0, 0.0, 0.5, 1.0, 1.0], "cost_usd": [0.001, 0.01, 0.002, 0.02, 0.003, 0.03],
    "prompt_tokens": [5, 5, 6, 6, 2, 2], "completion_tokens": [3, 4, 50, 60, 7, 8]})
SETTINGS = ["name", "quality_scale", "token_method", "cost_method", "simulated", "source", "notes"]


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """No network and no cache outside tmp_path (datasets reads some settings at import, so set those too)."""
    for var, value in {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
                       "HF_DATASETS_CACHE": str(tmp_path / "hf" / "datasets")}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(hf.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf.config, "HF_DATASETS_CACHE", tmp_path / "hf" / "datasets")


def write(df: pd.DataFrame, path):
    {".csv": lambda: df.to_csv(path, index=False), ".parquet": lambda: df.to_parquet(path, index=False),
     ".jsonl": lambda: df.to_json(path, orient="records", lines=True)}[path.suffix]()
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_long_layout_files(tmp_path, suffix):
    t = load_hub(write(LONG, tmp_path / f"long{suffix}"))
    assert t.n_queries == 3 and t.models == ["gpt-4o-mini", "gpt-4o"] and t.name == "long"
    assert t.wide("quality").loc["q2"].tolist() == [0.0, 0.5]
    assert t.wide("cost_usd")["gpt-4o"].sum() == pytest.approx(0.06)
    assert t.queries.loc["q3", "category"] == "chat" and t.queries.loc["q2", "prompt"] == "prove it"
    assert "datasets.load_dataset" in t.source and (tmp_path / "hf" / "datasets").is_dir()


def test_long_layout_with_hub_column_names(tmp_path):
    hub_style = LONG.drop(columns=["query_id", "category", "prompt_tokens", "completion_tokens"]).rename(columns={
        "prompt": "query", "model": "model_name", "quality": "score", "cost_usd": "cost"}).assign(dataset="demo")
    t = rl_datasets.load(f"hf:{write(hub_style, tmp_path / 'hub_style.jsonl')}")
    assert t.n_queries == 3 and t.models == ["gpt-4o-mini", "gpt-4o"]
    assert t.wide("quality").loc["prove it"].tolist() == [0.0, 0.5]
    assert t.wide("cost_usd").loc["hello", "gpt-4o"] == pytest.approx(0.03)
    assert set(t.queries["category"]) == {"demo"}


ROUTERBENCH = pd.DataFrame({
    "sample_id": ["mmlu.1", "mmlu.2", "gsm8k.7"], "prompt": ["['What is 2+2?']", "['Capital of France?']", "x=3; 2x?"],
    "eval_name": ["mmlu", "mmlu", "gsm8k"], "oracle_model_to_route_to": ["cheap-llm", "big-llm", "cheap-llm"],
    "cheap-llm": [1.0, 0.0, 1.0], "cheap-llm|model_response": ["4", "Lyon", "6"],
    "cheap-llm|total_cost": [1e-5, 2e-5, 3e-5],
    "big-llm": [1.0, 1.0, 0.0], "big-llm|model_response": ["4", "Paris", "5"],
    "big-llm|total_cost": [1e-3, 2e-3, 3e-3]})


def test_routerbench_wide_parquet(tmp_path):
    path = write(ROUTERBENCH, tmp_path / "routerbench.parquet")
    for t in (load_routerbench_hub(str(path)), rl_datasets.load(f"hf:{path}")):  # named, and detected from columns
        assert t.n_queries == 3 and t.models == ["cheap-llm", "big-llm"]
        assert t.wide("quality").loc["mmlu.2"].tolist() == [0.0, 1.0]
        assert t.wide("cost_usd")["big-llm"].sum() == pytest.approx(6e-3)
        assert t.queries.loc["mmlu.1", "prompt"] == "What is 2+2?" and t.queries.loc["gsm8k.7", "category"] == "gsm8k"
        assert t.cost_method == "recorded per call (USD)"


def llmrouterbench_records():
    """Flat LLMRouterBench records (BaselineRecord fields): 2 datasets x 2 prompts x 3 models."""
    rows = []
    for dataset in ("aime", "gpqa"):
        for index in (0, 1):
            for k, model in enumerate(("qwen3-8b", "gpt-5-chat", "gemini-2.5-pro")):
                rows.append({"dataset_id": dataset, "split": "test", "model_name": model, "record_index": index,
                             "origin_query": f"{dataset} question {index}", "prompt": f"Q: {dataset} {index}\nA:",
                             "prediction": "42", "raw_output": f"answer {k}", "ground_truth": "42",
                             "score": float((index + k) % 2), "prompt_tokens": 10, "completion_tokens": 20 * (k + 1),
                             "cost": 0.001 * k})
    return pd.DataFrame(rows)


def test_llmrouterbench_flat_records(tmp_path):
    path = write(llmrouterbench_records(), tmp_path / "llmrouterbench.parquet")
    for t in (load_llmrouterbench_hub(str(path)), load_hub(str(path))):
        assert t.n_queries == 4 and t.models == ["qwen3-8b", "gpt-5-chat", "gemini-2.5-pro"]
        assert list(t.queries.index) == ["aime/test/0", "aime/test/1", "gpqa/test/0", "gpqa/test/1"]
        assert t.wide("quality").loc["gpqa/test/1"].tolist() == [1.0, 0.0, 1.0]
        assert t.wide("cost_usd")["gemini-2.5-pro"].sum() == pytest.approx(0.008)
        assert t.wide("completion_tokens").loc["aime/test/0", "gpt-5-chat"] == 40
        assert t.queries.loc["gpqa/test/0", "category"] == "gpqa"
        assert t.queries.loc["aime/test/1", "prompt"] == "Q: aime 1\nA:"
        assert t.wide("response").loc["aime/test/0", "gemini-2.5-pro"] == "answer 2"


def test_llmrouterbench_result_folder(tmp_path):
    """results/bench/<dataset>/<split>/<model>/<time>.json with file totals beside the nested records."""
    records = llmrouterbench_records()
    for (dataset, model), group in records.groupby(["dataset_id", "model_name"]):
        folder = tmp_path / "bench" / dataset / "test" / model
        folder.mkdir(parents=True)
        nested = group.rename(columns={"record_index": "index"}).drop(columns=["dataset_id", "split", "model_name"])
        result = {"dataset_name": dataset, "split": "test", "model_name": model, "performance": 0.5,
                  "prompt_tokens": 999, "completion_tokens": 999, "cost": 9.99, "counts": 2,
                  "records": nested.to_dict(orient="records")}
        (folder / "20250101_120000.json").write_text(json.dumps(result, indent=2))
    t = load_llmrouterbench_hub(tmp_path / "bench")
    assert t.n_queries == 4 and sorted(t.models) == ["gemini-2.5-pro", "gpt-5-chat", "qwen3-8b"]
    assert t.wide("quality").loc["aime/test/1", "qwen3-8b"] == 1.0
    assert t.wide("cost_usd")["gpt-5-chat"].sum() == pytest.approx(0.004)  # the records' costs, not the file total
    assert t.wide("prompt_tokens").max().max() == 10


def test_bad_layout_is_a_clear_error(tmp_path):
    path = write(pd.DataFrame({"prompt": ["hi"], "answer": ["hello"]}), tmp_path / "qa.csv")
    with pytest.raises(DataFormatError, match=r"cannot tell the layout from the columns \['prompt', 'answer'\]"):
        load_hub(path)
    with pytest.raises(ValueError, match="layout must be one of"):
        load_hub(path, layout="diagonal")
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['record_index', 'score'\]"):
        load_llmrouterbench_hub(write(pd.DataFrame({"dataset_id": ["a"], "model_name": ["m"]}), tmp_path / "x.csv"))


def test_unreachable_hub_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTERLIB_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(DataNotFoundError, match="'someone/routing-outcomes'.*networked machine.*local file"):
        load_hub("someone/routing-outcomes")
    with pytest.raises(DataNotFoundError, match="NPULH/LLMRouterBench.*bench-release.tar.gz"):
        rl_datasets.load("hf:NPULH/LLMRouterBench")
    with pytest.raises(DataNotFoundError, match="routerbench_0shot.pkl.*withmartian/routerbench"):
        rl_datasets.load("hf:withmartian/routerbench")  # the official repo holds pickles: read as such
    with pytest.raises(DataNotFoundError, match="check that it exists"):
        load_hub(str(tmp_path / "no_such_folder"))


def assert_same_table(a: OutcomeTable, b: OutcomeTable, check_dtype=True):
    assert_frame_equal(a.queries, b.queries, check_dtype=check_dtype)
    assert_frame_equal(a.outcomes, b.outcomes, check_dtype=check_dtype)
    assert [getattr(a, s) for s in SETTINGS] == [getattr(b, s) for s in SETTINGS]


def test_round_trip_of_a_user_csv(tmp_path):
    mixed = LONG.assign(quality_raw=["A", 1, True, "0.5", 7, None])  # CSV reads these back as text
    table = rl_datasets.load(str(write(mixed, tmp_path / "mine.csv")))
    ds = table.to_hf_dataset()
    assert isinstance(ds, hf.Dataset) and ds.num_rows == 6
    assert {"prompt", "category", "cost_usd"} <= set(ds.column_names)
    assert json.loads(ds.info.description)["name"] == "mine"
    assert_same_table(OutcomeTable.from_hf_dataset(ds), table)
    ds.save_to_disk(tmp_path / "saved")  # the metadata survives a save and load
    assert_same_table(OutcomeTable.from_hf_dataset(hf.load_from_disk(str(tmp_path / "saved"))), table)


def synthetic_table() -> OutcomeTable:
    """Mixed-type quality_raw, integer tokens, missing responses, an extra query column, a query with no outcome,
    and queries in another order than their outcomes."""
    queries = pd.DataFrame({"prompt": ["p3", "p1", "p2", "p4"], "category": ["c", "a", "b", "d"],
                            "split": ["test", "train", "train", "test"]}, index=["q3", "q1", "q2", "q4"])
    outcomes = pd.DataFrame({
        "query_id": ["q1", "q2", "q3", "q1", "q2", "q3"], "model": ["small"] * 3 + ["large"] * 3,
        "quality": [1.0, 0.0, np.nan, 1.0, 1.0, 0.5], "quality_raw": [True, "wrong", None, 1, np.int64(9), 0.5],
        "prompt_tokens": [3, 4, 5, 3, 4, 5], "completion_tokens": [10, 11, 12, 13, 14, 15],
        "cost_usd": [1e-6, 2e-6, 3e-6, 1e-4, 2e-4, 3e-4], "response": ["yes", None, None, "yes", "maybe", "no"]})
    return OutcomeTable("synthetic", queries, outcomes, quality_scale="mixed", token_method="made up",
                        cost_method="made up", simulated=True, source="test", notes={"models": 2, "why": "round trip"})


def test_round_trip_of_a_synthetic_table():
    table = synthetic_table()
    ds = table.to_hf_dataset()
    assert ds.num_rows == 7  # 6 outcomes, and q4, which has none
    assert ds.features["quality_raw"].dtype in ("string", "large_string")
    back = OutcomeTable.from_hf_dataset(ds)
    assert_same_table(back, table)
    assert [type(v) for v in back.outcomes["quality_raw"]] == [bool, str, type(None), int, int, float]
    assert OutcomeTable.from_hf_dataset(ds, name="renamed").name == "renamed"


def test_parquet_drops_the_metadata_and_from_hf_dataset_says_so(tmp_path):
    table = synthetic_table()
    table.to_hf_dataset().to_parquet(tmp_path / "t.parquet")
    back = OutcomeTable.from_hf_dataset(hf.load_dataset("parquet", data_files=str(tmp_path / "t.parquet"),
                                                        split="train"))
    assert back.quality_scale == "unknown" and back.name == "hf-dataset"
    assert list(back.queries.index) == ["q3", "q1", "q2", "q4"]
    assert back.outcomes["quality_raw"].tolist()[:2] == ["true", '"wrong"']  # left as JSON text without the metadata
    assert_frame_equal(back.outcomes.drop(columns="quality_raw"), table.outcomes.drop(columns="quality_raw"),
                       check_dtype=False)  # without the stored dtypes, tokens come back as floats (q4's row is empty)


def test_package_imports_without_the_datasets_library():
    code = ("import sys, routerlib, routerlib.tables, routerlib.datasets.hub; from routerlib import OutcomeTable; "
            "assert 'datasets' not in sys.modules, 'datasets imported'")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0
