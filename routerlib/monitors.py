"""Production failure modes, detected over routed traffic: under-routing, over-routing, router latency,
cascade cost explosion. Each monitor looks at rolling windows of requests and returns alerts;
`scenarios()` induces each failure on recorded data, with its mitigation.

Traffic is a DataFrame with one row per request, in arrival order: `tier`, and where known
`quality` (0-1), `cost_usd`, `router_latency_s`, `router_cost_usd`, `escalated` (bool).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics import TARGET_MIX
from .routers.cascade import CascadeRouter, VerifierScorer
from .routers.classifier import ClassifierRouter
from .sweep import assign, calibrate_mix, calibrate_quality
from .tables import train_test


@dataclass
class Alert:
    """One monitor firing on one window of requests."""

    monitor: str
    window: tuple  # (first, last) request positions
    value: float
    limit: float
    message: str

    def __repr__(self):
        return f"Alert({self.monitor}: {self.message})"


def _windows(n: int, size: int, step: int | None = None):
    size = min(size, n)
    step = step or max(1, size // 2)
    starts = range(0, max(n - size, 0) + 1, step)
    return [(s, s + size) for s in starts] if n else []


def _check_columns(traffic: pd.DataFrame, needed, monitor):
    missing = [c for c in needed if c not in traffic]
    if missing:
        raise ValueError(f"{monitor} needs column(s) {missing} in the traffic table; it has {list(traffic.columns)}")


def _sums(values, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of values[lo:hi] for every window (they may overlap): one reduceat pass, no loop over windows."""
    x = np.append(np.asarray(values, float), 0.0)
    return np.add.reduceat(x, np.column_stack([lo, hi]).ravel())[::2]


def _floats(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=float, na_value=np.nan)


class _WindowMonitor:
    """Looks at rolling windows of traffic; subclasses compute every window at once with array operations."""

    name = "monitor"
    needs: tuple = ()

    def check(self, traffic: pd.DataFrame) -> list[Alert]:
        _check_columns(traffic, self.needs, self.name)
        spans = np.array(_windows(len(traffic), self.window), dtype=np.int64).reshape(-1, 2)
        return self._alerts(traffic, spans[:, 0], spans[:, 1]) if len(spans) else []

    def _alert(self, span, value, limit, message) -> Alert:
        return Alert(self.name, span, float(value), float(limit), message)


class UnderRoutingMonitor(_WindowMonitor):
    """Quality per route below a minimum: hard queries are reaching a tier that cannot answer them."""

    name, needs = "under-routing", ("tier", "quality")

    def __init__(self, min_quality: float = 0.6, window: int = 100, tiers=None, min_requests: int = 10):
        self.min_quality, self.window, self.tiers, self.min_requests = min_quality, window, tiers, min_requests

    def _alerts(self, traffic, lo, hi):
        codes, names = pd.factorize(traffic["tier"], sort=True)  # the tiers in groupby's order
        quality = _floats(traffic["quality"])
        found = []
        for c, tier in enumerate(names):
            if self.tiers is not None and tier not in self.tiers:
                continue
            graded = (codes == c) & ~np.isnan(quality)
            count = _sums(graded, lo, hi)
            mean = _sums(np.where(graded, quality, 0.0), lo, hi) / np.maximum(count, 1)
            found += [(w, c, mean[w], int(count[w])) for w in
                      np.flatnonzero((count >= max(self.min_requests, 1)) & (mean < self.min_quality))]
        return [self._alert((int(lo[w]), int(hi[w])), mean, self.min_quality,
                            f"requests {lo[w]}-{hi[w]}: quality on the {names[c]} route is {mean:.2f} "
                            f"(< {self.min_quality:.2f}) over {count} requests; route fewer hard queries there "
                            "(raise the threshold) or set a minimum quality") for w, c, mean, count in sorted(found)]

    def __repr__(self):
        return f"UnderRoutingMonitor(min_quality={self.min_quality}, window={self.window})"


