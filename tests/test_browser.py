"""The dashboards in a real browser.

Voila serves notebooks/09_threshold_dashboard.ipynb (and 10_more_dashboards.ipynb) on 127.0.0.1; Debian's
headless Chromium opens it through Playwright and moves a slider with the keyboard. On 09 the numbers the page
shows must equal what ThresholdDashboard.metrics_at computes in this process for the threshold shown; on 10 the
willingness-to-pay numbers must change when lambda moves. Screenshots are saved under the test's tmp_path (and
to /tmp/routerlib-dashboard-09.png, -10.png) and must be real pictures, not blank pages.

Needs voila, playwright (pip) and /usr/bin/chromium (Debian's `chromium`; .ci/run installs it).
Where one is missing the test is skipped, except under CI=true, where it fails: CI must prove it.
"""
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

NOTEBOOK = REPO / "notebooks" / "09_threshold_dashboard.ipynb"
MORE_NOTEBOOK = REPO / "notebooks" / "10_more_dashboards.ipynb"
DATASET, ROUTER, SEED = "routellm-gsm8k", "classifier", 0  # the notebook's defaults
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
SCREENSHOT = Path("/tmp/routerlib-dashboard-{}.png")
STEPS = 15  # ArrowRight presses: 0.50 -> 0.65 with step 0.01

SERVER_START_S = 60    # Voila answering on its port
RENDER_S = 180         # the notebook executed and the slider drawn (2 cores: 10-40 s is usual)
UPDATE_S = 60          # the kernel recomputing the metrics after the slider moved
SPANS = {"threshold": "rl-threshold", "cost": "rl-cost", "quality": "rl-quality",
         "share_cheap": "rl-share-cheap", "share_expensive": "rl-share-expensive", "busy": "rl-busy"}

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    """Skip on a developer's machine; fail in CI, which must run this test."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) for every process (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        found[int(stat.parent.name)] = (int(fields[1]), fields[19])
    return found


def _descendants(pid: int) -> dict[int, str]:
    """pid -> start time of every process below pid, kernels in sessions of their own included."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in procs.items():
        children.setdefault(parent, []).append(child)
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = procs[child][1]
            todo.append(child)
    return found


def _stop(proc: subprocess.Popen):
    """SIGTERM Voila (it then shuts its kernels down); SIGKILL it and any of its processes still left."""
    below = _descendants(proc.pid)
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    alive = _processes()
    for pid, started in below.items():
        if pid in alive and alive[pid][1] == started:  # the same process, not a reused pid
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _log_tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _require_browser_deps():
    for module in ("voila", "playwright"):
        if importlib.util.find_spec(module) is None:
            _unavailable(f"python package {module!r} is not installed (pip install -r requirements.txt)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")


@contextlib.contextmanager
def _voila(data_dir: Path, tmp_path: Path, notebook: Path = NOTEBOOK):
    """Voila serving a dashboard notebook on 127.0.0.1:<free port>; yields (url, log path)."""
    assert notebook.is_file(), f"{notebook} is missing"
    port = _free_port()
    env = dict(os.environ, ROUTERLIB_DATA_DIR=str(data_dir), ROUTERLIB_OFFLINE="1",
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"), PYTHONUNBUFFERED="1")
    env.pop("BROWSER", None)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # the backend a Jupyter kernel draws with, never Agg
    cmd = [sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.port_retries=0",
           "--Voila.ip=127.0.0.1", "--Voila.log_level=INFO", "--show_tracebacks=True", str(notebook.relative_to(REPO))]
    log_path = tmp_path / "voila.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"voila exited with {proc.returncode}:\n{_log_tail(log_path)}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"voila did not answer on 127.0.0.1:{port} in {SERVER_START_S} s:\n{_log_tail(log_path)}")
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/", log_path
    finally:
        _stop(proc)


def _read(page) -> dict[str, str]:
    """The text of each metrics span, read in one go; a missing span reads as None."""
    return page.evaluate(
        """(spans) => Object.fromEntries(Object.entries(spans).map(([k, cls]) => {
               const el = document.querySelector('.' + cls);
               return [k, el ? el.textContent.trim() : null];
           }))""",
        SPANS,
    )


