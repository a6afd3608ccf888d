"""Command line: `python -m routerlib COMMAND`; `python -m routerlib --help` lists the commands.

exercise, models, data (list, fetch, verify, describe), evaluate, compare, published, mix-transfer,
calibrate-simulator, bench, docs, serve, export, widgets (fetch). Shared flags mean the same everywhere: --data-dir,
--seed, --catalog, --tiers, --json PATH ('-' for stdout), --markdown, --dataset, --router.
"""
from __future__ import annotations

import argparse
import sys

from ..backends import MissingCredentialsError
from ..backends.simulated import DEFAULT_ROUTER_ACCURACY
from ..catalog import CatalogError, UnknownModelError
from ..datasets.sources import ALL_MEGABYTES
from ..fifty_queries import ROUTERS
from ..routers import names as router_names
from ..spread import DEFAULT_SPLITS
from . import commands as c
from .docs import docs
from .exercise import cmd_exercise
from .export import FETCH_COMMAND, cmd_export, cmd_widgets


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, got {text}")
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


def _parent(*flags) -> argparse.ArgumentParser:
    """A parent parser holding the shared flags, so each means the same in every command."""
    p = argparse.ArgumentParser(add_help=False)
    shared = {
        "data-dir": dict(help="data mirror to read (default: ROUTERLIB_DATA_DIR, else the cache)"),
        "seed": dict(type=_seed, default=0, help="seed of the split, the simulator and random parts (default 0)"),
        "catalog": dict(help="JSON file adding or overriding models, prices and tier defaults"),
        "json": dict(metavar="PATH", help="also write the results as JSON to PATH ('-' prints them)"),
        "markdown": dict(action="store_true", help="print tables as Markdown (as in README.md and docs/)"),
        "tiers": dict(metavar="MODEL=TIER,...", help="tiers by hand, cheapest first (e.g. small=cheap,big=expensive); "
                      "other models are left out. Default: catalog tiers, else inferred from mean cost per query"),
    }
    for flag in flags:
        p.add_argument(f"--{flag}", **shared[flag])
    return p


