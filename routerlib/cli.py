"""Command line: `python -m routerlib exercise | models | calibrate`."""
from __future__ import annotations

import argparse
import json
import sys

from .backends import MissingCredentialsError
from .backends.simulated import DEFAULT_ROUTER_ACCURACY
from .catalog import Catalog, CatalogError, UnknownModelError
from .fifty_queries import ROUTERS
from .files import ensure_writable, write_json
from .metrics import finite_or_none
from .routers import names as router_names

DEFAULT_RUN_LOG = "runs/exercise-live.jsonl"


def _catalog(args) -> Catalog:
    catalog = Catalog.load()
    if args.catalog:
        catalog.update_from_file(args.catalog)
    return catalog


def cmd_exercise(args) -> int:
    from .fifty_queries import make_router, run_exercise
    from .queries import load_queries

    if args.json:
        ensure_writable(args.json)
    catalog = _catalog(args)
    queries = load_queries(args.queries) if not args.dataset else None
    backend = None
    if args.dataset:
        from . import datasets
        from .backends.replay import replay_inputs
        if args.live:
            raise ValueError("--dataset replays recorded answers; it cannot be combined with --live")
        table = datasets.load(args.dataset, args.data_dir, catalog)
        backend, queries, catalog = replay_inputs(table, args.router_accuracy, args.seed, args.limit, catalog)
        print(f"replaying {table!r} on {len(queries)} queries; tiers: {catalog.tiers}", file=sys.stderr)
    elif args.live:
        from .backends.live import OpenAIBackend
        from .backends.runlog import RunLog
        backend = OpenAIBackend(catalog, concurrency=args.concurrency)
        router = make_router(args.router, backend, catalog, args.router_model, args.seed)  # fail before any call
        backend.check_credentials([*catalog.tiers.values(), *([router.router_model] if args.router == "llm" else [])])
        backend.run_log = RunLog(args.run_log or DEFAULT_RUN_LOG)
        done = len(backend.run_log)
        print(f"live run; run log {backend.run_log.path} ({done} earlier record(s) reused where finished)",
              file=sys.stderr)
    elif args.run_log:
        print("note: --run-log records live calls; this simulated run makes none", file=sys.stderr)
    if args.limit and not args.dataset:
        print("note: --limit applies to --dataset; the query file is used whole", file=sys.stderr)
    result = run_exercise(args.router, backend=backend, queries=queries, catalog=catalog, seed=args.seed,
                          router_accuracy=args.router_accuracy, router_model=args.router_model,
                          progress=not args.quiet)
    print(result.report())
    if args.json:
        write_json(args.json, result.to_json())
        print(f"\nwrote {args.json}")
    return 0


def cmd_models(args) -> int:
    catalog = _catalog(args)
    records = catalog.records()
    if args.json:
        keep = ("name", "tier", "input_per_mtok", "output_per_mtok", "source", "date", "base_url")
        print(json.dumps([{k: r[k] for k in keep} for r in records], indent=2))
        return 0
    for r in records:
        default = " (tier default)" if catalog.tiers.get(r["tier"]) == r["name"] else ""
        print(f"{r['tier']:<10} {r['name']:<20} in ${r['input_per_mtok']:>8.3f}  out ${r['output_per_mtok']:>8.3f}"
              f" per 1M tokens  [{r['source']}, {r['date']}]{default}")
    return 0


def cmd_calibrate(args) -> int:
    from .backends.calibrate import write_calibration

    cal = write_calibration(args.data_dir, args.out)
    print(json.dumps(cal["p_acceptable"], indent=2))
    print(f"wrote {args.out or 'data/simulator_calibration.json'}")
    return 0


