"""Loaders on the real mirrored data, checked against RouteLLM's own formulas computed independently here."""
import json

import numpy as np
import pandas as pd
import pytest

from routerlib import datasets
from routerlib.cli import main
from routerlib.datasets.routerbench import cost_check

EVALS = "lm-sys/RouteLLM/routellm/evals"
STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def _dirty(mirror, bench):
    return pd.read_json(mirror / EVALS / bench / "contaminated_prompts.jsonl", lines=True)["eval_prompt"].tolist()


def test_gsm8k_matches_routellm(data_mirror):
    ref = pd.read_csv(mirror_file := data_mirror / EVALS / "gsm8k/gsm8k_responses.csv")
    ref = ref[~ref["prompt"].isin(_dirty(data_mirror, "gsm8k"))]
    table = datasets.load("routellm-gsm8k", data_mirror)
    assert (table.n_queries, table.notes["original"]) == (1307, 1319) == (len(ref), len(pd.read_csv(mirror_file)))
    q = table.wide("quality").mean() * 100
    for m in (STRONG, WEAK):
        assert q[m] == pytest.approx(len(ref[ref[m] == True]) / len(ref) * 100)  # noqa: E712 (RouteLLM's form)


def test_mmlu_matches_routellm(data_mirror):
    frames = [pd.read_csv(p) for p in sorted((data_mirror / EVALS / "mmlu/responses").glob("mmlu_*.csv"))]
    everything = pd.concat(frames, ignore_index=True)
    ref = everything[~everything["prompt"].isin(_dirty(data_mirror, "mmlu"))]
    table = datasets.load("routellm-mmlu", data_mirror)
    assert (table.n_queries, len(everything)) == (14037, 14042) == (len(ref), table.notes["original"])
    q = table.wide("quality").mean() * 100
    for m in (STRONG, WEAK):
        assert q[m] == pytest.approx(len(ref[ref[m] == True]) / len(ref) * 100)  # noqa: E712
    assert table.queries["category"].nunique() == 57


def test_mtbench_matches_routellm(data_mirror):
    questions = pd.read_json(data_mirror / EVALS / "mt_bench/question.jsonl", lines=True)
    judgements = pd.read_json(data_mirror / EVALS / "mt_bench/judgements.jsonl", lines=True)
    dirty = _dirty(data_mirror, "mt_bench")
    kept = questions[~(questions["turns"].str[0].isin(dirty) | questions["turns"].str[1].isin(dirty))]
    table = datasets.load("routellm-mtbench", data_mirror)
    assert (table.n_queries, len(questions)) == (72, 80) == (len(kept), table.notes["original"])
    raw = table.wide("quality_raw").astype(float).mean()
    for m in (STRONG, WEAK):
        rows = kept[["question_id"]].assign(model=m).merge(judgements, on=["question_id", "model"], how="left")
        assert raw[m] == pytest.approx(rows["score"].mean())  # RouteLLM's get_model_accuracy
    assert table.notes["rows_without_answers"] == 0 and table.outcomes["completion_tokens"].gt(0).all()


def test_arena_bench_joins_answers_and_judgments(data_mirror):
    table = datasets.load("arena-bench", data_mirror)
    assert table.n_queries == 300 and len(table.models) == 15
    root = data_mirror / "lmarena/arena-hard-auto/data/arena-bench-v1/model_judgment"
    none_scores = sum(json.loads(line).get("score") is None for f in root.glob("*.jsonl") for line in open(f))
    assert table.outcomes["quality"].isna().sum() == none_scores > 0  # missing, never 0
    assert table.outcomes["response"].notna().all()
    q = table.wide("quality_raw").astype(float).mean()
    assert q["gpt-4-1106-preview"] > q["gpt-3.5-turbo"] > q["llama-13b"]


@pytest.mark.parametrize("name, n", [("routerbench-arc", 1484), ("routerbench-mbpp", 427),
                                     ("routerbench-winogrande", 1267)])
def test_routerbench_layout_and_recorded_costs(data_mirror, name, n):
    table = datasets.load(name, data_mirror)
    assert table.n_queries == n and len(table.models) == 11
    assert set(table.queries["split"]) == {"train", "test"}
    assert table.cost_method.startswith("recorded")
    check = cost_check(table)
    assert len(check) == 11 and 0.95 < check["ratio"].median() < 1.05  # recorded ~ tokens x catalog price


def test_data_cli_on_the_mirror(data_mirror, tmp_path, capsys):
    assert main(["data", "list", "--data-dir", str(data_mirror)]) == 0
    assert "arena-bench" in capsys.readouterr().out
    assert main(["data", "verify", "--data-dir", str(data_mirror)]) == 0
    out = tmp_path / "d.json"
    assert main(["data", "describe", "routerbench-mbpp", "--data-dir", str(data_mirror), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["name"] == "routerbench-mbpp" and doc["n_queries"] == 427
    m = doc["models"]["gpt-4-1106-preview"]
    assert set(m) == {"tier", "quality_mean", "cost_usd_total", "n_missing"} and m["tier"] == "expensive"
    assert np.isclose(m["cost_usd_total"], 4.0040, atol=1e-3)


def test_loading_benchmark_runs_and_reports(data_mirror, tmp_path):
    import sys

    from conftest import REPO
    sys.path.insert(0, str(REPO / "benchmarks"))
    import load_datasets
    out = tmp_path / "bench.json"
    load_datasets.main(["--data-dir", str(data_mirror), "--json", str(out)])
    doc = json.loads(out.read_text())
    assert set(doc["datasets"]) >= {"routellm-mmlu", "arena-bench", "routerbench-arc"}
    assert doc["total_seconds"] > 0 and doc["peak_rss_mb"] > 0 and doc["machine"]["cores"] >= 1
