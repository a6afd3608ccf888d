"""What each command of `python -m routerlib` does (the parser is in cli/__init__.py)."""
from __future__ import annotations

import json
import sys

import pandas as pd

from ..catalog import Catalog
from ..files import ensure_writable, write_json
from ..metrics import finite_or_none
from ..routers import names as router_names

DEFAULT_RUN_LOG = "runs/exercise-live.jsonl"


def _catalog(args) -> Catalog:
    catalog = Catalog.load()
    if args.catalog:
        catalog.update_from_file(args.catalog)
    return catalog


def _load(args, name, catalog, show=True):
    """A dataset or outcome file and the catalog to choose its tiers from (--tiers maps them by hand)."""
    from .. import datasets
    from ..catalog import choose_tiers, parse_tiers
    from ..tables import TierTable, mapped_tiers

    table = datasets.load(name, args.data_dir, catalog)
    if getattr(args, "tiers", None):
        table, catalog = mapped_tiers(table, parse_tiers(args.tiers), catalog)
        print(f"{table.name}: {table.notes['tiers']}", file=sys.stderr)
    chosen, notes = choose_tiers(table, catalog)
    TierTable.from_table(table, chosen, notes)  # fewer than two tiers: fail here, in one line, before any work
    if show:
        print(f"{table.name}: tiers " + ", ".join(f"{t}={m}" for t, m in chosen.tiers.items()), file=sys.stderr)
        for note in notes:
            print(f"  note: {note}", file=sys.stderr)
    return table, catalog


def cmd_models(args) -> int:
    catalog = _catalog(args)
    records = catalog.records()
    if args.json:
        keep = ("name", "tier", "input_per_mtok", "output_per_mtok", "source", "date", "base_url", "ttft_ms",
                "output_tokens_per_s", "latency_source", "latency_date")
        unknown = "none recorded here; the simulator uses the tier default model's figures"
        emit_json(args.json, [{k: r[k] for k in keep} | ({} if r["ttft_ms"] else {"latency_source": unknown})
                              for r in records])
        return 0
    for r in records:
        default = " (tier default)" if catalog.tiers.get(r["tier"]) == r["name"] else ""
        speed = (f"  ttft {r['ttft_ms']:.0f} ms, {r['output_tokens_per_s']:.0f} tok/s [{r['latency_date']}]"
                 if r["ttft_ms"] else "")
        print(f"{r['tier']:<10} {r['name']:<20} in ${r['input_per_mtok']:>8.3f}  out ${r['output_per_mtok']:>8.3f}"
              f" per 1M tokens  [{r['source']}, {r['date']}]{default}{speed}")
    return 0


def cmd_calibrate(args) -> int:
    from ..backends.calibrate import calibrate
    from ..backends.simulated import CALIBRATION_FILE

    if args.json:
        ensure_writable(args.json)
    cal = calibrate(args.data_dir)
    print(json.dumps(cal["p_acceptable"], indent=2))
    if args.json:
        emit_json(args.json, cal)
    if args.update:
        write_json(CALIBRATION_FILE, cal)
        print(f"updated {CALIBRATION_FILE}")
    elif not args.json:
        print(f"(nothing written: --json PATH writes the figures, --update rewrites {CALIBRATION_FILE.name})")
    return 0


def cmd_data(args) -> int:
    from .. import datasets

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
        missing = report.loc[report["state"] == "missing", "dataset"].unique()
        if len(missing):
            names = "all" if set(missing) >= set(datasets.PINNED) else " ".join(missing)
            print(f"missing: {len(report[report['state'] == 'missing'])} file(s) of {', '.join(missing)}; run "
                  f"`python -m routerlib data fetch {names}`", file=sys.stderr)
        return 1 if len(bad) or len(missing) else 0
    if not args.names:
        raise ValueError(f"data {args.action} needs a dataset name (or `all`); see `python -m routerlib data list`")
    if args.action == "fetch":
        return _fetch(datasets, datasets.names_or_all(args.names), args.data_dir)
    if args.json:
        ensure_writable(args.json)
    docs = []
    for name in args.names:  # describe
        table, catalog = datasets.load(name, args.data_dir, _catalog(args)), _catalog(args)
        info = table.describe(catalog)
        doc = {"name": table.name, "n_queries": table.n_queries, "quality_scale": table.quality_scale,
               "token_method": table.token_method, "cost_method": table.cost_method, "simulated": table.simulated,
               "models": {m: {"tier": r["tier"], "quality_mean": finite_or_none(r["quality_mean"]),
                              "cost_usd_total": finite_or_none(r["cost_usd_total"]), "n_missing": int(r["n_missing"])}
                          for m, r in info.iterrows()}}
        docs.append(doc)
        if args.json != "-":
            print(f"{table!r}\n{info.to_string()}")
    if args.json:
        emit_json(args.json, docs[0] if len(docs) == 1 else docs)
    return 0


