"""ipywidgets dashboards: move a threshold, watch cost, quality and the traffic mix respond.

Every change re-evaluates the policy on the held-out queries (array operations only) and redraws one figure
into an Image widget in place. Loading a dataset or fitting a router shows a busy message with the controls
disabled; both are cached for the session (`clear_cache()`). Errors in a callback are shown in the dashboard.
"""
from .base import CALIBRATION_TOLERANCE, DEFAULT_MIX, fmt_dollars, fmt_share
from .cache import cache_info, clear_cache
from .policies import CascadeDashboard, ThresholdDashboard, ThresholdPair, WillingnessToPayDashboard, cascade_routers

__all__ = [
           "CALIBRATION_TOLERANCE",
           "DEFAULT_MIX",
           "CascadeDashboard",
           "ThresholdDashboard",
           "ThresholdPair",
           "WillingnessToPayDashboard",
           "cache_info",
           "cascade_routers",
           "clear_cache",
           "fmt_dollars",
           "fmt_share",
]
