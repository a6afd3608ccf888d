"""Dashboards driven headlessly: set widget values, check the numbers, the drawn data, the cache and the busy state."""
import numpy as np
import pytest

import routerlib.dashboards.cache as dash_cache
from routerlib.dashboards import (
    CascadeDashboard,
    ThresholdDashboard,
    WillingnessToPayDashboard,
    cache_info,
    cascade_routers,
    clear_cache,
    fmt_dollars,
    fmt_share,
)
from routerlib.routers.registry import LIVE_ONLY
from routerlib.sweep import assign, outcomes_of


@pytest.fixture(scope="module")
def mirror():
    from conftest import mirror_dir
    if mirror_dir() is None:
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    return mirror_dir()


def shown(dashboard, name):
    """The text in a metrics span of the dashboard's HTML."""
    return dashboard.metrics.value.split(f'class="rl-{name}">')[1].split("<")[0]


def test_threshold_runs_as_sweep_assign_and_updates_numbers_and_drawing(mirror):
    d = ThresholdDashboard("routellm-gsm8k", router="classifier", data_dir=mirror)
    before = shown(d, "cost")
    d.control.value = 0.7
    a = assign(d.scores, 0.7)  # the kit's convention: the first tier whose score reaches the threshold
    assert (d.assignment(0.7) == a).all() and (d.assignment(0.9) >= a).all()  # higher -> more traffic up
    m, expected = d.metrics_at(0.7), outcomes_of(d.test, a[None, :]).iloc[0]
    assert m["cost_per_1k"] == pytest.approx(expected["cost_per_1k"])
    assert shown(d, "cost") == fmt_dollars(m["cost_per_1k"]) != before and shown(d, "cost").startswith("$")
    assert shown(d, "quality") == f"{m['quality']:.3f}" and shown(d, "share-expensive") == fmt_share((a == 1).mean())
    assert "higher threshold &rarr; more traffic to expensive" in d.caption.value and "current setting" in d.metrics.value
    assert d.marker.get_xdata()[0] == pytest.approx(m["cost_per_1k"])  # the red dot sits on the new point
    assert d.bars[1].get_height() == pytest.approx(100 * m["share_expensive"])
    assert d.image.value[:8] == b"\x89PNG\r\n\x1a\n" and d.error.value == "" and d.fig.dpi == 100
    labels = [t.get_text() for t in d.ax_curve.texts]
    assert labels == [f"{t}: {mdl}" for t, mdl in zip(d.test.tiers, d.test.models)]  # squares named tier: model
    assert d.marker.get_label() == "current setting"


def test_three_tiers_get_one_threshold_each_and_calibrate(mirror):
    d = ThresholdDashboard("routerbench-arc", router="classifier", data_dir=mirror)
    assert [s.description for s in d.control.sliders] == ["cheap threshold", "mid threshold"]
    d.control.value = (0.9, 0.6)
    assert (d.assignment((0.9, 0.6)) == assign(d.scores, (0.9, 0.6))).all() and d.control.sliders[1].value == 0.6
    d.control.sliders[0].value = 0.8  # moving one slider moves the pair
    assert d.control.value == (0.8, 0.6) and shown(d, "threshold") == "0.80, 0.60"
    cal = d.calibrate()
    m = d.metrics_at(d.control.value)
    assert cal["feasible"] and abs(m["share_cheap"] - 0.75) <= 0.02 and abs(m["share_mid"] - 0.20) <= 0.02
    assert shown(d, "share-mid") == fmt_share(m["share_mid"]) and "calibrated to target 75/20/5" in d.note.value
    d.control.value = (1.0, 1.0)
    assert float(shown(d, "share-expensive").rstrip("%")) > 90 and d.error.value == ""
    assert "earlier calibration: calibrated to target 75/20/5" in d.note.value  # moved away: the note says so


