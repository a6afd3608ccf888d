"""What the server records: a run log of every request (JSONL, fsync) and traffic figures with the monitors."""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np
import pandas as pd

from ..backends.runlog import FIELDS, JsonlFile
from ..metrics import finite_or_none
from ..monitors import check_all

SERVE_FIELDS = FIELDS + ("alias", "router", "tier", "routed_tier", "fallback", "score", "router_cost_usd",
                         "router_latency_s", "upstream", "simulated", "quality", "escalated", "stream", "status",
                         "upstream_errors")


class ServeLog:
    """One record per request, durable before the reply (JsonlFile); RunLog(path) reads it.

    Unlike RunLog it keeps no records in memory, so a long-running server does not grow.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._file = JsonlFile(path)
        self.written = 0

    def append(self, record: dict) -> None:
        """Write one record durably."""
        rec = {k: record.get(k) for k in SERVE_FIELDS}
        rec["ts"] = rec["ts"] or time.time()
        self._file.append(rec)
        self.written += 1

    def __repr__(self):
        return f"ServeLog({str(self.path)!r}, {self.written} written since start)"


def _quantiles_ms(values, qs=(0.5, 0.95, 0.99)) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {f"p{int(q * 100)}": None for q in qs}
    return {f"p{int(q * 100)}": float(np.quantile(values, q) * 1000) for q in qs}


MIN_MONITORED = 20  # fewer recent requests than this: too few for the monitors to judge


class Traffic:
    """Counters since the server started, and the last `window` answered requests for the monitors."""

    def __init__(self, upstream_mode: str, window: int = 1000, monitors=None):
        self.upstream_mode = upstream_mode
        self.recent = deque(maxlen=window)
        self.monitors = monitors
        self.started = time.time()
        self._lock = threading.Lock()
        self.status = Counter()
        self.tiers, self.models, self.aliases = Counter(), Counter(), {}
        self.answered = self.fallbacks = self.streamed = self.simulated = self.cut_short = 0
        self.cost_usd = self.router_cost_usd = 0.0

    def rejected(self, status: int) -> None:
        """A request refused before routing (bad request, unknown model, auth)."""
        with self._lock:
            self.status[status] += 1

    def add(self, rec: dict) -> None:
        """A routed request, answered or failed upstream (rec as written to the run log)."""
        with self._lock:
            self.status[rec["status"]] += 1
            alias = self.aliases.setdefault(rec["alias"], Counter())
            alias["requests"] += 1
            self.streamed += bool(rec.get("stream"))
            self.router_cost_usd += rec.get("router_cost_usd") or 0.0
            self.cost_usd += rec["cost_usd"] or 0.0  # a stream cut short was still paid for
            if rec["error"] is not None:
                self.cut_short += rec["status"] == 200  # a stream that broke (or was dropped) after it began
                return
            self.answered += 1
            alias[rec["tier"]] += 1
            self.tiers[rec["tier"]] += 1
            self.models[rec["model"]] += 1
            self.fallbacks += bool(rec["fallback"])
            self.simulated += bool(rec["simulated"])
            self.recent.append({"tier": rec["tier"], "quality": rec.get("quality"), "cost_usd": rec["cost_usd"],
                                "router_latency_s": rec["router_latency_s"], "router_cost_usd": rec["router_cost_usd"],
                                "escalated": bool(rec.get("escalated")), "latency_s": rec["latency_s"]})

    def metrics(self) -> dict:
        """Traffic mix, cost per 1k requests, errors, latency and monitor alerts, as JSON-safe values."""
        with self._lock:
            recent = list(self.recent)
            answered, tiers = self.answered, dict(self.tiers)
            per_1k = (lambda usd: usd / answered * 1000 if answered else None)
            doc = {
                "requests": sum(self.status.values()), "answered": answered,
                "status_counts": {str(k): v for k, v in sorted(self.status.items())},
                "failed_upstream": sum(v for k, v in self.status.items() if k >= 500),
                "fallbacks": self.fallbacks, "streamed": self.streamed, "streams_cut_short": self.cut_short,
                "upstream": {"mode": self.upstream_mode, "simulated": self.upstream_mode == "simulated"},
                "simulated_answers": self.simulated,
                "requests_per_tier": tiers,
                "traffic_mix": {t: n / answered for t, n in tiers.items()} if answered else {},
                "requests_per_model": dict(self.models),
                "aliases": {a: dict(c) for a, c in self.aliases.items()},
                "cost_usd": self.cost_usd, "router_cost_usd": self.router_cost_usd,
                "cost_per_1k_requests_usd": per_1k(self.cost_usd + self.router_cost_usd),
                "router_cost_per_1k_requests_usd": per_1k(self.router_cost_usd),
                "uptime_s": time.time() - self.started,
            }
        doc["latency_ms"] = _quantiles_ms([r["latency_s"] for r in recent])
        doc["router_latency_ms"] = _quantiles_ms([r["router_latency_s"] for r in recent])
        doc["monitors"] = self._monitors(recent)
        return doc

    def _monitors(self, recent) -> dict:
        traffic = pd.DataFrame(recent, columns=["tier", "quality", "cost_usd", "router_latency_s", "router_cost_usd",
                                                "escalated"])
        traffic["quality"] = pd.to_numeric(traffic["quality"], errors="coerce")
        if len(traffic) < MIN_MONITORED:
            return {"window": len(recent), "alerts": [], "healthy": None,
                    "note": f"monitors judge {MIN_MONITORED} or more answered requests"}
        rows = [{"monitor": str(a["monitor"]), "from": int(a["from"]), "to": int(a["to"]),
                 "value": finite_or_none(a["value"]), "limit": finite_or_none(a["limit"]), "message": str(a["message"])}
                for a in check_all(traffic, self.monitors).to_dict("records")]
        return {"window": len(recent), "alerts": rows, "healthy": not rows,
                "quality_known": bool(traffic["quality"].notna().any())}

    def __repr__(self):
        return f"Traffic({self.answered} answered, mix={dict(self.tiers)}, upstream={self.upstream_mode})"
