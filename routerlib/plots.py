"""Matplotlib figures; each takes ax=None and returns the figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .metrics import TARGET_MIX, non_decreasing_convex_hull
from .routers.registry import names

TIER_COLOURS = {"cheap": "tab:green", "mid": "tab:orange", "expensive": "tab:red"}


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
    ax.set_xlabel("tier")
    ax.set_ylabel("share of requests (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper right")
    _title(ax, "Traffic mix by tier", simulated)
    return fig


def plot_mixes(mixes: dict, simulated: bool = False, band=None, ax=None, title: str = "Traffic mix by router"):
    """Several routers' traffic mixes (label -> {tier: share}) as grouped bars, against the target band."""
    fig, ax = _axes(ax, size=(max(6, 1.2 * len(mixes) + 2), 3.8))
    band = band or TARGET_MIX
    tiers = list(next(iter(mixes.values())))
    width = 0.8 / len(tiers)
    for k, t in enumerate(tiers):
        x = np.arange(len(mixes)) + (k - (len(tiers) - 1) / 2) * width
        ax.bar(x, [100 * m[t] for m in mixes.values()], width, color=TIER_COLOURS.get(t), label=t, gid=t)
        if t in band:
            lo, hi = band[t]
            for edge in (lo, hi):
                ax.hlines(np.full(len(x), 100 * edge), x - width / 2, x + width / 2, color="k", lw=1, gid="band",
                          label="target band" if (k, edge) == (0, lo) else None)
    ax.set_xticks(np.arange(len(mixes)), list(mixes), rotation=30, ha="right", fontsize=8)
    ax.set_xlabel("router")
    ax.set_ylabel("share of requests (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="upper right")
    _title(ax, title + " (black ticks: each tier's target band)", simulated)
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


# --- cost-quality curves, threshold sweeps, breakdowns (notebook 08) ---

def _log_segments(hull, n=24):
    """Hull vertices with each segment filled in, so straight (linear-cost) mixing draws true on a log axis."""
    xs, ys = [hull[:1, 0]], [hull[:1, 1]]
    for (x0, y0), (x1, y1) in zip(hull[:-1], hull[1:]):
        x = np.geomspace(x0, x1, n)[1:] if x0 > 0 else np.linspace(x0, x1, n)[1:]
        xs.append(x)
        ys.append(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return np.concatenate(xs), np.concatenate(ys)


# one colour per router name of the registry (its order): tab10, then tab20's light shades; the oracle in black
ROUTER_COLOURS = {**{n: f"C{i}" if i < 10 else plt.get_cmap("tab20").colors[(2 * i + 1) % 20]
                     for i, n in enumerate(n for n in names() if not n.startswith("oracle"))},
                  "oracle": "k", "oracle-label": "0.45"}


def plot_cost_quality(evaluations, ax=None, log_x: bool = True):
    """Routers' cost-quality curves, the single models (squares) and the Pareto front over all points."""
    if not evaluations or len({e.dataset for e in evaluations}) > 1:
        raise ValueError("give one or more Evaluations of the same dataset")
    fig, ax = _axes(ax, size=(8, 5.5))
    singles = evaluations[0].singles
    for e in evaluations:
        ax.plot(e.curve["cost_per_1k"], e.curve["quality"], ls="--" if e.simulated else "-", marker="o", ms=2.5,
                lw=1.4, color=ROUTER_COLOURS.get(e.router), gid="router",
                label=e.router + (" (SIMULATED)" if e.simulated else ""))
    pts = pd.concat([singles[["cost_per_1k", "quality"]]] + [e.curve[["cost_per_1k", "quality"]] for e in evaluations])
    pts = pts.dropna()
    hull = non_decreasing_convex_hull(pts["cost_per_1k"], pts["quality"])
    hx, hy = _log_segments(hull) if log_x else (hull[:, 0], hull[:, 1])
    ax.plot(hx, hy, color="0.55", lw=6, alpha=0.45, zorder=1, gid="pareto_front",
            label="Pareto front (hull of all points)")
    ax.scatter(singles["cost_per_1k"], singles["quality"], marker="s", s=60, zorder=4, edgecolors="k",
               gid="single_models", c=[TIER_COLOURS.get(t, "tab:gray") for t in singles["tier"]], label="single models")
    for _, r in singles.iterrows():
        ax.annotate(f"{r['tier']}: {str(r['model']).split('/')[-1]}", (r["cost_per_1k"], r["quality"]), fontsize=7,
                    xytext=(5, -10), textcoords="offset points")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("$ per 1k requests" + (" (log scale)" if log_x else ""))
    ax.set_ylabel("mean quality (normalised 0-1)")
    ax.legend(fontsize=7, loc="lower right")
    sim = any(e.simulated for e in evaluations)
    _title(ax, f"{evaluations[0].dataset}: cost vs quality ({evaluations[0].n_test} test queries)"
           + ("\ndashed: SIMULATED router" if sim else ""), sim)
    return fig


def plot_threshold_sweep(curve, tiers, ax=None, simulated: bool = False):
    """Against the threshold: $ per 1k (left), quality (right), and the traffic mix (stacked, panel below)."""
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    fig, ax = _axes(ax, size=(7, 5.5))
    mix_ax = make_axes_locatable(ax).append_axes("bottom", size="45%", pad=0.15, sharex=ax)
    t = curve["threshold"].to_numpy(float)
    ax.plot(t, curve["cost_per_1k"], color="tab:blue", label="$ per 1k requests")
    ax.set_ylabel("$ per 1k requests", color="tab:blue")
    right = ax.twinx()
    right.set_axes_locator(ax.get_axes_locator())  # the twin follows the host, not the whole cell
    right.plot(t, curve["quality"], color="tab:red", label="quality")
    right.set_ylabel("mean quality (normalised 0-1)", color="tab:red")
    ax.tick_params(axis="x", labelbottom=False)
    shares = [100 * curve[f"share_{k}"].to_numpy(float) for k in tiers]
    mix_ax.stackplot(t, shares, labels=tiers, colors=[TIER_COLOURS.get(k, "tab:gray") for k in tiers], alpha=0.8)
    mix_ax.set(ylim=(0, 100), ylabel="share of\nrequests (%)", xlabel="threshold (router score, 0-1)")
    mix_ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), title="tier", title_fontsize=7)
    ax.legend(handles=ax.get_lines() + right.get_lines(), fontsize=8, loc="upper center")
    _title(ax, "Threshold sweep: cost, quality and traffic mix", simulated)
    return fig


