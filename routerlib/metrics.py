"""Routing metrics: traffic mix, savings factor, quality."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

TARGET_MIX = {"cheap": (0.70, 0.80), "mid": (0.15, 0.25), "expensive": (0.02, 0.05)}


def traffic_mix(tiers, order) -> dict:
    """Share of requests per tier, in tier order (0 for tiers that got none)."""
    tiers = pd.Series(tiers)
    shares = tiers.value_counts(normalize=True) if len(tiers) else pd.Series(dtype=float)
    return {t: float(shares.get(t, 0.0)) for t in order}


def savings_factor(baseline_cost: float, routed_cost: float) -> float | None:
    """baseline / routed; None when routed cost is zero (nothing to divide by)."""
    return baseline_cost / routed_cost if routed_cost > 0 else None


def mean_quality(values) -> float | None:
    """Mean of the known quality values, None when none is known."""
    known = pd.Series(values, dtype=float).dropna()
    return float(known.mean()) if len(known) else None


def in_target_band(mix: dict, band=None) -> dict:
    """Per tier, whether its share lies inside the target band."""
    band = band or TARGET_MIX
    return {t: lo <= mix.get(t, 0.0) <= hi for t, (lo, hi) in band.items()}


def finite_or_none(x):
    """A JSON-safe value: numpy scalars become Python ones, NaN and infinities become None."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def json_safe(x):
    """finite_or_none() through nested dicts and lists."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return finite_or_none(x)


# --- pair metrics, as RouteLLM defines them (routellm/evals/evaluate.py) ---

def pair_curve(strong_score, weak_quality, strong_quality, num_results: int = 10) -> pd.DataFrame:
    """RouteLLM's curve: thresholds at the score's quantile edges; strong model where score >= t (> t at the last).

    Where a router has no more distinct scores than bins (a rule, a rating), every distinct score
    is a threshold instead, so its operating point lies on the curve.
    """
    score = np.asarray(strong_score, dtype=float)
    qw, qs = np.asarray(weak_quality, dtype=float), np.asarray(strong_quality, dtype=float)
    _, edges = pd.qcut(score, num_results, retbins=True, duplicates="drop")
    distinct = np.unique(score[np.isfinite(score)])
    if len(distinct) <= num_results:  # a router with few distinct scores: each one is a threshold
        edges = np.r_[distinct, distinct[-1]]
    rows = []
    for i, t in enumerate(edges):
        strong = score >= t if i != len(edges) - 1 else score > t
        rows.append({"threshold": float(t), "strong_pct": 100 * strong.mean(),
                     "quality": float(np.nanmean(np.where(strong, qs, qw)))})
    return pd.DataFrame(rows)


def apgr(strong_pct, quality, weak_quality: float, strong_quality: float) -> float:
    """Average performance gap recovered: area under quality vs strong-call share, scaled so weak=0, strong=1."""
    order = np.argsort(strong_pct, kind="stable")
    x, y = np.asarray(strong_pct, float)[order] / 100, np.asarray(quality, float)[order]
    area = np.trapezoid(y, x)
    weak_area = np.trapezoid(np.full_like(x, weak_quality), x)
    strong_area = np.trapezoid(np.full_like(x, strong_quality), x)
    return float((area - weak_area) / (strong_area - weak_area))


def cpt(strong_pct, quality, weak_quality: float, strong_quality: float, share: float) -> float:
    """Call-performance threshold: % strong calls needed to recover `share` of the quality gap (interpolated)."""
    order = np.argsort(strong_pct, kind="stable")
    target = share * (strong_quality - weak_quality) + weak_quality
    return float(np.interp(target, np.asarray(quality, float)[order], np.asarray(strong_pct, float)[order]))


# --- any number of models, as RouterBench defines them (arXiv 2403.12031) ---

def non_decreasing_convex_hull(cost, quality) -> np.ndarray:
    """Upper convex hull of (cost, quality) points, cut where it would fall: points (m, 2), by cost."""
    pts = np.unique(np.column_stack([np.asarray(cost, float), np.asarray(quality, float)]), axis=0)
    pts = pts[np.lexsort((-pts[:, 1], pts[:, 0]))]
    pts = pts[np.r_[True, pts[1:, 0] != pts[:-1, 0]]]  # best quality at each cost
    hull = []
    for p in pts:  # monotone chain, upper side
        while len(hull) >= 2 and _turn(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    hull = np.array(hull)
    best = int(np.argmax(hull[:, 1]))
    return hull[: best + 1]  # past the best point, spending more buys nothing


def _turn(a, b, c) -> float:
    """> 0 when a, b, c turn left (b lies under the segment a-c)."""
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def aiq(cost, quality, cost_range=None) -> float:
    """Average improvement in quality: the non-decreasing convex hull averaged over a cost range.

    Below the router's cheapest point it cannot operate (counts 0, as RouterBench's script does);
    above its best point more budget buys nothing more (flat). The range defaults to the points'
    own; pass one shared range (cheapest to dearest single model) to compare routers.
    """
    hull = non_decreasing_convex_hull(cost, quality)
    lo, hi = cost_range or (float(np.min(cost)), float(np.max(cost)))
    if hi <= lo:
        return float(hull[-1, 1])
    start = min(max(lo, float(hull[0, 0])), hi)
    grid = np.union1d(np.clip(hull[:, 0], start, hi), [start, hi])
    return float(np.trapezoid(np.interp(grid, hull[:, 0], hull[:, 1]), grid) / (hi - lo))


def cost_at_quality(cost, quality, target: float) -> float | None:
    """Least cost on the non-decreasing hull reaching `target` quality (linear mixing); None if out of reach."""
    hull = non_decreasing_convex_hull(cost, quality)
    if hull[-1, 1] < target:
        return None
    if hull[0, 1] >= target:
        return float(hull[0, 0])
    return float(np.interp(target, hull[:, 1], hull[:, 0]))


# --- how much a figure moves over splits ---

def interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of per-split values with its t interval (NaN values are left out)."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    if not len(v):
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if len(v) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return mean, mean - half, mean + half


# --- RouterArena's selection metrics (arXiv 2510.00202), at one operating point ---

def optimal_tiers(quality, cost, good_enough: float) -> np.ndarray:
    """Per query, the cheapest tier whose answer is good enough; the cheapest tier where none is."""
    good = np.nan_to_num(np.asarray(quality, float), nan=-1.0) >= good_enough
    cost = np.asarray(cost, float)
    dear = np.where(good, cost, np.inf)
    return np.where(good.any(axis=1), dear.argmin(axis=1), cost.argmin(axis=1))


def optimal_selection_rate(assignment, quality, cost, good_enough: float) -> float:
    """Share of queries sent to their optimal tier (the cheapest good-enough one)."""
    return float(np.mean(np.asarray(assignment) == optimal_tiers(quality, cost, good_enough)))


def optimal_cost_ratio(assignment, quality, cost, good_enough: float, deciding_usd: float = 0.0) -> float:
    """Cost of the optimal choices over what the router spent (deciding included), at most 1."""
    rows, cost = np.arange(len(cost)), np.asarray(cost, float)
    best = cost[rows, optimal_tiers(quality, cost, good_enough)].sum()
    spent = cost[rows, np.asarray(assignment)].sum() + deciding_usd
    return float(min(1.0, best / spent)) if spent > 0 else 1.0


def dominated(cost, quality) -> np.ndarray:
    """Per option, the index of the cheapest other option that costs less with at least its quality (or costs no
    more with more quality), else -1."""
    c, q = np.asarray(cost, float)[:, None], np.asarray(quality, float)[:, None]
    beats = ((c.T < c) & (q.T >= q)) | ((c.T <= c) & (q.T > q))  # [i, j]: j dominates i
    cheapest = np.argmin(np.where(beats, c.T, np.inf), axis=1)
    return np.where(beats.any(axis=1), cheapest, -1)
