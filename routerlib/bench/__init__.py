"""Speed benchmark: routing overhead, batch and sweep throughput, dashboard updates, the exercise command,
the notebooks, the router server, the light embeddings and peak memory, each against its target where it has one
(`python -m routerlib bench`)."""
from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import datasets

# key: (target, "max" or "min"); the mission quotes ~5 ms for a classifier router
TARGETS = {"classifier_route_p50_ms": (0.5, "max"), "rules_route_p50_ms": (0.05, "max"),
           "sweep_200x14k_s": (0.01, "max"), "widget_update_p50_ms": (100.0, "max"),
           "notebooks_total_s": (120.0, "max"), "exercise_wall_s": (5.0, "max"), "dashboard_switch_s": (1.0, "max"),
           "serve_requests_per_s": (200.0, "min"), "batch_route_per_s": (50000.0, "min"),
           "batch_vs_sklearn": (1.0, "min"), "log_1m_load_s": (5.0, "max"), "log_1m_sweep_s": (1.0, "max"),
           "log_1m_calibrate_s": (1.0, "max"), "log_1m_dashboard_update_ms": (100.0, "max"),
           "log_1m_peak_rss_mb": (2000.0, "max")}
ROUTE_DATASET, SWEEP_DATASET = "arena-bench", "routellm-mmlu"
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"  # the checkout's notebooks/, beside routerlib/


def machine() -> dict:
    """Cores, CPU model, memory and versions of this machine."""
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                   if line.startswith("MemTotal")), 0)
    import pandas
    import sklearn
    return {"cores": os.cpu_count(), "cpu_model": cpu, "memory_gib": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "numpy": np.__version__, "pandas": pandas.__version__, "scikit_learn": sklearn.__version__}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def per_call_ms(fn, items, repeats: int) -> np.ndarray:
    """Milliseconds of each call fn(item), every item `repeats` times (after one warm-up pass)."""
    for item in items:
        fn(item)
    times = []
    for _ in range(repeats):
        for item in items:
            start = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def _p(ms: np.ndarray, q: float) -> float:
    return round(float(np.percentile(ms, q)), 4)


