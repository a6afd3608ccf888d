import pytest

from routerlib.backends import Completion
from routerlib.backends.simulated import SimulatedBackend
from routerlib.catalog import CatalogError
from routerlib.queries import Query, load_queries
from routerlib.routers.llm import LLMRouter, parse_rating
from routerlib.routers.rules import DEFAULT_TIER_MAP, RuleRouter, detect_task_type


@pytest.mark.parametrize("text, label", [
    ('{"difficulty": "hard"}', "hard"),
    ('```json\n{"difficulty": "Medium"}\n```', "medium"),
    ('Sure! Here you go: {"Difficulty": "EASY"} hope that helps', "easy"),
    ('{"rating": "hard", "reason": "needs a proof"}', "hard"),
    ("Difficulty: HARD", "hard"),
    ("easy", "easy"),
    ("I think this one is kind of tricky.", None),
    ('{"difficulty": "extreme"}', None),
    ("Not easy, rather hard.", None),
    ("", None),
    (None, None),
])
def test_parse_rating_is_tolerant_but_not_credulous(text, label):
    assert parse_rating(text) == label


class _Canned:
    """A backend that returns one canned completion for every request."""

    def __init__(self, completion):
        self.completion = completion

    def complete(self, request):
        return self.completion

    def complete_many(self, requests, progress=False, desc=""):
        return [self.completion for _ in requests]


def test_llm_router_maps_labels_and_counts_its_cost():
    c = Completion("gpt-4o-mini", '{"difficulty": "medium"}', 120, 8, cost_usd=0.0000252, latency_s=0.3)
    d = LLMRouter(_Canned(c)).route(Query("q", "text"))
    assert (d.tier, d.model, d.router_error) == ("mid", "gpt-4o", None)
    assert (d.router_prompt_tokens, d.router_completion_tokens, d.router_cost_usd, d.router_latency_s) == \
        (120, 8, 0.0000252, 0.3)


@pytest.mark.parametrize("completion, error", [
    (Completion("gpt-4o-mini", "no idea", 100, 3, cost_usd=0.00002), "unparseable rating"),
    (Completion("gpt-4o-mini", None, error="InternalServerError: boom"), "InternalServerError"),
])
def test_llm_router_falls_back_and_counts_errors(completion, error):
    d = LLMRouter(_Canned(completion), fallback_tier="mid").route(Query("q", "text"))
    assert d.tier == "mid" and error in d.router_error
    assert d.router_cost_usd == completion.cost_usd  # a bad rating still costs what it cost


def test_llm_router_rejects_unknown_tiers_and_models():
    with pytest.raises(CatalogError, match="unknown tier 'premium'"):
        LLMRouter(SimulatedBackend(), fallback_tier="premium")
    with pytest.raises(KeyError, match="unknown model"):
        LLMRouter(SimulatedBackend(), router_model="gpt-5-nano-x")
    assert "router_model='gpt-4o-mini'" in repr(LLMRouter(SimulatedBackend()))


def test_perfect_simulated_router_sends_each_difficulty_to_its_tier():
    qs = load_queries()
    decisions = LLMRouter(SimulatedBackend(router_accuracy=1.0)).route_many(qs)
    expected = {"easy": "cheap", "medium": "mid", "hard": "expensive"}
    assert [d.tier for d in decisions] == [expected[q.difficulty] for q in qs]


def test_rule_router_uses_given_or_detected_task_type():
    router = RuleRouter()
    assert router.route(Query("a", "anything", task_type="proof")).tier == "expensive"
    assert router.route(Query("b", "Prove that the square root of 2 is irrational.")).tier == "expensive"
    assert router.route(Query("c", "Classify the sentiment of: I loved it")).tier == "cheap"
    assert router.route(Query("d", "Write a Python function that reverses a list.")).tier == "mid"
    custom = RuleRouter(tier_map={"proof": "mid"}, default_tier="cheap")
    assert custom.route(Query("e", "x", task_type="proof")).tier == "mid"
    assert custom.route(Query("f", "x", task_type="math")).tier == "cheap"
    with pytest.raises(CatalogError, match="unknown tier"):
        RuleRouter(tier_map={"proof": "gold"})


def test_detector_recovers_most_exercise_task_types():
    qs = load_queries()
    hits = sum(detect_task_type(q.text) == q.task_type for q in qs)
    assert hits >= 30, f"detector got {hits}/50"  # keywords are a baseline, not an oracle
    assert set(DEFAULT_TIER_MAP) == {q.task_type for q in qs}


def _detect_reference(text):
    """The rule detector written the plain way: each pattern, case-insensitive, in order."""
    import re

    from routerlib.routers.rules import TASK_PATTERNS
    for name, pattern in TASK_PATTERNS:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return "simple_fact" if len(text) < 120 else "multi_step_reasoning"


@pytest.mark.parametrize("text", [
    "Prove it", "improve my essay", "reprove the lemma", "x-proof", "PROOF: trivial", "use c++ here", "abc++",
    "3 x 4", "what is 2+2", "Summarise: TL;DR please", "tldr", "if it rains then what", "re-design a cache system",
    "classifying sentiment", "The class method", "subclass", "```print(1)```", "", "a" * 130, "naïve proof",
])
def test_fast_detector_equals_plain_regex_search(text):
    assert detect_task_type(text) == _detect_reference(text)


def test_fast_detector_equals_plain_regex_search_on_real_prompts():
    from conftest import mirror_dir
    if mirror_dir() is None:
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    from routerlib import datasets
    from routerlib.tables import TierTable
    texts = [t for name in ("arena-bench", "routellm-gsm8k", "routerbench-mbpp")
             for t in TierTable.from_table(datasets.load(name, mirror_dir())).prompts]
    assert [detect_task_type(t) for t in texts] == [_detect_reference(t) for t in texts]