def cmd_data(args) -> int:
    from . import datasets

    if args.action == "list":
        table = datasets.status(args.data_dir)
        print(table.drop(columns="read_from").to_string())
        print(f"\nread from: {table['read_from'].iloc[0]} (then the cache); set ROUTERLIB_DATA_DIR or --data-dir")
        return 0
    if args.action == "verify":
        report = datasets.verify(args.names or None, args.data_dir)
        print(report.groupby(["dataset", "state"]).size().unstack(fill_value=0).to_string())
        bad = report[report["state"] == "MISMATCH"]
        for f in bad["file"]:
            print(f"MISMATCH: {f} differs from its pinned version; delete it and fetch again", file=sys.stderr)
        return 1 if len(bad) else 0
    if not args.names:
        raise ValueError(f"data {args.action} needs a dataset name; see `python -m routerlib data list`")
    if args.action == "fetch":
        from .datasets.routerbench import HUB_FILES, fetch_full
        from .datasets.sources import fetch
        for name in args.names:
            paths = ([fetch_full(name, args.data_dir)] if name in HUB_FILES
                     else fetch(datasets.get(name).files(), args.data_dir, download_missing=True))
            print(f"{name}: {len(paths)} file(s) ready")
        return 0
    for name in args.names:  # describe
        table = datasets.load(name, args.data_dir)
        info = table.describe()
        doc = {"name": table.name, "n_queries": table.n_queries, "quality_scale": table.quality_scale,
               "token_method": table.token_method, "cost_method": table.cost_method, "simulated": table.simulated,
               "models": {m: {"tier": r["tier"], "quality_mean": finite_or_none(r["quality_mean"]),
                              "cost_usd_total": finite_or_none(r["cost_usd_total"]), "n_missing": int(r["n_missing"])}
                          for m, r in info.iterrows()}}
        if args.json:
            if args.json == "-":
                print(json.dumps(doc, indent=2))
            else:
                write_json(args.json, doc)
                print(f"wrote {args.json}")
        else:
            print(f"{table!r}\n{info.to_string()}")
    return 0


def cmd_evaluate(args) -> int:
    from . import datasets
    from .evaluate import evaluate_router

    if args.json:
        ensure_writable(args.json)
    table = datasets.load(args.dataset, args.data_dir)
    result = evaluate_router(table, args.router, seed=args.seed, test_share=args.test_share,
                             router_accuracy=args.router_accuracy)
    m = result.metrics
    tag = " [SIMULATED: " + result.notes["simulated"] + "]" if result.notes.get("simulated") else ""
    print(f"{args.router} on {table.name}: fitted on {result.n_train} queries, tested on {result.n_test}{tag}")
    print(f"tiers: {dict(zip(result.tiers, result.models))}")
    print(result.singles.set_index("tier").round(4).to_string())
    rows = [("APGR (cheapest vs dearest tier)", m["apgr"]), ("CPT(50%) strong calls %", m["cpt50"]),
            ("CPT(80%) strong calls %", m["cpt80"]), ("AIQ (quality averaged over the cost range)", m["aiq"]),
            ("$ per 1k requests at 95% of best quality", m["cost_per_1k_at_95pct_best"]),
            ("all-expensive $ per 1k requests", m["all_expensive_cost_per_1k"]),
            ("savings factor at 95% of best quality", m["savings_factor_at_95pct_best"]),
            ("router overhead $ per 1k requests", m["router_cost_per_1k"]),
            ("at threshold 0.5: $ per 1k", m["at_0.5_cost_per_1k"]), ("at threshold 0.5: quality", m["at_0.5_quality"])]
    print("\n".join(f"{k:<46} {'n/a' if v != v else f'{v:.4f}'}" for k, v in rows))
    if args.json:
        write_json(args.json, result.to_json())
        print(f"wrote {args.json}")
    return 0


def cmd_compare(args) -> int:
    from . import datasets
    from .evaluate import compare

    names = args.routers or [n for n in router_names() if not n.startswith("always-") or n == "always-expensive"]
    tables = []
    for name in args.dataset:
        table = compare(datasets.load(name, args.data_dir), names=names, seed=args.seed, singles=args.singles)
        tables.append((name, table))
    for name, table in tables:
        cols = ["apgr", "cpt50", "aiq", "max_quality", "cost_per_1k_at_95pct_best", "savings_factor_at_95pct_best",
                "router_cost_per_1k", "simulated"]
        shown = table[cols].rename(columns={"max_quality": "quality (max)", "cost_per_1k_at_95pct_best": "$/1k at 95% best",
                                            "savings_factor_at_95pct_best": "savings x at 95%",
                                            "router_cost_per_1k": "router $/1k"})
        print(f"\n{name} (held-out half; pair metrics: cheapest vs dearest tier)")
        print(_markdown(shown) if args.markdown else shown.round(3).to_string())
    return 0


def cmd_published(args) -> int:
    from .evaluate import beside_routellm, routellm_published

    table = beside_routellm(args.data_dir, args.seed)
    for name, part in table.groupby("dataset", sort=False):
        shown = part.drop(columns="dataset").set_index("source")
        print(f"\n{name}: APGR and CPT(50%) (% of calls to the strong model)")
        print(_markdown(shown) if args.markdown else shown.round(3).to_string())
    print(f"\npublished figures: {routellm_published()['source']}")
    return 0


