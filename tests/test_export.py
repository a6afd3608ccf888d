"""`python -m routerlib export`: notebook 09's HTML, made offline, shows the dashboard in a browser that has no network.

The export runs as a subprocess whose Python processes (the kernel included) refuse every non-loopback connection
(a sitecustomize on PYTHONPATH); headless Chromium then opens the file with every http(s) request aborted, and the
slider, dropdown, metrics and the dashboard's image must be there. The widget manager (embed.js) is third-party
JS fetched by `python -m routerlib widgets fetch` (npm; .ci/run does it) into the cache. Where it, the data mirror,
playwright or /usr/bin/chromium is missing the browser test is skipped, except under CI=true, where it fails.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, mirror_dir

from routerlib.cli import build_parser
from routerlib.cli.export import (CDN_HOSTS, FETCH_COMMAND, ExportError, _with_inline_fonts, fetch_widget_manager,
                                  widgets_dir)

NOTEBOOK = REPO / "notebooks" / "09_threshold_dashboard.ipynb"
WIDGETS = widgets_dir()  # read at import, before the autouse fixture points ROUTERLIB_CACHE_DIR at an empty folder
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
RENDER_S = 60
# Loaded by every Python process of the export (PYTHONPATH): connections beyond this machine fail and are logged.
NO_NETWORK = '''
import os, socket
_connect = socket.socket.connect
def _local(address):
    host = address[0] if isinstance(address, tuple) else address
    return not isinstance(host, str) or host in ("localhost", "::1") or host.startswith("127.") or "/" in host
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address):
        with open(os.environ["ROUTERLIB_TEST_NET_LOG"], "a") as log:
            log.write(repr(address) + "\\n")
        raise OSError("network blocked by tests/test_export.py")
    return _connect(self, address)
socket.socket.connect = connect
'''


def _unavailable(reason: str):
    """Skip on a developer's machine; fail in CI, which must run this test."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _export(args, tmp: Path) -> subprocess.CompletedProcess:
    (tmp / "site").mkdir(exist_ok=True)
    (tmp / "site" / "sitecustomize.py").write_text(NO_NETWORK)
    env = dict(os.environ, ROUTERLIB_OFFLINE="1", ROUTERLIB_TEST_NET_LOG=str(tmp / "net.log"), OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(tmp / "site"), str(REPO)]), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               ROUTERLIB_CACHE_DIR=str(tmp / "cache"))  # derived files of the run go to a cache of its own
    return subprocess.run([sys.executable, "-m", "routerlib", "export", *map(str, args)], cwd=tmp, env=env,
                          text=True, capture_output=True, timeout=900)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Notebook 09 executed and exported offline: (html path, executed notebook path, seconds)."""
    data = mirror_dir()
    if data is None:
        pytest.skip("this notebook reads the recorded data; set ROUTERLIB_DATA_DIR")
    if not (WIDGETS / "embed.js").is_file():
        _unavailable(f"the widget manager is missing from {WIDGETS}: run `{FETCH_COMMAND}` (needs npm)")
    tmp = tmp_path_factory.mktemp("export")
    started = time.monotonic()
    done = _export([NOTEBOOK, "--out", tmp / "09.html", "--executed-out", tmp / "09.ipynb", "--data-dir", data,
                    "--widget-manager", WIDGETS], tmp)
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    blocked = (tmp / "net.log").read_text() if (tmp / "net.log").exists() else ""
    assert not blocked, f"the export tried the network: {blocked}"
    print(f"\nexport of {NOTEBOOK.name}: {seconds:.1f} s, {done.stdout.strip()}")
    return tmp / "09.html", tmp / "09.ipynb", seconds


def test_executed_notebook_keeps_the_widget_state_with_the_image(exported):
    _, executed, _ = exported
    nb = nbformat.read(executed, as_version=4)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    assert state["version_major"] == 2
    models = state["state"]
    names = {m["model_name"] for m in models.values()}
    assert {"FloatSliderModel", "DropdownModel", "ImageModel", "HTMLModel"} <= names, names
    images = [m for m in models.values() if m["model_name"] == "ImageModel"]
    assert all(b["path"] == ["value"] and b["encoding"] == "base64" and len(b["data"]) > 1000
               for m in images for b in m.get("buffers", [])) and all(m.get("buffers") for m in images)
    view = "application/vnd.jupyter.widget-view+json"
    views = [o["data"][view]["model_id"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if view in o.get("data", {})]
    assert views and all(v in models for v in views)


def test_html_inlines_the_widget_manager_and_loads_nothing_from_a_cdn(exported):
    html = exported[0].read_text()
    assert 'type="application/vnd.jupyter.widget-state+json"' in html
    assert '<script src="data:text/javascript;base64,' in html
    for host in CDN_HOSTS:
        assert host not in html, f"the HTML refers to {host}"
    loaded = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(https?:[^"]*)"', html)
    assert not loaded, f"the HTML loads {loaded}"


def test_html_shows_the_dashboard_in_a_browser_without_network(exported):
    html, _, _ = exported
    if importlib.util.find_spec("playwright") is None:
        _unavailable("python package 'playwright' is not installed (pip install -r requirements.txt)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    requested, errors = [], []

    def block(route):
        if route.request.url.startswith(("http:", "https:", "ws:", "wss:")):
            requested.append(route.request.url)
            return route.abort()
        return route.continue_()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1300})
            page.route("**/*", block)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # e.g. a font not loaded
            page.goto(html.as_uri(), wait_until="load", timeout=RENDER_S * 1000)
            slider = page.locator(".widget-slider")
            slider.first.wait_for(state="visible", timeout=RENDER_S * 1000)
            page.locator(".widget-dropdown").first.wait_for(state="visible")
            metrics = {cls: page.locator(f"span.{cls}").first for cls in ("rl-cost", "rl-quality")}
            for cls, span in metrics.items():
                span.wait_for(state="visible")
                assert re.search(r"\d", span.inner_text()), (cls, span.inner_text())  # a number, however formatted
            image = page.locator("img.widget-image").first
            image.wait_for(state="visible")
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                                   timeout=RENDER_S * 1000)
            page.screenshot(path=str(html.with_suffix(".png")), full_page=True)
            print(f"\nscreenshot: {html.with_suffix('.png')}")
        finally:
            browser.close()
    assert not requested, f"the page asked the network for {requested}"
    assert not errors, f"page errors: {errors}"


def test_the_icon_fonts_are_inlined_into_the_widget_manager():
    embed = WIDGETS / "embed.js"
    if not embed.is_file():
        _unavailable(f"the widget manager is missing from {WIDGETS}: run `{FETCH_COMMAND}` (needs npm)")
    script = _with_inline_fonts(embed)
    fonts = list(WIDGETS.glob("*.woff2"))
    left = [f.name for f in fonts if f'n.p+"{f.name}"'.encode() in script]
    assert not left, f"still fetched beside embed.js: {left}"
    assert script.count(b'"data:font/woff2;base64,') == len(fonts) == 3


def test_the_network_guard_refuses_and_logs_a_connection_beyond_this_machine(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NO_NETWORK)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"), ROUTERLIB_TEST_NET_LOG=str(tmp_path / "net.log"))
    code = ("import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
            "except OSError as e:\n    print(e)")
    done = subprocess.run([sys.executable, "-c", code], env=env, text=True, capture_output=True, timeout=60)
    assert "network blocked" in done.stdout and "192.0.2.1" in (tmp_path / "net.log").read_text()


def test_an_executed_notebook_exports_without_running_again(exported, tmp_path):
    _, executed, _ = exported
    done = _export([executed, "--no-execute", "--out", tmp_path / "again.html", "--widget-manager", WIDGETS], tmp_path)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "again.html").read_text()
    assert 'type="application/vnd.jupyter.widget-state+json"' in html and "ImageModel" in html
    assert not (tmp_path / "net.log").exists()


def test_a_missing_widget_manager_is_one_line_naming_the_fetch_command(tmp_path):
    done = _export([NOTEBOOK, "--out", tmp_path / "x.html", "--widget-manager", tmp_path / "empty"], tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert FETCH_COMMAND in done.stderr and "embed.js" in done.stderr
    assert not (tmp_path / "x.html").exists()


def test_fetch_without_npm_says_what_to_install(tmp_path):
    with pytest.raises(ExportError, match=r"install Node\.js/npm, or copy dist/embed\.js"):
        fetch_widget_manager(tmp_path / "w", npm="routerlib-no-such-npm")
    assert not (tmp_path / "w").exists()


def test_fetch_with_the_registry_unreachable_says_so_in_one_line(tmp_path, monkeypatch):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # nothing listens on the discard port
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    with pytest.raises(ExportError, match=r"failed \(.*127\.0\.0\.1.*\); is the npm registry reachable\?") as e:
        fetch_widget_manager(tmp_path / "w")
    assert "\n" not in str(e.value) and not (tmp_path / "w").exists()


def test_export_command_parses_with_help():
    args = build_parser().parse_args(["export", str(NOTEBOOK), "--no-execute", "--out", "x.html"])
    assert (args.execute, args.out) == (False, "x.html")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in ("export", "widgets"):
        assert sub.choices[name].description
        assert all(a.help for a in sub.choices[name]._actions if a.dest != "action"), name
    assert json.dumps(vars(build_parser().parse_args(["widgets", "fetch"])), default=str)
