"""What every dashboard shares: pickers, the busy state, the session cache, metrics, the figure, notes, errors."""
from __future__ import annotations

import contextlib
import html
import io
import types

import ipywidgets as W
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from PIL import Image

from .. import datasets
from ..metrics import TARGET_MIX, non_decreasing_convex_hull
from ..routers.base import DecidingCost
from ..sweep import outcomes_of, single_models
from . import cache

try:  # the kit's figure style, where routerlib.plots has it
    from ..plots import dollar_axis, kit_style
except ImportError:
    dollar_axis, kit_style = None, None

DEFAULT_MIX = {2: [0.8, 0.2], 3: [0.75, 0.20, 0.05]}
CALIBRATION_TOLERANCE = 0.02  # a target mix counts as reached when every share is within 2 points
SPINNER = '<i class="fa fa-spinner fa-spin"></i>'


def fmt_dollars(x: float) -> str:
    """$ per 1k requests: cents from $1 up, three significant digits below."""
    return f"${x:,.2f}" if x >= 1 else f"${x:.3g}"


def fmt_share(x: float) -> str:
    """A share of requests in per cent, one decimal."""
    return f"{100 * x:.1f}%"


def fmt_mix(mix) -> str:
    """Shares as whole per cents joined by slashes: 75/20/5."""
    return "/".join(f"{100 * x:.0f}" for x in mix)


def shares(assignments: np.ndarray, k: int) -> np.ndarray:
    """(T, n) tier indices -> (T, k) share of queries on each tier."""
    a = np.atleast_2d(assignments)
    return (a[:, :, None] == np.arange(k)).mean(axis=1)


def _dollar_ticks(ax):
    """$ labels on the log cost axis: the kit's where it has them, else 1-2-5 ticks with a $ formatter."""
    if dollar_axis is not None:
        return dollar_axis(ax, "x")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"${x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


