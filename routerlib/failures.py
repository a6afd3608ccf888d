"""The four production failure modes induced on recorded data, each with its mitigation.

`scenarios()` routes the held-out half of a two-model dataset (GSM8K by default) in a healthy way
and in each failing way, and returns traffic tables for the monitors in routerlib.monitor.
"""
from __future__ import annotations

import time

import numpy as np

from .evaluate import assign, calibrate_mix, calibrate_quality, train_test
from .monitor import (CascadeCostMonitor, OverRoutingMonitor, RouterLatencyMonitor, UnderRoutingMonitor,
                      traffic_of)
from .routers.cascade import CascadeRouter, VerifierScorer
from .routers.classifier import ClassifierRouter

SLOW_ROUTER_S = (0.25, 0.10)  # SIMULATED LLM-router overhead: 250 ms plus up to 100 ms of jitter


def monitors(target_mix=(0.5, 0.5), min_quality=0.67, window=400) -> list:
    """Monitors tuned for a two-tier dataset routed 50/50 (the band is the target +- 5 points)."""
    band = {"cheap": (target_mix[0] - 0.05, target_mix[0] + 0.05),
            "expensive": (target_mix[1] - 0.05, target_mix[1] + 0.05)}
    return [UnderRoutingMonitor(min_quality=min_quality, window=window), OverRoutingMonitor(band=band, window=window),
            RouterLatencyMonitor(p95_limit_s=0.2, window=window), CascadeCostMonitor(max_escalation=0.4, window=window)]


def classifier_latency(router, texts, n: int = 50) -> np.ndarray:
    """Measured seconds per single-query decision of a fitted classifier (on this machine)."""
    out = []
    for text in list(texts)[:n]:
        start = time.perf_counter()
        router.predict_proba([text])
        out.append(time.perf_counter() - start)
    return np.array(out)


def scenarios(table, seed: int = 0, target_mix=(0.5, 0.5)) -> dict:
    """name -> traffic table: healthy runs, the four induced failures, and their mitigations."""
    train, test = train_test(table, 0.5, seed)
    clf = ClassifierRouter().fit(train)
    scores = clf.tier_scores(test)
    light = np.resize(classifier_latency(clf, test.prompts), test.n)  # measured, real
    slow = SLOW_ROUTER_S[0] + SLOW_ROUTER_S[1] * np.random.default_rng(seed).random(test.n)
    healthy = assign(scores, calibrate_mix(scores, list(target_mix)))
    floor = calibrate_quality(test, scores, 0.95)["threshold"]
    conf = CascadeRouter(VerifierScorer()).fit(train).tier_scores(test)
    last = len(test.tiers) - 1
    return {
        "healthy": traffic_of(test, healthy, light, seed=seed),
        "under-routing (aggressive threshold: all cheap)": traffic_of(test, np.zeros(test.n, int), light, seed=seed),
        "mitigated: quality floor (95% of best)": traffic_of(test, assign(scores, floor), light, seed=seed),
        "over-routing (timid threshold: all expensive)": traffic_of(test, np.full(test.n, last), light, seed=seed),
        "mitigated: calibrated to the target mix": traffic_of(test, healthy, light, seed=seed),
        "router latency (slow LLM router, SIMULATED 250-350 ms)": traffic_of(test, healthy, slow, seed=seed),
        "mitigated: light classifier (measured)": traffic_of(test, healthy, light, seed=seed),
        "cascade explosion (strict: accept at 0.9)": traffic_of(test, assign(conf, 0.9), light, cascade=True,
                                                                seed=seed),
        "mitigated: cascade accepts at 0.6": traffic_of(test, assign(conf, 0.6), light, cascade=True, seed=seed),
    }
