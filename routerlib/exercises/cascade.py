"""Checker for notebook 05: pick a cascade scorer."""
from __future__ import annotations

from ..metrics import cost_at_quality
from ..routers.cascade import JudgeScorer
from ..sweep import single_models, sweep_router
from ..tables import TierTable
from . import not_yet, right


def cost_at_share_of_best(cascade, tt: TierTable, share: float = 0.95) -> float | None:
    """$ per 1k requests at which a fitted cascade's curve keeps `share` of the best single model's quality."""
    curve = sweep_router(cascade, tt)
    return cost_at_quality(curve["cost_per_1k"], curve["quality"], share * single_models(tt)["quality"].max())


def check_cascade_scorer(choice, tt: TierTable, cascades: dict, share: float = 0.95):
    """Is `choice` the measured (not simulated) scorer that keeps `share` of the best quality at the least cost?"""
    if not isinstance(choice, str) or choice not in cascades:  # a list or a dict would not even hash
        return not_yet(f"choose one of {list(cascades)}; got {choice!r}")
    costs = {name: cost_at_share_of_best(c, tt, share) for name, c in cascades.items()}
    simulated = {name for name, c in cascades.items() if isinstance(c.scorer, JudgeScorer)}
    measured = {n: c for n, c in costs.items() if n not in simulated and c is not None}
    if not measured:
        return not_yet(f"no measured scorer reaches {share:.0%} of the best quality here", costs=costs)
    best = min(measured, key=measured.get)
    top = single_models(tt)["cost_per_1k"].iloc[-1]
    mine = costs[choice]
    said = f"${mine:.2f}/1k" if mine is not None else "no threshold"
    if choice in simulated:
        return not_yet(f"{choice} keeps {share:.0%} of the best quality for {said}, but its verdicts are SIMULATED "
                       "at an accuracy we chose, so that is not a measurement; pick among the measured scorers",
                       costs=costs)
    if choice != best and (mine is None or mine > measured[best] + 1e-12):
        return not_yet(f"{choice} needs {said} to keep {share:.0%} of the best quality; another measured scorer "
                       f"does it for ${measured[best]:.2f}/1k. Compare cost_at_quality on each curve", costs=costs)
    return right(f"{choice} keeps {share:.0%} of the best quality for ${mine:.2f}/1k against ${top:.2f}/1k "
                 f"all-expensive ({top / mine:.2f}x savings), the least of the measured scorers", costs=costs)
