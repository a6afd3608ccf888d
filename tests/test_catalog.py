import json
import math

import pytest

from routerlib.catalog import Catalog, CatalogError, Model, UnknownModelError, cost, model_from_dict


def test_default_catalog_has_three_tiers_with_sourced_prices():
    cat = Catalog.load()
    assert list(cat.tiers) == ["cheap", "mid", "expensive"]
    assert cat.tiers == {"cheap": "gpt-4o-mini", "mid": "gpt-4o", "expensive": "gpt-4-turbo"}
    by_tier = {t: {m.name for m in cat.models.values() if m.tier == t} for t in cat.tiers}
    assert {"gpt-4o-mini", "gemini-1.5-flash", "claude-3-haiku"} <= by_tier["cheap"]
    assert {"gpt-4o", "claude-3.5-sonnet", "gemini-1.5-pro"} <= by_tier["mid"]
    assert {"gpt-4-turbo", "claude-3-opus", "o1-pro"} <= by_tier["expensive"]
    for m in cat.models.values():
        assert m.source.startswith("https://") and len(m.date) == 10, m


def test_prices_from_the_issue():
    cat = Catalog.load()
    assert (cat.get("gpt-4o-mini").input_per_mtok, cat.get("gpt-4o-mini").output_per_mtok) == (0.15, 0.60)
    assert (cat.get("gpt-4o").input_per_mtok, cat.get("gpt-4o").output_per_mtok) == (2.50, 10.00)
    assert (cat.get("gpt-4-turbo").input_per_mtok, cat.get("gpt-4-turbo").output_per_mtok) == (10.00, 30.00)
    assert cat.get("gemini-1.5-flash").input_per_mtok == 0.075


def test_cost_is_tokens_times_price_per_million():
    assert cost("gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert cost("gpt-4o-mini", 0, 1_000_000) == pytest.approx(0.60)
    assert cost("gpt-4-turbo", 1200, 300) == pytest.approx((1200 * 10 + 300 * 30) / 1e6)
    assert cost("gpt-4o", 0, 0) == 0


def test_unknown_model_names_close_matches():
    with pytest.raises(UnknownModelError) as e:
        Catalog.load().get("gpt4o-mini")
    assert "unknown model 'gpt4o-mini'" in str(e.value) and "gpt-4o-mini" in str(e.value)


@pytest.mark.parametrize("field, value, words", [
    ("input_per_mtok", None, "has no input_per_mtok price"),
    ("output_per_mtok", float("nan"), "finite number >= 0"),
    ("input_per_mtok", -1.0, "finite number >= 0"),
    ("output_per_mtok", "cheap", "must be a number"),
])
def test_bad_prices_are_rejected(field, value, words):
    entry = {"name": "m", "tier": "cheap", "input_per_mtok": 1.0, "output_per_mtok": 1.0, field: value}
    with pytest.raises(CatalogError, match=words):
        model_from_dict(entry)


def test_model_without_any_price_in_a_catalog_file(tmp_path):
    path = tmp_path / "extra.json"
    path.write_text(json.dumps({"models": [{"name": "llama3", "tier": "cheap"}]}))
    with pytest.raises(CatalogError, match="model 'llama3' has no input_per_mtok price"):
        Catalog.load().update_from_file(path)


def test_negative_tokens_are_rejected():
    with pytest.raises(ValueError, match="prompt_tokens must be a number >= 0"):
        cost("gpt-4o", -5, 10)


def test_user_overrides_and_local_server(tmp_path):
    path = tmp_path / "local.json"
    path.write_text(json.dumps({
        "models": [{"name": "llama3.1:8b", "tier": "cheap", "input_per_mtok": 0, "output_per_mtok": 0,
                    "base_url": "http://127.0.0.1:11434/v1", "source": "local Ollama"},
                   {"name": "gpt-4o", "tier": "mid", "input_per_mtok": 2.0, "output_per_mtok": 8.0}],
        "tiers": {"cheap": "llama3.1:8b"}}))
    cat = Catalog.load().update_from_file(path)
    assert cat.tier_model("cheap").base_url == "http://127.0.0.1:11434/v1"
    assert cat.cost("llama3.1:8b", 1000, 1000) == 0
    assert cat.cost("gpt-4o", 1_000_000, 0) == pytest.approx(2.0)
    cat.add(Model("my-model", "expensive", 5, 15))
    assert cat.cost("my-model", 0, 1_000_000) == 15
    assert "cheap=llama3.1:8b" in repr(cat)


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid UTF-8 JSON"),
    ('{"models": [{"name": "x", "tier": "ultra", "input_per_mtok": 1, "output_per_mtok": 1}]}', "unknown tier 'ultra'"),
    ('{"tiers": {"cheap": "nope"}}', "names model 'nope'"),
    ('{"models": [{"name": "x", "tier": "cheap", "input_per_mtok": 1, "output_per_mtok": 1, "colour": 1}]}',
     "unknown field"),
    ('[1, 2]', "must be an object"),
])
def test_bad_catalog_files(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CatalogError, match=words):
        Catalog.load().update_from_file(path)


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError, match="catalog file not found"):
        Catalog.load(tmp_path / "nope.json")


def test_records_are_in_tier_order():
    records = Catalog.load().records()
    tiers = [r["tier"] for r in records]
    assert tiers == sorted(tiers, key=["cheap", "mid", "expensive"].index)
    assert all(math.isfinite(r["input_per_mtok"]) for r in records)
