"""Vectorised evaluation: tier scores x recorded outcomes -> costs, quality, traffic mix, curves, calibration.

A router scores each query with the chance that each tier is good enough (an n x K matrix, tiers
cheap to expensive). A policy sends a query to the first tier whose score reaches its threshold,
else to the last tier. Sweeping thresholds is a few array operations, never a loop over queries.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import traffic_mix
from .routers.base import DecidingCost, first_reaching
from .tables import TierTable


def assign(scores: np.ndarray, thresholds) -> np.ndarray:
    """Tier index per query: the first tier whose score reaches its threshold, else the last."""
    return first_reaching(scores, thresholds)


def difficulty(scores: np.ndarray) -> np.ndarray:
    """One number per query, 0 (easy) to 1 (hard): 1 - the mean chance the cheaper tiers are good enough."""
    return 1.0 - np.asarray(scores, float)[:, :-1].mean(axis=1)


def assign_cuts(difficulty_score: np.ndarray, cuts) -> np.ndarray:
    """Tier index by cut points on the difficulty: below the first cut the cheapest tier, and so on up."""
    return np.searchsorted(np.sort(np.atleast_1d(np.asarray(cuts, float))), difficulty_score, side="right")


def cuts_for_mix(difficulty_score: np.ndarray, target_mix) -> np.ndarray:
    """Cut points on the difficulty that send `target_mix` (shares, cheap first) to each tier."""
    target = np.asarray(list(target_mix.values()) if isinstance(target_mix, dict) else target_mix, float)
    if (target < 0).any() or not np.isclose(target.sum(), 1):
        raise ValueError(f"target mix must be shares >= 0 that sum to 1, got {target}")
    return np.quantile(difficulty_score, np.clip(np.cumsum(target)[:-1], 0, 1))


def assign_many(scores: np.ndarray, thresholds) -> np.ndarray:
    """assign() for many single thresholds at once: (T, n) tier indices."""
    scores = np.asarray(scores, float)
    t = np.asarray(thresholds, float)[:, None, None]
    ok = scores[None, :, :-1] >= t
    ok = np.concatenate([ok, np.ones(ok.shape[:2] + (1,), bool)], axis=2)
    return ok.argmax(axis=2)


def outcomes_of(tt: TierTable, assignments: np.ndarray, cost: DecidingCost | None = None) -> pd.DataFrame:
    """Cost, quality and mix of (T, n) assignments.

    `cost` is what deciding spends (Router.deciding_cost): rating calls per query; a cascade pays every
    tier up to the one that answers, plus the checks (n x K) of each answer it looked at.
    """
    cost = cost or DecidingCost()
    router_cost, check_cost, cascade = cost.per_query, cost.checks, cost.pays_lower_tiers
    a = np.atleast_2d(assignments)
    rows = np.arange(tt.n)
    paid = np.cumsum(tt.cost, axis=1) if cascade else tt.cost
    spent = paid[rows, a].sum(axis=1) + np.sum(router_cost)
    if check_cost is not None:
        spent = spent + np.cumsum(check_cost, axis=1)[rows, a].sum(axis=1)
    quality = np.nanmean(tt.quality[rows, a], axis=1)
    out = pd.DataFrame({"cost_usd": spent, "cost_per_1k": spent / tt.n * 1000, "quality": quality})
    for k, tier in enumerate(tt.tiers):
        out[f"share_{tier}"] = (a == k).mean(axis=1)
    if cascade:
        out["escalation_rate"] = (a > 0).mean(axis=1)
        out["calls_per_request"] = (a + 1).mean(axis=1)
    return out


def default_thresholds(scores: np.ndarray, n: int = 201) -> np.ndarray:
    """Thresholds spanning the scores: their quantiles (the lowest sends everything to the cheapest
    tier), plus one above all (everything to the last tier), so every curve has both ends."""
    s = np.asarray(scores, float)[:, :-1].ravel()
    qs = np.unique(np.quantile(s, np.linspace(0, 1, n - 1)))
    return np.r_[qs, np.nextafter(s.max(), np.inf)]


def sweep(tt: TierTable, scores: np.ndarray, thresholds=None, cost: DecidingCost | None = None) -> pd.DataFrame:
    """The cost-quality curve of a router over thresholds (one threshold shared by every tier)."""
    thresholds = default_thresholds(scores) if thresholds is None else np.asarray(thresholds, float)
    curve = outcomes_of(tt, assign_many(scores, thresholds), cost)
    curve.insert(0, "threshold", thresholds)
    return curve


def single_models(tt: TierTable) -> pd.DataFrame:
    """Each tier's model answering every query."""
    out = outcomes_of(tt, np.tile(np.arange(len(tt.tiers))[:, None], (1, tt.n)))
    out.insert(0, "model", tt.models)
    out.insert(0, "tier", tt.tiers)
    return out