def _fetch(datasets, names, data_dir) -> int:
    """Download what these datasets lack; every dataset is tried, failures are listed at the end."""
    from ..datasets.routerbench import HUB_FILES, fetch_full
    from ..datasets.sources import DataNotFoundError, NoNetworkError, fetch

    failed = {}
    for name in names:
        try:
            paths = ([fetch_full(name, data_dir)] if name in HUB_FILES
                     else fetch(datasets.get(name).files(), data_dir, download_missing=True))
            print(f"{name}: {len(paths)} file(s) ready")
        except DataNotFoundError as e:
            failed[name] = str(e).splitlines()[-2:]  # why, and what to do
            print(f"{name}: NOT fetched", file=sys.stderr)
            if isinstance(e, NoNetworkError):
                break  # the rest would fail the same way
    if failed:
        print("\n".join(line for line in next(iter(failed.values())) if line.strip()), file=sys.stderr)
    return 1 if failed else 0


def cmd_evaluate(args) -> int:
    from ..spread import PROTOCOLS, evaluate_splits, lodo_sources

    if args.json:
        ensure_writable(args.json)
    catalog = _catalog(args)
    if getattr(args, "models", "tiers") == "all":
        return _evaluate_every_model(args, catalog)
    if not args.router:
        raise ValueError("evaluate needs --router (one or more) to route among tiers; --models all needs none")
    docs = []
    for dataset in args.dataset:
        table, tiers = _load(args, dataset, catalog, show=False)
        lodo = getattr(args, "protocol", "in-domain") == "lodo"
        sources = lodo_sources(table.name, args.data_dir) if lodo else None
        spreads = evaluate_splits(table, args.router, args.splits, args.seed, args.test_share, tiers,
                                  progress=not args.quiet, router_accuracy=args.router_accuracy, sources=sources,
                                  **({"deployable": False} if lodo else {}))
        print(f"protocol: {PROTOCOLS[args.protocol]}" + (f" ({', '.join(s.name for s in sources)})" if lodo else ""))
        for spread in spreads.values():
            _print_spread(spread)
            docs.append({**spread.to_json(), "protocol": PROTOCOLS[args.protocol]})
    if args.json:
        emit_json(args.json, docs[0] if len(docs) == 1 else {"evaluations": docs})
    return 0


def _evaluate_every_model(args, catalog) -> int:
    """evaluate --models all: select among every model of each dataset, beside the oracle and random (selection.py)."""
    from ..routers.selection import evaluate_selection

    tier_only = [r for r in args.router or [] if r not in ("classifier", "random", "oracle")]
    if tier_only or getattr(args, "protocol", "in-domain") != "in-domain":
        raise ValueError(f"--models all selects with the classifier's features (one ridge regression per model), "
                         f"beside random and the oracle, in-domain; {', '.join(tier_only) or '--protocol lodo'} "
                         "works with --models tiers only")
    docs = []
    for dataset in args.dataset:
        result = evaluate_selection(_load(args, dataset, catalog, show=False)[0], args.splits, args.seed,
                                    args.test_share, progress=not args.quiet)
        print(result.report() + "\n")
        docs.append(result.to_json())
    if args.json:
        emit_json(args.json, docs[0] if len(docs) == 1 else {"evaluations": docs})
    return 0


SHOWN = [("apgr", "APGR (cheapest vs dearest tier; no router cost)"), ("cpt50", "CPT(50%) strong calls %"),
         ("aiq", "AIQ (hull over every model's cost range)"),
         ("cost_per_1k_at_95pct_best", "$/1k at 95% of best (optimistic: test labels)"),
         ("savings_factor_at_95pct_best", "savings x at 95% of best (optimistic)"),
         ("router_cost_per_1k", "router overhead $/1k"), ("at_0.5_cost_per_1k", "at threshold 0.5: $/1k"),
         ("at_0.5_quality", "at threshold 0.5: quality"), ("optimal_selection_rate", "optimal selection rate"),
         ("optimal_cost_ratio", "optimal cost ratio"), ("robustness", "robustness (perturbed prompts)")]


def _print_spread(spread) -> None:
    from ..spread import spread_table, with_intervals

    e = spread.evaluations[0]
    tag = " [SIMULATED: " + e.notes["simulated"] + "]" if e.notes.get("simulated") else ""
    print(f"{spread.router} on {spread.dataset}: {len(spread.evaluations)} split(s) of {e.n_train} train / "
          f"{e.n_test} test queries{tag}")
    print("tiers (chosen on the train split): " + ", ".join(f"{t['tier']}={t['model']}" for t in e.extra["tier_models"]))
    for note in e.notes["tiers"] + ([e.notes["test_labels"]] if "test_labels" in e.notes else []):
        print(f"  note: {note}")
    if spread.apgr_note():
        print(f"  note: APGR and CPT are {spread.apgr_note()}")
    shown = with_intervals(spread_table({spread.router: spread}), [m for m, _ in SHOWN]).iloc[0]
    print("\n".join(f"  {label:<52} {shown[m]}" for m, label in SHOWN))
    for target, d in spread.deployable().items():
        print(f"  deployable, {target} (calibrated on train, measured on test): ${d['cost_per_1k']:.3f}/1k, "
              f"quality {d['quality']:.3f} ± {(d['quality_ci95'][1] - d['quality_ci95'][0]) / 2:.3f}")
    if spread.router != "random":
        print("  " + spread.vs_random()["verdict"])
    print()


