"""Run any routing strategy on an outcome table: fit on a train split, sweep and score on the test split."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import datasets
from .backends.simulated import DEFAULT_ROUTER_ACCURACY
from .metrics import aiq, apgr, cost_at_quality, cpt, finite_or_none, pair_curve
from .routers import make
from .routers import names as router_names
from .routers.classifier import ClassifierRouter
from .sweep import assign, calibrate_mix, out_of_fold_scores, single_models, sweep
from .tables import OutcomeTable, TierTable, train_test

QUALITY_TARGET = 0.95  # share of the best single model's quality for the cost-at-quality figure


@dataclass
class Evaluation:
    """A router's curve and metrics on held-out queries."""

    dataset: str
    router: str
    curve: pd.DataFrame
    metrics: dict
    singles: pd.DataFrame
    tiers: list
    models: list
    n_train: int
    n_test: int
    simulated: bool
    notes: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        mix_cols = [f"share_{t}" for t in self.tiers]
        curve = [{"threshold": finite_or_none(r["threshold"]), "cost_usd": finite_or_none(r["cost_usd"]),
                  "quality": finite_or_none(r["quality"]),
                  "traffic_mix": {t: finite_or_none(r[c]) for t, c in zip(self.tiers, mix_cols)}}
                 for _, r in self.curve.iterrows()]
        return {"dataset": self.dataset, "router": self.router, "n_queries": self.n_test,
                "split": {"train": self.n_train, "test": self.n_test}, "models": dict(zip(self.tiers, self.models)),
                "simulated": self.simulated, "curve": curve,
                "metrics": {k: finite_or_none(v) for k, v in self.metrics.items()},
                "strong_quality": finite_or_none(self.metrics["strong_quality"]),
                "weak_quality": finite_or_none(self.metrics["weak_quality"]),
                "notes": self.notes}

    @property
    def mix(self) -> dict:
        """tier -> share of the test queries sent there at threshold 0.5."""
        return {t: self.metrics[f"at_0.5_share_{t}"] for t in self.tiers}

    def __repr__(self):
        m = self.metrics
        return (f"Evaluation({self.router} on {self.dataset}: APGR={m['apgr']:.3f}, AIQ={m['aiq']:.3f}, "
                f"{self.n_test} test queries)")


def evaluate_router(table: OutcomeTable, name: str, seed: int = 0, test_share: float = 0.5,
                    router_accuracy: float = DEFAULT_ROUTER_ACCURACY, halves=None, router=None,
                    catalog=None) -> Evaluation:
    """Fit on the train split, then sweep thresholds on the test split (`router` overrides the name's default)."""
    train, test = halves or train_test(table, test_share, seed, catalog)
    if train.n < 2 or test.n < 2:
        raise ValueError(f"{table.name}: a split of {train.n} train / {test.n} test queries is too small; "
                         "choose a test share that leaves at least 2 queries on each side")
    params = {"router_accuracy": router_accuracy} if name == "llm" else {}
    router = router if router is not None else make(name, test.catalog, seed, **params)
    router.fit(train)
    scores, cost = router.tier_scores(test), router.deciding_cost(test)
    curve = sweep(test, scores, cost=cost)
    singles = single_models(test)
    metrics = curve_metrics(test, scores, curve, singles)
    metrics["router_cost_per_1k"] = float(np.sum(cost.per_query)) / test.n * 1000
    at_half = sweep(test, scores, [0.5], cost).iloc[0]
    metrics.update({f"at_0.5_{k}": float(v) for k, v in at_half.items() if k != "threshold"})
    simulated = table.simulated or router.simulated
    notes = {"router": repr(router), "good_enough": "normalised quality >= 7/9 (correct, or judge score 8+)"}
    if router.simulated and not table.simulated:
        notes["simulated"] = ("LLM ratings simulated against the outcome-derived difficulty" if name == "llm"
                              else "judge verdicts simulated against the recorded quality")
    if hasattr(router, "cache_info"):
        notes["decision_cache"] = router.cache_info()
    return Evaluation(table.name, name, curve, metrics, singles, test.tiers, test.models, train.n, test.n,
                      simulated, notes)


def curve_metrics(tt: TierTable, scores: np.ndarray, curve: pd.DataFrame, singles: pd.DataFrame) -> dict:
    """Pair metrics (cheapest vs dearest tier, RouteLLM), AIQ and cost at 95% quality (RouterBench)."""
    weak, strong = float(np.nanmean(tt.quality[:, 0])), float(np.nanmean(tt.quality[:, -1]))
    pair = _pair_points(tt, scores)
    gap = strong - weak
    best = float(singles["quality"].max())
    cost_range = (float(singles["cost_per_1k"].min()), float(singles["cost_per_1k"].max()))
    at95 = cost_at_quality(curve["cost_per_1k"], curve["quality"], QUALITY_TARGET * best)
    all_top = float(singles["cost_per_1k"].iloc[-1])
    return {
        "weak_quality": weak, "strong_quality": strong, "best_single_quality": best,
        "apgr": apgr(pair["strong_pct"], pair["quality"], weak, strong) if gap else float("nan"),
        "cpt50": cpt(pair["strong_pct"], pair["quality"], weak, strong, 0.5) if gap else float("nan"),
        "cpt80": cpt(pair["strong_pct"], pair["quality"], weak, strong, 0.8) if gap else float("nan"),
        "aiq": aiq(curve["cost_per_1k"], curve["quality"], cost_range),
        "cost_per_1k_at_95pct_best": at95 if at95 is not None else float("nan"),
        "all_expensive_cost_per_1k": all_top,
        "savings_factor_at_95pct_best": all_top / at95 if at95 else float("nan"),
    }


