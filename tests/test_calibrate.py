import json

import pytest

from routerlib.backends.calibrate import calibrate
from routerlib.backends.simulated import CALIBRATION_FILE


def test_committed_calibration_is_what_the_command_computes(data_mirror):
    committed = json.loads(CALIBRATION_FILE.read_text())
    fresh = json.loads(json.dumps(calibrate(data_mirror)))
    assert_close(fresh, committed)


def assert_close(fresh, committed, path="calibration"):
    """Equal in structure and text; numbers derived by numpy may differ by one rounding step (a token, 0.001)."""
    if isinstance(committed, dict):
        assert set(fresh) == set(committed), path
        for k in committed:
            assert_close(fresh[k], committed[k], f"{path}/{k}")
    elif isinstance(committed, list):
        assert len(fresh) == len(committed), path
        for i, (a, b) in enumerate(zip(fresh, committed)):
            assert_close(a, b, f"{path}/{i}")
    elif isinstance(committed, bool) or not isinstance(committed, (int, float)):
        assert fresh == committed, path
    elif path.endswith("/n") or path.split("/")[1] in ("derivation",):
        assert fresh == committed, path  # counts are exact
    else:
        step = 1 if isinstance(committed, int) else 1e-3
        assert abs(fresh - committed) <= step + 1e-9, f"{path}: computed {fresh}, committed {committed}"


def test_assert_close_catches_real_differences():
    base = {"p": {"cheap": 0.833}, "completion_tokens": {"cheap": {"median": 741, "n": 30}}}
    assert_close({"p": {"cheap": 0.834}, "completion_tokens": {"cheap": {"median": 742, "n": 30}}}, base)
    with pytest.raises(AssertionError):
        assert_close({"p": {"cheap": 0.84}, "completion_tokens": {"cheap": {"median": 741, "n": 30}}}, base)
    with pytest.raises(AssertionError):
        assert_close({"p": {"cheap": 0.833}, "completion_tokens": {"cheap": {"median": 741, "n": 31}}}, base)


def test_calibration_orders_tiers_and_difficulties():
    cal = json.loads(CALIBRATION_FILE.read_text())
    p = cal["p_acceptable"]
    for tier in p:
        assert p[tier]["easy"] > p[tier]["medium"] > p[tier]["hard"]
    for d in ("easy", "medium", "hard"):
        assert p["cheap"][d] < p["mid"][d] <= p["expensive"][d]
    assert "arena-bench-v1" in cal["simulated_from"] and cal["derivation"]["command"]
