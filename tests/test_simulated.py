import json

import numpy as np
import pytest

from routerlib.backends import Request
from routerlib.backends.simulated import SimulatedBackend, load_calibration
from routerlib.queries import Query


def _queries(n, difficulty, task_type="math"):
    return [Query(f"{difficulty}-{i}", f"question {i}", task_type, difficulty) for i in range(n)]


def test_same_seed_same_answers_in_any_order():
    qs = _queries(20, "medium")
    reqs = [Request.ask("gpt-4o-mini", q) for q in qs]
    a = SimulatedBackend(seed=3).complete_many(reqs, progress=False)
    b = SimulatedBackend(seed=3).complete_many(reqs[::-1], progress=False)[::-1]
    assert [(c.completion_tokens, c.quality) for c in a] == [(c.completion_tokens, c.quality) for c in b]
    c = SimulatedBackend(seed=4).complete_many(reqs, progress=False)
    assert [x.completion_tokens for x in a] != [x.completion_tokens for x in c]


def test_everything_is_marked_simulated():
    c = SimulatedBackend().complete(Request.ask("gpt-4o", _queries(1, "easy")[0]))
    assert c.simulated and "simulated" in c.text and "simulated" in c.token_method
    assert c.cost_usd == pytest.approx((c.prompt_tokens * 2.5 + c.completion_tokens * 10) / 1e6)


@pytest.mark.parametrize("model, tier", [("gpt-4o-mini", "cheap"), ("gpt-4o", "mid"), ("gpt-4-turbo", "expensive")])
@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_acceptance_rates_follow_the_calibration(model, tier, difficulty):
    p = load_calibration()["p_acceptable"][tier][difficulty]
    reqs = [Request.ask(model, q) for q in _queries(2000, difficulty)]
    rate = np.mean([c.quality for c in SimulatedBackend(seed=1).complete_many(reqs, progress=False)])
    assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / 2000) + 1e-9


def test_answer_lengths_follow_the_calibration():
    cell = load_calibration()["completion_tokens"]["expensive"]["code_generation"]
    reqs = [Request.ask("gpt-4-turbo", q) for q in _queries(2000, "hard", "code_generation")]
    lengths = [c.completion_tokens for c in SimulatedBackend().complete_many(reqs, progress=False)]
    assert abs(np.median(lengths) / cell["median"] - 1) < 0.1


@pytest.mark.parametrize("accuracy", [0.0, 0.5, 0.8, 1.0])
def test_router_rating_accuracy_is_as_stated(accuracy):
    qs = _queries(1000, "easy") + _queries(1000, "hard")
    backend = SimulatedBackend(router_accuracy=accuracy)
    ratings = [json.loads(backend.complete(Request.ask("gpt-4o-mini", q, purpose="route")).text)["difficulty"]
               for q in qs]
    right = np.mean([r == q.difficulty for r, q in zip(ratings, qs)])
    assert abs(right - accuracy) < 0.04


def test_bad_settings_and_unknown_tiers():
    with pytest.raises(ValueError, match="router_accuracy must be between 0 and 1"):
        SimulatedBackend(router_accuracy=1.5)
    from routerlib.catalog import Catalog, Model
    cat = Catalog([Model("x", "premium", 1, 1)], {"premium": "x"})  # a tier never calibrated
    with pytest.raises(ValueError, match="no calibration for tier 'premium'"):
        SimulatedBackend(cat).complete(Request.ask("x", _queries(1, "easy")[0]))
    assert "SimulatedBackend(seed=0" in repr(SimulatedBackend())
