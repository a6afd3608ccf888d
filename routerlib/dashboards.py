"""ipywidgets dashboards: move a threshold, watch cost, quality and the traffic mix respond.

Every change re-evaluates the policy on the held-out queries (array operations only) and redraws
one figure into an Image widget in place. Errors in a callback are shown in the dashboard.
"""
from __future__ import annotations

import html
import io

import ipywidgets as W
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from . import datasets
from .metrics import TARGET_MIX, non_decreasing_convex_hull
from .routers import make, names
from .sweep import assign, assign_cuts, cuts_for_mix, difficulty, outcomes_of, single_models, sweep
from .tables import train_test

DEFAULT_MIX = {2: [0.8, 0.2], 3: [0.75, 0.20, 0.05]}


class _Dashboard:
    """Shared parts: data and router pickers, metrics, the figure, calibration, error display."""

    routers = tuple(n for n in names() if not n.startswith("always-"))

    def __init__(self, dataset="routellm-gsm8k", router="classifier", seed=0, data_dir=None, target_mix=None,
                 test_share=0.5):
        self.seed, self.data_dir, self.target_mix, self.test_share = seed, data_dir, target_mix, test_share
        self.error = W.HTML()
        self.metrics = W.HTML()
        self.image = W.Image(format="png", layout=W.Layout(width="880px"))
        self.dataset_picker = W.Dropdown(options=self._dataset_names(dataset), value=dataset, description="dataset")
        self.router_picker = W.Dropdown(options=self.routers, value=router, description="router")
        self.calibrate_button = W.Button(description="calibrate to target mix", icon="bullseye",
                                         layout=W.Layout(width="210px"))
        self.control = None
        self.widget = W.VBox()
        self._load(dataset, router)
        self.dataset_picker.observe(self._safe(self._on_pick), names="value")
        self.router_picker.observe(self._safe(self._on_pick), names="value")
        self.calibrate_button.on_click(self._safe(lambda _: self.calibrate()))

    # --- data ---
    def _dataset_names(self, current):
        status = datasets.status(self.data_dir)
        ready = [n for n, r in status.iterrows() if r["present"] == r["files"] and n in datasets.DATASETS]
        return list(dict.fromkeys([current, *ready]))

    def _load(self, dataset, router):
        table = datasets.load(dataset, self.data_dir)
        train, self.test = train_test(table, self.test_share, self.seed)
        if len(self.test.tiers) not in (2, 3):
            raise ValueError(f"dashboards handle two or three tiers; {dataset} has {len(self.test.tiers)}")
        self.router = make(router, self.test.catalog, self.seed)
        self.router.fit(train)
        self.scores, self.cost = self.router.tier_scores(self.test), self.router.deciding_cost(self.test)
        self.cascade = self.cost.pays_lower_tiers
        self.train_good_rate = train.good().mean(axis=0) if train.n else np.ones(len(self.test.tiers))
        self.simulated = table.simulated or self.router.simulated
        self.singles = single_models(self.test)
        self.name, self.router_name = dataset, router
        self._prepare()
        self.control = self._make_control()
        self.control.observe(self._safe(lambda _: self.update()), names="value")
        self.widget.children = [W.HBox([self.dataset_picker, self.router_picker]),
                                W.HBox([self.control, self.calibrate_button]), self.metrics, self.image, self.error]
        self._new_figure()
        self.update()

    def _on_pick(self, _):
        self._load(self.dataset_picker.value, self.router_picker.value)

    # --- policy, to be defined by each dashboard ---
    def _prepare(self):
        """Precompute what the control needs (after the router has scored the test queries)."""

    def _make_control(self):
        raise NotImplementedError

    def assignment(self, value) -> np.ndarray:
        """Tier index per test query for a control value."""
        raise NotImplementedError

    def reference_curve(self):
        """(cost_per_1k, quality) points the control can reach, for the background curve."""
        raise NotImplementedError

    def calibrate(self):
        raise NotImplementedError

    # --- evaluation ---
    def metrics_at(self, value) -> dict:
        """Cost per 1k, quality, traffic mix, savings and quality retained at a control value."""
        lo, hi = self._control_range()
        if not all(lo <= v <= hi for v in np.atleast_1d(value)):
            raise ValueError(f"setting {value} is outside the control's range {lo}-{hi}")
        row = outcomes_of(self.test, self.assignment(value)[None, :], self.cost).iloc[0].to_dict()
        row["savings_factor"] = self.singles["cost_per_1k"].iloc[-1] / row["cost_per_1k"]
        row["quality_retained"] = row["quality"] / self.singles["quality"].max()
        return row

    def _control_range(self):
        return self.control.min, self.control.max

    def update(self):
        """Re-evaluate at the control's value and redraw in place."""
        m = self.metrics_at(self.control.value)
        self._draw(m)
        self.metrics.value = self._metrics_html(m)
        self.error.value = ""

    # --- drawing ---
    def _new_figure(self):
        self.fig = Figure(figsize=(11, 3.6), dpi=80)
        self.ax_curve, self.ax_mix = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
        cost, quality = self.reference_curve()
        ax = self.ax_curve
        ax.plot(cost, quality, ".", color="0.75", ms=3, label="reachable settings")
        hull = non_decreasing_convex_hull(cost, quality)
        ax.plot(hull[:, 0], hull[:, 1], "-", color="tab:blue", lw=1.5, label="best of them")
        ax.plot(self.singles["cost_per_1k"], self.singles["quality"], "ks", ms=6, label="single models")
        (self.marker,) = ax.plot([], [], "o", color="tab:red", ms=11, label="current setting")
        ax.set_xscale("log")
        ax.set_xlabel("$ per 1k requests (log scale)")
        ax.set_ylabel("quality (normalised 0-1)")
        ax.legend(fontsize=7, loc="lower right")
        tag = " [SIMULATED]" if self.simulated else ""
        ax.set_title(f"{self.name}: {self.router_name} (held-out queries){tag}", fontsize=10)
        tiers = self.test.tiers
        self.bars = self.ax_mix.bar(tiers, np.zeros(len(tiers)), color="tab:blue", alpha=0.7)
        banded = tiers == list(TARGET_MIX)  # the mission's band is for three tiers
        for i, t in enumerate(tiers if banded else []):
            lo, hi = TARGET_MIX[t]
            self.ax_mix.add_patch(matplotlib.patches.Rectangle((i - 0.45, 100 * lo), 0.9, 100 * (hi - lo),
                                                               fill=False, hatch="//", ec="tab:orange"))
        self.ax_mix.set_ylim(0, 100)
        self.ax_mix.set_ylabel("share of requests (%)")
        self.ax_mix.set_title("traffic mix" + (" (hatched: 70-80 / 15-25 / 2-5 target)" if banded else ""),
                              fontsize=10)
        self.fig.tight_layout()
        # Draw the still parts once; each update only redraws the marker and the bars over them.
        for artist in (self.marker, *self.bars):
            artist.set_animated(True)
        self.canvas = FigureCanvasAgg(self.fig)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)

    def _draw(self, m):
        self.canvas.restore_region(self.background)
        self.marker.set_data([m["cost_per_1k"]], [m["quality"]])
        self.ax_curve.draw_artist(self.marker)
        for bar, t in zip(self.bars, self.test.tiers):
            bar.set_height(100 * m[f"share_{t}"])
            self.ax_mix.draw_artist(bar)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
        self.image.value = buf.getvalue()

    def _metrics_html(self, m) -> str:
        shares = " ".join(f'{t} <span class="rl-share-{t}">{m[f"share_{t}"]:.3f}</span>' for t in self.test.tiers)
        esc = (f' | escalation rate <span class="rl-escalation">{m["escalation_rate"]:.3f}</span>'
               if "escalation_rate" in m else "")
        sim = ' <b style="color:#b00">SIMULATED</b>' if self.simulated else ""
        return (f'<div class="rl-metrics">setting <span class="rl-threshold">{self._value_text()}</span> | '
                f'$ per 1k requests <span class="rl-cost">{m["cost_per_1k"]:.4f}</span> | '
                f'quality <span class="rl-quality">{m["quality"]:.4f}</span> | '
                f'savings vs all-{self.test.tiers[-1]} <span class="rl-savings">{m["savings_factor"]:.2f}</span>x | '
                f'quality retained <span class="rl-retained">{m["quality_retained"]:.3f}</span>{esc}<br>'
                f'traffic mix: {shares}{sim}</div>')

    def _value_text(self) -> str:
        v = self.control.value
        return "-".join(f"{x:.2f}" for x in v) if isinstance(v, (tuple, list)) else f"{v:.2f}"

    def _safe(self, fn):
        """Wrap a callback so an error is shown in the dashboard, not swallowed."""
        def run(*args):
            try:
                fn(*args)
            except Exception as e:  # shown to the user, who can act on it
                self.error.value = (f'<div class="rl-error" style="color:#b00"><b>error:</b> '
                                    f'{html.escape(type(e).__name__)}: {html.escape(str(e))}</div>')
        return run

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self):
        return f"{type(self).__name__}(dataset={self.name!r}, router={self.router_name!r}, seed={self.seed})"


