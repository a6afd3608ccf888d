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


class SortedSweep:
    """Outcomes at any shared threshold from per-tier sums, never re-assigning queries per threshold.

    A query lands on tier k or a cheaper one at threshold t exactly when the running maximum of its scores
    over tiers 0..k is >= t. Counts and sums over queries are then either a binary search into each tier's
    running maxima sorted once with prefix sums (`sorted=True`: any thresholds later, as a dashboard needs) or
    one histogram pass over given thresholds (sweep()). Moving a query down to tier k changes its cost,
    quality and checks by a fixed amount, so every figure is the all-last-tier total plus those changes.
    """

    def __init__(self, tt: TierTable, scores: np.ndarray, cost: DecidingCost | None = None, sorted: bool = True):
        scores = np.asarray(scores, float)
        if scores.ndim != 2 or scores.shape != (tt.n, len(tt.tiers)):
            raise ValueError(f"scores must be {tt.n} x {len(tt.tiers)} (queries x tiers), got {scores.shape}")
        cost = cost or DecidingCost()
        self.tiers, self.n, self.cascade = list(tt.tiers), tt.n, cost.pays_lower_tiers
        paid = np.cumsum(tt.cost, axis=1) if self.cascade else np.asarray(tt.cost, float)
        if cost.checks is not None:
            paid = paid + np.cumsum(cost.checks, axis=1)
        quality = np.asarray(tt.quality, float)
        known = ~np.isnan(quality)
        columns = [paid, np.where(known, quality, 0.0), known.astype(float)]
        self.base = np.array([c[:, -1].sum() for c in columns], float)  # everything on the last tier
        self.extra = float(np.sum(cost.per_query))
        self.reach = np.fmax.accumulate(scores[:, :-1], axis=1).T.copy()  # (K-1) x n; NaN never reaches
        self.change = [np.stack([c[:, k] - c[:, k + 1] for c in columns])
                       for k in range(len(self.tiers) - 1)]  # per tier: 3 x n
        self.sorted = None
        if sorted:
            self.sorted, self.sums = [], []
            for k, change in enumerate(self.change):
                order = np.argsort(-self.reach[k])  # NaN last: it never counts
                self.sorted.append(-self.reach[k][order])
                self.sums.append(np.concatenate([np.zeros((3, 1)), np.cumsum(change[:, order], axis=1)], axis=1))
            self.change = None

    def _tier(self, k: int, thresholds: np.ndarray):
        """Queries reaching tier k or cheaper at each threshold, and the sum of their changes (3 x T)."""
        if self.sorted is not None:
            count = np.searchsorted(self.sorted[k], -thresholds, side="right")
            count[np.isnan(thresholds)] = 0
            return count, self.sums[k][:, count]
        grid = np.unique(thresholds[~np.isnan(thresholds)])
        bins = np.searchsorted(grid, self.reach[k], side="right")  # thresholds each query reaches: grid[:bins]
        bins[np.isnan(self.reach[k])] = 0
        per_bin = np.stack([np.bincount(bins, minlength=len(grid) + 1)] +
                           [np.bincount(bins, weights=w, minlength=len(grid) + 1) for w in self.change[k]])
        above = np.cumsum(per_bin[:, ::-1], axis=1)[:, ::-1][:, 1:]  # reaching grid[j]: bins > j
        at = np.searchsorted(grid, thresholds)
        found = ~np.isnan(thresholds)
        out = np.zeros((4, len(thresholds)))
        out[:, found] = above[:, at[found]]
        return np.round(out[0]).astype(int), out[1:]

    def curve(self, thresholds, with_thresholds: bool = False) -> pd.DataFrame:
        """Cost, quality and mix at each threshold: the figures of outcomes_of(tt, assign_many(scores, thresholds))."""
        thresholds = np.atleast_1d(np.asarray(thresholds, float))
        totals, counts = np.repeat(self.base[:, None], len(thresholds), axis=1), []
        for k in range(len(self.tiers) - 1):
            count, sums = self._tier(k, thresholds)
            counts.append(count)
            totals = totals + sums
        spent = totals[0] + self.extra
        with np.errstate(invalid="ignore", divide="ignore"):
            quality = totals[1] / np.round(totals[2])
        at_most = np.column_stack(counts + [np.full(len(thresholds), self.n)])  # queries on tier k or cheaper
        per_tier = np.diff(at_most, axis=1, prepend=0)
        out = {"threshold": thresholds} if with_thresholds else {}
        out.update({"cost_usd": spent, "cost_per_1k": spent / self.n * 1000, "quality": quality})
        out.update({f"share_{tier}": per_tier[:, k] / self.n for k, tier in enumerate(self.tiers)})
        if self.cascade:
            out["escalation_rate"] = (self.n - per_tier[:, 0]) / self.n
            out["calls_per_request"] = (per_tier @ np.arange(1, len(self.tiers) + 1)) / self.n
        return pd.DataFrame(out)


