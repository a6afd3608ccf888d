"""The three dashboards: per-tier thresholds, willingness to pay, cascade acceptance."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import traitlets

from ..routers import names
from ..sweep import PairSweep, SortedSweep, assign, assign_many, calibrate_mix, default_thresholds, outcomes_of, sweep
from .base import _Dashboard, fmt_dollars, fmt_share, shares

STYLE = {"description_width": "initial"}
RARE_SHARE = 0.10  # a tier that never gets more than this at any lambda is named under the control
SAMPLE = 100_000  # queries a pair-of-thresholds grid is searched on, on a bigger log
CURVE_SAMPLE = 20_000  # queries behind the background curve of a pair of thresholds, on a bigger log


def cascade_routers() -> tuple:
    """Registry routers that are cascades (a query pays every tier it tries), live-only ones left out."""
    return tuple(n for n in names() if n.startswith("cascade"))


def _candidates(s: np.ndarray, n: int = 101, extra=()) -> np.ndarray:
    """Threshold values worth trying on one tier's scores: quantiles, both ends, and `extra`, within 0-1."""
    return np.unique(np.clip(np.r_[0.0, np.quantile(s, np.linspace(0, 1, n)), 1.0, extra], 0, 1))


def _slider(value, description, width="420px"):
    return W.FloatSlider(value=value, min=0, max=1, step=0.01, readout_format=".2f", description=description,
                         style=STYLE, layout=W.Layout(width=width))


class ThresholdPair(W.HBox):
    """Two sliders, the cheap tier's threshold and the mid tier's, as one control whose value is the pair."""

    value = traitlets.Tuple()
    description, min, max = "thresholds (cheap, mid)", 0.0, 1.0

    def __init__(self, value=(0.5, 0.5)):
        self.sliders = [_slider(v, f"{t} threshold", "400px") for v, t in zip(value, ("cheap", "mid"))]
        super().__init__(self.sliders)
        self.value, self._pushing = tuple(value), False
        for s in self.sliders:
            s.observe(self._pull, names="value")
        self.observe(self._push, names="value")

    def _pull(self, _):
        if not self._pushing:
            self.value = tuple(s.value for s in self.sliders)

    def _push(self, change):
        self._pushing = True
        try:
            for s, v in zip(self.sliders, change["new"]):
                s.value = float(v)
        finally:
            self._pushing = False


class ThresholdDashboard(_Dashboard):
    """Thresholds on the router's scores, the rule of `sweep.assign`: a query stays on the first tier whose score
    (the router's chance that tier is good enough) reaches its threshold, so a higher threshold sends more traffic
    to the dearer tiers. One threshold for two tiers (or a cascade), one per tier but the last for three."""

    routers = tuple(n for n in names() if not n.startswith("always-"))

    def _single(self) -> bool:
        return self.cascade or len(self.test.tiers) == 2

    def _make_control(self):
        return _slider(0.5, "threshold") if self._single() else ThresholdPair((0.5, 0.5))

    def _caption(self) -> str:
        if self.cascade:
            return ("higher threshold &rarr; more escalations: a cheaper answer is kept when the scorer's confidence "
                    "reaches the threshold, else the next tier is tried (and paid for too)")
        return (f"higher threshold &rarr; more traffic to {self.test.tiers[-1]}: a query stays on the first tier whose "
                "score (the router's chance that tier is good enough) reaches its threshold, as in "
                "<code>sweep.assign(scores, threshold)</code>")

    def assignment(self, value) -> np.ndarray:
        return assign(self.scores, value)

    def _prepare(self):
        """Scores sorted once with prefix sums: a step costs a binary search per tier (one shared threshold), or a
        binary search and one masked sum over the queries not kept on cheap (a pair)."""
        direct = not self.cost.pays_lower_tiers and self.cost.checks is None
        self.sorted_sweep = SortedSweep(self.test, self.scores, self.cost) if self._single() else None
        self.pair_sweep = PairSweep(self.test, self.scores, self.cost) if not self._single() and direct else None

    def outcomes_at(self, value) -> dict:
        if self.sorted_sweep is not None:
            return self.sorted_sweep.curve([float(np.atleast_1d(value)[0])]).iloc[0].to_dict()
        if self.pair_sweep is not None:
            return self.pair_sweep.at(*map(float, value))
        return super().outcomes_at(value)

    def reference_curve(self):
        if self._single():
            curve = sweep(self.test, self.scores, np.unique(np.clip(default_thresholds(self.scores), 0, 1)), self.cost)
            return curve["cost_per_1k"].to_numpy(), curve["quality"].to_numpy()
        rows = self._sample(CURVE_SAMPLE)  # a 41 x 41 grid of settings: on a big log, from a sample of its queries
        test, scores = self.test.take(rows), self.scores[rows]
        t0, t1 = (_candidates(scores[:, k], 41) for k in (0, 1))
        a = np.where(scores[None, None, :, 0] >= t0[:, None, None], 0,
                     np.where(scores[None, None, :, 1] >= t1[None, :, None], 1, 2)).reshape(-1, test.n)
        out = outcomes_of(test, a, self.cost)
        return out["cost_per_1k"].to_numpy(), out["quality"].to_numpy()

    def calibrate(self) -> dict:
        """Move the threshold(s) to the mix closest to the target (L1); say so when the target cannot be reached."""
        target, s, n = self._target(), self.scores, self.test.n
        exact = np.nan_to_num(calibrate_mix(s, target), posinf=1.0)  # exact where the scores allow, then searched
        if self._single():
            t = _candidates(s[:, 0], 201, exact[:1])
            mixes = self.sorted_sweep.curve(t).filter(like="share_").to_numpy()  # = shares(assign_many(s, t))
            best = int(np.abs(mixes - target).sum(axis=1).argmin())
            setting, reached = float(t[best]), mixes[best]
        else:
            s = s[self._sample()]  # the search runs on a sample of a big log; the mix reached, on every query
            n = len(s)
            t0, t1 = _candidates(s[:, 0], 201, exact[0]), _candidates(s[:, 1], 201, exact[1])
            stays = (s[None, :, 0] >= t0[:, None]).astype(float)  # (T0, n) kept on cheap
            mid = (1 - stays) @ (s[None, :, 1] >= t1[:, None]).astype(float).T / n  # (T0, T1) share on mid
            cheap = np.broadcast_to(stays.mean(axis=1)[:, None], mid.shape)
            mixes = np.stack([cheap, mid, 1 - cheap - mid], axis=-1)
            i, j = np.unravel_index(np.abs(mixes - target).sum(axis=-1).argmin(), mid.shape)
            setting = (float(t0[i]), float(t1[j]))
            reached = shares(self.assignment(setting), len(self.test.tiers))[0]
        self.control.value = setting
        return self._record_calibration(target, reached, setting, self._ties())

    def _sample(self, size: int = SAMPLE):
        """Rows for a grid search over pairs of thresholds: all of them, or a seeded sample on a big log."""
        if self.test.n <= size:
            return slice(None)
        return np.sort(np.random.default_rng(0).choice(self.test.n, size, replace=False))

    def _ties(self) -> str:
        """Why a mix may be out of reach: many queries sharing one score on the cheap tier."""
        values, counts = np.unique(self.scores[:, 0], return_counts=True)
        top = counts.argmax()
        if counts[top] < 0.05 * self.test.n:
            return ""
        return (f" ({len(values)} distinct cheap-tier scores; {counts[top] / self.test.n:.0%} of queries tie at "
                f"{values[top]:.2f}, and move together)")


