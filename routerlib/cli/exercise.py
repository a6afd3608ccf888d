"""The exercise command: one router, or every strategy in one table (--compare), at a mix, per day."""
from __future__ import annotations

import sys

from ..files import ensure_writable
from .commands import DEFAULT_RUN_LOG, _catalog, _load, _markdown, emit_json


def cmd_exercise(args) -> int:
    from ..fifty_queries.policies import parse_mix
    from ..fifty_queries import exercise_router, run_exercise
    from ..queries import load_queries

    if args.json:
        ensure_writable(args.json)
    mix = parse_mix(args.mix) if args.mix else None
    catalog = _catalog(args)
    if args.compare:
        return _compare(args, catalog, mix)
    if args.every_router and (mix or args.requests_per_day):
        raise ValueError("--mix and --requests-per-day work with one --router or with --compare, not --every-router")
    if args.every_router:
        from ..fifty_queries import every_router
        table = every_router(args.seed, args.router_accuracy, catalog)
        print(_markdown(table) if args.markdown else table.to_string())
        return 0
    queries = load_queries(args.queries) if not args.dataset else None
    backend = None
    if args.dataset:
        from ..backends.replay import replay_inputs
        if args.live:
            raise ValueError("--dataset replays recorded answers; it cannot be combined with --live")
        table, catalog = _load(args, args.dataset, catalog)
        backend, queries, catalog = replay_inputs(table, args.router_accuracy, args.seed, args.limit, catalog)
        left_out = f" ({table.n_queries - len(queries)} lacking a tier model's outcome left out)" \
            if not args.limit and len(queries) < table.n_queries else ""
        print(f"replaying {table!r} on {len(queries)} queries{left_out}", file=sys.stderr)
    elif args.live:
        from ..backends.live import OpenAIBackend
        from ..backends.runlog import RunLog
        backend = OpenAIBackend(catalog, concurrency=args.concurrency)
        router = exercise_router(args.router, backend, catalog, args.router_model, args.seed)  # fail before any call
        backend.check_credentials([*catalog.tiers.values(), *([router.router_model] if args.router == "llm" else [])])
        backend.run_log = RunLog(args.run_log or DEFAULT_RUN_LOG)
        done = len(backend.run_log)
        print(f"live run; run log {backend.run_log.path} ({done} earlier record(s) reused where finished)",
              file=sys.stderr)
    elif args.run_log:
        print("note: --run-log records live calls; this simulated run makes none", file=sys.stderr)
    if args.limit and not args.dataset:
        print("note: --limit applies to --dataset; the query file is used whole", file=sys.stderr)
    try:
        result = run_exercise(args.router, backend=backend, queries=queries, catalog=catalog, seed=args.seed,
                              router_accuracy=args.router_accuracy, router_model=args.router_model,
                              progress=not args.quiet)
    except ConnectionError as e:  # live: ServerUnreachableError, the server stopped answering at all
        if not args.live:
            raise
        log = backend.run_log
        finished = len({r["key"] for r in log.records if r["error"] is None})
        print(f"error: {e}\nstopped early, so results are partial and no report is printed: {finished} call(s) "
              f"finished and are kept in the run log {log.path}; run the same command again to resume",
              file=sys.stderr)
        return 2
    print(result.report())
    doc = result.to_json()
    if mix or args.requests_per_day:
        comp = result.policies(mix)
        doc["summary"]["at_mix"] = comp.at_mix(args.router)
        doc["policies"] = _print_policies(comp, args.requests_per_day)
    if args.json:
        emit_json(args.json, doc)
    return 0


def _compare(args, catalog, mix) -> int:
    """exercise --compare: every strategy and baseline on the same simulated answers, in one table."""
    from ..fifty_queries import compare_policies
    from ..queries import load_queries

    if args.live or args.dataset:
        raise ValueError("--compare runs every strategy on the simulated answers; drop --live/--dataset, "
                         "or run one --router at a time live")
    comp = compare_policies(args.seed, args.router_accuracy, catalog, mix,
                            load_queries(args.queries) if args.queries else None)
    doc = _print_policies(comp, args.requests_per_day, lead="")
    if args.json:
        emit_json(args.json, doc)
    return 0


def _print_policies(comp, requests_per_day, lead="\n") -> dict:
    """Print the policy table (and the daily projection); return them as JSON."""
    print(lead + comp.report())
    if requests_per_day:
        print("\n" + comp.daily_report(requests_per_day))
    return comp.to_json(requests_per_day)
