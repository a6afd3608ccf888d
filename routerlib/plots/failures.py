"""Notebook 11's failure modes: one panel per failure, where it hurts, healthy vs failure vs mitigation."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .bars import _mix_bars, value_labels
from .style import dollar_axis, percent_axis, styled, tier_colour

KINDS = ("under-routing", "over-routing", "router latency", "cascade")
ROLE = {"healthy": "0.6", "failure": "tab:purple", "fix": "tab:blue"}  # not tier colours


def failure_groups(runs: dict) -> dict:
    """kind -> [(role, run name)]: the healthy run, each failure and the mitigations listed after it."""
    healthy = next(n for n in runs if n.startswith("healthy"))
    groups, current = {}, None
    for name in runs:
        if name.startswith("mitigated") and current:
            groups[current].append(("fix", name))
        elif name != healthy:
            current = next((k for k in KINDS if name.startswith(k)), None)
            if current:
                groups[current] = [("healthy", healthy), ("failure", name)]
    return groups


def _label(role, name) -> str:
    """'failure: all cheap' style tick label, wrapped; SIMULATED kept."""
    inner = name.split(": ", 1)[1] if role == "fix" else name.split(" (", 1)[1].rstrip(")") if " (" in name else name
    return "\n".join(textwrap.wrap(f"{role}: {inner}" if role != "healthy" else "healthy", 20))


def _thresholds(watch) -> dict:
    """The limits the monitors fire on, by monitor name."""
    return {m.name: m for m in watch}


def _values(ax, bars, texts, top):
    """Values inside tall bars, on top of short ones, so limit lines do not cross them."""
    value_labels(ax, bars, texts, 0.12 * top)


def _role_bars(ax, group, values, fmt, top, kind=""):
    """One bar per run of the group, coloured by role, value written on it; SIMULATED runs hatched."""
    x = np.arange(len(group))
    sim = ["SIMULATED" in n for _, n in group]
    bars = ax.bar(x, values, color=[ROLE[r] for r, _ in group], hatch=["//" if s else "" for s in sim],
                  edgecolor="k", lw=0.4, gid="run")
    _values(ax, bars, [fmt(v) for v in values], top)
    ax.set_xticks(x, [_label(r, n) + (f"\n({kind})" if kind and r == "healthy" else "") for r, n in group])
    ax.set_ylim(0, top)


@styled
def plot_failure_modes(runs: dict, watch=None, all_expensive_per_1k: float | None = None):
    """One panel per failure mode, healthy vs failure vs mitigation, against the monitors' limits.

    runs: name -> traffic (monitors.scenarios()); watch: the monitors whose limits are drawn (monitors.monitors()).
    """
    from ..monitors import monitors

    limits = _thresholds(watch or monitors())
    groups = failure_groups(runs)
    fig, ax = plt.subplot_mosaic([["under"] * 2 + ["over"] * 2 + ["latency"] * 2, ["esc"] * 3 + ["cost"] * 3],
                                 figsize=(15, 9.5))
    costs = pd.concat(runs.values()).groupby("tier")["cost_usd"].mean()
    tiers = list(costs.sort_values().index)  # cheapest first
    if "under-routing" in groups:
        g, floor = groups["under-routing"], limits["under-routing"].min_quality
        q = np.array([[runs[n].loc[runs[n]["tier"] == t, "quality"].mean() for t in tiers] for _, n in g])
        width = 0.8 / len(tiers)
        for k, t in enumerate(tiers):
            x = np.arange(len(g)) + (k - (len(tiers) - 1) / 2) * width
            bars = ax["under"].bar(x, np.nan_to_num(q[:, k]), width, color=tier_colour(t), label=t, gid=t)
            _values(ax["under"], bars, [f"{v:.2f}" if np.isfinite(v) else "no requests" for v in q[:, k]], 1.15)
        ax["under"].axhline(floor, color="k", ls="--", lw=1.2, gid="limit")
        ax["under"].set_xticks(np.arange(len(g)), [_label(r, n) for r, n in g])
        ax["under"].set(ylim=(0, 1.15), ylabel="quality per route (0-1)",
                        title=f"Under-routing: quality per route\n(dashed: floor {floor:.2f})")
    if "over-routing" in groups:
        g, band = groups["over-routing"], limits["over-routing"].band
        mixes = {_label(r, n): runs[n]["tier"].value_counts(normalize=True).reindex(tiers, fill_value=0).to_dict()
                 for r, n in g}
        _mix_bars(ax["over"], mixes, band)
        ax["over"].set_xticks(np.arange(len(mixes)), list(mixes))
        ax["over"].set(ylim=(0, 105), ylabel="share of requests (%)",
                       title="Over-routing: traffic mix\n(shaded: target band per tier)")
        percent_axis(ax["over"])
    if "router latency" in groups:
        g, limit = groups["router latency"], limits["router-latency"].p95_limit_s * 1000
        p95 = [runs[n]["router_latency_s"].quantile(0.95) * 1000 for _, n in g]
        _role_bars(ax["latency"], g, p95, lambda v: f"{v:.0f} ms" if v >= 1 else f"{v:.2f} ms",
                   1.2 * max(max(p95), limit))
        ax["latency"].axhline(limit, color="k", ls="--", lw=1.2, gid="limit")
        ax["latency"].set(ylabel="router p95 latency (ms)",
                          title=f"Router latency: p95 per request\n(dashed: limit {limit:.0f} ms; hatched: SIMULATED)")
    if "cascade" in groups:
        g, limit = groups["cascade"], limits["cascade-cost"].max_escalation
        _role_bars(ax["esc"], g, [100 * runs[n]["escalated"].mean() for _, n in g], lambda v: f"{v:.0f}%", 115,
                   "no cascade")
        ax["esc"].axhline(100 * limit, color="k", ls="--", lw=1.2, gid="limit")
        ax["esc"].set(ylabel="escalated requests (%)",
                      title=f"Cascade explosion: escalation rate\n(dashed: limit {limit:.0%})")
        percent_axis(ax["esc"])
        top = all_expensive_per_1k if all_expensive_per_1k is not None else _all_top(runs)
        cost = [1000 * runs[n]["cost_usd"].mean() for _, n in g]
        _role_bars(ax["cost"], g, cost, lambda v: f"${v:.2f}", 1.2 * max(cost + [top or 0]), "no cascade")
        if top is not None:
            ax["cost"].axhline(top, color="k", ls=":", lw=1.4, gid="all_expensive")
        ax["cost"].set(ylabel="$ per 1k requests", title="Cascade explosion: what it costs\n(dotted: all-expensive"
                       + (f", ${top:.2f} per 1k)" if top is not None else ")"))
        dollar_axis(ax["cost"], "y")
    for name in ("under", "over", "latency", "esc", "cost"):
        ax[name].set_xlabel("run")
    handles = [plt.Rectangle((0, 0), 1, 1, color=tier_colour(t), label=f"tier: {t}") for t in tiers] + [
        plt.Rectangle((0, 0), 1, 1, color=c, label=f"run: {r}") for r, c in ROLE.items()] + [
        plt.Rectangle((0, 0), 1, 1, facecolor="w", edgecolor="k", hatch="//", label="SIMULATED latency"),
        plt.Line2D([], [], color="k", ls="--", label="monitor's limit")]
    fig.legend(handles=handles, loc="outside right upper")
    fig.suptitle("Failure modes: each panel shows where the failure hurts, healthy vs failure vs mitigation")
    return fig


def _all_top(runs) -> float | None:
    """$ per 1k of the dearest run that sends everything to one tier without a cascade (the all-expensive run)."""
    single = [r for r in runs.values() if r["tier"].nunique() == 1 and not r["escalated"].any()]
    return max(1000 * r["cost_usd"].mean() for r in single) if single else None