class ThresholdDashboard(_Dashboard):
    """Cut points on the router's difficulty score: one threshold for two tiers, a range for three.

    A query goes to the dearer tier when its difficulty is at or above a cut. With a cascade
    router the slider is instead the confidence needed to accept an answer.
    """

    def _prepare(self):
        self.difficulty = difficulty(self.scores)

    def _make_control(self):
        style = {"description_width": "initial"}
        if self.cascade:
            return W.FloatSlider(value=0.5, min=0, max=1, step=0.01, readout_format=".2f", description="threshold",
                                 style=style, layout=W.Layout(width="420px"))
        if len(self.test.tiers) == 2:
            return W.FloatSlider(value=0.5, min=0, max=1, step=0.01, readout_format=".2f", description="threshold",
                                 style=style, layout=W.Layout(width="420px"))
        return W.FloatRangeSlider(value=(0.3, 0.7), min=0, max=1, step=0.01, readout_format=".2f",
                                  description="thresholds (mid, expensive)", style=style,
                                  layout=W.Layout(width="520px"))

    def assignment(self, value) -> np.ndarray:
        if self.cascade:
            return assign(self.scores, float(value))
        return assign_cuts(self.difficulty, value)

    def reference_curve(self):
        if self.cascade:
            curve = sweep(self.test, self.scores, np.linspace(0, 1.001, 101), self.cost)
            return curve["cost_per_1k"].to_numpy(), curve["quality"].to_numpy()
        grid = np.linspace(0, 1.001, 41 if len(self.test.tiers) == 3 else 201)
        cuts = [(lo, hi) for lo in grid for hi in grid if lo <= hi] if len(self.test.tiers) == 3 else grid[:, None]
        a = np.stack([assign_cuts(self.difficulty, c) for c in cuts])
        out = outcomes_of(self.test, a, self.cost)
        return out["cost_per_1k"].to_numpy(), out["quality"].to_numpy()

    def calibrate(self):
        """Move the control to the setting that gives the target mix on these queries."""
        target = self.target_mix or DEFAULT_MIX[len(self.test.tiers)]
        if self.cascade:
            from .sweep import calibrate_mix
            t = calibrate_mix(self.scores, target)
            self.control.value = float(np.clip(np.nan_to_num(t[0], posinf=1.0), 0, 1))
            return
        cuts = np.clip(cuts_for_mix(self.difficulty, target), 0, 1)
        self.control.value = float(cuts[0]) if len(cuts) == 1 else (float(cuts[0]), float(cuts[1]))