def test_infeasible_calibration_says_so_and_what_it_did(mirror):
    d = ThresholdDashboard("arena-bench", router="llm", data_dir=mirror)  # a step router: its scores tie
    cal = d.calibrate()
    reached = d.metrics_at(d.control.value)
    assert not cal["feasible"] and cal["reached"] == pytest.approx([reached["share_cheap"], reached["share_expensive"]],
                                                                   abs=1e-4)
    assert cal["message"].startswith("target 80/20 cannot be reached with this router's scores (")
    assert "closest reachable: " in cal["message"] and "tie at" in cal["message"]
    assert "cannot be reached" in d.note.value


def test_switching_back_is_served_from_the_cache(mirror, monkeypatch):
    clear_cache()
    loads, fits = [], []
    real_load, real_make = dash_cache.datasets.load, dash_cache.make
    monkeypatch.setattr(dash_cache.datasets, "load", lambda name, *a, **k: loads.append(name) or real_load(name, *a, **k))
    monkeypatch.setattr(dash_cache, "make", lambda name, *a, **k: fits.append(name) or real_make(name, *a, **k))
    d = ThresholdDashboard("routellm-gsm8k", router="classifier", data_dir=mirror)
    d.dataset_picker.value = "arena-bench"
    d.router_picker.value = "random"
    d.dataset_picker.value = "routellm-gsm8k"
    assert loads == ["routellm-gsm8k", "arena-bench"] and fits == ["classifier", "classifier", "random", "random"]
    d.router_picker.value = "classifier"  # both back where they were: nothing loaded or fitted again
    d.dataset_picker.value = "arena-bench"
    assert loads == ["routellm-gsm8k", "arena-bench"] and len(fits) == 4 and d.error.value == ""
    assert cache_info()["fits"]["hits"] >= 2 and d.name == "arena-bench"
    assert repr(dash_cache.SPLITS) == f"LRU(size=4, entries=2, hits={dash_cache.SPLITS.hits}, misses=2)"
    clear_cache()
    assert cache_info()["splits"]["entries"] == 0 == cache_info()["fits"]["entries"]


def test_busy_state_is_set_before_a_slow_load_and_restored_after(mirror, monkeypatch):
    clear_cache()
    d = ThresholdDashboard("routellm-gsm8k", router="classifier", data_dir=mirror)
    seen, real_load = [], dash_cache.datasets.load

    def slow_load(name, *a, **k):
        seen.append((d.status.value, [c.disabled for c in d._controls()]))
        if name == "routellm-mtbench":
            raise RuntimeError("disk on fire")
        return real_load(name, *a, **k)

    monkeypatch.setattr(dash_cache.datasets, "load", slow_load)
    d.dataset_picker.value = "arena-bench"
    status, disabled = seen[0]
    assert "loading arena-bench, fitting classifier" in status and "fa-spin" in status and all(disabled)
    assert d.status.value == "" and not any(c.disabled for c in d._controls())
    d.dataset_picker.value = "routellm-mtbench"  # an error: controls back, the picker back on what is shown
    assert "disk on fire" in d.error.value and d.dataset_picker.value == "arena-bench"
    assert d.status.value == "" and not any(c.disabled for c in d._controls())
    statuses = []
    d.status.observe(lambda change: statuses.append(change["new"]), names="value")
    d.dataset_picker.value = "routellm-gsm8k"  # loaded before: said so, and the status line cleared after
    assert "switching to routellm-gsm8k, classifier (cached)" in statuses[0] and statuses[-1] == ""


def test_errors_in_callbacks_are_shown(mirror):
    d = ThresholdDashboard("routellm-gsm8k", router="classifier", data_dir=mirror)
    d.router_picker.value = "cascade-verifier"
    assert d.cascade and "rl-escalation" in d.metrics.value and d.error.value == ""
    assert "more escalations" in d.caption.value
    d.metrics_at = lambda value: 1 / 0  # a broken callback must be shown, not swallowed
    d.control.value = 0.9
    assert "ZeroDivisionError" in d.error.value


