"""RouteLLM's published figures as stored, and the table that puts the kit's routers beside them."""
import pandas as pd

from routerlib import evaluate as published
from routerlib.cli import main


def test_published_figures_are_complete_and_in_range():
    doc = published.routellm_published()
    assert "2406.18665" in doc["source"] and "strong model" in doc["cpt_unit"]
    assert set(doc["results"]) == {"routellm-mtbench", "routellm-mmlu", "routellm-gsm8k"}
    for rows in doc["results"].values():
        assert len(rows) == 9 and rows[0]["router"] == "random"
        assert all(0 < r["apgr"] < 1 and 0 < r["cpt50"] < 100 for r in rows)
        assert 0.49 <= rows[0]["apgr"] <= 0.51  # random recovers about half the gap


def test_beside_routellm_puts_ours_and_theirs_in_one_table(monkeypatch, capsys):
    calls = []

    def fake_compare(table, names, seed, catalog=None):
        calls.append((table, tuple(names), seed))
        return pd.DataFrame({"apgr": [0.5 + i / 100 for i in range(len(names))],
                             "cpt50": [50.0 - i for i in range(len(names))]}, index=pd.Index(names, name="router"))
    monkeypatch.setattr(published, "compare", fake_compare)
    monkeypatch.setattr(published.datasets, "load", lambda name, data_dir, catalog=None: f"table {name}")
    table = published.beside_routellm(seed=3)
    assert [c[0] for c in calls] == ["table routellm-mtbench", "table routellm-mmlu", "table routellm-gsm8k"]
    assert all(c[2] == 3 for c in calls)
    assert len(table) == 3 * (len(published.OURS) + 9)
    ours = table[(table["source"] == "routerlib") & (table["dataset"] == "routellm-mmlu")].set_index("router")
    assert ours.at["classifier", "apgr"] == 0.52 and ours.at["classifier", "trained on"].startswith("train half")
    theirs = table[(table["source"] == "RouteLLM paper") & (table["dataset"] == "routellm-gsm8k")]
    assert theirs.set_index(["router", "trained on"]).at[("causal LLM", "arena+judge"), "apgr"] == 0.622
    assert main(["published", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.count("| source | router | trained on | apgr | cpt50 |") == 3 and "arXiv:2406.18665" in out
