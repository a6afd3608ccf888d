"""The 50-query exercise's numbers beyond one router: latency percentiles, traffic-mix weights, the policy table
(every strategy and baseline on the same queries, dominated ones marked) and dollars per day."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..queries import DIFFICULTIES

SIMULATED_LATENCY = "SIMULATED (lognormal around the catalog's published median TTFT and tokens/s)"
# the teaching material's claims the exercise is compared with (a $100/day all-expensive bill)
MATERIAL = {"mix": {"cheap": (0.70, 0.80), "mid": (0.15, 0.25), "expensive": (0.02, 0.05)},
            "savings": (5.0, 10.0),
            "ttft_ms": {"cheap": (100, 300), "mid": (300, 800), "expensive": (1000, 5000)},
            "router_overhead_ms": {"classifier": (5, 5), "llm": (100, 200), "cascade": (200, 200)},
            "daily_usd": {"all-expensive": (100, 100), "rules": (30, 50), "classifier": (15, 25),
                          "cascade": (20, 30)}}


def weighted_percentile(values, weights, q: float) -> float | None:
    """The q-th percentile (0-100) of values under importance weights (the plain percentile when all are equal)."""
    v, w = np.asarray(values, float), np.asarray(weights, float)
    keep = ~np.isnan(v) & (w > 0)
    if not keep.any():
        return None
    v, w = v[keep], w[keep]
    if np.ptp(w) == 0:
        return float(np.percentile(v, q))
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()  # midpoint rule
    return float(np.interp(q / 100, cum, v))


def latency_summary(rows: pd.DataFrame, outcomes: pd.DataFrame, tiers: list, tier_models: dict,
                    weights=None, simulated: bool = True) -> dict:
    """p50 and p95 latency (ms) end to end, per routed tier, and of each single-tier policy."""
    w = np.ones(len(rows)) if weights is None else np.asarray(weights, float)
    lat = rows["latency_ms"].to_numpy(float)

    def pct(mask, values=lat, weights=w):
        return {"latency_p50_ms": weighted_percentile(values[mask], weights[mask], 50),
                "latency_p95_ms": weighted_percentile(values[mask], weights[mask], 95)}
    by_id = pd.Series(w, index=rows["id"].to_numpy())
    single = {}
    for t in tiers:
        got = outcomes[outcomes["model"] == tier_models[t]]
        ow = by_id.reindex(got["query_id"]).to_numpy(float)
        single[t] = pct(np.ones(len(got), bool), got["latency_s"].to_numpy(float) * 1000, ow)
    return {**pct(np.ones(len(rows), bool)),
            "latency_by_tier": {t: pct((rows["tier"] == t).to_numpy()) for t in tiers},
            "all_tier_latency": single,
            "latency_source": SIMULATED_LATENCY if simulated else "measured (wall clock per call)"}


def mix_weights(difficulty, mix: dict) -> np.ndarray:
    """Importance weights (summing to 1) that give each difficulty the share `mix` asks for: share / count."""
    d = pd.Series(np.asarray(difficulty, object))
    counts = d.value_counts()
    empty = [k for k, share in mix.items() if share > 0 and counts.get(k, 0) == 0]
    if empty:
        raise ValueError(f"--mix gives {', '.join(empty)} a share, but no query is labelled {', '.join(empty)}; "
                         f"give it 0 or add such queries (labelled: {', '.join(counts.index)})")
    unlisted = sorted(set(counts.index) - set(mix))
    if unlisted:
        raise ValueError(f"--mix has no share for {', '.join(map(str, unlisted))}; give one share per difficulty")
    return d.map({k: share / counts[k] for k, share in mix.items() if k in counts}).to_numpy(float)


def parse_mix(text: str) -> dict:
    """'75/20/5' as {easy: 0.75, medium: 0.20, hard: 0.05}; shares must sum to 100."""
    parts = text.replace("%", "").split("/")
    try:
        shares = [float(p) for p in parts]
    except ValueError:
        shares = []
    if len(shares) != len(DIFFICULTIES) or any(not np.isfinite(s) or s < 0 for s in shares):
        raise ValueError(f"--mix expects {len(DIFFICULTIES)} percentages for {'/'.join(DIFFICULTIES)} "
                         f"separated by '/', e.g. 75/20/5; got {text!r}")
    if abs(sum(shares) - 100) > 1e-6:
        raise ValueError(f"--mix shares must add up to 100, but {text} adds up to {sum(shares):g}; "
                         "e.g. 75/20/5")
    return dict(zip(DIFFICULTIES, (s / 100 for s in shares)))
