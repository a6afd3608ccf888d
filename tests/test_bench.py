"""The speed benchmark: every figure and target is reported, skipped parts say why (no timing is asserted)."""
import json

import pytest
from conftest import mirror_dir

from routerlib.bench import TARGETS, per_call_ms, verdicts
from routerlib.cli import main

KEYS = ["rules_route_p50_ms", "classifier_route_p50_ms", "classifier_route_p99_ms", "batch_route_per_s",
        "sweep_200x14k_s", "widget_update_p50_ms", "exercise_wall_s", "peak_rss_mb"]


def test_verdicts_compare_each_figure_with_its_target():
    v = verdicts({"rules_route_p50_ms": 0.04, "classifier_route_p50_ms": 0.7, "serve_requests_per_s": 150.0})
    assert v["rules_route_p50_ms"] == {"value": 0.04, "at_most": 0.05, "met": True}
    assert v["classifier_route_p50_ms"]["met"] is False
    assert v["serve_requests_per_s"] == {"value": 150.0, "at_least": 200.0, "met": False}
    assert v["notebooks_total_s"]["met"] is None and set(v) == set(TARGETS)


def test_per_call_ms_times_every_call():
    calls = []
    ms = per_call_ms(calls.append, [1, 2, 3], repeats=4)
    assert len(ms) == 12 and len(calls) == 15 and (ms >= 0).all()


def test_quick_bench_writes_every_figure(tmp_path, monkeypatch, capsys):
    if mirror_dir() is None:
        pytest.skip("data mirror not present (set ROUTERLIB_DATA_DIR)")
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--data-dir", str(mirror_dir()), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert all(doc[k] > 0 for k in KEYS + ["serve_requests_per_s", "serve_added_p99_ms"])
    assert doc["classifier_route_p99_ms"] >= doc["classifier_route_p50_ms"]
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["python"].count(".") == 2
    assert doc["skipped"] == {"notebooks": "--quick"} and doc["targets"]["notebooks_total_s"]["met"] is None
    assert doc["targets"]["sweep_200x14k_s"]["met"] == (doc["sweep_200x14k_s"] <= 0.2)
    assert "skipped notebooks: --quick" in capsys.readouterr().out


def test_bench_without_data_skips_what_needs_it(tmp_path, monkeypatch):
    monkeypatch.setattr("routerlib.bench.server", lambda quick: {})
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--data-dir", str(tmp_path / "empty"), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert {"routing", "sweep", "dashboard"} <= set(doc["skipped"]) and doc["exercise_wall_s"] > 0
    assert "ROUTERLIB_DATA_DIR" in doc["skipped"]["routing"] or "data fetch" in doc["skipped"]["routing"]