class OverRoutingMonitor(_WindowMonitor):
    """Traffic mix above the target share on the dearer tiers: costs are high for nothing."""

    name, needs = "over-routing", ("tier",)

    def __init__(self, band=None, window: int = 200, slack: float = 0.05):
        self.band, self.window, self.slack = band or TARGET_MIX, window, slack

    def _alerts(self, traffic, lo, hi):
        tier, tiers = traffic["tier"], list(self.band)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = {t: _sums(tier == t, lo, hi) / _sums(tier.notna(), lo, hi) for t in tiers[1:]}
            up = 1.0 - _sums(tier == tiers[0], lo, hi) / (hi - lo)
            need = np.full(len(lo), np.nan)
            if "cheap_ok" in traffic:  # share of graded requests the cheap tier fails (NaN where ungraded)
                ok = _floats(traffic["cheap_ok"])
                need = 1.0 - _sums(np.nan_to_num(ok), lo, hi) / _sums(~np.isnan(ok), lo, hi)
        out = []
        for w in np.flatnonzero(np.any([shares[t] > self.band[t][1] + self.slack for t in tiers[1:]], axis=0)):
            for t in tiers[1:]:
                share, top = float(shares[t][w]), self.band[t][1] + self.slack
                if share > top:
                    out.append(self._alert((int(lo[w]), int(hi[w])), share, top, f"requests {lo[w]}-{hi[w]}: "
                                           f"{share:.0%} went to {t} (target at most {self.band[t][1]:.0%}); "
                                           + self._why(float(up[w]), None if np.isnan(need[w]) else float(need[w]))))
        return out

    def _why(self, up: float, need) -> str:
        """Tell a timid threshold (mix shift) from traffic that got harder, where a graded sample says which."""
        if need is None:
            return "calibrate thresholds to the target mix (or grade a sample, column cheap_ok, to tell why)"
        if up <= need + self.slack:
            return (f"harder traffic, not a timid threshold: {up:.0%} went above cheap and the cheap tier fails on "
                    f"{need:.0%} of graded requests; the dearer tiers are earning it, so check the budget rather "
                    "than recalibrate to the mix")
        return (f"over-routing: {up:.0%} went above cheap while the cheap tier fails on only {need:.0%} of graded "
                "requests; calibrate thresholds (to a quality floor, or the target mix)")

    def __repr__(self):
        return f"OverRoutingMonitor(window={self.window}, slack={self.slack})"


class RouterLatencyMonitor(_WindowMonitor):
    """Router overhead p50/p95 above a budget (an LLM router adds 100-200 ms or more per request)."""

    name, needs = "router-latency", ("router_latency_s",)

    def __init__(self, p95_limit_s: float = 0.2, window: int = 100):
        self.p95_limit_s, self.window = p95_limit_s, window

    def _alerts(self, traffic, lo, hi):
        lat = _floats(traffic["router_latency_s"])
        windows = np.lib.stride_tricks.sliding_window_view(lat, int(hi[0] - lo[0]))[lo]  # every window is full size
        gaps = np.isnan(windows).any(axis=1)
        p = np.full((len(lo), 2), np.nan)
        if (~gaps).any():
            p[~gaps] = np.quantile(windows[~gaps], [0.5, 0.95], axis=1).T
        for w in np.flatnonzero(gaps):  # windows with unknown latencies: the known ones
            if (known := windows[w][~np.isnan(windows[w])]).size:
                p[w] = np.quantile(known, [0.5, 0.95])
        return [self._alert((int(lo[w]), int(hi[w])), p95, self.p95_limit_s,
                            f"requests {lo[w]}-{hi[w]}: router overhead p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} "
                            f"ms (> {self.p95_limit_s * 1000:.0f} ms); use a light classifier or the decision cache")
                for w, (p50, p95) in enumerate(p) if p95 > self.p95_limit_s]

    def __repr__(self):
        return f"RouterLatencyMonitor(p95_limit_s={self.p95_limit_s}, window={self.window})"


class CascadeCostMonitor(_WindowMonitor):
    """Escalation rate so high that a cascade costs more than the savings it was meant to bring."""

    name, needs = "cascade-cost", ("escalated",)

    def __init__(self, max_escalation: float = 0.4, window: int = 100):
        self.max_escalation, self.window = max_escalation, window

    def _alerts(self, traffic, lo, hi):
        escalated = _floats(traffic["escalated"])
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = _sums(np.nan_to_num(escalated), lo, hi) / _sums(~np.isnan(escalated), lo, hi)
        out = []
        for w in np.flatnonzero(rate > self.max_escalation):
            wasted = float(traffic["router_cost_usd"].iloc[lo[w]:hi[w]].sum()) if "router_cost_usd" in traffic else 0.0
            out.append(self._alert((int(lo[w]), int(hi[w])), rate[w], self.max_escalation,
                                   f"requests {lo[w]}-{hi[w]}: {rate[w]:.0%} escalated (> {self.max_escalation:.0%}); "
                                   f"${wasted:.4f} spent on answers thrown away and checks; lower the acceptance "
                                   "threshold or use a better scorer"))
        return out

    def __repr__(self):
        return f"CascadeCostMonitor(max_escalation={self.max_escalation}, window={self.window})"


def default_monitors() -> list:
    return [UnderRoutingMonitor(), OverRoutingMonitor(), RouterLatencyMonitor(), CascadeCostMonitor()]


def check_all(traffic: pd.DataFrame, monitors=None) -> pd.DataFrame:
    """Run every monitor that has the columns it needs; one row per alert (empty when healthy)."""
    rows = []
    for m in monitors or default_monitors():
        try:
            alerts = m.check(traffic)
        except ValueError:  # this traffic lacks the monitor's columns (e.g. no cascade): nothing to watch
            continue
        rows += [{"monitor": a.monitor, "from": a.window[0], "to": a.window[1], "value": a.value,
                  "limit": a.limit, "message": a.message} for a in alerts]
    return pd.DataFrame(rows, columns=["monitor", "from", "to", "value", "limit", "message"])


