"""Checkers for thresholds: a target traffic mix (notebook 04), a cascade's escalation rate (notebook 05)."""
from __future__ import annotations

import numpy as np

from ..sweep import assign
from . import not_yet, right

EPS = 1e-9  # shares are fractions of whole queries: 0.80 - 0.75 must count as 5 points, not 5.000000000000004


def _thresholds(value, n_tiers: int):
    """The learner's threshold(s) as a flat float array, or None unless they are 1 or n_tiers - 1 finite numbers.

    Strings ("0.5"), booleans and nested lists are refused: they are not a threshold, even where numpy could
    turn them into one.
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):  # ragged lists
        return None
    if raw.dtype.kind not in "iuf" or raw.ndim > 1:
        return None
    t = np.atleast_1d(raw.astype(float))
    return t if t.size in (1, n_tiers - 1) and np.isfinite(t).all() else None


def check_threshold_for_mix(scores, thresholds, target_mix: dict, tiers, tolerance: float = 0.05):
    """Do these thresholds route the scored queries to the target shares, within `tolerance` on each named tier?"""
    scores = np.asarray(scores, float)
    t = _thresholds(thresholds, scores.shape[1])
    if t is None:
        return not_yet(f"thresholds must be one number or {scores.shape[1] - 1} numbers (one per tier but the last); "
                       f"got {thresholds!r}")
    mix = dict(zip(tiers, np.bincount(assign(scores, t), minlength=len(tiers)) / len(scores)))
    shown = ", ".join(f"{k} {mix[k]:.0%} (target {v:.0%})" for k, v in target_mix.items())
    off = {k: mix[k] - v for k, v in target_mix.items() if abs(mix[k] - v) > tolerance + EPS}
    if not off:
        return right(f"threshold(s) {np.round(t, 3).tolist()} give {shown}, within {tolerance * 100:.0f} points",
                     mix=mix)
    tier, miss = next(iter(off.items()))
    k = list(tiers).index(tier)
    if k == len(tiers) - 1:
        hint = "lower the thresholds to keep more queries on the cheaper tiers" if miss > 0 else \
            "raise the thresholds so fewer queries clear the cheaper tiers"
    else:
        move = "raise" if miss > 0 else "lower"
        hint = (f"{move} the {'threshold' if t.size == 1 else tier + ' threshold'}: a query stays on {tier} only when "
                f"its score reaches it, so a {'higher' if miss > 0 else 'lower'} one keeps "
                f"{'fewer' if miss > 0 else 'more'} there")
        if t.size == 1 and len(tiers) > 2 and k > 0:
            hint = "one shared threshold cannot set every tier's share; give one threshold per tier (cheap, mid)"
    return not_yet(f"{shown}: {tier} is {abs(miss) * 100:.1f} points {'over' if miss > 0 else 'under'} target; {hint}",
                   mix=mix)


def check_escalation_rate(confidence, threshold, target_rate: float, tolerance: float = 0.05):
    """Does this acceptance threshold make the cascade escalate `target_rate` of requests, within `tolerance`?"""
    confidence = np.asarray(confidence, float)
    t = _thresholds(threshold, 2)
    if t is None or not 0 <= t[0] <= 1:
        return not_yet(f"the acceptance threshold must be one number between 0 and 1; got {threshold!r}")
    rate = float((assign(confidence, t) > 0).mean())
    if abs(rate - target_rate) <= tolerance + EPS:
        return right(f"accepting at {t[0]:.3f} escalates {rate:.1%} of requests (target {target_rate:.0%} "
                     f"+- {tolerance:.0%})", escalation_rate=rate)
    hint = ("lower it: a cheap answer is kept when its confidence reaches the threshold, so a lower one keeps more"
            if rate > target_rate else "raise it: a higher threshold rejects more cheap answers")
    return not_yet(f"accepting at {t[0]:.3f} escalates {rate:.1%} of requests, target {target_rate:.0%} "
                   f"+- {tolerance:.0%}; {hint}", escalation_rate=rate)
