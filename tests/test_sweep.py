"""Vectorised evaluation and metrics on small synthetic tables, against plain loops and hand-computed values."""
import numpy as np
import pandas as pd
import pytest

from routerlib.catalog import Catalog
from routerlib.metrics import aiq, apgr, cost_at_quality, cpt, non_decreasing_convex_hull, pair_curve
from routerlib.routers.base import DecidingCost
from routerlib.sweep import (assign, assign_many, calibrate_budget, calibrate_mix, calibrate_quality, outcomes_of,
                             single_models, sweep)
from routerlib.tables import TierTable


def synthetic(n=400, seed=0) -> TierTable:
    rng = np.random.default_rng(seed)
    difficulty = rng.random(n)
    quality = np.column_stack([(rng.random(n) > difficulty).astype(float),
                               (rng.random(n) > difficulty * 0.6).astype(float),
                               (rng.random(n) > difficulty * 0.3).astype(float)])
    cost = np.column_stack([np.full(n, 0.001), np.full(n, 0.01), np.full(n, 0.05)]) * (1 + rng.random((n, 1)))
    prompts = pd.Series([f"query {i}" for i in range(n)], index=[f"q{i}" for i in range(n)])
    return TierTable("synthetic", ["cheap", "mid", "expensive"], ["gpt-4o-mini", "gpt-4o", "gpt-4-turbo"], quality,
                     cost, prompts, np.full((n, 3), "answer", dtype=object), np.full(n, 10.0), False, Catalog.load())


def test_assign_matches_a_plain_loop():
    rng = np.random.default_rng(1)
    scores = np.column_stack([rng.random((50, 2)), np.ones(50)])
    thresholds = [0.3, 0.6]
    expected = [next((k for k in range(2) if s[k] >= thresholds[k]), 2) for s in scores]
    assert assign(scores, thresholds).tolist() == expected
    many = assign_many(scores, [0.2, 0.5, 0.9])
    for row, t in zip(many, [0.2, 0.5, 0.9]):
        assert row.tolist() == assign(scores, t).tolist()


def test_sweep_ends_are_the_single_models_and_costs_add_up():
    tt = synthetic()
    scores = np.column_stack([np.random.default_rng(2).random((tt.n, 2)), np.ones(tt.n)])
    curve = sweep(tt, scores)
    singles = single_models(tt)
    first, last = curve.iloc[0], curve.iloc[-1]
    assert first["share_cheap"] == 1 and first["cost_usd"] == pytest.approx(singles["cost_usd"].iloc[0])
    assert last["share_expensive"] == 1 and last["quality"] == pytest.approx(singles["quality"].iloc[-1])
    a = assign(scores, 0.5)
    row = sweep(tt, scores, [0.5]).iloc[0]
    assert row["cost_usd"] == pytest.approx(sum(tt.cost[i, a[i]] for i in range(tt.n)))
    assert row["quality"] == pytest.approx(np.mean([tt.quality[i, a[i]] for i in range(tt.n)]))


def test_cascade_pays_every_tier_it_tries_plus_checks():
    tt = synthetic(50)
    conf = np.column_stack([np.random.default_rng(3).random((50, 2)), np.ones(50)])
    checks = np.full((50, 3), 0.0002)
    checks[:, -1] = 0
    row = sweep(tt, conf, [0.5], cost=DecidingCost(checks=checks, pays_lower_tiers=True)).iloc[0]
    a = assign(conf, 0.5)
    expected = sum(tt.cost[i, : a[i] + 1].sum() + checks[i, : a[i] + 1].sum() for i in range(50))
    assert row["cost_usd"] == pytest.approx(expected)
    assert row["escalation_rate"] == pytest.approx((a > 0).mean())
    assert row["calls_per_request"] == pytest.approx((a + 1).mean())