def cmd_compare(args) -> int:
    from ..spread import compare, dataset_verdict, with_intervals

    if args.json:
        ensure_writable(args.json)
    names = args.router or [n for n in router_names() if not n.startswith("always-") or n == "always-expensive"]
    catalog, docs = _catalog(args), {}
    for name in args.dataset:
        table, tiers = _load(args, name, catalog)
        table = compare(table, names=names, seed=args.seed, singles=args.singles, catalog=tiers, splits=args.splits,
                        progress=not args.quiet, deployable=False)
        cols = ["apgr", "aiq", "max_quality", "cost_per_1k_at_95pct_best", "router_cost_per_1k"]
        shown = with_intervals(table, cols).rename(columns={
            "max_quality": "quality (max)", "cost_per_1k_at_95pct_best": "$/1k at 95% best (optimistic)",
            "router_cost_per_1k": "router $/1k"})
        wins = table.get("wins_vs_random", pd.Series(index=table.index, dtype=object))
        shown["vs random (AIQ wins)"] = wins.where(table.index != "random").fillna("-")
        shown["simulated"] = table["simulated"]
        print(f"\n{name}: mean ± 95% interval over {args.splits} split(s); APGR is cheapest vs dearest tier")
        print(_markdown(shown) if args.markdown else shown.to_string())
        print(f"\n{dataset_verdict(table, name)}")
        docs[name] = {"routers": {r: {k: finite_or_none(v) for k, v in row.items()} for r, row in table.iterrows()},
                      "verdict": dataset_verdict(table, name)}
    if args.json:
        emit_json(args.json, docs)
    return 0


def cmd_published(args) -> int:
    from ..published import PROTOCOL, beside_routellm, best_learned, routellm_published
    from ..spread import with_intervals

    table = beside_routellm(args.data_dir, args.seed, catalog=_catalog(args), splits=args.splits)
    for name, part in table.groupby("dataset", sort=False):
        shown = with_intervals(part.set_index("router"), ["apgr", "cpt50"])
        shown.insert(0, "protocol", part["protocol"].to_numpy())
        print(f"\n{name}: APGR and CPT(50%) (% of calls to the strong model)")
        print(_markdown(shown) if args.markdown else shown.to_string())
    print("\n" + "\n".join(best_learned(table, name) for name in table["dataset"].unique()))
    print("\nprotocols:\n" + "\n".join(f"- {k}: {v}" for k, v in PROTOCOL.items()))
    print(f"\npublished figures: {routellm_published()['source']}")
    if args.json:
        emit_json(args.json, [{k: finite_or_none(v) for k, v in r.items()} for r in table.to_dict("records")])
    return 0


def cmd_mix_transfer(args) -> int:
    from ..evaluate import mix_transfer

    catalog = _catalog(args)
    rows = [mix_transfer(table, args.target, args.seed, tiers)
            for table, tiers in (_load(args, name, catalog) for name in args.dataset)]
    table = pd.DataFrame([{"dataset": r["dataset"], "train / test": f"{r['train']} / {r['test']}",
                           "target": " / ".join(f"{x:.2f}" for x in r["target"]),
                           "reached on test": " / ".join(f"{x:.3f}" for x in r["reached"]),
                           "largest miss (points)": round(r["max_miss_points"], 1)} for r in rows]).set_index("dataset")
    print(_markdown(table) if args.markdown else table.to_string())
    if args.json:
        emit_json(args.json, rows)
    return 0


def cmd_bench(args) -> int:
    import pandas as pd

    from ..bench import run

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
        emit_json(args.json, result)
    return 1 if result.get("notebooks_failed") else 0


def cmd_serve(args) -> int:
    from ..serve import run

    run(args.config, host=args.host, port=args.port)
    return 0


def emit_json(path: str, doc) -> None:
    """Write `doc` as JSON to `path` ('-' prints it instead)."""
    if path == "-":
        print(json.dumps(doc, indent=2))
    else:
        write_json(path, doc)
        print(f"wrote {path}")


def _markdown(df) -> str:
    """A small pandas -> Markdown table (no extra dependency)."""
    def cell(v):
        return "n/a" if v is None or v != v else f"{v:.3f}" if isinstance(v, float) else str(v)
    head = "| " + " | ".join([df.index.name or ""] + list(df.columns)) + " |"
    rule = "|" + "---|" * (len(df.columns) + 1)
    rows = ["| " + " | ".join([str(i)] + [cell(v) for v in r]) + " |" for i, r in zip(df.index, df.itertuples(index=False))]
    return "\n".join([head, rule, *rows])
