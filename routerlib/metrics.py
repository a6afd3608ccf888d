"""Routing metrics: traffic mix, savings factor, quality."""
from __future__ import annotations

import math

import pandas as pd

TARGET_MIX = {"cheap": (0.70, 0.80), "mid": (0.15, 0.25), "expensive": (0.02, 0.05)}


def traffic_mix(tiers, order) -> dict:
    """Share of requests per tier, in tier order (0 for tiers that got none)."""
    tiers = pd.Series(tiers)
    shares = tiers.value_counts(normalize=True) if len(tiers) else pd.Series(dtype=float)
    return {t: float(shares.get(t, 0.0)) for t in order}


def savings_factor(baseline_cost: float, routed_cost: float) -> float | None:
    """baseline / routed; None when routed cost is zero (nothing to divide by)."""
    return baseline_cost / routed_cost if routed_cost > 0 else None


def mean_quality(values) -> float | None:
    """Mean of the known quality values, None when none is known."""
    known = pd.Series(values, dtype=float).dropna()
    return float(known.mean()) if len(known) else None


def in_target_band(mix: dict, band=None) -> dict:
    """Per tier, whether its share lies inside the target band."""
    band = band or TARGET_MIX
    return {t: lo <= mix.get(t, 0.0) <= hi for t, (lo, hi) in band.items()}


def finite_or_none(x):
    """JSON-safe number: NaN and infinities become None."""
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x
