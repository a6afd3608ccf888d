"""routerlib: a hands-on lab for LLM routing: strategies, recorded outcomes, costs and dashboards.

The flow: datasets -> OutcomeTable -> TierTable -> a router's tier_scores -> sweep -> metrics ->
plots and dashboards; live: query -> router.route -> backend. Everything below is importable from
the top (`from routerlib import sweep_router, make_router`); modules load on first use, so `import
routerlib` stays fast and pulls in no scikit-learn, openai or starlette.
"""
from importlib import import_module

from .catalog import Catalog, Model, cost
from .queries import Query, load_queries

__version__ = "0.1.0"

_API = {  # name -> module it lives in (relative to routerlib)
    "tables": ["OutcomeTable", "TierTable", "GOOD_ENOUGH", "split", "train_test", "dataset_catalog",
               "difficulty_labels", "label_tiers", "cheapest_good_tier"],
    "sweep": ["sweep_router", "assign", "outcomes_of", "single_models", "out_of_fold_scores",
              "calibrate_mix", "calibrate_budget", "calibrate_quality", "mix_of", "cuts_for_mix", "assign_cuts"],
    "evaluate": ["Evaluation", "evaluate_router", "evaluate_all", "metrics_table", "mix_transfer", "curve_metrics"],
    "spread": ["Spread", "evaluate_splits", "compare", "spread_table", "with_intervals", "over_runs"],
    "published": ["beside_routellm", "routellm_published"],
    "metrics": ["aiq", "apgr", "cpt", "cost_at_quality", "pair_curve", "in_target_band", "TARGET_MIX",
                "savings_factor", "traffic_mix", "non_decreasing_convex_hull"],
    "monitors": ["check_all", "scenarios", "traffic_of", "UnderRoutingMonitor", "OverRoutingMonitor",
                 "RouterLatencyMonitor", "CascadeCostMonitor"],
    "dashboards": ["ThresholdDashboard", "WillingnessToPayDashboard", "CascadeDashboard"],
    "fifty_queries": ["run_exercise", "ExerciseResult", "compare_policies"],
    "fifty_queries.seeds": ["over_seeds", "spread_cells"],
    "formatting": ["readable"],
    "routers": ["Router", "Decision"],
    "routers.registry": ["make", "names"],
    "routers.base": ["DecidingCost"],
    "routers.baselines": ["RandomRouter", "AlwaysRouter", "OracleRouter", "LabelOracleRouter", "frontier"],
    "routers.rules": ["RuleRouter", "detect_task_type", "DEFAULT_TIER_MAP"],
    "routers.classifier": ["ClassifierRouter"],
    "routers.cascade": ["CascadeRouter", "HeuristicScorer", "VerifierScorer", "JudgeScorer", "LogprobScorer"],
    "routers.llm": ["LLMRouter", "parse_rating"],
    "routers.saved": ["save_router", "load_router"],
    "backends.simulated": ["SimulatedBackend", "DEFAULT_ROUTER_ACCURACY"],
    "backends.replay": ["ReplayBackend", "replay_inputs"],
    "backends.live": ["OpenAIBackend"],
    "backends.runlog": ["RunLog"],
}
# `sweep` the function stays in routerlib.sweep: a name shared with a module would be shadowed by it
_WHERE = {name: module for module, names in _API.items() for name in names}
_WHERE.update({"make_router": "routers.registry", "router_names": "routers.registry"})
_RENAMED = {"make_router": "make", "router_names": "names"}
_MODULES = ("datasets", "plots", "dashboards", "evaluate", "spread", "published", "sweep", "tables", "metrics",
            "monitors", "routers", "backends", "exercises", "fifty_queries")

__all__ = ["Catalog", "Model", "Query", "cost", "load_queries", "__version__", *_WHERE, *_MODULES]


def __getattr__(name):
    """Load a public name's module on first use."""
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), _RENAMED.get(name, name))
    elif name in _MODULES:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'routerlib' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
