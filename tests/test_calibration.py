import json

from routerlib.backends.calibrate import calibrate
from routerlib.backends.simulated import CALIBRATION_FILE


def test_committed_calibration_is_what_the_command_computes(data_mirror):
    committed = json.loads(CALIBRATION_FILE.read_text())
    fresh = json.loads(json.dumps(calibrate(data_mirror)))
    assert fresh == committed


def test_calibration_orders_tiers_and_difficulties():
    cal = json.loads(CALIBRATION_FILE.read_text())
    p = cal["p_acceptable"]
    for tier in p:
        assert p[tier]["easy"] > p[tier]["medium"] > p[tier]["hard"]
    for d in ("easy", "medium", "hard"):
        assert p["cheap"][d] < p["mid"][d] <= p["expensive"][d]
    assert "arena-bench-v1" in cal["simulated_from"] and cal["derivation"]["command"]
