"""Cost-quality planes (routers, single models, selection) and curves against a threshold."""
from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from ..metrics import non_decreasing_convex_hull
from .style import (
    ROUTER_COLOURS,
    TIER_COLOURS,
    axes,
    dollar_axis,
    legend_outside,
    percent_axis,
    place_labels,
    styled,
    tier_colour,
    title,
)

QUALITY = "mean quality (normalised 0-1)"


def _log_segments(hull, n=24):
    """Hull vertices with each segment filled in, so straight (linear-cost) mixing draws true on a log axis."""
    xs, ys = [hull[:1, 0]], [hull[:1, 1]]
    for (x0, y0), (x1, y1) in pairwise(hull):
        x = np.geomspace(x0, x1, n)[1:] if x0 > 0 else np.linspace(x0, x1, n)[1:]
        xs.append(x)
        ys.append(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return np.concatenate(xs), np.concatenate(ys)


def _front(ax, cost, quality, log_x, label="Pareto front (hull of all points)"):
    """The non-decreasing convex hull of the points, drawn as a broad grey band under everything."""
    hull = non_decreasing_convex_hull(cost, quality)
    hx, hy = _log_segments(hull) if log_x else (hull[:, 0], hull[:, 1])
    ax.plot(hx, hy, color="0.55", lw=6, alpha=0.45, zorder=1, gid="pareto_front", label=label)
    return hull


def _cost_axes(ax, log_x):
    """$ per 1k on x (log scale on request, in dollars), quality on y."""
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("$ per 1k requests" + (" (log scale)" if log_x else ""))
    ax.set_ylabel(QUALITY)
    ax.margins(x=0.08, y=0.08)
    ax.autoscale_view()
    dollar_axis(ax, "x")


@styled
def plot_cost_quality(evaluations, ax=None, log_x: bool = True, highlight=None):
    """Routers' cost-quality curves, the single models (squares) and the Pareto front over all points.

    highlight: router names drawn strong; the others thin grey (for many routers on one chart).
    """
    if not evaluations or len({e.dataset for e in evaluations}) > 1:
        raise ValueError("give one or more Evaluations of the same dataset")
    fig, ax = axes(ax, size=(9, 5.5))
    singles = evaluations[0].singles
    strong = set(highlight) if highlight is not None else {e.router for e in evaluations}
    for e in evaluations:
        label = e.router + (" (SIMULATED)" if e.simulated else "")
        kw = ({"marker": "o", "ms": 2.5, "lw": 1.6, "color": ROUTER_COLOURS.get(e.router), "zorder": 3}
              if e.router in strong else {"lw": 0.8, "color": "0.72", "zorder": 2})
        ax.plot(e.curve["cost_per_1k"], e.curve["quality"], ls="--" if e.simulated else "-", gid="router",
                label=label if e.router in strong else None, **kw)
    pts = pd.concat([singles[["cost_per_1k", "quality"]]] + [e.curve[["cost_per_1k", "quality"]] for e in evaluations])
    _front(ax, *pts.dropna().to_numpy().T, log_x)
    ax.scatter(singles["cost_per_1k"], singles["quality"], marker="s", s=60, zorder=4, edgecolors="k",
               gid="single_models", c=[tier_colour(t) for t in singles["tier"]], label="single models")
    _cost_axes(ax, log_x)
    handles = ax.get_lines() + [Line2D([], [], marker="s", ls="", ms=7, mfc="0.85", mec="k",
                                       label="single models (colour: tier)")]
    if strong != {e.router for e in evaluations}:
        handles.append(ax.plot([], [], lw=0.8, color="0.72", label="other routers")[0])
    legend_outside(ax, handles=[h for h in handles if not h.get_label().startswith("_")])
    place_labels(ax, singles["cost_per_1k"], singles["quality"],
                 [f"{t}: {str(m).split('/')[-1]}" for t, m in zip(singles["tier"], singles["model"])],
                 obstacles=pts.dropna().to_numpy())
    n_sim = sum(e.simulated for e in evaluations)
    note = "" if n_sim in (0, len(evaluations)) else "\ndashed lines: SIMULATED routers"
    title(ax, f"{evaluations[0].dataset}: cost vs quality ({evaluations[0].n_test} test queries){note}",
          n_sim == len(evaluations))
    return fig


@styled
def plot_models(table, catalog=None, ax=None):
    """Single models on the cost-quality plane, coloured by tier, with the Pareto front of the single models."""
    fig, ax = axes(ax, size=(9, 5.5))
    info = table.describe(catalog)
    per_1k = info["cost_usd_total"] / table.n_queries * 1000
    order = {t: i for i, t in enumerate(TIER_COLOURS)}
    for tier, group in sorted(info.groupby("tier"), key=lambda kv: order.get(kv[0], len(order))):
        ax.scatter(per_1k[group.index], group["quality_mean"], label=tier, s=40, zorder=4, color=tier_colour(tier))
    ok = per_1k.notna() & info["quality_mean"].notna()
    hull = _front(ax, per_1k[ok].to_numpy(float), info.loc[ok, "quality_mean"].to_numpy(float), True,
                  label="Pareto front of the single models")
    _cost_axes(ax, True)
    legend_outside(ax, title="tier")
    place_labels(ax, per_1k[ok], info.loc[ok, "quality_mean"], [m.split("/")[-1] for m in info.index[ok]],
                 obstacles=np.column_stack(_log_segments(hull, 8)))
    title(ax, f"{table.name}: single models", table.simulated)
    return fig


@styled
def plot_threshold_sweep(curve, tiers, ax=None, simulated: bool = False):
    """Against the threshold: $ per 1k (left), quality (right), and the traffic mix (stacked, panel below)."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, (ax, mix_ax) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=[1.3, 1])
        right = ax.twinx()
    else:
        from mpl_toolkits.axes_grid1 import make_axes_locatable

        fig = ax.figure
        mix_ax = make_axes_locatable(ax).append_axes("bottom", size="45%", pad=0.15, sharex=ax)
        right = ax.twinx()
        right.set_axes_locator(ax.get_axes_locator())  # the twin follows the host, not the whole cell
    t = curve["threshold"].to_numpy(float)
    ax.plot(t, curve["cost_per_1k"], color="tab:blue", label="$ per 1k requests")
    ax.set_ylabel("$ per 1k requests", color="tab:blue")
    dollar_axis(ax, "y")
    right.plot(t, curve["quality"], color="tab:red", label="quality")
    right.set_ylabel(QUALITY, color="tab:red")
    right.grid(False)
    ax.tick_params(axis="x", labelbottom=False)
    shares = [100 * curve[f"share_{k}"].to_numpy(float) for k in tiers]
    mix_ax.stackplot(t, shares, labels=tiers, colors=[tier_colour(k) for k in tiers], alpha=0.8)
    mix_ax.set(ylim=(0, 100), ylabel="share of\nrequests (%)", xlabel="threshold (router score, 0-1)")
    percent_axis(mix_ax)
    legend_outside(mix_ax, title="tier")
    ax.legend(handles=ax.get_lines() + right.get_lines(), loc="upper left", bbox_to_anchor=(1.12, 1),
              borderaxespad=0)
    title(ax, "Threshold sweep: cost, quality and traffic mix", simulated)
    return fig


@styled
def plot_cascade(curve, ax=None, simulated: bool = False, all_expensive_per_1k: float | None = None):
    """A cascade against its threshold: escalation rate (left) and $ per 1k requests (right)."""
    if "escalation_rate" not in curve:
        raise ValueError("not a cascade curve: it has no escalation_rate column")
    fig, ax = axes(ax, size=(8, 4.2))
    t = curve["threshold"].to_numpy(float)
    ax.plot(t, 100 * curve["escalation_rate"], color="tab:purple", label="escalation rate")
    ax.set(xlabel="threshold (confidence the answer is good enough, 0-1)", ylabel="escalated requests (%)",
           ylim=(0, 100))
    percent_axis(ax)
    right = ax.twinx()
    right.grid(False)
    right.plot(t, curve["cost_per_1k"], color="tab:blue", label="$ per 1k requests")
    right.set_ylabel("$ per 1k requests (answers + checks)")
    if all_expensive_per_1k is not None:
        right.axhline(all_expensive_per_1k, color="tab:blue", ls=":", label="all-expensive, $ per 1k")
    dollar_axis(right, "y")
    ax.legend(handles=ax.get_lines() + right.get_lines(), loc="upper left", bbox_to_anchor=(1.15, 1),
              borderaxespad=0)
    title(ax, "Cascade: escalation and cost vs threshold", simulated)
    return fig


@styled
def plot_selection(selection, split: int = 0, ax=None, log_x: bool = True):
    """Model selection among every model (routers/selection.py): the router's lambda curve, the oracle's, random
    mixtures of single models, each model alone and the Pareto front, on one split's test queries."""
    fig, ax = axes(ax, size=(9, 5.5))
    run = selection.runs[split]
    curves, singles = run["curves"], run["singles"]
    ax.plot(curves["selection"]["cost_per_1k"], curves["selection"]["quality"], marker="o", ms=2.5, lw=1.4,
            color="C0", gid="selection", label="selection router (lambda sweep)")
    ax.plot(curves["oracle"]["cost_per_1k"], curves["oracle"]["quality"], ls="--", lw=1.4, color="k", gid="oracle",
            label="oracle (reads the test labels: upper bound)")
    mixes = curves["random"][["cost_per_1k", "quality"]].to_numpy(float)
    rx, ry = _log_segments(mixes) if log_x else mixes.T
    ax.plot(rx, ry, ls=":", lw=1.6, color="0.45", gid="random", label="random mixtures of single models (train hull)")
    pts = pd.concat([singles[["cost_per_1k", "quality"]], curves["selection"][["cost_per_1k", "quality"]]]).dropna()
    _front(ax, *pts.to_numpy(float).T, log_x, label="Pareto front (router and single models)")
    ax.scatter(singles["cost_per_1k"], singles["quality"], marker="s", s=45, zorder=4, color="tab:orange",
               edgecolors="k", gid="single_models", label="single models")
    _cost_axes(ax, log_x)
    legend_outside(ax)
    place_labels(ax, singles["cost_per_1k"], singles["quality"], [str(m).split("/")[-1] for m in singles.index],
                 obstacles=pts.to_numpy(float))
    title(ax, f"{selection.dataset}: selection among {len(singles)} models (split {split + 1}, "
          f"{run['n_test']} test queries)", selection.simulated)
    return fig


@styled
def plot_mix_curve(curve: pd.DataFrame, simulated: bool = True, ax=None):
    """Savings against all-expensive (left) and quality (right) of each policy as the share of easy traffic grows."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(12, 4))
    for policy, g in curve.groupby("policy", sort=False):
        style = {"ls": "--"} if policy.startswith("all-") else {}
        ax[0].plot(g["easy_share"] * 100, g["savings"], marker=".", label=policy, **style)
        ax[1].plot(g["easy_share"] * 100, g["quality"], marker=".", label=policy, **style)
    ax[0].set(yscale="log", xlabel="easy share of traffic (%)", ylabel="savings vs all-expensive (x)")
    ax[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax[1].set(xlabel="easy share of traffic (%)", ylabel=QUALITY)
    for a in ax:
        a.axvspan(70, 80, color="0.9", zorder=0, label="the material's 70-80% easy traffic")
    title(ax[0], "Savings as easy traffic grows", simulated)
    title(ax[1], "Quality as easy traffic grows", simulated)
    legend_outside(ax[1])
    return ax[0].figure
