"""Matplotlib figures in the kit's style; each takes ax=None (where it has one axes) and returns the figure.

The style applies inside each figure function only; use `with kit_style():` to draw your own figures alike.
"""
from ..metrics import dominated  # which policy dominates which, marked on the policy charts
from .bars import (
                   breakdown,
                   plot_breakdown,
                   plot_mixes,
                   plot_policy_costs,
                   plot_savings,
                   plot_tier_costs,
                   plot_traffic_mix,
)
from .curves import (
                     plot_cascade,
                     plot_cost_quality,
                     plot_mix_curve,
                     plot_models,
                     plot_selection,
                     plot_threshold_sweep,
)
from .failures import plot_failure_modes
from .style import (
                   KIT_STYLE,
                   ROUTER_COLOURS,
                   TIER_COLOURS,
                   dollar_axis,
                   dollars,
                   kit_style,
                   legend_outside,
                   percent_axis,
                   place_labels,
                   tier_colour,
)

__all__ = ["KIT_STYLE", "ROUTER_COLOURS", "TIER_COLOURS", "breakdown", "dollar_axis", "dollars", "dominated",
           "kit_style", "legend_outside", "percent_axis", "place_labels", "plot_breakdown", "plot_cascade",
           "plot_cost_quality", "plot_failure_modes", "plot_mix_curve", "plot_mixes", "plot_models", "plot_policy_costs",
           "plot_savings", "plot_selection", "plot_threshold_sweep", "plot_tier_costs", "plot_traffic_mix",
           "tier_colour"]