def traffic_of(tt, assignment, router_latency_s=0.0, router_cost_usd=0.0, cascade: bool = False,
               seed: int | None = 0) -> pd.DataFrame:
    """Traffic rows of a routed policy over a TierTable's queries, in a seeded random arrival order.

    Recorded datasets are sorted (by subject, say); real traffic is not, so windows are shuffled
    unless seed is None.
    """
    a = np.asarray(assignment)
    rows = np.arange(tt.n)
    paid = np.cumsum(tt.cost, axis=1) if cascade else tt.cost
    traffic = pd.DataFrame({
        "tier": np.array(tt.tiers)[a], "quality": tt.quality[rows, a], "cost_usd": paid[rows, a],
        "router_latency_s": np.broadcast_to(router_latency_s, tt.n).astype(float),
        "router_cost_usd": np.broadcast_to(router_cost_usd, tt.n).astype(float) + (
            (paid[rows, a] - tt.cost[rows, a]) if cascade else 0.0),
        "escalated": a > 0 if cascade else np.zeros(tt.n, bool),
        "cheap_ok": tt.good()[:, 0]}, index=tt.prompts.index)  # recorded data: every request graded
    if seed is not None:
        traffic = traffic.iloc[np.random.default_rng(seed).permutation(tt.n)]
    return traffic


# --- the failure modes induced on recorded data ---

SLOW_ROUTER_S = (0.25, 0.10)  # SIMULATED LLM-router overhead: 250 ms plus up to 100 ms of jitter


def monitors(target_mix=(0.5, 0.5), min_quality=0.67, window=400) -> list:
    """Monitors tuned for a two-tier dataset routed 50/50 (the band is the target +- 5 points)."""
    band = {"cheap": (target_mix[0] - 0.05, target_mix[0] + 0.05),
            "expensive": (target_mix[1] - 0.05, target_mix[1] + 0.05)}
    return [UnderRoutingMonitor(min_quality=min_quality, window=window), OverRoutingMonitor(band=band, window=window),
            RouterLatencyMonitor(p95_limit_s=0.2, window=window), CascadeCostMonitor(max_escalation=0.4, window=window)]


def classifier_latency(router, texts, n: int = 50) -> np.ndarray:
    """Measured seconds per single-query decision of a fitted classifier (on this machine)."""
    out = []
    for text in list(texts)[:n]:
        start = time.perf_counter()
        router.predict_proba([text])
        out.append(time.perf_counter() - start)
    return np.array(out)


def scenarios(table, seed: int = 0, target_mix=(0.5, 0.5)) -> dict:
    """name -> traffic table: healthy runs, the four induced failures, and their mitigations."""
    train, test = train_test(table, 0.5, seed)
    clf = ClassifierRouter().fit(train)
    scores = clf.tier_scores(test)
    light = np.resize(classifier_latency(clf, test.prompts), test.n)  # measured, real
    slow = SLOW_ROUTER_S[0] + SLOW_ROUTER_S[1] * np.random.default_rng(seed).random(test.n)
    healthy = assign(scores, calibrate_mix(scores, list(target_mix)))
    floor = calibrate_quality(test, scores, 0.95)["threshold"]
    conf = CascadeRouter(VerifierScorer()).fit(train).tier_scores(test)
    last = len(test.tiers) - 1
    return {
        "healthy": traffic_of(test, healthy, light, seed=seed),
        "under-routing (aggressive threshold: all cheap)": traffic_of(test, np.zeros(test.n, int), light, seed=seed),
        "mitigated: quality floor (95% of best)": traffic_of(test, assign(scores, floor), light, seed=seed),
        "over-routing (timid threshold: all expensive)": traffic_of(test, np.full(test.n, last), light, seed=seed),
        "mitigated: calibrated to the target mix": traffic_of(test, healthy, light, seed=seed),
        "router latency (slow LLM router, SIMULATED 250-350 ms)": traffic_of(test, healthy, slow, seed=seed),
        "mitigated: light classifier (measured)": traffic_of(test, healthy, light, seed=seed),
        "cascade explosion (strict: accept at 0.9)": traffic_of(test, assign(conf, 0.9), light, cascade=True,
                                                                seed=seed),
        "mitigated: cascade accepts at 0.6": traffic_of(test, assign(conf, 0.6), light, cascade=True, seed=seed),
    }


def harder_traffic(table, seed: int = 0, cheap_fails: float = 0.7, target_mix=(0.5, 0.5)) -> dict:
    """name -> traffic: the held-out queries redrawn so the cheap tier fails on `cheap_fails` of them, two routers."""
    train, test = train_test(table, 0.5, seed)
    good = test.good()[:, 0]
    weight = np.where(good, (1 - cheap_fails) / max(good.sum(), 1), cheap_fails / max((~good).sum(), 1))
    harder = test.take(np.random.default_rng(seed).choice(test.n, test.n, p=weight / weight.sum()))
    clf = ClassifierRouter().fit(train)
    threshold = calibrate_mix(clf.tier_scores(test), list(target_mix))  # the healthy run's, set before the shift
    return {"harder traffic: classifier, healthy threshold": traffic_of(harder, assign(clf.tier_scores(harder), threshold),
                                                                        seed=seed),
            "harder traffic: a router that sees it (cheap fails -> expensive)": traffic_of(
                harder, np.where(harder.good()[:, 0], 0, len(test.tiers) - 1), seed=seed)}