def out_of_fold_scores(make_router, tt: TierTable, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Scores of each query from a router fitted without it (k-fold), to calibrate thresholds on.

    A learned router scores its own training queries too confidently; thresholds calibrated on
    those scores give a different mix on new traffic.
    """
    order = np.random.default_rng(seed).permutation(tt.n)
    scores = np.empty((tt.n, len(tt.tiers)))
    for part in np.array_split(order, folds):
        rest = np.setdiff1d(order, part)
        scores[part] = make_router().fit(tt.take(rest)).tier_scores(tt.take(part))
    return scores


def calibrate_mix(scores: np.ndarray, target_mix) -> np.ndarray:
    """Per-tier thresholds that send `target_mix` (shares, cheap first) of these queries to each tier."""
    scores = np.asarray(scores, float)
    target = np.asarray(list(target_mix.values()) if isinstance(target_mix, dict) else target_mix, float)
    if target.shape != (scores.shape[1],) or (target < 0).any() or not np.isclose(target.sum(), 1):
        raise ValueError(f"target mix must give {scores.shape[1]} shares (one per tier) that sum to 1, got {target}")
    thresholds, left = [], np.ones(len(scores), bool)
    for k in range(scores.shape[1] - 1):
        want = target[k] * len(scores)  # queries for tier k, taken from those still unassigned
        s = scores[left, k]
        if want <= 0 or not len(s):
            t = np.inf
        else:
            t = np.sort(s)[::-1][min(int(round(want)), len(s)) - 1] if want >= 1 else np.inf
        thresholds.append(t)
        left &= ~(scores[:, k] >= t)
    return np.array(thresholds)


def calibrate_budget(tt: TierTable, scores: np.ndarray, budget_per_1k: float, cost: DecidingCost | None = None) -> dict:
    """The best-quality single threshold whose cost per 1k requests stays within budget."""
    curve = sweep(tt, scores, cost=cost)
    ok = curve[curve["cost_per_1k"] <= budget_per_1k]
    if ok.empty:
        raise ValueError(f"no threshold fits ${budget_per_1k}/1k; the cheapest costs ${curve['cost_per_1k'].min():.4f}/1k")
    return ok.sort_values(["quality", "cost_per_1k"], ascending=[False, True]).iloc[0].to_dict()


def calibrate_quality(tt: TierTable, scores: np.ndarray, min_retained: float,
                      cost: DecidingCost | None = None) -> dict:
    """The cheapest single threshold keeping `min_retained` of the best single model's quality."""
    if not 0 < min_retained <= 1:
        raise ValueError(f"min_retained must be in (0, 1], got {min_retained}")
    target = min_retained * single_models(tt)["quality"].max()
    curve = sweep(tt, scores, cost=cost)
    ok = curve[curve["quality"] >= target]
    if ok.empty:
        raise ValueError(f"no threshold keeps {min_retained:.0%} of the best quality ({target:.3f})")
    return ok.sort_values("cost_per_1k").iloc[0].to_dict()


def sweep_router(router, tt: TierTable, thresholds=None) -> pd.DataFrame:
    """A fitted router's cost-quality curve on a table, deciding cost included."""
    return sweep(tt, router.tier_scores(tt), thresholds, router.deciding_cost(tt))


def mix_of(assignment: np.ndarray, tiers) -> dict:
    """tier -> share of queries an assignment (tier index per query) sends there."""
    return traffic_mix(np.asarray(tiers)[np.asarray(assignment, int)], tiers)
