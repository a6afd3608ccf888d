"""Load test of `routerlib serve`: the routing overhead alone, with an upstream that answers instantly.

Starts the server in its own process on 127.0.0.1 (a saved classifier or rule router, simulated
upstream, run log with fsync per request), then sends chat requests over keep-alive connections
from client threads: one client for the latency figures, then `concurrency` clients for throughput.
"""
from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

TARGET_RPS = 200


def exercise_table():
    """The 50 exercise queries as a 3-tier TierTable: a tier is good enough from the query's difficulty up."""
    import pandas as pd

    from ..catalog import Catalog
    from ..queries import DIFFICULTIES, load_queries
    from ..tables import TierTable

    qs, cat = load_queries(), Catalog.load()
    tiers = list(cat.tiers)
    quality = np.array([[float(DIFFICULTIES.index(q.difficulty) <= k) for k in range(len(tiers))] for q in qs])
    return TierTable("exercise", tiers, [cat.tiers[t] for t in tiers], quality, np.zeros(quality.shape),
                     pd.Series([q.text for q in qs], index=[q.id for q in qs]),
                     np.full(quality.shape, "", dtype=object), np.ones(len(qs)), True, cat)


def _router_file(kind: str, folder: Path) -> Path:
    from ..routers.classifier import ClassifierRouter
    from ..routers.rules import RuleRouter
    from ..routers.saved import save_router
    router = ClassifierRouter().fit(exercise_table()) if kind == "classifier" else RuleRouter()
    return save_router(router, folder / f"{kind}.router.json", thresholds=[0.6, 0.5] if kind == "classifier" else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _wait_up(port: int, proc, seconds: float = 60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early: {proc.stdout.read()}")
        try:
            if _get(port, "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start within a minute")


def _run(port: int, bodies: list, n: int, concurrency: int, time_limit: float) -> dict:
    """Send n requests from `concurrency` threads (keep-alive); latencies in seconds, statuses, wall time."""
    latencies, statuses, lock, counter = [], [], threading.Lock(), iter(range(n))
    stop = time.perf_counter() + time_limit

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        while time.perf_counter() < stop:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            t = time.perf_counter()
            conn.request("POST", "/v1/chat/completions", bodies[i % len(bodies)], headers)
            r = conn.getresponse()
            r.read()
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                statuses.append(r.status)
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = np.array([dt for dt, s in zip(latencies, statuses) if s == 200]) * 1000  # an error is not a routed request
    ms = (lambda f: float(f(lat)) if len(lat) else None)
    return {"concurrency": concurrency, "requests": len(statuses), "errors": len(statuses) - len(lat),
            "seconds": wall, "requests_per_s": len(lat) / wall, "p50_ms": ms(lambda x: np.percentile(x, 50)),
            "p99_ms": ms(lambda x: np.percentile(x, 99)), "max_ms": ms(np.max)}


def serve_load(requests: int = 3000, concurrency: int = 8, router: str = "classifier", time_limit: float = 60.0) -> dict:
    """Requests/s and added latency (p50/p99) of the router server, upstream instant; returns a JSON-safe dict."""
    from ..queries import load_queries

    if router not in ("classifier", "rules"):
        raise ValueError(f"router must be 'classifier' or 'rules', got {router!r}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = {"routers": {"router-load": {"file": str(_router_file(router, folder))}},
                  "upstream": {"mode": "simulated", "seed": 0}, "run_log": str(folder / "serve.jsonl")}
        (folder / "serve.json").write_text(json.dumps(config))
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "routerlib", "serve", "--config", str(folder / "serve.json"),
                                 "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_up(port, proc)
            bodies = [json.dumps({"model": "router-load", "messages": [{"role": "user", "content": q.text}]})
                      for q in load_queries()]
            _run(port, bodies, 200, concurrency, time_limit)  # warm-up
            single = _run(port, bodies, min(requests // 3, 1000), 1, time_limit)
            loaded = _run(port, bodies, requests, concurrency, time_limit)
            metrics = json.loads(_get(port, "/metrics")[1])
            logged = sum(1 for _ in open(folder / "serve.jsonl", encoding="utf-8"))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return {
        "serve_requests_per_s": loaded["requests_per_s"], "serve_added_p50_ms": loaded["p50_ms"],
        "serve_added_p99_ms": loaded["p99_ms"], "target_requests_per_s": TARGET_RPS,
        "meets_target": loaded["requests_per_s"] >= TARGET_RPS and loaded["errors"] == 0,
        "loaded": loaded, "single_client": single,
        "server_router_latency_ms": metrics["router_latency_ms"], "requests_logged": logged,
        "setup": {"router": router, "upstream": "simulated, answers instantly (no sleep)",
                  "run_log": "JSONL, flush + fsync per request", "client": "http.client keep-alive, one per thread",
                  "server": "one uvicorn process (python -m routerlib serve) on 127.0.0.1",
                  "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
                  "added_latency": "client-observed request time; with an instant upstream it is all server overhead"},
    }