class CascadeDashboard(ThresholdDashboard):
    """A threshold dashboard on a cascade: the slider is the confidence needed to keep a cheaper answer."""

    routers = cascade_routers()
    kind = "cascade router"

    def __init__(self, dataset="routellm-gsm8k", router="cascade-verifier", **kw):
        super().__init__(dataset, router, **kw)


class WillingnessToPayDashboard(_Dashboard):
    """Pick, per query, the tier with the best predicted quality minus lambda x its cost ($ per 1k)."""

    routers = ("classifier", "oracle", "rules", "llm", "random")
    lambdas = np.logspace(-4, 1, 101)  # the slider's own steps (exponent -4 to 1 by 0.05)

    def _prepare(self):
        if self.cascade:
            raise ValueError("willingness to pay needs a router that predicts quality per tier, not a cascade")
        self.tier_cost = self.singles["cost_per_1k"].to_numpy()  # expected $ per 1k requests of each tier
        self.predicted = self.scores.copy()
        self.predicted[:, -1] = self.train_good_rate[-1]  # the fallback column is 1 by construction, not a prediction
        self.peak = shares(self._assign_many(self.lambdas), len(self.test.tiers)).max(axis=0)  # best share per tier
        self.never = [t for t, p in zip(self.test.tiers, self.peak) if p == 0]

    def _assign_many(self, lams) -> np.ndarray:
        """(L, n) tier per query for many lambdas at once."""
        net = self.predicted[None, :, :] - np.asarray(lams, float)[:, None, None] * self.tier_cost[None, None, :]
        return net.argmax(axis=2)

    def _make_control(self):
        return W.FloatLogSlider(value=0.01, base=10, min=-4, max=1, step=0.05, readout_format=".3g",
                                description="lambda (quality per $ per 1k)", style=STYLE,
                                layout=W.Layout(width="520px"))

    def _caption(self) -> str:
        text = ("higher lambda &rarr; more traffic to cheaper tiers: each query goes to the tier with the best "
                "predicted quality minus lambda x its $ per 1k requests")
        rare = [(t, p) for t, p in zip(self.test.tiers, self.peak) if p < RARE_SHARE]
        if rare:
            singles = ", ".join(f"{r.tier} {r.quality:.3f} at {fmt_dollars(r.cost_per_1k)}"
                                for r in self.singles.itertuples())
            peaks = ", ".join(f"{t} at most {fmt_share(p)}" for t, p in rare)
            text += (f'<br><span class="rl-rare">at any lambda from {self.lambdas[0]:g} to {self.lambdas[-1]:g}: '
                     f"{peaks} of the traffic. Not a bug: its predicted quality seldom pays for its price against "
                     f"the tiers beside it (single models, quality at $ per 1k requests: {singles})</span>")
        return text

    def _control_range(self):
        return 10.0 ** self.control.min, 10.0 ** self.control.max  # a log slider's bounds are exponents

    def _value_text(self) -> str:
        return f"{self.control.value:.3g}"

    def assignment(self, value) -> np.ndarray:
        return self._assign_many([float(value)])[0]

    def reference_curve(self):
        out = outcomes_of(self.test, self._assign_many(self.lambdas), self.cost)
        return out["cost_per_1k"].to_numpy(), out["quality"].to_numpy()

    def calibrate(self) -> dict:
        """The lambda whose mix is closest to the target mix (L1); say so when no lambda reaches it."""
        target = self._target()
        mixes = shares(self._assign_many(self.lambdas), len(target))
        best = int(np.abs(mixes - target).sum(axis=1).argmin())
        self.control.value = float(self.lambdas[best])
        why = f" (no lambda sends traffic to {', '.join(self.never)})" if self.never else ""
        return self._record_calibration(target, mixes[best], float(self.lambdas[best]), why)
