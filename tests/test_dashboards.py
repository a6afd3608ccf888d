"""Dashboards driven headlessly: set widget values, check the numbers and the drawn data."""
import pytest

from routerlib.dashboards import CascadeDashboard, ThresholdDashboard, WillingnessToPayDashboard
from routerlib.sweep import assign_cuts, difficulty, outcomes_of


@pytest.fixture(scope="module")
def mirror():
    from conftest import mirror_dir
    if mirror_dir() is None:
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    return mirror_dir()


def shown(dashboard, name):
    """The number in a metrics span of the dashboard's HTML."""
    text = dashboard.metrics.value.split(f'class="rl-{name}">')[1].split("<")[0]
    return float(text)


def test_threshold_slider_updates_numbers_and_drawing(mirror):
    d = ThresholdDashboard("routellm-gsm8k", router="classifier", data_dir=mirror)
    before = shown(d, "cost")
    d.control.value = 0.3
    m = d.metrics_at(0.3)
    a = assign_cuts(difficulty(d.scores), 0.3)  # the same policy, computed by hand
    expected = outcomes_of(d.test, a[None, :]).iloc[0]
    assert m["cost_per_1k"] == pytest.approx(expected["cost_per_1k"]) and shown(d, "cost") == round(m["cost_per_1k"], 4)
    assert shown(d, "quality") == round(m["quality"], 4) and shown(d, "cost") != before
    assert shown(d, "share-expensive") == pytest.approx((a == 1).mean(), abs=1e-3)
    assert d.marker.get_xdata()[0] == pytest.approx(m["cost_per_1k"])  # the red dot sits on the new point
    assert d.bars[1].get_height() == pytest.approx(100 * m["share_expensive"])
    assert d.image.value[:8] == b"\x89PNG\r\n\x1a\n" and d.error.value == ""


def test_three_tier_range_and_calibration(mirror):
    d = ThresholdDashboard("routerbench-arc", router="classifier", data_dir=mirror)
    assert type(d.control).__name__ == "FloatRangeSlider"
    d.calibrate()
    m = d.metrics_at(d.control.value)
    assert abs(m["share_cheap"] - 0.75) <= 0.02 and abs(m["share_mid"] - 0.20) <= 0.02
    assert shown(d, "share-mid") == round(m["share_mid"], 3)
    d.control.value = (0.0, 0.0)
    assert shown(d, "share-expensive") == pytest.approx(1.0) and shown(d, "savings") == pytest.approx(1.0)


def test_pickers_reload_and_errors_are_shown(mirror):
    d = ThresholdDashboard("routellm-gsm8k", router="classifier", data_dir=mirror)
    d.router_picker.value = "cascade-verifier"
    assert d.cascade and "rl-escalation" in d.metrics.value and d.error.value == ""
    d.dataset_picker.value = "routerbench-arc"
    assert len(d.test.tiers) == 3 and d.error.value == ""
    d.metrics_at = lambda value: 1 / 0  # a broken callback must be shown, not swallowed
    d.control.value = 0.9
    assert "ZeroDivisionError" in d.error.value


def test_willingness_to_pay_moves_from_quality_to_cost(mirror):
    w = WillingnessToPayDashboard("arena-bench", router="classifier", data_dir=mirror)
    w.control.value = 1e-4
    rich = w.metrics_at(1e-4)
    w.control.value = 10
    thrifty = w.metrics_at(10)
    assert rich["cost_per_1k"] > thrifty["cost_per_1k"] and thrifty["share_cheap"] == pytest.approx(1.0)
    assert shown(w, "share-cheap") == pytest.approx(1.0)
    w.calibrate()
    assert 0.6 <= w.metrics_at(w.control.value)["share_cheap"] <= 0.9


def test_cascade_dashboard_reports_escalation(mirror):
    c = CascadeDashboard("arena-bench", data_dir=mirror)
    low, high = c.metrics_at(0.1), c.metrics_at(0.9)
    assert high["escalation_rate"] > low["escalation_rate"] and high["cost_per_1k"] > low["cost_per_1k"]
    with pytest.raises(ValueError, match="needs a cascade router"):
        CascadeDashboard("arena-bench", router="classifier", data_dir=mirror)
    assert "ThresholdDashboard(dataset='arena-bench', router='cascade-verifier'" in repr(c)