class PairSweep:
    """Three tiers at a pair of thresholds (cheap, mid), routed as assign() does, without re-assigning every query.

    Queries are sorted once by their cheap-tier score, so those kept on cheap are a prefix (prefix sums); the rest
    start on the expensive tier (suffix sums), and one masked sum over them moves those reaching the mid threshold.
    """

    def __init__(self, tt: TierTable, scores: np.ndarray, cost: DecidingCost | None = None):
        cost = cost or DecidingCost()
        if len(tt.tiers) != 3 or cost.pays_lower_tiers or cost.checks is not None:
            raise ValueError("PairSweep is for three tiers routed directly (no cascade, no per-answer checks)")
        order = np.argsort(-np.asarray(scores, float)[:, 0], kind="stable")  # NaN scores last: never kept on cheap
        self.s0, self.s1 = -scores[order, 0], scores[order, 1]
        graded = ~np.isnan(tt.quality[order])
        values = np.stack([tt.cost[order], np.where(graded, tt.quality[order], 0.0), graded], axis=2)  # (n, 3, 3)
        zero = np.zeros((1, 3))
        self.cheap = np.concatenate([zero, np.cumsum(values[:, 0], axis=0)])  # first p queries on cheap
        self.top = np.concatenate([np.cumsum(values[::-1, 2], axis=0)[::-1], zero])  # queries p.. on expensive
        self.gain = values[:, 1] - values[:, 2]  # moving a query from expensive to mid
        self.n, self.tiers, self.router_cost = tt.n, list(tt.tiers), float(np.sum(cost.per_query))

    def at(self, t_cheap: float, t_mid: float) -> dict:
        """cost_usd, cost_per_1k, quality and the share of each tier, as outcomes_of(assign(scores, pair))."""
        p = int(np.searchsorted(self.s0, -t_cheap, side="right"))  # queries whose cheap score reaches t_cheap
        up = self.s1[p:] >= t_mid
        cost, quality, graded = self.cheap[p] + self.top[p] + up @ self.gain[p:]
        spent = cost + self.router_cost
        mid = int(up.sum())
        return {"cost_usd": spent, "cost_per_1k": spent / self.n * 1000, "quality": quality / graded if graded else np.nan,
                **{f"share_{t}": c / self.n for t, c in zip(self.tiers, (p, mid, self.n - p - mid))}}

    def __repr__(self):
        return f"PairSweep({self.n} queries, tiers={self.tiers})"


def sweep(tt: TierTable, scores: np.ndarray, thresholds=None, cost: DecidingCost | None = None) -> pd.DataFrame:
    """The cost-quality curve of a router over thresholds (one threshold shared by every tier)."""
    thresholds = default_thresholds(scores) if thresholds is None else np.asarray(thresholds, float)
    return SortedSweep(tt, scores, cost, sorted=False).curve(thresholds, with_thresholds=True)


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
            at = len(s) - min(int(round(want)), len(s))  # the round(want)-th largest, found without a full sort
            t = np.partition(s, at)[at] if want >= 1 else np.inf
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