def routing(data_dir=None, repeats: int = 20) -> dict:
    """Per-query route() latency on real chat prompts; batch scoring throughput."""
    from ..routers.cascade import HeuristicScorer, VerifierScorer
    from ..routers.classifier import ClassifierRouter
    from ..routers.llm import parse_rating
    from ..routers.rules import RuleRouter
    from ..sweep import assign
    from ..tables import train_test

    from ..routers import batch as batch_features
    train, test = train_test(datasets.load(ROUTE_DATASET, data_dir))
    batch_features.char_tables()  # built once per process
    start = time.perf_counter()
    batch_features.text_stats(["warm up"])  # the first use of the batch path: numba compiles it or loads its cache
    compile_s = time.perf_counter() - start
    queries = _queries(test.prompts)
    rules, classifier = RuleRouter(catalog=test.catalog), ClassifierRouter().fit(train)
    heuristic, verifier = HeuristicScorer(), VerifierScorer().fit(train)
    cheap_answers = [str(a) for a in test.responses[:, 0]]
    pairs = list(zip(queries, cheap_answers))
    replies = ['{"difficulty": "hard"}', "```json\n{\"difficulty\": \"easy\"}\n```", "medium", "I think: Easy."]
    rule_ms, clf_ms = per_call_ms(rules.route, queries, repeats), per_call_ms(classifier.route, queries, repeats)
    heur_ms = per_call_ms(lambda p: heuristic.score([p[0].text], [p[1]])[0] >= 0.5, pairs, repeats)
    ver_ms = per_call_ms(lambda p: verifier.score([p[0].text], [p[1]])[0] >= 0.5, pairs, max(1, repeats // 4))
    parse_ms = per_call_ms(parse_rating, replies, repeats * 50)
    batch = datasets.load(SWEEP_DATASET, data_dir)
    prompts = list(train_test(batch)[1].prompts)
    classifier.tiers_of(prompts[:100])  # warm-up
    batch_s = _best_of(lambda: classifier.tiers_of(prompts, 0.5), 3)
    plain = _sklearn_pipeline(train)
    sklearn_s = _best_of(lambda: assign(plain.predict_proba(prompts)[:, 1:], 0.5), 3)
    return {
        "route_workload": f"{len(queries)} held-out {ROUTE_DATASET} prompts (mean {np.mean([len(q.text) for q in queries]):.0f}"
                          f" chars), {repeats} passes; classifier fitted on the other {train.n}",
        "rules_route_p50_ms": _p(rule_ms, 50), "rules_route_p99_ms": _p(rule_ms, 99),
        "classifier_route_p50_ms": _p(clf_ms, 50), "classifier_route_p99_ms": _p(clf_ms, 99),
        "cascade_heuristic_decision_p50_ms": _p(heur_ms, 50), "cascade_heuristic_decision_p99_ms": _p(heur_ms, 99),
        "cascade_verifier_decision_p50_ms": _p(ver_ms, 50), "cascade_verifier_decision_p99_ms": _p(ver_ms, 99),
        "llm_router_parse_p50_ms": _p(parse_ms, 50), "llm_router_parse_p99_ms": _p(parse_ms, 99),
        "batch_route_per_s": round(len(prompts) / batch_s, 1),
        "batch_sklearn_per_s": round(len(prompts) / sklearn_s, 1), "batch_vs_sklearn": round(sklearn_s / batch_s, 2),
        "batch_path": "numba" if batch_features.JIT else "numpy (numba not installed)",
        "batch_jit_compile_s": round(compile_s, 2),
        "batch_workload": f"the same classifier scores and picks tiers for {len(prompts)} held-out {SWEEP_DATASET} "
                          "prompts in one call (best of 3, after a warm-up call; the batch path's first use, numba "
                          "compiling it or loading it from its cache, is batch_jit_compile_s); against a plain "
                          "scikit-learn TF-IDF + logistic regression pipeline fitted on the same queries, "
                          "predict_proba on the same prompts",
    }


def _best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _sklearn_pipeline(train):
    """A plain scikit-learn pipeline (TF-IDF of words and pairs, logistic regression) for the cheapest tier."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = [str(t) for t in train.prompts]
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=20000, sublinear_tf=True),
                         LogisticRegression(max_iter=2000)).fit(texts, train.good()[:, 0])


def _queries(prompts):
    from ..queries import Query
    return [Query(str(i), str(text)) for i, text in zip(prompts.index, prompts)]


def sweep_speed(data_dir=None) -> dict:
    """200 thresholds over every MMLU query (random-router scores): seconds, and thresholds x queries per second."""
    from ..routers.baselines import RandomRouter
    from ..sweep import sweep
    from ..tables import TierTable

    tt = TierTable.from_table(datasets.load(SWEEP_DATASET, data_dir))
    scores = RandomRouter(0).tier_scores(tt)
    thresholds = np.linspace(0, 1, 200)
    sweep(tt, scores, thresholds)  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        sweep(tt, scores, thresholds)
        times.append(time.perf_counter() - start)
    best = float(np.median(times))
    return {"sweep_200x14k_s": round(best, 4), "sweep_queries": tt.n,
            "sweep_threshold_queries_per_s": round(200 * tt.n / best)}


def dashboard_update(data_dir=None, updates: int = 40) -> dict:
    """A threshold change on the MMLU dashboard: re-evaluate and redraw, median and p95 over many moves."""
    from ..dashboards import ThresholdDashboard

    dash = ThresholdDashboard(SWEEP_DATASET, router="random", data_dir=data_dir, test_share=1.0)
    ms = per_call_ms(lambda v: setattr(dash.control, "value", float(v)), np.linspace(0.05, 0.95, updates), 1)
    if dash.error.value:
        raise RuntimeError(f"dashboard error: {dash.error.value}")
    return {"widget_update_p50_ms": _p(ms, 50), "widget_update_p95_ms": _p(ms, 95), "widget_queries": dash.test.n}


SWITCH_DATASETS = ("routellm-gsm8k", "routellm-mmlu", "arena-bench", "routerbench-arc")


def dashboard_switch(data_dir=None, router: str = "classifier") -> dict:
    """Picking each dataset on the threshold dashboard: the first time (load, fit, score) and again (session cache)."""
    from ..dashboards import ThresholdDashboard, clear_cache

    clear_cache()
    first, again = {}, {}
    start = time.perf_counter()
    dash = ThresholdDashboard(SWITCH_DATASETS[0], router=router, data_dir=data_dir)
    first[SWITCH_DATASETS[0]] = time.perf_counter() - start
    for times, names in ((first, SWITCH_DATASETS[1:]), (again, SWITCH_DATASETS)):
        for name in names:
            start = time.perf_counter()
            dash.dataset_picker.value = name
            times[name] = time.perf_counter() - start
            if dash.error.value or dash.name != name:
                raise RuntimeError(f"dashboard error switching to {name}: {dash.error.value}")
    clear_cache()
    return {"dashboard_first_load_s": {k: round(v, 2) for k, v in first.items()},
            "dashboard_switch_each_s": {k: round(v, 3) for k, v in again.items()},
            "dashboard_switch_s": round(max(again.values()), 3),
            "dashboard_switch_workload": f"the {router} router on {', '.join(SWITCH_DATASETS)}: picked once each "
                                         "(first load), then each again (back to a dataset already loaded)"}


def _offline_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update({"ROUTERLIB_OFFLINE": "1", "MPLBACKEND": "Agg"})
    return env


def exercise_wall() -> dict:
    """Wall time of `python -m routerlib exercise` offline, in a fresh process (imports included)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "routerlib", "exercise", "--json", str(Path(tmp) / "x.json")],
                       env=_offline_env(), check=True, capture_output=True)
        return {"exercise_wall_s": round(time.perf_counter() - start, 2)}