def test_router_cost_is_added():
    tt = synthetic(20)
    scores = np.column_stack([np.ones((20, 2)), np.ones(20)])
    plain = sweep(tt, scores, [0.5]).iloc[0]
    paid = sweep(tt, scores, [0.5], cost=DecidingCost(per_query=np.full(20, 0.001))).iloc[0]
    assert paid["cost_usd"] - plain["cost_usd"] == pytest.approx(0.02)


def test_calibrate_mix_hits_the_target_on_its_own_data():
    tt = synthetic(1000)
    scores = np.column_stack([np.random.default_rng(4).random((tt.n, 2)), np.ones(tt.n)])
    t = calibrate_mix(scores, {"cheap": 0.75, "mid": 0.2, "expensive": 0.05})
    mix = np.bincount(assign(scores, t), minlength=3) / tt.n
    assert np.allclose(mix, [0.75, 0.2, 0.05], atol=0.002)
    with pytest.raises(ValueError, match="sum to 1"):
        calibrate_mix(scores, [0.5, 0.2, 0.2])
    with pytest.raises(ValueError, match="one per tier"):
        calibrate_mix(scores, [0.5, 0.5])


def test_calibrate_budget_and_quality():
    tt = synthetic()
    scores = np.column_stack([np.random.default_rng(5).random((tt.n, 2)), np.ones(tt.n)])
    point = calibrate_budget(tt, scores, budget_per_1k=20.0)
    assert point["cost_per_1k"] <= 20.0
    curve = sweep(tt, scores)
    assert point["quality"] == pytest.approx(curve.loc[curve["cost_per_1k"] <= 20, "quality"].max())
    q = calibrate_quality(tt, scores, 0.9)
    assert q["quality"] >= 0.9 * single_models(tt)["quality"].max()
    with pytest.raises(ValueError, match="no threshold fits"):
        calibrate_budget(tt, scores, budget_per_1k=0.0001)
    with pytest.raises(ValueError, match="min_retained"):
        calibrate_quality(tt, scores, 1.5)


# --- metrics against the published formulas ---

def routellm_formulas(points: pd.DataFrame, weak: float, strong: float):
    """APGR and CPT exactly as routellm/evals/evaluate.py computes them from curve points (percent scale)."""
    df = points.sort_values(by=["strong_pct"])
    auc = np.trapezoid(df["quality"], df["strong_pct"] / 100)
    weak_auc = np.trapezoid(np.full(len(df), weak), df["strong_pct"] / 100)
    strong_auc = np.trapezoid(np.full(len(df), strong), df["strong_pct"] / 100)
    cpts = [np.interp(p * (strong - weak) + weak, df["quality"], df["strong_pct"]) for p in (0.5, 0.8)]
    return (auc - weak_auc) / (strong_auc - weak_auc), cpts


def test_apgr_and_cpt_equal_routellm_on_the_same_points():
    rng = np.random.default_rng(6)
    qw, qs = (rng.random(500) > 0.5).astype(float), (rng.random(500) > 0.2).astype(float)
    score = qs - qw + rng.normal(0, 0.8, 500)  # an informative but noisy router
    points = pair_curve(score, qw, qs)
    weak, strong = qw.mean(), qs.mean()
    ref_apgr, (ref50, ref80) = routellm_formulas(points, weak, strong)
    assert apgr(points["strong_pct"], points["quality"], weak, strong) == pytest.approx(ref_apgr)
    assert cpt(points["strong_pct"], points["quality"], weak, strong, 0.5) == pytest.approx(ref50)
    assert cpt(points["strong_pct"], points["quality"], weak, strong, 0.8) == pytest.approx(ref80)
    assert len(points) == 11 and ref_apgr > 0.5


def test_pair_curve_thresholds_follow_routellm():
    score = np.arange(10, dtype=float)
    qw, qs = np.zeros(10), np.ones(10)
    points = pair_curve(score, qw, qs, num_results=5)
    # qcut edges 0, 1.8, 3.6, 5.4, 7.2, 9: strong where score >= t, and > t at the last edge
    assert points["strong_pct"].tolist() == [100, 80, 60, 40, 20, 0]
    assert points["quality"].tolist() == [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]