def _groups(table, tt, by):
    """One label per row of tt: a column of table.queries, or 'difficulty' derived from the outcomes."""
    if by in table.queries:
        return table.queries.loc[tt.prompts.index, by].astype(str).to_numpy()
    if by == "difficulty":
        from .tables import difficulty_labels

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


def plot_breakdown(table, assignment, tt, by: str = "category", ax=None, top: int | None = None,
                   simulated: bool = False):
    """Grouped bars per category (or difficulty): quality and $ per 1k, routed vs all-expensive."""
    data = breakdown(table, assignment, tt, by).head(top)[::-1]
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(10, 1.6 + 0.45 * len(data)), sharey=True)
    q_ax, c_ax = ax
    y, h = np.arange(len(data)), 0.38
    units = {"quality": "mean quality (normalised 0-1)", "cost_per_1k": "$ per 1k requests"}
    for axis, (what, unit) in zip((q_ax, c_ax), units.items()):
        axis.barh(y + h / 2, data[f"routed_{what}"], h, color="tab:green", label="routed")
        axis.barh(y - h / 2, data[f"expensive_{what}"], h, color="tab:gray", label=f"all-expensive ({tt.models[-1]})")
        axis.set_xlabel(unit)
    q_ax.set_yticks(y, [f"{g} (n={n})" for g, n in zip(data.index, data["queries"])], fontsize=8)
    q_ax.set_xlim(0, 1)
    c_ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    _title(q_ax, f"{tt.name}: quality by {by}", simulated or tt.simulated)
    _title(c_ax, f"{tt.name}: cost by {by}", simulated or tt.simulated)
    return q_ax.figure


def plot_cascade(curve, ax=None, simulated: bool = False, all_expensive_per_1k: float | None = None):
    """A cascade against its threshold: escalation rate (left) and $ per 1k requests (right)."""
    if "escalation_rate" not in curve:
        raise ValueError("not a cascade curve: it has no escalation_rate column")
    fig, ax = _axes(ax, size=(7, 4))
    t = curve["threshold"].to_numpy(float)
    ax.plot(t, 100 * curve["escalation_rate"], color="tab:purple", label="escalation rate")
    ax.set(xlabel="threshold (confidence the answer is good enough, 0-1)", ylabel="escalated requests (%)", ylim=(0, 100))
    right = ax.twinx()
    right.plot(t, curve["cost_per_1k"], color="tab:blue", label="$ per 1k requests")
    right.set_ylabel("$ per 1k requests (answers + checks)")
    if all_expensive_per_1k is not None:
        right.axhline(all_expensive_per_1k, color="tab:blue", ls=":", label="all-expensive, $ per 1k")
    ax.legend(handles=ax.get_lines() + right.get_lines(), fontsize=8, loc="upper left")
    _title(ax, "Cascade: escalation and cost vs threshold", simulated)
    return fig


def plot_selection(selection, split: int = 0, ax=None, log_x: bool = True):
    """Model selection among every model (routers/selection.py): the router's lambda curve, the oracle's, random
    mixtures of single models and each model alone, on one split's test queries."""
    fig, ax = _axes(ax, size=(8, 5.5))
    run = selection.runs[split]
    curves, singles = run["curves"], run["singles"]
    ax.plot(curves["selection"]["cost_per_1k"], curves["selection"]["quality"], marker="o", ms=2.5, lw=1.4,
            color="C0", gid="selection", label="selection router (lambda sweep)")
    ax.plot(curves["oracle"]["cost_per_1k"], curves["oracle"]["quality"], ls="--", lw=1.4, color="k", gid="oracle",
            label="oracle (reads the test labels: upper bound)")
    mixes = curves["random"][["cost_per_1k", "quality"]].to_numpy(float)
    rx, ry = _log_segments(mixes) if log_x else mixes.T
    ax.plot(rx, ry, ls=":", lw=1.6, color="0.45", gid="random", label="random mixtures of single models (train hull)")
    ax.scatter(singles["cost_per_1k"], singles["quality"], marker="s", s=45, zorder=4, color="tab:orange",
               edgecolors="k", gid="single_models", label="single models")
    for model, r in singles.iterrows():
        ax.annotate(str(model).split("/")[-1], (r["cost_per_1k"], r["quality"]), fontsize=6,
                    xytext=(4, -9), textcoords="offset points")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("$ per 1k requests" + (" (log scale)" if log_x else ""))
    ax.set_ylabel("mean quality (normalised 0-1)")
    ax.legend(fontsize=7, loc="lower right")
    _title(ax, f"{selection.dataset}: selection among {len(singles)} models (split {split + 1}, "
           f"{run['n_test']} test queries)", selection.simulated)
    return fig