def _command(sub, name, help_text, func, parents=(), **kw):
    p = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                       parents=list(parents), allow_abbrev=False, **kw)  # documented flags are spelled in full
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m routerlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_dir, seed, catalog, json_out, markdown, tiers = (_parent(f) for f in ("data-dir", "seed", "catalog", "json",
                                                                                   "markdown", "tiers"))
    every_router = router_names(live_only=True)
    datasets_help = "dataset names (see `data list`) or CSV/Parquet/JSONL outcome files"

    ex = _command(sub, "exercise", "route the 50 exercise queries and compare costs per tier", cmd_exercise,
                  [seed, catalog, tiers, json_out, data_dir, markdown])
    ex.add_argument("--router", choices=ROUTERS, default="llm",
                    help="which router decides (default llm; llm and cascade-judge decide by simulated calls "
                         "offline; classifier is scored out of fold on the exercise's own answers)")
    ex.add_argument("--live", action="store_true", help="real calls via OPENAI_API_KEY / OPENAI_BASE_URL")
    ex.add_argument("--run-log", help=f"JSONL log of live calls, reused to resume (default {c.DEFAULT_RUN_LOG})")
    ex.add_argument("--router-accuracy", type=_accuracy, default=DEFAULT_ROUTER_ACCURACY,
                    help="simulated LLM router: chance its rating matches the true difficulty")
    ex.add_argument("--router-model", help="model that rates difficulty for --router llm (default: cheapest tier's)")
    ex.add_argument("--queries", help="JSONL query file (default: data/exercise_queries.jsonl)")
    ex.add_argument("--dataset", help="replay the recorded answers of one dataset (see `data list`) or outcome file")
    ex.add_argument("--limit", type=_positive_int, help="with --dataset: a seeded random sample of this many queries")
    ex.add_argument("--concurrency", type=_positive_int, default=4, help="live calls in flight at once (default 4)")
    ex.add_argument("--quiet", action="store_true", help="no progress bars")
    ex.add_argument("--compare", action="store_true",
                    help="simulated: one table of every strategy and baseline on the same answers, dominated marked")
    ex.add_argument("--mix", help="difficulty mix easy/medium/hard in percent, e.g. 75/20/5: queries are reweighted "
                                  "(importance weights) so the numbers are at that mix")
    ex.add_argument("--requests-per-day", type=_positive_int,
                    help="project each policy's dollars per day at this many requests (beside the material's)")
    ex.add_argument("--every-router", action="store_true",
                    help="simulated: run every router that can decide on the 50 queries and print one row each")

    _command(sub, "models", "list the model catalog: tiers, prices and their sources", c.cmd_models,
             [catalog, json_out])

    da = _command(sub, "data", "recorded datasets: list, fetch, verify, describe", c.cmd_data)
    data_sub = da.add_subparsers(dest="action", required=True, metavar="ACTION")
    _command(data_sub, "list", "datasets, where they are read from, and whether their files are present",
             c.cmd_data, [data_dir]).set_defaults(names=[])
    for action, text, parents in (
            ("fetch", "download datasets at their pinned commit (needs network; `all`: every pinned dataset, "
                      f"about {ALL_MEGABYTES} MB)", [data_dir]),
            ("verify", "check local files against their pinned sha256; exit 1 if any is missing or differs "
                       "(default: all)", [data_dir]),
            ("describe", "per model: tier, mean quality, total cost, missing values",
             [data_dir, catalog, tiers, json_out])):
        p = _command(data_sub, action, text, c.cmd_data, parents)
        p.add_argument("names", nargs="*" if action == "verify" else "+",
                       help=datasets_help if action == "describe" else "dataset names (see `data list`), or `all`")

    ev = _command(sub, "evaluate", "a router's cost-quality curve and metrics on recorded outcomes", c.cmd_evaluate,
                  [data_dir, seed, catalog, tiers, json_out])
    ev.add_argument("--dataset", nargs="+", required=True, help=datasets_help)
    ev.add_argument("--router", nargs="+", choices=every_router, metavar="ROUTER",
                    help=f"one or more of {', '.join(every_router)} (always-<tier> for each tier); required with "
                         "--models tiers. With --models all: classifier (the default; random and oracle always shown)")
    ev.add_argument("--models", choices=["tiers", "all"], default="tiers",
                    help="tiers (default): route among one model per tier; all: select among every model of the "
                         "dataset by predicted quality minus lambda x cost, swept over lambda")
    ev.add_argument("--test-share", type=_share, default=0.5, help="share of queries held out (if no split given)")
    ev.add_argument("--router-accuracy", type=_accuracy, default=DEFAULT_ROUTER_ACCURACY,
                    help="llm router: chance the simulated rating is right")
    ev.add_argument("--splits", type=_positive_int, default=DEFAULT_SPLITS,
                    help=f"random splits to repeat split, fit and score on (default {DEFAULT_SPLITS}; 1: the "
                         "dataset's own split where it has one)")
    ev.add_argument("--protocol", choices=["in-domain", "lodo"], default="in-domain",
                    help="in-domain (default): train on a half of the dataset; lodo: train on every other mirrored "
                         "dataset, test on the same halves")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")

    co = _command(sub, "compare", "every router's headline metrics on recorded datasets", c.cmd_compare,
                  [data_dir, seed, catalog, tiers, json_out, markdown])
    co.add_argument("--dataset", nargs="+", required=True, help=datasets_help)
    co.add_argument("--router", nargs="+", choices=every_router, metavar="ROUTER",
                    help="routers to compare (default: all but always-cheap and always-mid)")
    co.add_argument("--singles", action="store_true", help="add a row for every model of the dataset alone")
    co.add_argument("--splits", type=_positive_int, default=DEFAULT_SPLITS,
                    help=f"random splits per dataset (default {DEFAULT_SPLITS})")
    co.add_argument("--quiet", action="store_true", help="no progress bar")

    pu = _command(sub, "published", "the kit's routers beside RouteLLM's published APGR and CPT(50%%)",
                  c.cmd_published, [data_dir, seed, catalog, json_out, markdown])
    pu.add_argument("--splits", type=_positive_int, default=DEFAULT_SPLITS,
                    help=f"random splits for the in-domain rows (default {DEFAULT_SPLITS})")

    mt = _command(sub, "mix-transfer", "calibrate a target traffic mix on one half, check it on the other",
                  c.cmd_mix_transfer, [data_dir, seed, catalog, tiers, json_out, markdown])
    mt.add_argument("--dataset", nargs="+", required=True, help=datasets_help)
    mt.add_argument("--target", nargs="+", type=float,
                    help="shares per tier, cheap first, summing to 1 (default 0.75 0.20 0.05; two tiers 0.7 0.3)")

    ca = _command(sub, "calibrate-simulator", "recompute the simulator's figures from recorded arena-bench answers",
                  c.cmd_calibrate, [json_out], aliases=["calibrate"])
    ca.add_argument("--data-dir", required=True, help="the data mirror (holding lmarena/arena-hard-auto/...)")
    ca.add_argument("--update", action="store_true", help="rewrite data/simulator_calibration.json with the result")

    be = _command(sub, "bench", "speed: routing overhead, sweeps, dashboard, exercise, notebooks, server",
                  c.cmd_bench, [data_dir, json_out, markdown])
    be.add_argument("--quick", action="store_true", help="fewer repeats and no notebooks (about a minute)")

    dc = _command(sub, "docs", "regenerate the result tables in README.md and docs/ from their commands",
                  lambda a: docs(main, a.root, a.check, a.update, a.out, a.data_dir), [data_dir])
    dc.add_argument("--check", action="store_true", help="exit 1, naming each block, if a committed table is stale")
    dc.add_argument("--update", action="store_true", help="rewrite the stale blocks in place (tracked files)")
    dc.add_argument("--out", help="folder for the regenerated copies (default: a new temporary folder)")
    dc.add_argument("--root", default=".", help="the checkout holding README.md and docs/ (default: here)")

    sv = _command(sub, "serve", "serve saved routers as an OpenAI-compatible endpoint", c.cmd_serve)
    sv.add_argument("--config", required=True, help="JSON serve config: router aliases, upstream, run log (see docs/serving.md)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")

    xp = _command(sub, "export", "execute a notebook offline and write one HTML file whose widgets render offline",
                  cmd_export, [data_dir])
    xp.add_argument("notebook", help="the .ipynb to export (e.g. notebooks/09_threshold_dashboard.ipynb)")
    xp.add_argument("--out", metavar="FILE.html", help="where to write the HTML (default: ./<notebook name>.html)")
    xp.add_argument("--execute", action=argparse.BooleanOptionalAction, default=True,
                    help="run the notebook first, keeping its widget state (default); --no-execute: it already ran")
    xp.add_argument("--executed-out", metavar="FILE.ipynb",
                    help="also save the executed notebook, widget state included")
    xp.add_argument("--widget-manager", metavar="DIR",
                    help=f"folder holding the widget manager's embed.js (default: where `{FETCH_COMMAND}` puts it)")

    wi = _command(sub, "widgets", "the widget manager that exported HTML inlines (@jupyter-widgets/html-manager)",
                  cmd_widgets)
    wi_sub = wi.add_subparsers(dest="action", required=True, metavar="ACTION")
    wf = _command(wi_sub, "fetch", "download the widget manager (embed.js) with npm into the cache folder "
                                   "(needs npm and the registry)", cmd_widgets)
    wf.add_argument("--widget-manager", metavar="DIR", help="put it here instead of the cache folder")
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
