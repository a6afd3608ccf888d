"""Bar charts: policy costs beside their quality, traffic mixes against the target band, tier costs, breakdowns
by group, savings at 95% of the best quality."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from ..metrics import TARGET_MIX, dominated
from .style import axes, dollar_axis, legend_outside, percent_axis, styled, tier_colour
from .style import title as set_title

BAND = {"facecolor": (0, 0, 0, 0.15), "edgecolor": "0.2", "lw": 0.9, "zorder": 3}  # a target band, drawn over the bars


def _pair(ax, size, sharey=True):
    """Two side-by-side axes: new, the pair given, or the given axes split in two."""
    if ax is None:
        return plt.subplots(1, 2, figsize=size, sharey=sharey)[1]
    if np.ndim(ax):
        return ax
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    return ax, make_axes_locatable(ax).append_axes("right", size="70%", pad=0.3, sharey=ax if sharey else None)


def value_labels(ax, bars, texts, inside_from: float):
    """Each bar's value: inside it (white on dark) when it is at least inside_from long, else at its end."""
    horizontal = bars.orientation == "horizontal"
    size = [abs(b.get_width() if horizontal else b.get_height()) for b in bars]
    inside = [t if s >= inside_from else "" for t, s in zip(texts, size)]
    ax.bar_label(bars, inside, label_type="center", color="w", fontweight="bold",
                 bbox={"boxstyle": "round,pad=0.15", "facecolor": "0.2", "alpha": 0.6, "lw": 0})
    ax.bar_label(bars, [t if s < inside_from else "" for t, s in zip(texts, size)], padding=3)


@styled
def plot_policy_costs(result, ax=None):
    """$ per 1k requests (left) beside quality (right) of the routed policy and each single tier; dominated
    policies (another costs less with no lower quality) are hatched and say so."""
    table = result.comparison()
    cost_ax, q_ax = _pair(ax, (10, 1.2 + 0.55 * len(table)))
    per_1k = table["cost_usd"].to_numpy(float) * 1000 / result.summary["n_queries"]
    quality = pd.to_numeric(table["quality"], errors="coerce").to_numpy(float)
    by = dominated(per_1k, quality)
    worse = by >= 0
    y = np.arange(len(table))[::-1]
    colours = ["tab:green"] + ["tab:gray"] * (len(table) - 1)
    for axis, values, fmt in [(cost_ax, per_1k, lambda v: f"${v:.2f}"), (q_ax, quality, lambda v: f"{v:.2f}")]:
        bars = axis.barh(y, np.nan_to_num(values), color=colours, hatch=[("//" if w else "") for w in worse],
                         edgecolor="k", lw=0.5)
        value_labels(axis, bars, [fmt(v) if np.isfinite(v) else "n/a" for v in values], 0.6 * np.nanmax(values))
        axis.set_xlim(0, 1.3 * np.nanmax(np.r_[values, 1e-9]))
    cost_ax.set_yticks(y, [f"{p}\n(dominated by {table.index[b]})" if b >= 0 else p for p, b in zip(table.index, by)])
    cost_ax.set_xlabel("$ per 1k requests")
    cost_ax.set_ylabel("policy")
    dollar_axis(cost_ax, "x")
    q_ax.set_xlabel("mean quality (normalised 0-1)")
    q_ax.set_xlim(0, 1)
    q_ax.set_xticks([0, 0.5, 1])
    q_ax.tick_params(axis="y", labelleft=False)
    s = result.summary
    set_title(cost_ax, f"Cost ({s['router']} router)", s["simulated"])
    set_title(q_ax, "Quality (hatched: dominated)", s["simulated"])
    return cost_ax.figure


def _band_boxes(ax, x, width, band, tier, label):
    """The tier's target band (lo-hi share, in %) as a shaded box over each of its bars."""
    if tier in band:
        lo, hi = band[tier]
        ax.bar(x, np.full(len(x), 100 * (hi - lo)), width, bottom=100 * lo, gid="band", label=label, **BAND)
        return True
    return False


def _mix_axes(ax, xlabel):
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of requests (%)")
    ax.set_ylim(0, 105)
    percent_axis(ax)


@styled
def plot_traffic_mix(mix: dict, simulated: bool = False, band=None, ax=None):
    """Share of requests per tier against each tier's target band (shaded; 70-80% / 15-25% / 2-5% by default)."""
    fig, ax = axes(ax, size=(6.5, 4))
    band = band or TARGET_MIX
    tiers = list(mix)
    bars = ax.bar(tiers, [100 * mix[t] for t in tiers], color=[tier_colour(t) for t in tiers], label="routed")
    ax.bar_label(bars, fmt="%.0f%%")
    for i, t in enumerate(tiers):
        _band_boxes(ax, [i], 0.9, band, t, None)
    _mix_axes(ax, "tier")
    set_title(ax, "Traffic mix by tier (shaded: target band)", simulated)
    return fig


