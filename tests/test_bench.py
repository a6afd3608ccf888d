"""The speed benchmark: every figure and target is reported, skipped parts say why (no timing is asserted)."""
import json

import pytest
from conftest import mirror_dir

from routerlib.bench import TARGETS, per_call_ms, verdicts
from routerlib.cli import main

KEYS = ["rules_route_p50_ms", "classifier_route_p50_ms", "classifier_route_p99_ms", "batch_route_per_s",
        "sweep_200x14k_s", "widget_update_p50_ms", "exercise_wall_s", "peak_rss_mb", "batch_vs_sklearn",
        "batch_sklearn_per_s", "log_1m_load_s", "log_1m_sweep_s", "log_1m_calibrate_s", "log_1m_dashboard_update_ms",
        "log_1m_peak_rss_mb"]


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
    assert doc["classifier_route_p99_ms"] >= doc["classifier_route_p50_ms"] and doc["serve_errors"] == 0
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["python"].count(".") == 2
    assert doc["skipped"] == {"notebooks": "--quick"} and doc["targets"]["notebooks_total_s"]["met"] is None
    assert doc["targets"]["sweep_200x14k_s"]["met"] == (doc["sweep_200x14k_s"] <= 0.01)
    assert doc["log_1m_queries"] == 50_000 and doc["targets"]["batch_route_per_s"]["at_least"] == 50000
    assert doc["dashboard_switch_s"] == max(doc["dashboard_switch_each_s"].values()) > 0
    assert set(doc["dashboard_first_load_s"]) == set(doc["dashboard_switch_each_s"]) >= {"routellm-mmlu"}
    assert doc["targets"]["dashboard_switch_s"]["at_most"] == 1.0
    assert "skipped notebooks: --quick" in capsys.readouterr().out


def test_bench_without_data_skips_what_needs_it(tmp_path, monkeypatch):
    monkeypatch.setattr("routerlib.bench.server", lambda quick: {})
    monkeypatch.setattr("routerlib.bench.big_log", lambda n: {})
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--data-dir", str(tmp_path / "empty"), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert {"routing", "sweep", "dashboard", "dashboard_switch"} <= set(doc["skipped"]) and doc["exercise_wall_s"] > 0
    assert "ROUTERLIB_DATA_DIR" in doc["skipped"]["routing"] or "data fetch" in doc["skipped"]["routing"]


def test_notebook_kernels_keep_the_environment_but_go_offline(tmp_path, monkeypatch):
    import os

    import nbclient
    import nbformat

    from routerlib import bench
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "01_x.ipynb")
    seen = []
    monkeypatch.setattr(bench, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(nbclient, "NotebookClient", lambda nb, **kw: type("C", (), {
        "execute": lambda self: seen.append(dict(os.environ))})())  # a kernel starts with os.environ as it is
    monkeypatch.setenv("ROUTERLIB_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-notebooks")
    before = dict(os.environ)
    assert bench.notebooks()["notebooks_count"] == 1
    [env] = seen
    assert env["ROUTERLIB_DATA_DIR"] == str(tmp_path / "mirror") and env["PATH"] == before["PATH"]
    assert env["ROUTERLIB_OFFLINE"] == "1" and "OPENAI_API_KEY" not in env and dict(os.environ) == before


def test_server_load_counts_only_answered_requests(tmp_path):
    from routerlib.bench.serve_load import _run
    from routerlib.routers.rules import RuleRouter
    from routerlib.routers.saved import save_router
    from routerlib.serve import ServerThread, create_app
    from routerlib.serve.config import ServeConfig
    cfg = ServeConfig.from_dict({"routers": {"r": {"file": str(save_router(RuleRouter(), tmp_path / "r.json"))}},
                                 "run_log": str(tmp_path / "log.jsonl")})
    good = json.dumps({"model": "r", "messages": [{"role": "user", "content": "What is 2 + 2?"}]})
    bad = json.dumps({"model": "r", "messages": [{"role": "user", "content": " "}]})  # 400: nothing to route on
    with ServerThread(create_app(cfg)) as srv:
        failing = _run(srv.port, [bad], 20, 2, 30)
        mixed = _run(srv.port, [good, bad], 20, 2, 30)
    assert (failing["requests"], failing["errors"], failing["requests_per_s"], failing["p99_ms"]) == (20, 20, 0, None)
    assert mixed["errors"] == 10 and mixed["requests_per_s"] == pytest.approx(10 / mixed["seconds"])


def test_a_failing_notebook_is_recorded_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    import nbformat

    from routerlib import bench
    for name, code in [("01_ok.ipynb", "x = 1"), ("02_broken.ipynb", "raise ValueError('broken on purpose')"),
                       ("03_ok.ipynb", "y = 2")]:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(code)]
        nbformat.write(nb, tmp_path / name)
    monkeypatch.setattr(bench, "NOTEBOOKS", tmp_path)
    result = bench.notebooks()
    assert set(result["notebooks_s"]) == {"01_ok.ipynb", "02_broken.ipynb", "03_ok.ipynb"}
    assert list(result["notebooks_failed"]) == ["02_broken.ipynb"]
    assert "broken on purpose" in result["notebooks_failed"]["02_broken.ipynb"]
    for part in ("routing", "sweep", "dashboard", "dashboard_switch", "exercise", "server"):
        monkeypatch.setattr(bench, {"routing": "routing", "sweep": "sweep_speed", "dashboard": "dashboard_update",
                                    "dashboard_switch": "dashboard_switch", "exercise": "exercise_wall",
                                    "server": "server"}[part],
                            lambda *a, **k: {})
    out = tmp_path / "bench.json"
    assert main(["bench", "--json", str(out)]) == 1  # written, but the command says a notebook failed
    assert "notebook failed: 02_broken.ipynb" in capsys.readouterr().out
    assert json.loads(out.read_text())["notebooks_failed"]["02_broken.ipynb"]