def cmd_mix_transfer(args) -> int:
    import pandas as pd

    from . import datasets
    from .evaluate import mix_transfer

    rows = [mix_transfer(datasets.load(name, args.data_dir), args.target, args.seed) for name in args.dataset]
    table = pd.DataFrame([{"dataset": r["dataset"], "train / test": f"{r['train']} / {r['test']}",
                           "target": " / ".join(f"{x:.2f}" for x in r["target"]),
                           "reached on test": " / ".join(f"{x:.3f}" for x in r["reached"]),
                           "largest miss (points)": round(r["max_miss_points"], 1)} for r in rows]).set_index("dataset")
    print(_markdown(table) if args.markdown else table.to_string())
    return 0


def cmd_bench(args) -> int:
    import pandas as pd

    from .bench import run
    from .files import write_json

    result = run(quick=args.quick, data_dir=args.data_dir)
    rows = [{"measure": k, "value": t["value"], "target": f"{'<=' if 'at_most' in t else '>='} "
             f"{t.get('at_most', t.get('at_least'))}", "met": {True: "yes", False: "NO", None: "skipped"}[t["met"]]}
            for k, t in result["targets"].items()]
    table = pd.DataFrame(rows).set_index("measure")
    print(_markdown(table) if args.markdown else table.to_string())
    for part, why in result["skipped"].items():
        print(f"skipped {part}: {why}")
    for name, why in result.get("notebooks_failed", {}).items():
        print(f"notebook failed: {name}: {why}")
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")
    return 1 if result.get("notebooks_failed") else 0


def cmd_serve(args) -> int:
    from .serve import run

    run(args.config, host=args.host, port=args.port)
    return 0


