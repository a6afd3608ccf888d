"""Matplotlib figures; each takes ax=None and returns the figure."""
from __future__ import annotations

import matplotlib.pyplot as plt

from .metrics import TARGET_MIX


def _axes(ax, size=(6, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    return ax.figure, ax


def _title(ax, title: str, simulated: bool):
    """Set the title; simulated data says so on the figure."""
    ax.set_title(f"{title}\n[SIMULATED data]" if simulated else title, fontsize=10)


def plot_policy_costs(result, ax=None):
    """Bar chart: total cost of the routed policy and of each single-tier baseline."""
    fig, ax = _axes(ax)
    table = result.comparison()
    bars = ax.bar(table.index, table["cost_usd"] * 1000 / result.summary["n_queries"],
                  color=["tab:green"] + ["tab:gray"] * (len(table) - 1))
    ax.bar_label(bars, fmt="$%.2f")
    ax.set_ylabel("$ per 1k requests")
    ax.tick_params(axis="x", rotation=15)
    ax.margins(y=0.15)
    _title(ax, f"Routed ({result.summary['router']} router) vs single tiers", result.summary["simulated"])
    return fig


def plot_traffic_mix(mix: dict, simulated: bool = False, band=None, ax=None):
    """Share of requests per tier against the target band (70-80% / 15-25% / 2-5%)."""
    fig, ax = _axes(ax)
    band = band or TARGET_MIX
    tiers = list(mix)
    bars = ax.bar(tiers, [100 * mix[t] for t in tiers], color="tab:blue", label="routed")
    ax.bar_label(bars, fmt="%.0f%%")
    for i, t in enumerate(tiers):
        if t in band:
            lo, hi = band[t]
            ax.add_patch(plt.Rectangle((i - 0.45, 100 * lo), 0.9, 100 * (hi - lo), fill=False, hatch="//",
                                       edgecolor="tab:orange", lw=1.5, zorder=3,
                                       label="target band" if i == 0 else None))
    ax.set_ylabel("share of requests (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper right")
    _title(ax, "Traffic mix by tier", simulated)
    return fig


def plot_tier_costs(result, ax=None):
    """Bar chart: cost per request of each tier's routed requests."""
    fig, ax = _axes(ax)
    table = result.tier_table()
    bars = ax.bar(table.index, table["cost_per_request_usd"].fillna(0) * 1000, color="tab:purple")
    ax.bar_label(bars, labels=[f"{n} req" for n in table["requests"]])
    ax.set_ylabel("$ per 1k requests")
    ax.set_yscale("log")
    ax.margins(y=0.2)
    _title(ax, "Cost per request by tier (log scale)", result.summary["simulated"])
    return fig


TIER_COLOURS = {"cheap": "tab:green", "mid": "tab:orange", "expensive": "tab:red"}


def plot_models(table, catalog=None, ax=None):
    """Single models on the cost-quality plane, coloured by tier."""
    fig, ax = _axes(ax, size=(8, 5))
    info = table.describe(catalog)
    per_1k = info["cost_usd_total"] / table.n_queries * 1000
    order = {t: i for i, t in enumerate(TIER_COLOURS)}
    for tier, group in sorted(info.groupby("tier"), key=lambda kv: order.get(kv[0], len(order))):
        ax.scatter(per_1k[group.index], group["quality_mean"], label=tier, s=40,
                   color=TIER_COLOURS.get(tier, "tab:gray"))
    for model, row in info.iterrows():
        ax.annotate(model.split("/")[-1], (per_1k[model], row["quality_mean"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("$ per 1k requests (log scale)")
    ax.set_ylabel("mean quality (normalised 0-1)")
    ax.legend(title="tier")
    _title(ax, f"{table.name}: single models", table.simulated)
    return fig