def _mix_bars(ax, mixes: dict, band):
    """Grouped bars: one group per label, one bar per tier, each tier's band shaded over its bars."""
    tiers = list(next(iter(mixes.values())))
    width = 0.8 / len(tiers)
    xs = [np.arange(len(mixes)) + (k - (len(tiers) - 1) / 2) * width for k in range(len(tiers))]
    for x, t in zip(xs, tiers):
        ax.bar(x, [100 * m.get(t, 0) for m in mixes.values()], width, color=tier_colour(t), label=t, gid=t)
    shown = False
    for x, t in zip(xs, tiers):  # after the bars, so the legend lists the band last
        shown |= _band_boxes(ax, x, width, band, t, None if shown else "target band (shaded)")


@styled
def plot_mixes(mixes: dict, simulated: bool = False, band=None, ax=None, title: str = "Traffic mix by router"):
    """Several routers' traffic mixes (label -> {tier: share}) as grouped bars, each tier's target band shaded."""
    fig, ax = axes(ax, size=(max(7, 0.8 * len(mixes) + 3), 5.5 if len(mixes) > 4 else 4.5))
    _mix_bars(ax, mixes, band or TARGET_MIX)
    ax.set_xticks(np.arange(len(mixes)), list(mixes), rotation=90 if len(mixes) > 4 else 0)
    _mix_axes(ax, "router")
    legend_outside(ax, title="tier")
    set_title(ax, title, simulated)
    return fig


@styled
def plot_tier_costs(result, ax=None):
    """Bar chart: cost per request of each tier's routed requests ($ per 1k, log scale)."""
    fig, ax = axes(ax)
    table = result.tier_table()
    per_1k = table["cost_per_request_usd"].to_numpy(float) * 1000
    x = np.arange(len(table))
    bars = ax.bar(x, np.nan_to_num(per_1k), color=[tier_colour(t) for t in table.index])
    ax.bar_label(bars, labels=[f"${v:.2f}" if v > 0 else "" for v in np.nan_to_num(per_1k)], padding=2)
    ax.set_xticks(x, [f"{t}\n({n} req)" for t, n in zip(table.index, table["requests"])])
    ax.set_xlabel("tier")
    ax.set_ylabel("$ per 1k requests (log scale)")
    ax.set_yscale("log")
    ax.margins(y=0.25)
    ax.autoscale_view()
    dollar_axis(ax, "y")
    set_title(ax, "Cost per request by tier", result.summary["simulated"])
    return fig


def _groups(table, tt, by):
    """One label per row of tt: a column of table.queries, or 'difficulty' derived from the outcomes."""
    if by in table.queries:
        return table.queries.loc[tt.prompts.index, by].astype(str).to_numpy()
    if by == "difficulty":
        from ..tables import difficulty_labels

        labels = difficulty_labels(tt)
        return np.array([labels[q] for q in tt.prompts.index])
    raise ValueError(f"{table.name}: no query column {by!r}; have {list(table.queries.columns)} or 'difficulty'")


def breakdown(table, assignment, tt, by: str = "category") -> pd.DataFrame:
    """Per group: queries, quality and $ per 1k of the routed policy and of all-expensive."""
    a = np.asarray(assignment, int)
    if a.shape != (tt.n,):
        raise ValueError(f"assignment must give one tier index per query of tt ({tt.n}), got shape {a.shape}")
    rows = np.arange(tt.n)
    frame = pd.DataFrame({"group": _groups(table, tt, by),
                          "routed_quality": tt.quality[rows, a], "expensive_quality": tt.quality[:, -1],
                          "routed_cost_per_1k": tt.cost[rows, a] * 1000,
                          "expensive_cost_per_1k": tt.cost[:, -1] * 1000})
    out = frame.groupby("group").mean()
    out.insert(0, "queries", frame.groupby("group").size())
    if by == "difficulty":
        return out.reindex([d for d in ("easy", "medium", "hard") if d in out.index])
    return out.sort_values("queries", ascending=False)


