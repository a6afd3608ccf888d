"""A user's own model names: tiers inferred from cost, or mapped by --tiers or --catalog; missing cells left out."""
import json

import numpy as np
import pandas as pd
import pytest

from routerlib import datasets
from routerlib.cli import main
from routerlib.fifty_queries import ROUTERS
from routerlib.routers import names as router_names
from routerlib.catalog import choose_tiers, infer_tiers, parse_tiers, tier_names
from routerlib.tables import train_test

MODELS = [("small-model", 0.0002, 0.3), ("mid-model", 0.002, 0.6), ("big-model", 0.02, 0.9)]


def own_rows(n=120, seed=0, skip=("q5", "mid-model")):
    """A long table of made-up models: cost_usd only (no tokens), one query lacking one model's row."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        hard = rng.random()
        prompt = f"{'prove the theorem' if hard > 0.5 else 'say hello'} number {i}"
        for model, cost, skill in MODELS:
            if (f"q{i}", model) != skip:
                rows.append({"query_id": f"q{i}", "prompt": prompt, "model": model,
                             "quality": float(rng.random() < skill * (1.3 - hard)), "cost_usd": cost * (0.5 + rng.random())})
    return pd.DataFrame(rows)


@pytest.fixture
def own_csv(tmp_path):
    path = tmp_path / "own.csv"
    own_rows().to_csv(path, index=False)
    return path


def test_tiers_inferred_from_mean_cost(own_csv):
    table = datasets.load(own_csv)
    assert table.token_method.startswith("prompt tokens counted from the text")
    catalog, notes = infer_tiers(table)
    assert catalog.tiers == {"cheap": "small-model", "mid": "mid-model", "expensive": "big-model"}
    assert "not in the catalog" in notes[0] and "small-model" in notes[0]
    assert catalog.get("small-model").input_per_mtok > 0  # estimated from recorded cost / counted tokens
    train, test = train_test(table, seed=1)
    assert train.n + test.n == 119 and any("left out 1 of 120" in n for n in test.notes)


def test_dominated_model_left_out(own_csv):
    df = own_rows()
    pricey = df[df["model"] == "small-model"].assign(model="pricey-but-weak", cost_usd=0.5)
    table = datasets.load(_write(pd.concat([df, pricey]), own_csv))
    catalog, notes = choose_tiers(table)
    assert "pricey-but-weak" not in catalog.tiers.values()
    assert any("left out pricey-but-weak" in n for n in notes)


def _write(df, path):
    df.to_csv(path, index=False)
    return path


def test_tier_names_and_parse():
    assert tier_names(2) == ["cheap", "expensive"] and tier_names(5)[1:4] == ["mid-1", "mid-2", "mid-3"]
    assert parse_tiers(" a=cheap, b=x=expensive ") == {"a": "cheap", "b=x": "expensive"}
    with pytest.raises(ValueError, match="MODEL=TIER"):
        parse_tiers("a-cheap")


def test_evaluate_and_compare_every_router(own_csv, capsys):
    offline = [r for r in router_names(live_only=True) if r != "cascade-logprob"]  # logprobs exist only live
    assert main(["evaluate", "--dataset", str(own_csv), "--router", *offline, "--splits", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("tiers (chosen on the train split): cheap=small-model, mid=mid-model, expensive=big-model") \
        == len(offline)
    assert "tiers inferred from mean cost per query" in out and "left out 1 of 120 queries" in out
    assert main(["compare", "--dataset", str(own_csv), "--splits", "2", "--quiet", "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert "tiers cheap=small-model, mid=mid-model, expensive=big-model" in captured.err
    doc = json.loads(captured.out[captured.out.index("{"):])
    assert {"random", "oracle", "classifier", "cascade", "llm"} <= set(doc[str(own_csv)]["routers"])
    assert doc[str(own_csv)]["verdict"] in captured.out


@pytest.mark.parametrize("router", ROUTERS)
def test_exercise_replays_own_file(own_csv, capsys, router):
    assert main(["exercise", "--dataset", str(own_csv), "--router", router, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "on 119 queries (1 lacking a tier model's outcome left out)" in captured.err
    assert "Savings factor vs all-expensive (big-model)" in captured.out


def test_tiers_flag_maps_by_hand(own_csv, capsys):
    args = ["evaluate", "--dataset", str(own_csv), "--router", "classifier", "--splits", "1", "--quiet"]
    assert main([*args, "--tiers", "small-model=cheap,big-model=expensive"]) == 0
    captured = capsys.readouterr()
    assert "left out mid-model (not in --tiers)" in captured.err
    assert "tiers (chosen on the train split): cheap=small-model, expensive=big-model" in captured.out
    assert main([*args, "--tiers", "tiny=cheap"]) == 2
    assert "its models: small-model, mid-model, big-model" in capsys.readouterr().err


def test_catalog_flag_overrides_inference(own_csv, tmp_path, capsys):
    spec = {"models": [{"name": "small-model", "tier": "cheap", "input_per_mtok": 0.1, "output_per_mtok": 0.4},
                       {"name": "mid-model", "tier": "cheap", "input_per_mtok": 1, "output_per_mtok": 2},
                       {"name": "big-model", "tier": "expensive", "input_per_mtok": 5, "output_per_mtok": 15}]}
    (tmp_path / "cat.json").write_text(json.dumps(spec))
    assert main(["evaluate", "--dataset", str(own_csv), "--router", "random", "--splits", "1", "--quiet",
                 "--catalog", str(tmp_path / "cat.json")]) == 0
    out = capsys.readouterr().out
    assert "tiers (chosen on the train split): cheap=mid-model, expensive=big-model" in out
    assert "inferred" not in out


@pytest.mark.parametrize("layout", ["long-parquet", "wide-csv"])
def test_other_layouts_infer_tiers(tmp_path, layout):
    df = own_rows(skip=None)
    if layout == "long-parquet":
        path = tmp_path / "own.parquet"
        df.to_parquet(path)
    else:
        wide = df.pivot(index="query_id", columns="model", values="quality")
        for m in wide.columns.tolist():
            wide[f"{m}|total_cost"] = df.pivot(index="query_id", columns="model", values="cost_usd")[m]
        wide["prompt"] = df.drop_duplicates("query_id").set_index("query_id")["prompt"]
        path = tmp_path / "own_wide.csv"
        wide.reset_index(drop=True).to_csv(path, index=False)
    catalog, _ = choose_tiers(datasets.load(path))
    assert list(catalog.tiers.values()) == ["small-model", "mid-model", "big-model"]


def test_no_signal_long_form_file_gets_an_honest_verdict(tmp_path, capsys):
    """Open-ended prompts whose outcomes ignore the text: no default router is reliably worse than random, and
    the output says that no router beats random reliably."""
    rng = np.random.default_rng(11)
    words = "write explain describe a story poem essay letter about the history of science music cities".split()
    prompts = [" ".join(rng.choice(words, 40)) for _ in range(300)]
    good = {model: rng.random(300) < skill for model, _, skill in MODELS}  # drawn apart from the prompts
    rows = [{"query_id": f"q{i}", "prompt": prompts[i], "model": model, "quality": float(good[model][i]),
             "cost_usd": cost, "response": "Here is my answer."} for i in range(300) for model, cost, _ in MODELS]
    path = tmp_path / "long_form.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert main(["compare", "--dataset", str(path), "--splits", "5", "--quiet", "--json", "-"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out[out.index("{"):])[str(path)]
    assert "no router beats random reliably" in doc["verdict"] and "reliably worse" not in doc["verdict"]
    learned = {r: row for r, row in doc["routers"].items() if r not in ("random", "oracle", "oracle-label")}
    assert all(row["aiq_gain_hi"] >= 0 for row in learned.values()), learned