def notebooks(data_dir=None) -> dict:
    """Run every notebook top to bottom offline in a fresh kernel, one after another; seconds each and in all."""
    import nbformat
    from nbclient import NotebookClient

    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks in {NOTEBOOKS}; run the benchmark from a checkout")
    saved, offline = dict(os.environ), _offline_env()  # the kernels inherit os.environ: keep PATH, HOME, data dir
    offline["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # what a notebook kernel uses
    os.environ.clear()
    os.environ.update(offline)
    if data_dir:
        os.environ["ROUTERLIB_DATA_DIR"] = str(data_dir)
    each, failed = {}, {}
    try:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            try:
                NotebookClient(nb, timeout=600, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
            except Exception as e:  # one broken notebook must not lose the other figures
                failed[path.name] = str(e).strip().splitlines()[-1][:300] if str(e).strip() else type(e).__name__
            each[path.name] = round(time.perf_counter() - start, 2)
            print(f"  {path.name}: {each[path.name]} s{' FAILED' if path.name in failed else ''}",
                  file=sys.stderr, flush=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"notebooks_total_s": round(sum(each.values()), 1), "notebooks_count": len(each), "notebooks_s": each,
            "notebooks_failed": failed}


def server(quick: bool) -> dict:
    """The router server's throughput and added latency with an instant upstream (routerlib.bench.serve_load)."""
    from .serve_load import serve_load
    r = serve_load(requests=600 if quick else 3000, concurrency=8)
    out = {k: None if r[k] is None else round(r[k], 2)
           for k in ("serve_requests_per_s", "serve_added_p50_ms", "serve_added_p99_ms")}
    return {**out, "serve_errors": r["loaded"]["errors"] + r["single_client"]["errors"]}


def light_embeddings(data_dir=None, quick: bool = False) -> dict:
    """The light embedding option: install size, load, texts/s, disk cache miss and hit, route() with embeddings."""
    from ..routers.classifier import ClassifierRouter
    from ..routers.embeddings import CachedEmbedder, WordLlamaEmbedder
    from ..tables import train_test
    from .install_size import added_by

    model = WordLlamaEmbedder()  # ImportError, so the part is skipped, when the extra is not installed
    size = added_by("wordllama")
    start = time.perf_counter()
    model(["warm up"])
    load_s = time.perf_counter() - start
    texts = [str(t) for t in train_test(datasets.load(SWEEP_DATASET, data_dir))[1].prompts[:1000 if quick else 5000]]
    start = time.perf_counter()
    model(texts)
    per_s = len(texts) / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        cached = CachedEmbedder(model, root=tmp)
        seconds = []
        for _ in range(2):  # a miss computes and writes the file, a hit reads it
            start = time.perf_counter()
            cached(texts)
            seconds.append(time.perf_counter() - start)
        train, test = train_test(datasets.load(ROUTE_DATASET, data_dir))
        router = ClassifierRouter(embedder=cached).fit(train)
    queries, repeats = _queries(test.prompts), 3 if quick else 20
    embed_ms = per_call_ms(lambda q: model([q.text]), queries, repeats)
    route_ms = per_call_ms(router.route, queries, repeats)
    return {
        "embeddings_model": model.name, "embeddings_package_mb": size["package_mb"],
        "embeddings_install_mb": size["added_mb"], "embeddings_install_adds": size["adds"],
        "embeddings_load_s": round(load_s, 3), "embeddings_texts_per_s": round(per_s, 1),
        "embeddings_throughput_workload": f"{len(texts)} held-out {SWEEP_DATASET} prompts in one call",
        "embeddings_cache_miss_s": round(seconds[0], 4), "embeddings_cache_hit_s": round(seconds[1], 4),
        "embeddings_embed_p50_ms": _p(embed_ms, 50), "embeddings_embed_p99_ms": _p(embed_ms, 99),
        "embeddings_classifier_route_p50_ms": _p(route_ms, 50), "embeddings_classifier_route_p99_ms": _p(route_ms, 99),
        "embeddings_route_workload": f"{len(queries)} held-out {ROUTE_DATASET} prompts, {repeats} passes; "
                                     f"ClassifierRouter(embedder=light_embedder()) fitted on the other {train.n}",
    }


def big_log(n: int) -> dict:
    """The generated log of n queries (routerlib.bench.biglog), in child processes; ImportError without pyarrow."""
    import pyarrow  # noqa: F401  (the part is skipped without it)
    from .biglog import big_log as measure
    with tempfile.TemporaryDirectory() as tmp:
        return measure(n, tmp)


def verdicts(result: dict) -> dict:
    """Each target: the value, the limit, and whether it was met (None when the part was skipped)."""
    out = {}
    for key, (limit, kind) in TARGETS.items():
        value = result.get(key)
        met = None if value is None else (value <= limit if kind == "max" else value >= limit)
        out[key] = {"value": value, ("at_most" if kind == "max" else "at_least"): limit, "met": met}
    return out


def run(quick: bool = False, data_dir=None) -> dict:
    """Every part in turn; a part that cannot run (no data, an optional extra missing) is recorded as skipped."""
    parts = [("routing", lambda: routing(data_dir, repeats=5 if quick else 20)), ("sweep", lambda: sweep_speed(data_dir)),
             ("dashboard", lambda: dashboard_update(data_dir, 15 if quick else 40)),
             ("dashboard_switch", lambda: dashboard_switch(data_dir)), ("exercise", exercise_wall),
             ("server", lambda: server(quick)), ("embeddings", lambda: light_embeddings(data_dir, quick)),
             ("big_log", lambda: big_log(50_000 if quick else 1_000_000))]
    if not quick:
        parts.append(("notebooks", lambda: notebooks(data_dir)))
    result, skipped = {}, {}
    for name, part in parts:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            result.update(part())
        except (datasets.UnknownDatasetError, FileNotFoundError, ImportError) as e:
            lines = str(e).splitlines()  # the first line says what is missing, the last how to get it
            skipped[name] = " ".join(dict.fromkeys([lines[0], lines[-1]]))
    if quick:
        skipped["notebooks"] = "--quick"
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return {**result, "targets": verdicts(result), "skipped": skipped, "quick": quick, "machine": machine(),
            "date": time.strftime("%Y-%m-%d")}