class WillingnessToPayDashboard(_Dashboard):
    """Pick, per query, the tier with the best predicted quality minus lambda x its cost ($ per 1k)."""

    routers = ("classifier", "oracle", "rules", "llm", "random")

    def _prepare(self):
        if self.cascade:
            raise ValueError("willingness to pay needs a router that predicts quality per tier, not a cascade")
        self.tier_cost = self.singles["cost_per_1k"].to_numpy()  # expected $ per 1k requests of each tier

    def _make_control(self):
        return W.FloatLogSlider(value=0.01, base=10, min=-4, max=1, step=0.05, readout_format=".4f",
                                description="lambda (quality per $ per 1k)", style={"description_width": "initial"},
                                layout=W.Layout(width="520px"))

    def _control_range(self):
        return 10.0 ** self.control.min, 10.0 ** self.control.max  # a log slider's bounds are exponents

    def assignment(self, value) -> np.ndarray:
        predicted = self.scores.copy()
        predicted[:, -1] = self.train_good_rate[-1]  # the fallback column is 1 by construction, not a prediction
        return np.argmax(predicted - float(value) * self.tier_cost[None, :], axis=1)

    def reference_curve(self):
        a = np.stack([self.assignment(lam) for lam in np.logspace(-4, 1, 121)])
        out = outcomes_of(self.test, a, self.cost)
        return out["cost_per_1k"].to_numpy(), out["quality"].to_numpy()

    def calibrate(self):
        """The lambda whose mix is closest to the target mix."""
        target = np.asarray(self.target_mix or DEFAULT_MIX[len(self.test.tiers)])
        lams = np.logspace(-4, 1, 201)
        mixes = np.stack([np.bincount(self.assignment(lam), minlength=len(target)) / self.test.n for lam in lams])
        self.control.value = float(lams[np.abs(mixes - target).sum(axis=1).argmin()])


def CascadeDashboard(dataset="routellm-gsm8k", router="cascade-verifier", **kw) -> ThresholdDashboard:
    """A threshold dashboard on a cascade: the slider is the confidence needed to accept an answer."""
    if not router.startswith("cascade"):
        raise ValueError(f"a cascade dashboard needs a cascade router, got {router!r}")
    return ThresholdDashboard(dataset, router, **kw)
