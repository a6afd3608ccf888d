"""The kit's figure style, units ($, %), colours, legends outside the data and labels placed without collisions."""
from __future__ import annotations

import functools
from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, Locator, NullFormatter, PercentFormatter

from ..routers.registry import names

KIT_STYLE = {
    "figure.dpi": 100, "savefig.dpi": 100, "figure.constrained_layout.use": True,
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
    "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 12, "legend.framealpha": 0.9,
    "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.6, "axes.axisbelow": True, "lines.linewidth": 1.6,
}
MIN_FONT = 9  # points: nothing smaller on a kit figure

TIER_COLOURS = {"cheap": "tab:green", "mid": "tab:orange", "mid-1": "#f6b26b", "mid-2": "#e69138", "mid-3": "#b45f06",
                "expensive": "tab:red"}
# one colour per router name of the registry (its order): tab10, then tab20's light shades; the oracle in black
ROUTER_COLOURS = {**{n: f"C{i}" if i < 10 else plt.get_cmap("tab20").colors[(2 * i + 1) % 20]
                     for i, n in enumerate(n for n in names() if not n.startswith("oracle"))},
                  "oracle": "k", "oracle-label": "0.45"}


def tier_colour(tier: str) -> str:
    """The tier's colour; tiers named mid-4 and beyond get the darkest mid shade, unknown ones grey."""
    return TIER_COLOURS.get(tier, TIER_COLOURS["mid-3"] if str(tier).startswith("mid") else "tab:gray")


@contextmanager
def kit_style():
    """Draw inside this block to get the kit's style (100 dpi, text 9 pt or more, light grid, constrained layout)."""
    with mpl.rc_context(KIT_STYLE):
        yield


def styled(fn):
    """Run a figure function inside kit_style() and fix the tick label sizes (ticks are made later, at draw)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with kit_style():
            fig = fn(*args, **kwargs)
            for ax in fig.axes:
                ax.tick_params(labelsize=KIT_STYLE["xtick.labelsize"])
        return fig
    return wrapper


def _money(x, pos=None) -> str:
    """$0.005, $0.10, $1, $7.36, $10, $1.2k."""
    a = abs(x)
    if a >= 1000:
        return f"${x / 1000:.3g}k"
    if a >= 1:
        return f"${x:.0f}" if abs(x - round(x)) < 1e-9 or a >= 100 else f"${x:.2f}"
    if a >= 0.01:
        return f"${x:.2f}"
    return "$0" if a == 0 else f"${x:.2g}"


dollars = FuncFormatter(_money)


class _DollarLogLocator(Locator):
    """Log-axis ticks at 1-2-5 (or 1-3, or 1) per decade, as many as fit, from the limits at draw time."""

    def __call__(self):
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin, vmax):
        lo, hi = sorted((max(vmin, 1e-12), max(vmax, 1e-12)))
        decades = np.log10(hi / lo)
        subs = (1, 2, 5) if decades <= 2 else (1, 3) if decades <= 3.5 else (1,)
        exps = np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
        ticks = (10.0 ** exps[:, None] * np.array(subs)).ravel()
        ticks = ticks[::2] if decades > 6 else ticks
        return ticks[(ticks >= lo * 0.999) & (ticks <= hi * 1.001)]


def dollar_axis(ax, axis: str = "x"):
    """$ tick labels on one axis; on a log axis only 1-2-5 ticks (as many as fit), no 10^k labels."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(_money))
    if target.get_scale() == "log":
        target.set_major_locator(_DollarLogLocator())
        target.set_minor_formatter(NullFormatter())


def percent_axis(ax, axis: str = "y", xmax: float = 100):
    """% tick labels on one axis (the data are shares of xmax: 100 for percent points, 1 for fractions)."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(xmax, decimals=0))


def axes(ax, size=(6.5, 4)):
    """The figure and axes to draw on: a new one in the kit's size unless given."""
    if ax is None:
        ax = plt.subplots(figsize=size)[1]
    return ax.figure, ax


def title(ax, text: str, simulated: bool):
    """Set the title; a figure whose data are all simulated says so."""
    ax.set_title(f"{text}\n[SIMULATED data]" if simulated else text)


def legend_outside(ax, handles=None, **kw):
    """A legend right of the axes, where it cannot cover data."""
    extra = {"handles": handles} if handles is not None else {}
    return ax.legend(**extra, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, **kw)


def _overlap(a, b) -> float:
    """Overlap area of two display boxes (0 if apart)."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0) * max(h, 0)


# offsets in points (dx, dy): right, above, left, below, then the diagonals, at growing distance
_DIRECTIONS = [(1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1), (-1, -1), (1, -1)]
_ALIGN = {1: "left", 0: "center", -1: "right"}
_VALIGN = {1: "bottom", 0: "center", -1: "top"}


def place_labels(ax, x, y, labels, obstacles=None, **text_kw) -> list:
    """Annotate points (x, y) with labels, each at the first nearby spot that overlaps no other text or point."""
    fig = ax.figure
    fig.draw_without_rendering()  # final layout, so display positions hold
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    pts = np.array([p for p in to_px(np.column_stack([x, y])) if np.all(np.isfinite(p))] +
                   ([p for p in to_px(np.asarray(obstacles, float)) if np.all(np.isfinite(p))]
                    if obstacles is not None and len(obstacles) else []))
    frame = ax.get_window_extent(renderer)
    taken = [t.get_window_extent(renderer) for t in ax.texts if t.get_visible() and t.get_text()]
    made = []
    for xi, yi, label in zip(x, y, labels):
        ann = ax.annotate(label, (xi, yi), xytext=(4, 0), textcoords="offset points", **text_kw)
        ann.set_in_layout(False)
        best = None
        for r in (7, 14, 24, 36):
            for dx, dy in _DIRECTIONS:
                ann.xyann = (dx * r, dy * r)
                ann.set_ha(_ALIGN[dx])
                ann.set_va(_VALIGN[dy])
                box = ann.get_window_extent(renderer)
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                hits = sum(box.x0 - 2 <= px <= box.x1 + 2 and box.y0 - 2 <= py <= box.y1 + 2 for px, py in pts)
                cost = (0 if inside else 1e9) + sum(_overlap(box, t) for t in taken) * 1e3 + hits
                if best is None or cost < best[0]:
                    best = (cost, ann.xyann, _ALIGN[dx], _VALIGN[dy], box)
                if cost == 0:
                    break
            if best[0] == 0:
                break
        _, ann.xyann, ha, va, box = best
        ann.set_ha(ha)
        ann.set_va(va)
        taken.append(box)
        made.append(ann)
    return made