def test_willingness_to_pay_lambda_precision_and_rare_tiers(mirror):
    w = WillingnessToPayDashboard("arena-bench", router="classifier", data_dir=mirror)
    w.control.value = 1e-4
    assert shown(w, "threshold") == "0.0001"
    rich = w.metrics_at(1e-4)
    w.control.value = 10
    thrifty = w.metrics_at(10)
    assert rich["cost_per_1k"] > thrifty["cost_per_1k"] and thrifty["share_cheap"] == pytest.approx(1.0)
    assert shown(w, "share-cheap") == "100.0%" and "higher lambda &rarr; more traffic to cheaper" in w.caption.value
    w.control.value = 1.2e-4
    assert shown(w, "threshold") == "0.00012"
    w.calibrate()
    assert 0.6 <= w.metrics_at(w.control.value)["share_cheap"] <= 0.9
    arc = WillingnessToPayDashboard("routerbench-arc", router="classifier", data_dir=mirror)
    assert "mid at most" in arc.caption.value and arc.peak[1] < 0.1  # mid is priced out: said, not hidden
    assert not arc.calibrate()["feasible"] and "cannot be reached" in arc.note.value


def test_cascade_dashboard_lists_cascades_only_and_reports_escalation(mirror):
    c = CascadeDashboard("arena-bench", data_dir=mirror)
    assert c.router_picker.options == cascade_routers() and set(cascade_routers()) == {"cascade", "cascade-verifier",
                                                                                       "cascade-judge"}
    assert not set(LIVE_ONLY) & set(c.router_picker.options)
    low, high = c.metrics_at(0.1), c.metrics_at(0.9)
    assert high["escalation_rate"] > low["escalation_rate"] and high["cost_per_1k"] > low["cost_per_1k"]
    with pytest.raises(ValueError, match="needs a cascade router"):
        CascadeDashboard("arena-bench", router="classifier", data_dir=mirror)
    assert "CascadeDashboard(dataset='arena-bench', router='cascade-verifier'" in repr(c)
    assert np.isfinite(c.curve[0]).all()


def test_one_threshold_steps_read_presorted_sums_with_the_same_figures(mirror):
    for cls, router in ((ThresholdDashboard, "random"), (CascadeDashboard, cascade_routers()[0])):
        d = cls("routellm-gsm8k", router=router, data_dir=mirror)
        assert d.sorted_sweep is not None
        for value in (0.0, 0.25, 0.5, 0.77, 1.0):
            fast = d.metrics_at(value)
            slow = outcomes_of(d.test, assign(d.scores, value)[None, :], d.cost).iloc[0]
            for key, v in slow.items():
                assert fast[key] == pytest.approx(v, rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("k", [2, 3])
def test_a_dashboard_on_your_own_scores_steps_from_sorted_sums(k):
    """from_scores: no dataset or router to pick; two tiers step from SortedSweep, three from PairSweep, both equal
    to outcomes_of(assign(...)), and calibration reaches the mix on every query."""
    from test_sweep import synthetic
    tt = synthetic(3000, seed=4)
    if k == 2:
        tt = tt.take(slice(None))
        tt.tiers, tt.models, tt.quality, tt.cost = tt.tiers[::2], tt.models[::2], tt.quality[:, ::2], tt.cost[:, ::2]
    rng = np.random.default_rng(5)
    scores = np.column_stack([rng.random((tt.n, k - 1)), np.ones(tt.n)])
    d = ThresholdDashboard.from_scores(tt, scores, "my router")
    assert (d.sorted_sweep is not None) == (k == 2) and (d.pair_sweep is not None) == (k == 3)
    assert "dataset" not in repr(d.widget.children[0])  # no pickers
    setting = 0.4 if k == 2 else (0.4, 0.6)
    d.control.value = setting
    want = outcomes_of(tt, assign(scores, setting)[None, :]).iloc[0]
    assert shown(d, "cost") == fmt_dollars(want["cost_per_1k"]) and d.error.value == ""
    for key in ("cost_per_1k", "quality", *(f"share_{t}" for t in tt.tiers)):
        assert d.metrics_at(setting)[key] == pytest.approx(want[key], rel=1e-12)
    result = d.calibrate()
    reached = outcomes_of(tt, assign(scores, result["setting"])[None, :]).iloc[0]
    assert result["reached"] == pytest.approx([reached[f"share_{t}"] for t in tt.tiers], abs=1e-4)
    with pytest.raises(ValueError, match="scores n x tiers"):
        ThresholdDashboard.from_scores(tt, scores[:, :1])