def test_apgr_and_cpt_on_a_hand_computed_curve():
    # points (0%, 0.2) (50%, 0.7) (100%, 0.6): area = 0.25*(0.2+0.7) + 0.25*(0.7+0.6) = 0.55
    pct, q = [0, 50, 100], [0.2, 0.7, 0.6]
    assert apgr(pct, q, 0.2, 0.6) == pytest.approx((0.55 - 0.2) / (0.6 - 0.2))  # 0.875
    assert cpt(pct, q, 0.2, 0.6, 0.5) == pytest.approx(20.0)  # 0.4 is reached at 2/5 of the way to 50%


def test_straight_line_between_weak_and_strong_recovers_half_the_gap():
    pct = np.array([0, 25, 50, 75, 100])
    assert apgr(pct, 0.2 + 0.6 * pct / 100, 0.2, 0.8) == pytest.approx(0.5)
    assert cpt(pct, 0.2 + 0.6 * pct / 100, 0.2, 0.8, 0.5) == pytest.approx(50)


def test_non_decreasing_convex_hull():
    hull = non_decreasing_convex_hull([0, 1, 2, 3, 4, 1], [0.2, 0.5, 0.55, 0.9, 0.8, 0.3])
    assert hull.tolist() == [[0, 0.2], [1, 0.5], [3, 0.9]]  # 2 lies under the hull, 4 falls off
    assert non_decreasing_convex_hull([1, 2], [0.9, 0.5]).tolist() == [[1, 0.9]]


def test_aiq_is_the_mean_of_the_hull_over_the_cost_range():
    assert aiq([0, 1], [0, 1]) == pytest.approx(0.5)
    assert aiq([0, 1, 2], [0, 1, 1]) == pytest.approx(0.75)
    assert aiq([1, 2], [0.4, 0.8], cost_range=(0, 4)) == pytest.approx((0.6 + 0.8 * 2) / 4)  # nothing below 1
    assert cost_at_quality([0, 1, 2], [0, 0.8, 1], 0.9) == pytest.approx(1.5)
    assert cost_at_quality([0, 1], [0.5, 0.6], 0.9) is None


def test_aiq_matches_an_independent_integral_on_a_hand_made_curve():
    from routerlib.metrics import aiq
    cost, quality = [1.0, 2.0, 4.0, 3.0], [0.5, 0.7, 0.8, 0.6]  # (3, 0.6) lies under the hull
    # by hand: 0 on [0, 1), then the hull 1->2 (0.5 to 0.7), 2->4 (0.7 to 0.8), flat 0.8 on [4, 10]
    by_hand = (0 * 1 + (0.5 + 0.7) / 2 * 1 + (0.7 + 0.8) / 2 * 2 + 0.8 * 6) / 10
    fine = np.linspace(0, 10, 200_001)  # and numerically, on a fine grid
    hull_x, hull_y = np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.7, 0.8])
    numeric = np.trapezoid(np.where(fine < 1, 0, np.interp(fine, hull_x, hull_y)), fine) / 10
    assert aiq(cost, quality, (0.0, 10.0)) == pytest.approx(by_hand, abs=1e-12)
    assert aiq(cost, quality, (0.0, 10.0)) == pytest.approx(numeric, abs=1e-4)


