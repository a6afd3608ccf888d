"""`python -m routerlib export NOTEBOOK`: one HTML file whose dashboards render offline; `widgets fetch` gets their JS.

The notebook is executed offline (nbclient, ROUTERLIB_OFFLINE=1, the inline matplotlib backend, in the notebook's
folder) with store_widget_state=True, so the widgets' last state (the dashboards' PNG images included, as base64
buffers) lands in the notebook metadata. nbconvert's "lab" template then writes the HTML, with three changes so
nothing is fetched from the network: the widget manager (@jupyter-widgets/html-manager's standalone dist/embed.js,
which needs no require.js) is inlined as a data: URL, its icon fonts inside it, instead of loaded from a CDN;
require.js, MathJax and Mermaid, which the template loads from cdnjs, are left out (LaTeX then shows as written).

embed.js is third-party JavaScript, so it is not in the repository: `python -m routerlib widgets fetch` runs
`npm pack` for the pinned version and keeps that file and its fonts (checked against their sha256) in the cache
folder, <cache>/widgets/html-manager-<version>/ (cache: ROUTERLIB_CACHE_DIR, else ~/.cache/routerlib).
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from ..datasets.sources import cache_dir

PACKAGE = "@jupyter-widgets/html-manager"
VERSION = "1.0.15"  # html-manager 1.x renders ipywidgets 8 state (widget state version_major 2)
FILES = {  # file in the npm package -> sha256 of version VERSION
    "dist/embed.js": "8f6d2d3f856d8595d1841dec3019d99bbe74d331f2a5178c2a33bfec729e3d6a",
    "dist/embed.js.LICENSE.txt": "aed2008aae8123157c4ae564883166b1af7bab928d504a1fa7de1f67aec11268",
    # Font Awesome 5 (SIL OFL 1.1), the buttons' icons: solid, regular, brands
    "dist/1551f4f60c37af51121f.woff2": "9834b82ad26e2a37583d22676a12dd2eb0fe7c80356a2114d0db1aa8b3899537",
    "dist/7a3337626410ca2f4071.woff2": "e42a88444448ac3d60549cc7c1ff2c8a9cac721034c073d80a14a44e79730cca",
    "dist/d878b0a6a1144760244f.woff2": "8ea8791754915a898a3100e63e32978a6d1763be6df8e73a39d3a90d691cdeef",
}
FETCH_COMMAND = "python -m routerlib widgets fetch"
MPLBACKEND = "module://matplotlib_inline.backend_inline"
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com")

# nbconvert's lab template, minus everything it would fetch from a CDN; the widget manager comes inline.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}
{%- if "widgets" in nb.metadata -%}
<!-- @jupyter-widgets/html-manager """ + VERSION + """ dist/embed.js (BSD-3-Clause), inlined: renders the widget state
     below without a kernel or network -->
<script src="{{ resources.routerlib_embed_url }}"></script>
{%- endif -%}
{% endblock jupyter_widgets %}
"""


class ExportError(Exception):
    """A problem export reports in one line, without a traceback."""


def widgets_dir() -> Path:
    """Where `widgets fetch` keeps the widget manager: <cache>/widgets/html-manager-<version>."""
    return cache_dir() / "widgets" / f"html-manager-{VERSION}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def embed_script(folder: str | Path | None = None) -> Path:
    """The local embed.js, or ExportError naming the fetch command."""
    path = Path(folder or widgets_dir()) / "embed.js"
    if not path.is_file():
        raise ExportError(f"the widget manager is missing ({path}); run `{FETCH_COMMAND}` (needs npm), or copy "
                          f"dist/embed.js of {PACKAGE}@{VERSION} there")
    return path


def _npm_reason(output: str) -> str:
    """The telling line of npm's error output ("FetchError: request to ... failed, reason: ..." or the code)."""
    lines = [line.removeprefix("npm error").strip() for line in output.splitlines() if line.strip()]
    return next((line for line in lines if "Error:" in line), next((line for line in lines if line), "no output"))


