"""Every notebook runs top to bottom offline in a fresh kernel, and no output shows the API key.

The course conventions are checked too: a first cell stating goal, prerequisites and mode; short code
cells; titled and labelled plots; exercises that say Not yet to their placeholders and Right in the
solutions; and a README path that lists every notebook.
"""
import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, SECRET, mirror_dir
from nbclient import NotebookClient
from takeaways import printed_forms, quoted_figures, spread_unquoted, unprinted_takeaway_figures

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
STRATEGY_NOTEBOOKS = ["03_rules", "04_classifier", "05_cascade", "06_llm_router"]
MAX_CELL_LINES = 15
INLINE = "module://matplotlib_inline.backend_inline"  # what a notebook kernel draws with
FIGURE_CHECK = (Path(__file__).parent / "figure_check.py").read_text()


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path: Path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    assert "import" in code[0].source, "first code cell is the imports"
    assert "parameters" in code[1].metadata.get("tags", []), "second code cell is tagged 'parameters'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_states_goal_prerequisites_and_mode(path: Path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    for word in ("**Goal.**", "**Prerequisites.**", "**Mode.**"):
        assert word in first.source, f"the first cell must state {word}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_are_short(path: Path):
    nb = nbformat.read(path, as_version=4)
    long = [(i, len(c.source.splitlines())) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and len(c.source.splitlines()) > MAX_CELL_LINES]
    assert not long, f"cells over {MAX_CELL_LINES} lines (index, lines): {long}"


MAX_HELPER_LINES = 5  # notebooks call the library; a longer helper belongs in routerlib


def long_helpers(source: str) -> list:
    """(name, lines) of every function a cell defines that is longer than MAX_HELPER_LINES."""
    return [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(source))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_HELPER_LINES]


def test_long_helpers_are_found():
    assert long_helpers("def f(x):\n    return x\n") == []
    assert long_helpers("def g(x):\n" + "    x += 1\n" * 5 + "    return x\n") == [("g", 7)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_define_no_long_helpers_outside_exercise_answers(path: Path):
    nb = nbformat.read(path, as_version=4)
    titles = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Exercises")]
    end = titles[-1] if titles else len(nb.cells)  # exercise answer cells may define what the exercise asks for
    found = [(i, h) for i, c in enumerate(nb.cells[:end]) if c.cell_type == "code" for h in long_helpers(c.source)]
    assert not found, f"helpers over {MAX_HELPER_LINES} lines (cell, (name, lines)): {found}"


@pytest.mark.parametrize("name", STRATEGY_NOTEBOOKS)
def test_strategy_notebooks_end_with_checked_exercises_and_have_solutions(name):
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    titles = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Exercises")]
    assert titles, "the notebook ends with an Exercises section"
    checks = [c for c in nb.cells[titles[-1]:] if c.cell_type == "code" and c.source.startswith("check_")]
    assert 2 <= len(checks) <= 3
    solutions = REPO / "notebooks" / f"{name}_solutions.ipynb"
    assert solutions.exists()
    solved = [c for c in nbformat.read(solutions, as_version=4).cells if c.source.startswith("check_")]
    assert [c.source.split("(")[0] for c in solved] == [c.source.split("(")[0] for c in checks]


@pytest.mark.parametrize("readme", ["README.md", "notebooks/README.md"])
def test_readme_lists_every_notebook(readme):
    text = (REPO / readme).read_text()
    missing = [p.name for p in NOTEBOOKS if p.name not in text]
    assert not missing, f"{readme} does not list {missing}"
    named = set(re.findall(r"\b\d\d_[\w]+\.ipynb", text))
    assert named <= {p.name for p in NOTEBOOKS}, f"{readme} names notebooks that do not exist"


@pytest.mark.parametrize("readme", ["README.md", "notebooks/README.md"])
def test_readme_rows_say_simulated_where_the_notebook_does(readme):
    """A notebook whose mode marks something SIMULATED must not be listed as plain real data."""
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\|.*?`(\d\d_\w+\.ipynb)`.*$", (REPO / readme).read_text(), re.M)}
    for path in NOTEBOOKS:
        mode = nbformat.read(path, as_version=4).cells[0].source.split("**Mode.**")[-1].split("**Time.**")[0]
        if "SIMULATED" in mode and path.name in rows:
            assert "simulated" in rows[path.name].lower(), f"{readme}: the row for {path.name} hides its simulation"


def test_notebook_path_is_in_order():
    text = (REPO / "notebooks" / "README.md").read_text()
    path = list(dict.fromkeys(re.findall(r"\b\d\d_[\w]+\.ipynb", text)))
    assert path == sorted(path, key=lambda n: (n[:2], "_solutions" in n))


def test_glossary_defines_the_terms():
    text = (REPO / "notebooks" / "GLOSSARY.md").read_text().lower()
    for term in ("tier", "threshold", "traffic mix", "escalation rate", "apgr", "cpt", "aiq", "pareto front",
                 "oracle router"):
        assert f"**{term}" in text, f"the glossary does not define {term}"
    assert "GLOSSARY.md" in (REPO / "notebooks" / "README.md").read_text()
    entries = {m.group(1): m.group(2) for m in re.finditer(r"- \*\*([a-z ]+)\*\*(.*?)(?=\n- \*\*|\Z)", text, re.S)}
    assert re.search(r"\b(least|minimum)\b", entries["cpt"]), "CPT is the *least* share of strong calls (RouteLLM)"


def _verdicts(nb) -> list:
    """The printed verdict of each exercise check cell."""
    out = []
    for c in nb.cells:
        if c.cell_type == "code" and c.source.startswith("check_"):
            out.append("".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in c.outputs))
    return out