def test_oracle_upgrades_follow_quality_per_dollar_and_bound_every_assignment():
    from itertools import product

    from routerlib.routers.baselines import OracleRouter, frontier, upgrades
    tt = synthetic(6, seed=4)
    tt.quality[:] = np.random.default_rng(4).random(tt.quality.shape).round(2)
    tt.cost[:] = np.sort(np.random.default_rng(5).random(tt.cost.shape), axis=1)
    q, lo, hi, ratio = upgrades(tt)
    assert (np.diff(ratio) <= 1e-12).all() and (ratio > 0).all()
    cost, quality = frontier(tt)
    for a in product(range(3), repeat=tt.n):  # every one of the 3^6 assignments lies on or under the frontier
        rows = np.arange(tt.n)
        c, v = tt.cost[rows, a].sum() / tt.n * 1000, tt.quality[rows, a].mean()
        assert v <= np.interp(c, cost, quality) + 1e-12 or c > cost[-1]
    curve = sweep(tt, OracleRouter().tier_scores(tt))
    gap = curve["quality"] - np.interp(curve["cost_per_1k"], cost, quality)
    on = curve["cost_per_1k"] <= cost[-1] + 1e-9  # up to the last upgrade the oracle is on its frontier
    assert np.abs(gap[on]).max() < 1e-12 and (gap[~on] <= 1e-12).all() and on.sum() >= len(cost)


def test_routerarena_selection_metrics_by_hand():
    from routerlib.metrics import (
        optimal_cost_ratio,
        optimal_selection_rate,
        optimal_tiers,
    )
    quality = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 0], [0, 0, 1.0]])
    cost = np.array([[1, 2, 4]] * 4, float)
    assert optimal_tiers(quality, cost, 0.5).tolist() == [0, 1, 0, 2]
    chosen = np.array([0, 2, 0, 2])
    assert optimal_selection_rate(chosen, quality, cost, 0.5) == pytest.approx(0.75)
    assert optimal_cost_ratio(chosen, quality, cost, 0.5) == pytest.approx((1 + 2 + 1 + 4) / (1 + 4 + 1 + 4))
    assert optimal_cost_ratio(chosen, quality, cost, 0.5, deciding_usd=10) == pytest.approx(8 / 20)


def test_perturbations_keep_the_words():
    from routerlib.queries import PERTURBATIONS, perturb
    text = "Explain why the sky is blue. Then compare it with sunsets, briefly."
    rng = np.random.default_rng(0)
    for kind in PERTURBATIONS:
        edited = perturb(text, rng, kind)
        assert edited != text
        assert sorted(edited.lower().replace(".", " ").replace(",", " ").split()) != [] and len(edited) >= len(text) - 2
    assert sorted(perturb(text, rng, "clauses").split()) == sorted(text.split())


# --- the sorted-cumsum sweep against the per-threshold reference (outcomes_of over assign_many) ---

def random_table(n, k, seed, nan_share=0.0) -> TierTable:
    rng = np.random.default_rng(seed)
    quality = rng.integers(0, 3, (n, k)) / 2
    quality[rng.random((n, k)) < nan_share] = np.nan
    cost = rng.random((n, k)) * np.logspace(-3, -1, k)
    prompts = pd.Series([f"q {i}" for i in range(n)], index=[f"q{i}" for i in range(n)])
    tiers = ["cheap", "mid", "expensive", "frontier"][:k] if k > 2 else ["cheap", "expensive"]
    return TierTable("random", tiers, [f"m{j}" for j in range(k)], quality, cost, prompts,
                     np.full((n, k), "a", dtype=object), np.full(n, 5.0), False, None)


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sorted_sweep_equals_reassigning_per_threshold(k, seed):
    rng = np.random.default_rng(100 + seed)
    n = 300
    tt = random_table(n, k, seed, nan_share=0.05 if seed == 2 else 0.0)
    scores = np.column_stack([np.round(rng.random((n, k - 1)), 1), np.ones(n)])  # many ties on a 0.1 grid
    if seed == 1:
        scores[rng.random((n, k)) < 0.05] = np.nan
    thresholds = np.r_[np.round(np.linspace(-0.1, 1.1, 25), 1), np.inf, -np.inf, 0.35]
    checks = np.column_stack([rng.random((n, k - 1)) * 1e-4, np.zeros(n)])
    costs = [None, DecidingCost(per_query=rng.random(n) * 1e-4),
             DecidingCost(checks=checks, pays_lower_tiers=True), DecidingCost(pays_lower_tiers=True)]
    for cost in costs:
        with np.errstate(all="ignore"), _no_check():
            expected = outcomes_of(tt, assign_many(scores, thresholds), cost)
        got = sweep(tt, scores, thresholds, cost).drop(columns="threshold")
        assert list(got.columns) == list(expected.columns)
        shares = [c for c in got if c.startswith("share_") or c in ("escalation_rate", "calls_per_request")]
        assert np.array_equal(got[shares].to_numpy(), expected[shares].to_numpy())  # the decisions, exactly
        np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=1e-12, atol=1e-15)