def _markdown(df) -> str:
    """A small pandas -> Markdown table (no extra dependency)."""
    def cell(v):
        return "n/a" if v is None or v != v else f"{v:.3f}" if isinstance(v, float) else str(v)
    head = "| " + " | ".join([df.index.name or ""] + list(df.columns)) + " |"
    rule = "|" + "---|" * (len(df.columns) + 1)
    rows = ["| " + " | ".join([str(i)] + [cell(v) for v in r]) + " |" for i, r in zip(df.index, df.itertuples(index=False))]
    return "\n".join([head, rule, *rows])


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _accuracy(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m routerlib", description="LLM routing lab.")
    sub = parser.add_subparsers(dest="command", required=True)

    ex = sub.add_parser("exercise", help="route the 50 exercise queries and compare costs")
    ex.add_argument("--router", choices=ROUTERS, default="llm", help="which router decides (default llm)")
    ex.add_argument("--live", action="store_true", help="real calls via OPENAI_API_KEY / OPENAI_BASE_URL")
    ex.add_argument("--run-log", help=f"JSONL log of live calls, reused to resume (default {DEFAULT_RUN_LOG})")
    ex.add_argument("--json", help="write the summary and rows to this JSON file")
    ex.add_argument("--seed", type=int, default=0, help="simulator seed")
    ex.add_argument("--router-accuracy", type=_accuracy, default=DEFAULT_ROUTER_ACCURACY,
                    help="simulated LLM router: chance its rating matches the true difficulty")
    ex.add_argument("--router-model", help="model that rates difficulty for --router llm (default: cheapest tier's)")
    ex.add_argument("--queries", help="JSONL query file (default: data/exercise_queries.jsonl)")
    ex.add_argument("--catalog", help="JSON file adding or overriding models and tier defaults")
    ex.add_argument("--dataset", help="replay recorded answers of a dataset (see `data list`) or outcome file")
    ex.add_argument("--data-dir", help="data mirror for --dataset (default: ROUTERLIB_DATA_DIR, else the cache)")
    ex.add_argument("--limit", type=_positive_int, help="with --dataset: a seeded random sample of this many queries")
    ex.add_argument("--concurrency", type=int, default=4, help="live calls in flight at once")
    ex.add_argument("--quiet", action="store_true", help="no progress bars")
    ex.set_defaults(func=cmd_exercise)

    mo = sub.add_parser("models", help="list the model catalog and prices")
    mo.add_argument("--json", action="store_true", help="print JSON")
    mo.add_argument("--catalog", help="JSON file adding or overriding models")
    mo.set_defaults(func=cmd_models)

    ev = sub.add_parser("evaluate", help="a routing strategy's curve and metrics on recorded outcomes")
    ev.add_argument("--dataset", required=True, help="dataset name (see `data list`) or a CSV/Parquet outcome file")
    ev.add_argument("--router", required=True, choices=router_names())
    ev.add_argument("--seed", type=int, default=0, help="seed of the train/test split and of random parts")
    ev.add_argument("--test-share", type=_share, default=0.5, help="share of queries held out (if no split given)")
    ev.add_argument("--router-accuracy", type=_accuracy, default=DEFAULT_ROUTER_ACCURACY,
                    help="llm router: chance the simulated rating is right")
    ev.add_argument("--data-dir", help="data mirror (default: ROUTERLIB_DATA_DIR, else the cache)")
    ev.add_argument("--json", help="write curve and metrics to this JSON file")
    ev.set_defaults(func=cmd_evaluate)

    co = sub.add_parser("compare", help="every strategy's headline metrics on recorded datasets")
    co.add_argument("--dataset", nargs="+", required=True, help="dataset names or outcome files")
    co.add_argument("--routers", nargs="+", choices=router_names(), help="default: all but always-cheap/mid")
    co.add_argument("--seed", type=int, default=0)
    co.add_argument("--data-dir", help="data mirror (default: ROUTERLIB_DATA_DIR, else the cache)")
    co.add_argument("--singles", action="store_true", help="add a row for every model of the dataset alone")
    co.add_argument("--markdown", action="store_true", help="print Markdown tables (as in the README)")
    co.set_defaults(func=cmd_compare)

    pu = sub.add_parser("published", help="the kit's routers beside RouteLLM's published APGR and CPT(50%%)")
    pu.add_argument("--seed", type=int, default=0)
    pu.add_argument("--data-dir", help="data mirror (default: ROUTERLIB_DATA_DIR, else the cache)")
    pu.add_argument("--markdown", action="store_true", help="print Markdown tables (as in the README)")
    pu.set_defaults(func=cmd_published)

    mt = sub.add_parser("mix-transfer", help="calibrate a target traffic mix on one half, check it on the other")
    mt.add_argument("--dataset", nargs="+", required=True)
    mt.add_argument("--target", nargs="+", type=float, help="shares per tier, cheap first (default 0.75 0.20 0.05)")
    mt.add_argument("--seed", type=int, default=0)
    mt.add_argument("--data-dir")
    mt.add_argument("--markdown", action="store_true")
    mt.set_defaults(func=cmd_mix_transfer)

    da = sub.add_parser("data", help="recorded datasets: list, fetch, verify, describe")
    da.add_argument("action", choices=["list", "fetch", "verify", "describe"])
    da.add_argument("names", nargs="*", help="dataset names (see `data list`) or, for describe, an outcome file")
    da.add_argument("--data-dir", help="data mirror to read (default: ROUTERLIB_DATA_DIR, else the cache)")
    da.add_argument("--json", help="describe: write JSON to this path ('-' for stdout)")
    da.set_defaults(func=cmd_data)

    sv = sub.add_parser("serve", help="serve saved routers as an OpenAI-compatible endpoint")
    sv.add_argument("--config", required=True, help="JSON serve config: router aliases, upstream, run log (see README)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    sv.set_defaults(func=cmd_serve)

    be = sub.add_parser("bench", help="speed: routing overhead, sweeps, dashboard, exercise, notebooks, server")
    be.add_argument("--quick", action="store_true", help="fewer repeats and no notebooks (about a minute)")
    be.add_argument("--json", help="write every figure, the targets and the machine to this JSON file")
    be.add_argument("--data-dir", help="data mirror (default: ROUTERLIB_DATA_DIR, else the cache)")
    be.add_argument("--markdown", action="store_true", help="print the targets as a Markdown table")
    be.set_defaults(func=cmd_bench)

    ca = sub.add_parser("calibrate", help="recompute the simulator's figures from recorded data")
    ca.add_argument("--data-dir", required=True, help="the data mirror (holding lmarena/arena-hard-auto/...)")
    ca.add_argument("--out", help="where to write (default data/simulator_calibration.json)")
    ca.set_defaults(func=cmd_calibrate)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CatalogError, UnknownModelError, MissingCredentialsError, ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished live calls are in the run log; run the same command again to resume",
              file=sys.stderr)
        return 130