@styled
def plot_breakdown(table, assignment, tt, by: str = "category", ax=None, top: int | None = None,
                   simulated: bool = False):
    """Grouped bars per category (or difficulty, easy at the top): quality and $ per 1k, routed vs all-expensive."""
    data = breakdown(table, assignment, tt, by).head(top)[::-1]  # first row at the top
    q_ax, c_ax = _pair(ax, (11, 1.8 + 0.5 * len(data)))
    y, h = np.arange(len(data)), 0.38
    units = {"quality": "mean quality (normalised 0-1)", "cost_per_1k": "$ per 1k requests"}
    for axis, (what, unit) in zip((q_ax, c_ax), units.items()):
        axis.barh(y + h / 2, data[f"routed_{what}"], h, color="tab:green", label="routed")
        axis.barh(y - h / 2, data[f"expensive_{what}"], h, color="tab:gray", label=f"all-expensive ({tt.models[-1]})")
        axis.set_xlabel(unit)
    q_ax.set_yticks(y, [f"{g} (n={n})" for g, n in zip(data.index, data["queries"])])
    q_ax.set_ylabel(by)
    q_ax.set_xlim(0, 1)
    c_ax.tick_params(axis="y", labelleft=False)
    dollar_axis(c_ax, "x")
    legend_outside(c_ax)
    set_title(q_ax, f"{tt.name}: quality by {by}", simulated or tt.simulated)
    set_title(c_ax, f"cost by {by}", simulated or tt.simulated)
    return q_ax.figure


@styled
def plot_savings(at95, simulated=(), column: str = "savings_factor_at_95pct_best"):
    """Savings factor vs all-expensive at 95% of the best single quality, one panel per dataset.

    at95: rows (dataset, strategy) or strategy, with `column`. The always-<tier> rows are drawn as the line
    "single tiers alone" (what they measure, pooled with mixing), not as bars; NaN reads "not reached", a strategy
    with no row for a dataset "not run"; SIMULATED strategies (named so, or in `simulated`) are hatched.
    """
    multi = isinstance(at95.index, pd.MultiIndex)
    frame = at95[column].unstack(0) if multi else at95[[column]]
    ran = (pd.Series(True, at95.index).unstack(0).reindex_like(frame).fillna(False) if multi
           else pd.DataFrame(True, frame.index, frame.columns))
    base = [r for r in frame.index if str(r).startswith("always-")]
    floor = frame.loc[base].max() if base else pd.Series(np.nan, frame.columns)
    data = frame.drop(index=base)[::-1]
    sim = np.array([("SIMULATED" in str(r)) or (r in set(simulated)) for r in data.index])
    fig, panels = plt.subplots(1, len(frame.columns), figsize=(3.6 * len(frame.columns) + 3.2, 1.6 + 0.36 * len(data)),
                               sharey=True, squeeze=False)
    y = np.arange(len(data))
    for ax, d in zip(panels[0], frame.columns):
        v = data[d].to_numpy(float)
        same = np.isclose(v, floor[d], rtol=0.005)
        colours = np.where(same, "0.7", "tab:blue")
        ax.barh(y, np.nan_to_num(v), color=colours, hatch=["//" if s else "" for s in sim], edgecolor="k", lw=0.4,
                gid="savings")
        for yi, vi, r in zip(y, v, ran.loc[data.index, d]):
            ax.text(vi if np.isfinite(vi) else 0, yi, f" {vi:.2f}x" if np.isfinite(vi) else
                    " not reached" if r else " not run", va="center",
                    color="k" if np.isfinite(vi) else "tab:red" if r else "0.4")
        ax.axvline(1, color="k", ls=":", lw=1.2, label="1x: all-expensive")
        if np.isfinite(floor[d]):
            ax.axvline(floor[d], color="tab:orange", ls="--", lw=1.4, label="single tiers alone (always-*, mixed)")
        ax.set_xlim(0, np.nanmax(np.r_[v, floor[d], 1.0]) * 1.3)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, pos: f"{x:g}x"))
        ax.set_xlabel("savings vs all-expensive")
        ax.set_title(d + (f"\nsingle tiers alone: {floor[d]:.2f}x" if np.isfinite(floor[d]) else ""))
    panels[0, 0].set_yticks(y, list(data.index))
    panels[0, 0].set_ylabel("strategy")
    handles = panels[0, -1].get_lines() + [
        plt.Rectangle((0, 0), 1, 1, color="tab:blue", label="strategy beats single tiers"),
        plt.Rectangle((0, 0), 1, 1, color="0.7", label="no better than single tiers"),
        plt.Rectangle((0, 0), 1, 1, facecolor="w", edgecolor="k", hatch="//", label="SIMULATED strategy")]
    legend_outside(panels[0, -1], handles=handles)
    fig.suptitle("Savings at 95% of the best single model's quality (not reached: the strategy never gets there)")
    return fig
