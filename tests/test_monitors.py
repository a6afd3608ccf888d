"""Failure-mode monitors: each fires on its induced failure and stays quiet on a healthy run."""
import numpy as np
import pandas as pd
import pytest

from routerlib.monitors import (CascadeCostMonitor, OverRoutingMonitor, RouterLatencyMonitor, UnderRoutingMonitor,
                                check_all)


def traffic(n=300, cheap=0.75, mid=0.2, quality_cheap=0.9, latency=0.001, escalated=0.1, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    tier = np.where(u < cheap, "cheap", np.where(u < cheap + mid, "mid", "expensive"))
    quality = np.where(tier == "cheap", rng.random(n) < quality_cheap, rng.random(n) < 0.9).astype(float)
    return pd.DataFrame({"tier": tier, "quality": quality, "cost_usd": 0.001, "router_latency_s": latency,
                         "router_cost_usd": 0.0, "escalated": rng.random(n) < escalated})


def test_healthy_traffic_raises_nothing():
    assert check_all(traffic()).empty


@pytest.mark.parametrize("bad, monitor", [
    (dict(quality_cheap=0.3), "under-routing"),
    (dict(cheap=0.3, mid=0.3), "over-routing"),
    (dict(latency=0.3), "router-latency"),
    (dict(escalated=0.8), "cascade-cost"),
])
def test_each_monitor_fires_on_its_failure(bad, monitor):
    alerts = check_all(traffic(**bad))
    assert set(alerts["monitor"]) == {monitor}
    assert alerts["message"].str.contains("requests").all()


def test_alert_messages_say_what_to_do():
    under = UnderRoutingMonitor(min_quality=0.6).check(traffic(quality_cheap=0.3))[0]
    assert "cheap route" in under.message and "threshold" in under.message
    assert "calibrate" in OverRoutingMonitor().check(traffic(cheap=0.2, mid=0.2))[0].message
    assert "decision cache" in RouterLatencyMonitor().check(traffic(latency=0.5))[0].message
    assert "acceptance threshold" in CascadeCostMonitor().check(traffic(escalated=0.9))[0].message


def test_missing_columns_are_named_and_skipped_by_check_all():
    with pytest.raises(ValueError, match=r"needs column\(s\) \['escalated'\]"):
        CascadeCostMonitor().check(traffic().drop(columns="escalated"))
    assert check_all(traffic().drop(columns="escalated")).empty


def test_failure_scenarios_on_recorded_data():
    from conftest import mirror_dir
    if mirror_dir() is None:
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    from routerlib import datasets
    from routerlib.monitors import monitors, scenarios
    fired = {name: set(check_all(t, monitors())["monitor"])
             for name, t in scenarios(datasets.load("routellm-gsm8k", mirror_dir())).items()}
    assert fired["healthy"] == set()
    assert fired["under-routing (aggressive threshold: all cheap)"] == {"under-routing"}
    assert fired["over-routing (timid threshold: all expensive)"] == {"over-routing"}
    assert fired["router latency (slow LLM router, SIMULATED 250-350 ms)"] == {"router-latency"}
    assert "cascade-cost" in fired["cascade explosion (strict: accept at 0.9)"]
    for name, alerts in fired.items():
        if name.startswith("mitigated"):
            assert alerts == set(), name


def test_over_routing_tells_a_timid_threshold_from_harder_traffic():
    """The same mix shift reads differently when a graded sample (cheap_ok) says how often cheap fails."""
    t = traffic(cheap=0.2, mid=0.2)
    timid = t.assign(cheap_ok=np.arange(len(t)) % 10 != 0)  # cheap fails on 10%, yet 80% went above it
    harder = t.assign(cheap_ok=np.arange(len(t)) % 10 < 2)  # cheap fails on 80%: the dearer tiers earn it
    assert "over-routing" in OverRoutingMonitor().check(timid)[0].message
    assert "harder traffic" in OverRoutingMonitor().check(harder)[0].message
    assert "grade a sample" in OverRoutingMonitor().check(t)[0].message


def per_window(monitor, t):
    """(window, value) of each alert by the plain loop over windows with pandas, the reference for the array version."""
    from routerlib.monitors import _windows
    out = []
    for lo, hi in _windows(len(t), monitor.window):
        part = t.iloc[lo:hi]
        if isinstance(monitor, UnderRoutingMonitor):
            for tier, q in part.groupby("tier")["quality"]:
                if (monitor.tiers is None or tier in monitor.tiers) and len(q := q.dropna()) >= monitor.min_requests \
                        and q.mean() < monitor.min_quality:
                    out.append(((lo, hi), q.mean()))
        elif isinstance(monitor, OverRoutingMonitor):
            shares = part["tier"].value_counts(normalize=True)
            out += [((lo, hi), shares.get(k, 0.0)) for k in list(monitor.band)[1:]
                    if shares.get(k, 0.0) > monitor.band[k][1] + monitor.slack]
        elif isinstance(monitor, RouterLatencyMonitor):
            lat = part["router_latency_s"].dropna()
            out += [((lo, hi), np.quantile(lat, 0.95))] if len(lat) and np.quantile(lat, 0.95) > monitor.p95_limit_s else []
        elif part["escalated"].mean() > monitor.max_escalation:
            out.append(((lo, hi), part["escalated"].mean()))
    return out


@pytest.mark.parametrize("window", [37, 100, 5000])
def test_every_window_at_once_equals_the_loop_over_windows(window):
    t = traffic(3001, cheap=0.5, mid=0.3, quality_cheap=0.55, latency=np.random.default_rng(1).gamma(2, 0.1, 3001),
                escalated=0.42, seed=window)
    t["quality"] = np.where(np.arange(len(t)) % 2, t["quality"], np.random.default_rng(2).random(len(t)))
    rng = np.random.default_rng(3)
    t.loc[rng.random(len(t)) < 0.05, "quality"] = np.nan
    t.loc[rng.random(len(t)) < 0.02, "router_latency_s"] = np.nan
    for monitor in [UnderRoutingMonitor(0.6, window), UnderRoutingMonitor(0.7, window, ["mid"], 0),
                    OverRoutingMonitor(window=window), RouterLatencyMonitor(0.35, window), CascadeCostMonitor(0.4, window)]:
        got, ref = [(a.window, a.value) for a in monitor.check(t)], per_window(monitor, t)
        assert [w for w, _ in got] == [w for w, _ in ref] and len(ref), monitor
        np.testing.assert_allclose([v for _, v in got], [v for _, v in ref], rtol=1e-12)


def test_harder_traffic_on_recorded_data_reads_as_harder_not_timid():
    """Redrawn so the cheap tier fails on 70%: a router that sees it trips 'harder traffic', the classifier under-routes."""
    from conftest import mirror_dir
    if mirror_dir() is None:
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    from routerlib import datasets
    from routerlib.monitors import harder_traffic, monitors
    runs = harder_traffic(datasets.load("routellm-gsm8k", mirror_dir()), cheap_fails=0.7)
    sees, clf = runs["harder traffic: a router that sees it (cheap fails -> expensive)"], \
        runs["harder traffic: classifier, healthy threshold"]
    assert 0.6 < 1 - sees["cheap_ok"].mean() < 0.8  # the redraw hit its target share
    alerts = check_all(sees, monitors())
    assert set(alerts["monitor"]) == {"over-routing"}
    assert all("harder traffic" in m for m in alerts["message"])
    assert "under-routing" in set(check_all(clf, monitors())["monitor"])