PLOTTING = re.compile(r"\bplot_\w+\(|\.plot(\.\w+)?\(|\bplt\.(subplots|figure)\(|\.(hist|scatter|barh?)\(")


def _cells_without_image(cells) -> list:
    """Indexes of the code cells that draw (by their source) but show no image."""
    return [i for i, c in enumerate(cells) if c.cell_type == "code" and PLOTTING.search(c.source)
            and not any("image/png" in o.get("data", {}) for o in c.outputs)]


def test_plotting_cells_are_recognised():
    cells = [nbformat.v4.new_code_cell(s) for s in ("plots.plot_models(t)", "ax = s.plot.barh()", "x = 1")]
    cells[0].outputs = [nbformat.v4.new_output("display_data", {"image/png": "iVBOR"})]
    assert _cells_without_image(cells) == [1]


def _takeaway_nb(takeaway: str, printed: str, source: str = "x = 1"):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", text=printed)]
    return nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("## What to take away\n" + takeaway)])


def test_takeaway_figures_must_be_printed_above():
    printed = "savings 3.18x, quality 0.581, $0.00521 per request, 4.41 ± 0.69"
    ok = "It saves 3.18x at 58.1% ($0.00521; 4.41 ± 0.69x), in section 3 of notebook 02, against the 70-80% band."
    assert unprinted_takeaway_figures(_takeaway_nb(ok, printed)) == []
    stale = "It saves about 4.9x at 0.92 quality, $0.0061 per request, 1.3-1.5x."
    assert unprinted_takeaway_figures(_takeaway_nb(stale, printed)) == ["4.9x", "0.92", "$0.0061", "1.3-1.5x", "1.3-1.5x"]
    assert quoted_figures("`THRESHOLD = 0.85` and 12 queries") == []
    assert printed_forms("58.1", "%") == ["58.1", "0.581"] and printed_forms("0.955", "") == ["0.955", "95.5"]


def test_a_measured_spread_must_be_quoted():
    measured = "spreads = evaluate_splits(table, ['classifier'])"
    assert spread_unquoted(_takeaway_nb("saves 1.28x", "1.28x", measured))
    assert not spread_unquoted(_takeaway_nb("saves 1.28 ± 0.09x", "1.28 ± 0.09x", measured))
    assert not spread_unquoted(_takeaway_nb("saves 1.28x", "1.28x"))


def _stale_dollar_figures(nb) -> list:
    """Dollar figures ($12.34) the prose quotes that no output of this run prints: text written for older numbers."""
    printed = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                      for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    quoted = {m for c in nb.cells if c.cell_type == "markdown" for m in re.findall(r"\$(\d+\.\d\d)\b", c.source)}
    return sorted(f"${m}" for m in quoted if m not in printed)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_offline(path: Path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # present, but offline mode must never show it
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("MPLBACKEND", INLINE)  # the backend a Jupyter kernel draws with, never Agg
    nb = nbformat.read(path, as_version=4)
    if nb.metadata.get("routerlib", {}).get("needs_data"):
        if mirror_dir() is None:
            pytest.skip("this notebook reads the recorded data; set ROUTERLIB_DATA_DIR")
        monkeypatch.setenv("ROUTERLIB_DATA_DIR", str(mirror_dir()))
    # the inline backend closes each cell's figures once shown; keep them for the label check at the end
    nb.cells.insert(0, nbformat.v4.new_code_cell('get_ipython().run_line_magic("config", "InlineBackend.close_figures = False")'))
    nb.cells.append(nbformat.v4.new_code_cell(FIGURE_CHECK + "\nprint(unlabelled_axes(), len(plt.get_fignums()))"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert SECRET not in json.dumps(nb)
    problems, n_figures = nb.cells[-1].outputs[0]["text"].strip().rsplit(" ", 1)
    assert problems == "[]", f"every plot needs a title and axis labels: {problems}"
    shown = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert shown >= int(n_figures) > 0 or int(n_figures) == 0 == shown, (shown, n_figures)  # each figure drawn inline
    blank = _cells_without_image(nb.cells[:-1])  # the last cell is the label check added above
    assert not blank, f"cells that plot but show no image: {[nb.cells[i].source.splitlines()[0] for i in blank]}"
    stale = _stale_dollar_figures(nb)
    assert not stale, f"the text quotes figures the outputs do not show: {stale}"
    unprinted = unprinted_takeaway_figures(nb)
    assert not unprinted, f"the takeaways quote figures no cell above them shows: {unprinted}"
    assert not spread_unquoted(nb), "the notebook measures a spread over splits or seeds; quote it (±) in the takeaways"
    expected = "Right: " if path.stem.endswith("_solutions") else "Not yet: "  # placeholders are wrong on purpose
    assert all(v.startswith(expected) for v in _verdicts(nb)), _verdicts(nb)
