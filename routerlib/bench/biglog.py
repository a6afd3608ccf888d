"""A generated million-query log: load, sweep, calibrate and a dashboard step, measured in a child process so its
peak memory is its own (`python -m routerlib.bench.biglog N DIR` prints the figures as JSON)."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4-turbo")  # catalog models of the cheap, mid and expensive tiers
WORDS = ("the a of to and in is what how why explain write code function python list sum prove integer prime "
         "translate french poem story summarise article email data table query error fix bug test value "
         "number compute derivative matrix history war capital city country question answer step").split()


def generate(folder, n: int = 1_000_000, seed: int = 0) -> tuple[Path, Path]:
    """outcomes.parquet (query x model: quality, tokens, cost) and prompts.parquet (query_id, prompt), seeded.

    Prompt lengths are log-normal (median ~300 characters, long tail to 8,000), as in chat logs; harder
    queries are longer and the cheaper models fail them more often.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from ..catalog import Catalog

    rng, folder = np.random.default_rng(seed), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    length = np.clip(rng.lognormal(np.log(300), 0.8, n), 12, 8000).astype(np.int64)
    corpus = " ".join(rng.choice(WORDS, 4_000_000)) + "?"
    start = rng.integers(0, len(corpus) - 8001, n)
    prompts = [corpus[a:a + b] for a, b in zip(start.tolist(), length.tolist())]
    ids = pa.array(np.char.add("q", np.arange(n).astype(str)))
    pq.write_table(pa.table({"query_id": ids, "prompt": pa.array(prompts, pa.large_string())}),
                   folder / "prompts.parquet")
    del prompts
    hard = np.clip(np.log(length) / np.log(8000) + rng.normal(0, 0.2, n), 0, 1)
    catalog, k = Catalog.load(), len(MODELS)
    prompt_tokens = np.maximum(length // 4, 1)
    completion = rng.integers(20, 800, (n, k))
    good_below = np.array([0.35, 0.6, 0.85])  # each model answers queries up to this difficulty, with noise
    quality = (hard[:, None] < good_below + rng.normal(0, 0.1, (n, k))).astype(float)
    cost = np.column_stack([catalog.cost(m, 0, 0) + (prompt_tokens * catalog.get(m).input_per_mtok
                                                     + completion[:, j] * catalog.get(m).output_per_mtok) / 1e6
                            for j, m in enumerate(MODELS)])
    pq.write_table(pa.table({
        "query_id": pa.array(np.repeat(np.char.add("q", np.arange(n).astype(str)), k)),
        "model": pa.array(np.tile(np.array(MODELS), n)).dictionary_encode(),
        "quality": quality.ravel(), "prompt_tokens": np.repeat(prompt_tokens, k).astype(float),
        "completion_tokens": completion.ravel().astype(float), "cost_usd": cost.ravel()}),
        folder / "outcomes.parquet")
    return folder / "outcomes.parquet", folder / "prompts.parquet"


def measure(folder, steps: int = 40) -> dict:
    """Load the generated log, sweep 200 thresholds, calibrate to a mix and a budget, step the dashboard, and last
    read the prompt text (load_log reads it on first use of `.prompts`)."""
    from ..datasets.columnar import load_log
    from ..sweep import calibrate_budget, calibrate_mix, sweep

    folder = Path(folder)
    start = time.perf_counter()
    tt = load_log(folder / "outcomes.parquet", folder / "prompts.parquet")
    load_s = time.perf_counter() - start
    rng = np.random.default_rng(1)  # router scores: noisy chance each tier is good enough
    scores = np.column_stack([np.clip(tt.quality[:, :-1] * 0.5 + rng.random((tt.n, len(tt.tiers) - 1)) * 0.5, 0, 1),
                              np.ones(tt.n)])
    start = time.perf_counter()
    sweep(tt, scores, np.linspace(0, 1, 200))
    sweep_s = time.perf_counter() - start
    budget = sweep(tt, scores, [0.5])["cost_per_1k"].iloc[0]  # a reachable budget: the cost at threshold 0.5
    start = time.perf_counter()
    calibrate_mix(scores, [0.75, 0.2, 0.05][:len(tt.tiers)] if len(tt.tiers) == 3 else [0.8, 0.2])
    calibrate_budget(tt, scores, budget)
    calibrate_s = time.perf_counter() - start
    prepare_s, step_ms = _dashboard_steps(tt, scores, steps)
    start = time.perf_counter()
    assert len(tt.prompts) == tt.n
    prompts_s = time.perf_counter() - start
    return {"log_1m_queries": tt.n, "log_1m_outcome_rows": tt.n * len(tt.tiers), "log_1m_load_s": round(load_s, 3),
            "log_1m_sweep_s": round(sweep_s, 4), "log_1m_calibrate_s": round(calibrate_s, 4),
            "log_1m_dashboard_prepare_s": round(prepare_s, 3),
            "log_1m_dashboard_update_ms": round(float(np.median(step_ms)), 2),
            "log_1m_dashboard_update_p95_ms": round(float(np.percentile(step_ms, 95)), 2),
            "log_1m_prompts_s": round(prompts_s, 3),
            "log_1m_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _dashboard_steps(tt, scores, steps: int) -> tuple[float, np.ndarray]:
    """ThresholdDashboard.from_scores on the log: seconds to build it, and ms per slider step (the widget's own
    update: metrics from presorted sums (PairSweep for three tiers), the marker and mix bars redrawn, PNG)."""
    from ..dashboards import ThresholdDashboard

    start = time.perf_counter()
    dashboard = ThresholdDashboard.from_scores(tt, scores, "generated scores")
    prepare_s = time.perf_counter() - start
    times = []
    pair = len(tt.tiers) == 3  # two sliders: the cheap tier's threshold moves, the mid tier's stays at 0.5
    for value in np.round(np.linspace(0.05, 0.95, steps), 2):
        start = time.perf_counter()
        dashboard.control.value = (float(value), 0.5) if pair else float(value)  # its observer runs update()
        times.append(time.perf_counter() - start)
    if dashboard.error.value:
        raise RuntimeError(f"the dashboard failed on the big log: {dashboard.error.value}")
    return prepare_s, np.array(times) * 1000


def big_log(n: int, folder) -> dict:
    """Generate the log in one child process, then measure it in another (its peak memory is the measured work)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"from routerlib.bench.biglog import generate; generate({str(folder)!r}, {n})"],
                   check=True, capture_output=True)
    made = time.perf_counter() - start
    out = subprocess.run([sys.executable, "-m", "routerlib.bench.biglog", str(folder)], check=True,
                         capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["log_1m_generate_s"] = round(made, 1)
    result["log_1m_workload"] = (f"a generated log of {n:,} queries x 3 tiers (Parquet: outcomes and prompts, "
                                 "log-normal prompt lengths, seed 0), in a fresh process: load to a tier table, "
                                 "sweep 200 thresholds, calibrate to a 75/20/5 mix and to a budget, 40 steps of the three-tier "
                                 "threshold dashboard (ThresholdDashboard.from_scores, its cheap slider), "
                                 "then read the prompt text on its first use (log_1m_prompts_s)")
    return result


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1])))