def _pair_points(tt: TierTable, scores: np.ndarray) -> pd.DataFrame:
    """RouteLLM's curve for the cheapest and dearest tier: strong-call share against quality."""
    strong_score = 1.0 - np.asarray(scores, float)[:, 0]
    return pair_curve(strong_score, tt.quality[:, 0], tt.quality[:, -1])


def evaluate_all(table: OutcomeTable, names=None, seed: int = 0, test_share: float = 0.5, catalog=None,
                 **kw) -> dict:
    """name -> Evaluation of every named router on the same split (always-<tier> only for tiers it has)."""
    halves = train_test(table, test_share, seed, catalog)
    names = names or default_names(halves[1].tiers)
    return {n: evaluate_router(table, n, seed, halves=halves, **kw) for n in names
            if not n.startswith("always-") or n[len("always-"):] in halves[1].tiers}


def default_names(tiers) -> list:
    """Every router name but the live-only ones, with the always-<tier> family for these tiers."""
    return router_names(tiers)


HEADLINE = ("apgr", "cpt50", "cpt80", "aiq", "cost_per_1k_at_95pct_best", "savings_factor_at_95pct_best",
            "router_cost_per_1k")


def metrics_table(evaluations: dict, columns=HEADLINE) -> pd.DataFrame:
    """One row per router (name -> Evaluation): the headline metrics, the best quality reached, simulated or not."""
    rows = [{"router": name, **{k: e.metrics[k] for k in columns}, "max_quality": float(e.curve["quality"].max()),
             "simulated": e.simulated} for name, e in evaluations.items()]
    return pd.DataFrame(rows).set_index("router")


def compare(table: OutcomeTable, names=None, seed: int = 0, singles: bool = False, **kw) -> pd.DataFrame:
    """Every named router's headline metrics on the same split (and, with `singles`, every model alone)."""
    evaluations = evaluate_all(table, names, seed, **kw)
    rows = metrics_table(evaluations).reset_index().to_dict("records")
    if singles:
        e = next(iter(evaluations.values()))
        halves = train_test(table, kw.get("test_share", 0.5), seed, kw.get("catalog"))
        rows += single_model_rows(table, halves[1], e.metrics["best_single_quality"],
                                  e.metrics["all_expensive_cost_per_1k"])
    return pd.DataFrame(rows).set_index("router")


def single_model_rows(table: OutcomeTable, test: TierTable, best: float, all_top: float) -> list[dict]:
    """Each model of the table answering every held-out query: its quality, and its cost if within 95% of best."""
    ids = test.prompts.index
    quality, cost = table.wide("quality").loc[ids].mean(), table.wide("cost_usd").loc[ids].mean() * 1000
    rows = []
    for model in quality.sort_values(ascending=False).index:
        at95 = cost[model] if quality[model] >= QUALITY_TARGET * best else float("nan")
        rows.append({"router": f"model: {model}", "cost_per_1k_at_95pct_best": at95,
                     "savings_factor_at_95pct_best": all_top / at95, "router_cost_per_1k": 0.0,
                     "max_quality": float(quality[model]), "simulated": table.simulated})
    return rows




def mix_transfer(table: OutcomeTable, target=None, seed: int = 0, catalog=None) -> dict:
    """Calibrate the classifier's thresholds to a target mix on the train half, apply them to the test half.

    Thresholds come from out-of-fold scores of the train half (5 folds); the test half is scored
    by the classifier fitted on the whole train half. Returns the target, the mix reached and the
    largest miss, in share points.
    """
    train, test = train_test(table, 0.5, seed, catalog)
    target = np.asarray(target if target is not None else ([0.75, 0.20, 0.05] if len(test.tiers) == 3 else [0.7, 0.3]))
    thresholds = calibrate_mix(out_of_fold_scores(ClassifierRouter, train, seed=seed), target)
    reached = np.bincount(assign(ClassifierRouter().fit(train).tier_scores(test), thresholds),
                          minlength=len(target)) / test.n
    return {"dataset": table.name, "train": train.n, "test": test.n, "tiers": test.tiers,
            "target": target.tolist(), "reached": reached.round(4).tolist(),
            "max_miss_points": float(np.abs(reached - target).max() * 100)}


# --- beside RouteLLM's published figures ---

PUBLISHED = Path(__file__).resolve().parent.parent / "data" / "published_routellm.json"
OURS = ("random", "rules", "classifier", "cascade-verifier", "oracle")


def routellm_published(path=PUBLISHED) -> dict:
    """The published figures, their source and notes (data/published_routellm.json)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def beside_routellm(data_dir=None, seed: int = 0, routers=OURS, catalog=None) -> pd.DataFrame:
    """One row per (dataset, router): ours on the held-out half, theirs as published."""
    published, rows = routellm_published(), []
    for name, theirs in published["results"].items():
        ours = compare(datasets.load(name, data_dir, catalog), names=routers, seed=seed, catalog=catalog)
        rows += [{"dataset": name, "source": "routerlib", "router": r, "trained on": "train half of this benchmark"
                  if r in ("classifier", "cascade-verifier") else "-", "apgr": ours.at[r, "apgr"],
                  "cpt50": ours.at[r, "cpt50"]} for r in ours.index]
        rows += [{"dataset": name, "source": "RouteLLM paper", "router": t["router"], "trained on": t["trained_on"],
                  "apgr": t["apgr"], "cpt50": t["cpt50"]} for t in theirs]
    return pd.DataFrame(rows)