def _wait_for(page, predicate, timeout_s: float, what: str) -> dict[str, str]:
    """Poll the spans until predicate(shown) holds and two reads 0.5 s apart agree (no update in flight)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        shown = _read(page)
        if predicate(shown) and shown == last:
            return shown
        last = shown if predicate(shown) else None
        page.wait_for_timeout(500)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; page shows {_read(page)}")


def _expected(metrics: dict) -> dict[str, str]:
    from routerlib.dashboards import fmt_dollars, fmt_share
    return {"cost": fmt_dollars(metrics["cost_per_1k"]), "quality": f"{metrics['quality']:.3f}",
            "share_cheap": fmt_share(metrics["share_cheap"]), "share_expensive": fmt_share(metrics["share_expensive"])}


def _check_screenshot(path: Path):
    """A real picture of the page: a PNG of some size with many colours, not a blank or one-colour page."""
    from PIL import Image
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 30_000, path.stat().st_size
    with Image.open(path) as img:
        assert img.width >= 1000 and img.height >= 600, img.size
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, f"{path} has {len(colours)} colours: a blank page?"


def _drive(notebook: Path, label: str, data_dir: Path, tmp_path: Path, name: str) -> tuple[dict, dict]:
    """Open the notebook in Voila, press ArrowRight STEPS times on the slider labelled `label` (a regex), and
    return what the metrics spans showed before and after; the page is screenshot to tmp_path/<name>.png."""
    from playwright.sync_api import sync_playwright

    shot = tmp_path / f"{name}.png"
    with _voila(data_dir, tmp_path, notebook) as (url, log_path):
        started = time.monotonic()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1300})
                page.set_default_timeout(30_000)
                try:
                    page.goto(url, wait_until="commit", timeout=RENDER_S * 1000)
                    slider = page.locator(".widget-slider").filter(
                        has=page.locator(".widget-label", has_text=re.compile(label)))
                    slider.first.wait_for(state="visible", timeout=RENDER_S * 1000)
                    assert slider.count() == 1, f"{slider.count()} sliders labelled {label!r}"
                    readout = slider.locator(".widget-readout")
                    initial = _wait_for(page, lambda s: s["threshold"] is not None and s["cost"] is not None,
                                        UPDATE_S, "the metrics spans")
                    assert initial["busy"] is None, f"still busy after rendering: {initial}"
                    print(f"\n{name}: rendered in {time.monotonic() - started:.1f} s; initial {initial}")
                    before = readout.inner_text().strip()
                    slider.locator(".noUi-handle").focus()
                    for _ in range(STEPS):
                        page.keyboard.press("ArrowRight")
                    assert readout.inner_text().strip() != before, "the slider did not move on ArrowRight"
                    shown = _wait_for(page, lambda s: s["threshold"] not in (None, initial["threshold"]), UPDATE_S,
                                      "rl-threshold to show the moved slider")
                    print(f"{name}: moved in {time.monotonic() - started:.1f} s; shown {shown}")
                    page.screenshot(path=str(shot), full_page=True)
                except BaseException:
                    try:
                        page.screenshot(path=str(tmp_path / f"{name}-failure.png"), full_page=True)
                        print(f"failure screenshot: {tmp_path / f'{name}-failure.png'}")
                    except Exception as e:  # noqa: BLE001  (the failure itself is what matters)
                        print(f"no failure screenshot: {e}")
                    print(f"voila log tail:\n{_log_tail(log_path)}")
                    raise
            finally:
                browser.close()
    _check_screenshot(shot)
    shutil.copyfile(shot, Path(str(SCREENSHOT).format(name)))
    print(f"screenshot: {shot} (and {str(SCREENSHOT).format(name)})")
    return initial, shown


def test_slider_moves_the_numbers_to_what_the_package_computes(data_mirror, tmp_path):
    _require_browser_deps()
    from routerlib.dashboards import ThresholdDashboard

    initial, shown = _drive(NOTEBOOK, r"^\s*threshold\s*$", data_mirror, tmp_path, "09")
    assert initial["threshold"] == "0.50" and shown["threshold"] == f"{0.5 + STEPS * 0.01:.2f}", (initial, shown)
    dashboard = ThresholdDashboard(DATASET, router=ROUTER, seed=SEED, data_dir=data_mirror)
    for reading in (initial, shown):
        want = _expected(dashboard.metrics_at(float(reading["threshold"])))
        got = {k: reading[k] for k in want}
        assert got == want, f"at threshold {reading['threshold']} the page shows {got}, the package computes {want}"
    numbers = ("cost", "quality", "share_cheap", "share_expensive")
    assert [shown[k] for k in numbers] != [initial[k] for k in numbers], "no number changed when the slider moved"


def test_lambda_slider_moves_the_willingness_to_pay_numbers(data_mirror, tmp_path):
    _require_browser_deps()
    initial, shown = _drive(MORE_NOTEBOOK, r"^\s*lambda", data_mirror, tmp_path, "10")
    assert float(shown["threshold"]) > float(initial["threshold"]), (initial, shown)  # lambda went up
    assert shown["cost"].startswith("$") and shown["share_cheap"].endswith("%"), shown
    assert float(shown["cost"].strip("$")) < float(initial["cost"].strip("$")), "a higher lambda must cost less"
    assert float(shown["share_cheap"].rstrip("%")) > float(initial["share_cheap"].rstrip("%")), (initial, shown)
