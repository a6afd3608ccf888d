"""Every router by name: names() lists them, make(name, **params) builds one."""
from __future__ import annotations

from ..backends.simulated import DEFAULT_ROUTER_ACCURACY
from ..catalog import Catalog

STANDARD_TIERS = ("cheap", "mid", "expensive")


def _random(catalog, seed=0, **kw):
    from .baselines import RandomRouter
    return RandomRouter(seed=seed, catalog=catalog, **kw)


def _oracle(catalog, seed=0, **kw):
    from .baselines import OracleRouter
    return OracleRouter(seed=seed, catalog=catalog, **kw)


def _label_oracle(catalog, seed=0, **kw):
    from .baselines import LabelOracleRouter
    return LabelOracleRouter(seed=seed, catalog=catalog, **kw)


def _rules(catalog, seed=0, **kw):
    from .rules import RuleRouter
    return RuleRouter(catalog=catalog, **kw)


def _classifier(catalog, seed=0, **kw):
    from .classifier import ClassifierRouter
    return ClassifierRouter(catalog=catalog, **kw)


def _cascade(scorer_name):
    def build(catalog, seed=0, thresholds=None, backend=None, **scorer_params):
        from . import cascade
        scorer = {"heuristic": cascade.HeuristicScorer, "verifier": cascade.VerifierScorer,
                  "judge": cascade.JudgeScorer, "logprob": cascade.LogprobScorer}[scorer_name]
        if scorer_name == "judge":
            scorer_params.setdefault("seed", seed)
        return cascade.CascadeRouter(scorer(**scorer_params), thresholds, backend, catalog)
    return build


def _llm(catalog, seed=0, backend=None, router_accuracy=DEFAULT_ROUTER_ACCURACY, **kw):
    """The LLM router; without a backend its ratings are simulated (seeded, at `router_accuracy`)."""
    from ..backends.simulated import SimulatedBackend
    from .llm import LLMRouter
    backend = backend or SimulatedBackend(catalog, seed=seed, router_accuracy=router_accuracy)
    return LLMRouter(backend, catalog=catalog, **kw)


def _always(tier):
    def build(catalog, seed=0, **kw):
        from .baselines import AlwaysRouter
        return AlwaysRouter(tier, catalog=catalog, **kw)
    return build


def _knn(catalog, seed=0, **kw):
    from .neighbours import KNNRouter
    return KNNRouter(catalog=catalog, **kw)


def _cluster(catalog, seed=0, **kw):
    from .neighbours import ClusterRouter
    return ClusterRouter(seed=seed, catalog=catalog, **kw)


def _mlp(catalog, seed=0, **kw):
    from .mlp import MLPRouter
    return MLPRouter(seed=seed, catalog=catalog, **kw)


def _pairwise(name):
    def build(catalog, seed=0, **kw):
        from .mf import MFRouter
        from .pairwise import SWRankingRouter
        return {"mf": MFRouter, "sw-ranking": SWRankingRouter}[name](seed=seed, catalog=catalog, **kw)
    return build


BUILDERS = {"random": _random, "oracle": _oracle, "oracle-label": _label_oracle, "rules": _rules, "classifier": _classifier,
            "cascade": _cascade("heuristic"), "cascade-verifier": _cascade("verifier"),
            "cascade-judge": _cascade("judge"), "cascade-logprob": _cascade("logprob"), "llm": _llm,
            "knn": _knn, "cluster": _cluster, "mlp": _mlp, "mf": _pairwise("mf"), "sw-ranking": _pairwise("sw-ranking")}
LIVE_ONLY = ("cascade-logprob",)  # needs live answers with log-probabilities: no recorded table has them
SIMULATED_OFFLINE = ("llm", "cascade-judge")  # their decisions are simulated on recorded outcomes


def names(tiers=STANDARD_TIERS, live_only: bool = False) -> list[str]:
    """Every router name, the always-<tier> family for `tiers` included (live-only ones on request)."""
    return [n for n in BUILDERS if live_only or n not in LIVE_ONLY] + [f"always-{t}" for t in tiers]


def make(name: str, catalog: Catalog | None = None, seed: int = 0, **params):
    """A router by name (learned ones still need fit()); `params` go to its constructor."""
    if name.startswith("always-") and len(name) > len("always-"):
        return _always(name[len("always-"):])(catalog, seed, **params)
    if name not in BUILDERS:
        raise ValueError(f"unknown router {name!r}; choose one of {', '.join(names(live_only=True))} "
                         "(always-<tier> works for any tier)")
    return BUILDERS[name](catalog, seed, **params)