def _no_check():
    import contextlib
    import warnings
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    return stack


def test_calibrate_mix_is_unchanged_by_partitioning():
    rng = np.random.default_rng(7)
    scores = np.column_stack([np.round(rng.random((2000, 3)), 2), np.ones(2000)])
    target = [0.5, 0.2, 0.2, 0.1]
    expected, left = [], np.ones(2000, bool)
    for k in range(3):  # the sort-everything reference
        s = scores[left, k]
        t = np.sort(s)[::-1][min(int(round(target[k] * 2000)), len(s)) - 1]
        expected.append(t)
        left &= ~(scores[:, k] >= t)
    assert calibrate_mix(scores, target).tolist() == expected


@pytest.mark.parametrize("k", [2, 3, 4])
def test_presorted_sweep_equals_the_one_pass_sweep(k):
    from routerlib.sweep import SortedSweep
    rng = np.random.default_rng(k)
    tt = random_table(500, k, k, nan_share=0.02)
    scores = np.column_stack([np.round(rng.random((500, k - 1)), 1), np.ones(500)])
    scores[rng.random((500, k)) < 0.03] = np.nan
    thresholds = np.r_[np.round(np.linspace(-0.1, 1.1, 25), 1), np.inf, np.nan, 0.35]
    for cost in (None, DecidingCost(checks=np.full((500, k), 1e-5), pays_lower_tiers=True)):
        one = SortedSweep(tt, scores, cost, sorted=False).curve(thresholds)
        pre = SortedSweep(tt, scores, cost, sorted=True).curve(thresholds[::-1])[::-1].reset_index(drop=True)
        with _no_check():
            ref = outcomes_of(tt, assign_many(scores, thresholds), cost)
        assert np.array_equal(one.filter(like="share_").to_numpy(), ref.filter(like="share_").to_numpy())
        assert np.array_equal(pre.filter(like="share_").to_numpy(), ref.filter(like="share_").to_numpy())
        np.testing.assert_allclose(one.to_numpy(float), ref.to_numpy(float), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(pre.to_numpy(float), ref.to_numpy(float), rtol=1e-12, atol=1e-15)


def test_pair_sweep_equals_assigning_every_query():
    """Three tiers at a pair of thresholds from sorted prefix sums: the figures of outcomes_of(assign(...))."""
    from routerlib.sweep import PairSweep
    tt = synthetic(600, seed=5)
    rng = np.random.default_rng(6)
    tt.quality[rng.random(tt.quality.shape) < 0.05] = np.nan  # ungraded answers: left out of the mean, as nanmean
    scores = np.column_stack([np.round(rng.random((tt.n, 2)), 1), np.ones(tt.n)])  # ties on a 0.1 grid
    scores[rng.random(tt.n) < 0.03, 0] = np.nan
    scores[rng.random(tt.n) < 0.03, 1] = np.nan
    cost = DecidingCost(per_query=np.full(tt.n, 0.0001))
    pairs = PairSweep(tt, scores, cost)
    for pair in [(0.0, 0.0), (0.3, 0.7), (0.5, 0.5), (0.55, 0.15), (1.0, 1.0), (1.01, 0.2), (-1.0, 2.0)]:
        want = outcomes_of(tt, assign(scores, pair)[None, :], cost).iloc[0]
        got = pairs.at(*pair)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), (pair, key)
    with pytest.raises(ValueError, match="three tiers routed directly"):
        PairSweep(tt, scores, DecidingCost(pays_lower_tiers=True))