def fetch_widget_manager(folder: str | Path | None = None, npm: str = "npm") -> Path:
    """`npm pack` the pinned html-manager into a temporary folder and keep dist/embed.js (and its license notes)."""
    target = Path(folder or widgets_dir())
    if all((target / Path(name).name).is_file() and _sha256(target / Path(name).name) == digest
           for name, digest in FILES.items()):
        return target / "embed.js"
    npm_path = shutil.which(npm)
    if npm_path is None:
        raise ExportError(f"npm is not installed: install Node.js/npm, or copy dist/embed.js of {PACKAGE}@{VERSION} "
                          f"to {target}/")
    with tempfile.TemporaryDirectory(prefix="routerlib-widgets-") as tmp:
        try:
            done = subprocess.run([npm_path, "pack", f"{PACKAGE}@{VERSION}", "--loglevel=error"], cwd=tmp, text=True,
                                  capture_output=True, timeout=300)
        except subprocess.TimeoutExpired:
            done = None
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if done is None or done.returncode != 0 or not tarballs:
            why = "timed out" if done is None else _npm_reason(done.stderr or done.stdout)
            raise ExportError(f"`npm pack {PACKAGE}@{VERSION}` failed ({why}); is the npm registry reachable? "
                              f"Else install Node.js/npm, or copy dist/embed.js of {PACKAGE}@{VERSION} to {target}/")
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarballs[0]) as tar:
            for name, digest in FILES.items():
                member = tar.extractfile(f"package/{name}")
                data = member.read() if member else b""
                if hashlib.sha256(data).hexdigest() != digest:
                    raise ExportError(f"{PACKAGE}@{VERSION} {name} does not match its pinned sha256")
                part = target / (Path(name).name + ".part")
                part.write_bytes(data)
                part.replace(target / Path(name).name)
    return target / "embed.js"


def _needs(module: str):
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ExportError(f"python package {module!r} is missing: pip install -e '.[export]' (or -r requirements.txt)")


def execute(nb, folder: Path, data_dir: str | None = None, timeout: int = 600):
    """Run every cell offline in a fresh kernel, in folder, keeping the widget state in nb.metadata."""
    _needs("nbclient")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    env = dict(os.environ, ROUTERLIB_OFFLINE="1", MPLBACKEND=MPLBACKEND, PYTHONUNBUFFERED="1")
    if data_dir:
        env["ROUTERLIB_DATA_DIR"] = str(Path(data_dir).resolve())
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute(env=env)
    except CellExecutionError as e:
        cell = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.get("output_type") == "error"), None)
        why = f"{getattr(e, 'ename', '')}: {getattr(e, 'evalue', '')}"
        raise ExportError(f"cell {cell} failed: {why}") from None
    return nb


def _with_inline_fonts(embed: Path) -> bytes:
    """embed.js with its icon fonts as data: URLs: it would fetch them beside itself, and an inlined script has
    no "beside" (the browser needs only the woff2 of each face; a font not fetched leaves its icons blank)."""
    script = embed.read_bytes()
    for font in sorted(embed.parent.glob("*.woff2")):
        data = b'"data:font/woff2;base64,' + base64.b64encode(font.read_bytes()) + b'"'
        script = script.replace(b'n.p+"' + font.name.encode() + b'"', data)
    return script


def to_html(nb, embed: Path, title: str) -> str:
    """nbconvert's lab HTML with the widget manager inlined and no CDN script."""
    _needs("nbconvert")
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.raw_template = TEMPLATE
    url = "data:text/javascript;base64," + base64.b64encode(_with_inline_fonts(embed)).decode("ascii")
    html, _ = exporter.from_notebook_node(nb, resources={"routerlib_embed_url": url, "metadata": {"name": title}})
    return html


def export(notebook: str | Path, out: str | Path | None = None, run: bool = True, data_dir: str | None = None,
           widget_manager: str | Path | None = None, executed_out: str | Path | None = None) -> Path:
    """Execute (unless run=False) and export notebook to one self-contained HTML file; returns its path."""
    _needs("nbformat")
    import nbformat

    notebook = Path(notebook)
    if not notebook.is_file():
        raise ExportError(f"no notebook at {notebook}")
    embed = embed_script(widget_manager)  # before the slow part: a missing manager fails at once
    out = Path(out) if out else Path(notebook.stem + ".html")
    nb = nbformat.read(notebook, as_version=4)
    if run:
        execute(nb, notebook.resolve().parent, data_dir)
        if executed_out:
            Path(executed_out).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, executed_out)
    html = to_html(nb, embed, notebook.stem)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def cmd_export(args) -> int:
    started = time.monotonic()
    try:
        out = export(args.notebook, args.out, args.execute, args.data_dir, args.widget_manager, args.executed_out)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.0f} s")
    return 0


def cmd_widgets(args) -> int:
    try:
        path = fetch_widget_manager(args.widget_manager)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{PACKAGE}@{VERSION}: {path}")
    return 0