class _Dashboard:
    """Shared parts: data and router pickers, busy state, metrics, the figure, calibration notes, error display."""

    routers: tuple = ()
    kind = "router"

    def __init__(self, dataset="routellm-gsm8k", router="classifier", seed=0, data_dir=None, target_mix=None,
                 test_share=0.5):
        if router not in self.routers:
            raise ValueError(f"{type(self).__name__} needs a {self.kind}: one of {', '.join(self.routers)}; "
                             f"got {router!r}")
        self._widgets(self._dataset_names(dataset, data_dir), dataset, router, seed, data_dir, target_mix, test_share)
        self._load(dataset, router)
        self.dataset_picker.observe(self._safe(self._on_pick), names="value")
        self.router_picker.observe(self._safe(self._on_pick), names="value")

    def _widgets(self, names, dataset, router, seed, data_dir, target_mix, test_share, pickers: bool = True):
        self.seed, self.data_dir, self.target_mix, self.test_share = seed, data_dir, target_mix, test_share
        self.error, self.metrics, self.status, self.caption, self.note = (W.HTML() for _ in range(5))
        self.image = W.Image(format="png", layout=W.Layout(width="960px"))
        self.dataset_picker = W.Dropdown(options=names, value=dataset, description="dataset")
        self.router_picker = W.Dropdown(options=self.routers if pickers else [router], value=router,
                                        description="router")
        self.pickers = pickers
        self.calibrate_button = W.Button(description="calibrate to target mix", icon="bullseye",
                                         layout=W.Layout(width="210px"))
        self.control, self.calibration, self._reverting = None, None, False
        self.widget = W.VBox()
        self.calibrate_button.on_click(self._safe(lambda _: self.calibrate()))

    @classmethod
    def from_scores(cls, tt, scores, router_name: str = "your router", cost=None, target_mix=None):
        """This dashboard over your own tier table and router scores (a loaded log, say): nothing to pick or fit."""
        scores = np.asarray(scores, float)
        if len(tt.tiers) not in (2, 3) or scores.shape != (tt.n, len(tt.tiers)):
            raise ValueError(f"dashboards handle two or three tiers with scores n x tiers: {tt.name} has "
                             f"{len(tt.tiers)} tiers and {tt.n} queries, the scores are {scores.shape}")
        self = cls.__new__(cls)
        self._widgets([tt.name], tt.name, router_name, None, None, target_mix, None, pickers=False)
        with self.busy(f"drawing {tt.n:,} queries..."):
            self._show(tt, single_models(tt), scores, cost or DecidingCost(),
                       types.SimpleNamespace(curves={}), tt.name, router_name, tt.simulated, None)
        return self

    # --- data ---
    @staticmethod
    def _dataset_names(current, data_dir):
        status = datasets.status(data_dir)
        ready = [n for n, r in status.iterrows() if r["present"] == r["files"] and n in datasets.DATASETS]
        return list(dict.fromkeys([current, *ready]))

    def _controls(self) -> list:
        sliders = getattr(self.control, "sliders", [self.control] if self.control is not None else [])
        pickers = [self.dataset_picker, self.router_picker] if self.pickers else []
        return [*pickers, self.calibrate_button, *sliders]

    @contextlib.contextmanager
    def busy(self, message: str):
        """Disable every control and say what is running, before the work starts; restore both after, error or not."""
        for c in self._controls():
            c.disabled = True
        self.status.value = f'<div class="rl-busy" style="color:#555">{SPINNER} {html.escape(message)}</div>'
        try:
            yield
        finally:
            for c in self._controls():
                c.disabled = False
            self.status.value = ""

    def _load_message(self, dataset, router) -> str:
        args = (self.seed, self.test_share, self.data_dir)
        if cache.fit_key(dataset, router, *args) in cache.FITS:
            return f"switching to {dataset}, {router} (cached)..."
        loading = [] if cache.split_key(dataset, *args) in cache.SPLITS else [f"loading {dataset}"]
        return ", ".join([*loading, f"fitting {router}", "scoring the held-out queries"]) + "..."

    def _load(self, dataset, router):
        with self.busy(self._load_message(dataset, router)):
            split = cache.split_of(dataset, self.seed, self.test_share, self.data_dir)
            if len(split.test.tiers) not in (2, 3):
                raise ValueError(f"dashboards handle two or three tiers; {dataset} has {len(split.test.tiers)}")
            fit = cache.fit_of(dataset, router, self.seed, self.test_share, self.data_dir)
            self.router = fit.router
            self._show(split.test, split.singles, fit.scores, fit.cost, fit, dataset, router,
                       split.simulated or fit.router.simulated, split.train_good_rate)

    def _show(self, test, singles, scores, cost, fit, name, router_name, simulated, train_good_rate):
        """Set up the control, the reference curve and the figure for these scored test queries, and draw."""
        self.test, self.singles, self.train_good_rate = test, singles, train_good_rate
        self.scores, self.cost, self._fit = scores, cost, fit
        self.cascade = self.cost.pays_lower_tiers
        self.simulated, self.name, self.router_name = simulated, name, router_name
        self._prepare()
        if type(self).__name__ not in fit.curves:
            fit.curves[type(self).__name__] = self.reference_curve()
        self.curve = fit.curves[type(self).__name__]
        self.control = self._make_control()
        self.control.observe(self._safe(lambda _: self.update()), names="value")
        self.caption.value = f'<div class="rl-caption" style="color:#333">{self._caption()}</div>'
        self.note.value, self.calibration = "", None
        top = [W.HBox([self.dataset_picker, self.router_picker])] if self.pickers else []
        self.widget.children = [*top, self.status, W.HBox([self.control, self.calibrate_button]), self.caption,
                                self.metrics, self.note, self.image, self.error]
        self._new_figure()
        self.update()

    def _on_pick(self, _):
        if self._reverting:
            return
        try:
            self._load(self.dataset_picker.value, self.router_picker.value)
        except Exception:  # the pickers go back to what is shown, then the error is displayed
            self._reverting = True
            self.dataset_picker.value, self.router_picker.value = self.name, self.router_name
            self._reverting = False
            raise

    # --- policy, to be defined by each dashboard ---
    def _prepare(self):
        """Precompute what the control needs (after the router has scored the test queries)."""

    def _make_control(self):
        raise NotImplementedError

    def _caption(self) -> str:
        """Which way the control runs, in words."""
        raise NotImplementedError

    def assignment(self, value) -> np.ndarray:
        """Tier index per test query for a control value."""
        raise NotImplementedError

    def reference_curve(self):
        """(cost_per_1k, quality) points the control can reach, for the background curve."""
        raise NotImplementedError

    def calibrate(self) -> dict:
        """Move the control to the setting closest to the target mix; say so when the target cannot be reached."""
        raise NotImplementedError

    def _target(self) -> np.ndarray:
        target = self.target_mix or DEFAULT_MIX[len(self.test.tiers)]
        return np.asarray(list(target.values()) if isinstance(target, dict) else target, float)

    def _record_calibration(self, target, reached, setting, why: str = "") -> dict:
        """Keep and show what calibration did: the target, the mix reached, and whether that is the target."""
        feasible = bool(np.abs(reached - target).max() <= CALIBRATION_TOLERANCE)
        where = f"{self.control.description or 'setting'} {self._value_text()}"
        if feasible:
            message = f"calibrated to target {fmt_mix(target)}: {fmt_mix(reached)} at {where}"
        else:
            message = (f"target {fmt_mix(target)} cannot be reached with this router's scores{why}; "
                       f"closest reachable: {fmt_mix(reached)}, set at {where}")
        self.note.value = self._note_html(message, "#060" if feasible else "#b00")
        self.calibration = {"target": target.tolist(), "reached": np.round(reached, 4).tolist(), "setting": setting,
                            "feasible": feasible, "message": message}
        return self.calibration

    @staticmethod
    def _note_html(message: str, colour: str, prefix: str = "") -> str:
        return f'<div class="rl-calibration" style="color:{colour}">{prefix}{html.escape(message)}</div>'

    def _moved_since_calibration(self) -> bool:
        """Whether the control has left the setting the last calibration chose (beyond the slider's step)."""
        return self.calibration is not None and not np.allclose(
            np.atleast_1d(self.control.value), np.atleast_1d(self.calibration["setting"]), rtol=0.01, atol=0.006)

    # --- evaluation ---
    def metrics_at(self, value) -> dict:
        """Cost per 1k, quality, traffic mix, savings and quality retained at a control value."""
        lo, hi = self._control_range()
        if not all(lo <= v <= hi for v in np.atleast_1d(value)):
            raise ValueError(f"setting {value} is outside the control's range {lo}-{hi}")
        row = self.outcomes_at(value)
        row["savings_factor"] = self.singles["cost_per_1k"].iloc[-1] / row["cost_per_1k"]
        row["quality_retained"] = row["quality"] / self.singles["quality"].max()
        return row

    def outcomes_at(self, value) -> dict:
        """Cost, quality and mix at a control value (outcomes_of the assignment, unless a dashboard knows faster)."""
        return outcomes_of(self.test, self.assignment(value)[None, :], self.cost).iloc[0].to_dict()

    def _control_range(self):
        return self.control.min, self.control.max

    def update(self):
        """Re-evaluate at the control's value and redraw in place."""
        m = self.metrics_at(self.control.value)
        self._draw(m)
        self.metrics.value = self._metrics_html(m)
        if self._moved_since_calibration():
            self.note.value = self._note_html(self.calibration["message"], "#777", "earlier calibration: ")
        self.error.value = ""

    # --- drawing ---
    def _new_figure(self):
        """The figure of this dataset and router, drawn once per session (kept with the fitted router)."""
        key = f"{type(self).__name__} figure"
        if key not in self._fit.curves:
            with kit_style() if kit_style else contextlib.nullcontext():
                self._build_figure()
            # Draw the still parts once; each update only redraws the marker and the bars over them.
            for artist in (self.marker, *self.bars):
                artist.set_animated(True)
            self.canvas = FigureCanvasAgg(self.fig)
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._fit.curves[key] = (self.fig, self.ax_curve, self.ax_mix, self.marker, self.bars, self.canvas,
                                     self.background)
        self.fig, self.ax_curve, self.ax_mix, self.marker, self.bars, self.canvas, self.background = self._fit.curves[key]

    def _build_figure(self):
        self.fig = Figure(figsize=(9.6, 3.9), dpi=100, layout="tight")  # constrained layout takes ~0.5 s more
        self.ax_curve, self.ax_mix = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
        cost, quality = self.curve
        ax = self.ax_curve
        ax.plot(cost, quality, ".", color="0.75", ms=3, label="reachable settings")
        hull = non_decreasing_convex_hull(cost, quality)
        ax.plot(hull[:, 0], hull[:, 1], "-", color="tab:blue", lw=1.5, label="best of them")
        ax.plot(self.singles["cost_per_1k"], self.singles["quality"], "ks", ms=6, label="single models")
        c, q = self.singles["cost_per_1k"], self.singles["quality"]
        mid_cost, mid_quality = np.sqrt(c.min() * c.max()), (q.min() + q.max()) / 2
        for s in self.singles.itertuples():  # labels point inwards, away from the axes' edges
            right, top = s.cost_per_1k > mid_cost, s.quality > mid_quality
            ax.annotate(f"{s.tier}: {s.model}", (s.cost_per_1k, s.quality), xytext=(-6 if right else 6, -6 if top else 6),
                        textcoords="offset points", fontsize=9, ha="right" if right else "left",
                        va="top" if top else "bottom")
        (self.marker,) = ax.plot([], [], "o", color="tab:red", ms=11, label="current setting")
        ax.set_xscale("log")
        _dollar_ticks(ax)
        ax.set_xlabel("$ per 1k requests (log scale)", fontsize=10)
        ax.set_ylabel("quality (normalised 0-1)", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.legend(fontsize=9, loc="upper left")
        tag = " [SIMULATED]" if self.simulated else ""
        ax.set_title(f"{self.name}: {self.router_name} (held-out queries){tag}", fontsize=11)
        tiers = self.test.tiers
        self.bars = self.ax_mix.bar(tiers, np.zeros(len(tiers)), color="tab:blue", alpha=0.7)
        banded = tiers == list(TARGET_MIX)  # the mission's band is for three tiers
        for i, t in enumerate(tiers if banded else []):
            lo, hi = TARGET_MIX[t]
            self.ax_mix.add_patch(matplotlib.patches.Rectangle((i - 0.45, 100 * lo), 0.9, 100 * (hi - lo),
                                                               fill=False, hatch="//", ec="tab:orange"))
        self.ax_mix.set_ylim(0, 100)
        self.ax_mix.set_ylabel("share of requests (%)", fontsize=10)
        self.ax_mix.tick_params(labelsize=9)
        self.ax_mix.set_title("traffic mix" + (" (hatched: target band)" if banded else ""),
                              fontsize=11)

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
        mix = " · ".join(f'{t} <span class="rl-share-{t}">{fmt_share(m[f"share_{t}"])}</span>' for t in self.test.tiers)
        esc = (f' | escalation rate <span class="rl-escalation">{fmt_share(m["escalation_rate"])}</span>'
               if "escalation_rate" in m else "")
        sim = ' <b style="color:#b00">SIMULATED</b>' if self.simulated else ""
        return (f'<div class="rl-metrics">{html.escape(self.control.description)} '
                f'<span class="rl-threshold">{self._value_text()}</span> | '
                f'$ per 1k requests: <span class="rl-cost">{fmt_dollars(m["cost_per_1k"])}</span> | '
                f'quality: <span class="rl-quality">{m["quality"]:.3f}</span> | '
                f'savings vs all-{self.test.tiers[-1]}: <span class="rl-savings">{m["savings_factor"]:.2f}</span>x | '
                f'quality retained: <span class="rl-retained">{fmt_share(m["quality_retained"])}</span>{esc}<br>'
                f'traffic mix: {mix}{sim}<br><span style="color:#555">figure: grey dots every reachable setting, '
                f'blue line the best of them, black squares the single models (tier: model), red dot the current '
                f'setting</span></div>')

    def _value_text(self) -> str:
        v = self.control.value
        return ", ".join(f"{x:.2f}" for x in v) if isinstance(v, (tuple, list)) else f"{v:.2f}"

    def _safe(self, fn):
        """Wrap a callback so an error is shown in the dashboard, not swallowed."""
        def run(*args):
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001  (shown to the user, who can act on it)
                self.error.value = (f'<div class="rl-error" style="color:#b00"><b>error:</b> '
                                    f'{html.escape(type(e).__name__)}: {html.escape(str(e))}</div>')
        return run

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self):
        return f"{type(self).__name__}(dataset={self.name!r}, router={self.router_name!r}, seed={self.seed})"
