"""One router on one split of an outcome table: fit on the train split, sweep and score on the test split."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .backends.simulated import DEFAULT_ROUTER_ACCURACY
from .metrics import (aiq, apgr, cost_at_quality, cpt, finite_or_none, json_safe, optimal_cost_ratio,
                      optimal_selection_rate, pair_curve)
from .queries import perturb
from .routers import make
from .routers import names as router_names
from .routers.base import DEFAULT_THRESHOLD
from .routers.classifier import ClassifierRouter
from .sweep import (assign, calibrate_budget, calibrate_mix, calibrate_quality, out_of_fold_scores, outcomes_of,
                    single_models, sweep)
from .tables import GOOD_ENOUGH, OutcomeTable, TierTable, label_tiers, train_test

QUALITY_TARGET = 0.95  # share of the best single model's quality for the cost-at-quality figure
MIN_GAP = 0.02  # strong minus weak quality below this: APGR and CPT divide by almost nothing, so they are null
MIX_TARGETS = {2: [0.7, 0.3], 3: [0.75, 0.20, 0.05]}  # the target mix, per number of tiers
METRIC_NOTES = {
    "apgr": "RouteLLM's pair metric (cheapest vs dearest tier); counts no router or cascade cost",
    "cpt50": "% strong calls for 50% of the gap (RouteLLM); counts no router or cascade cost",
    "aiq": "RouterBench: mean of the router's non-decreasing convex hull over the cost range of every single "
           "model on the test split (0 below its cheapest point); counts router and cascade cost",
    "cost_per_1k_at_95pct_best": "least $/1k on the hull keeping 95% of the best single quality; thresholds chosen "
                                 "on the test labels (optimistic); counts router and cascade cost",
    "deployable": "thresholds calibrated on the train split, then measured on the test split",
}


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
    extra: dict = field(default_factory=dict)  # apgr_points, tier_models, deployable operating points

    def to_json(self) -> dict:
        mix_cols = [f"share_{t}" for t in self.tiers]
        curve = [{"threshold": finite_or_none(r["threshold"]), "cost_usd": finite_or_none(r["cost_usd"]),
                  "quality": finite_or_none(r["quality"]),
                  "traffic_mix": {t: finite_or_none(r[c]) for t, c in zip(self.tiers, mix_cols)}}
                 for _, r in self.curve.iterrows()]
        return {"dataset": self.dataset, "router": self.router, "n_queries": self.n_test,
                "split": {"train": self.n_train, "test": self.n_test}, "models": dict(zip(self.tiers, self.models)),
                "simulated": self.simulated, "curve": curve,
                "metrics": {k: finite_or_none(v) if not isinstance(v, str) else v for k, v in self.metrics.items()},
                "strong_quality": finite_or_none(self.metrics["strong_quality"]),
                "weak_quality": finite_or_none(self.metrics["weak_quality"]),
                **json_safe(self.extra), "notes": self.notes}

    @property
    def mix(self) -> dict:
        """tier -> share of the test queries sent there at threshold 0.5."""
        return {t: self.metrics[f"at_0.5_share_{t}"] for t in self.tiers}

    def __repr__(self):
        m = self.metrics
        apgr_text = "n/a" if m["apgr"] is None or m["apgr"] != m["apgr"] else f"{m['apgr']:.3f}"
        return f"Evaluation({self.router} on {self.dataset}: APGR={apgr_text}, AIQ={m['aiq']:.3f}, {self.n_test} test queries)"


def evaluate_router(table: OutcomeTable, name: str, seed: int = 0, test_share: float = 0.5,
                    router_accuracy: float = DEFAULT_ROUTER_ACCURACY, halves=None, router=None,
                    catalog=None, deployable: bool = True) -> Evaluation:
    """Fit on the train split, then sweep thresholds on the test split (`router` overrides the name's default).

    A router without thresholds (rules, llm, always-<tier>) has one operating point, its own.
    """
    train, test = halves or train_test(table, test_share, seed, catalog)
    if train.n < 2 or test.n < 2:
        raise ValueError(f"{table.name}: a split of {train.n} train / {test.n} test queries is too small; "
                         "choose a test share that leaves at least 2 queries on each side")
    params = {"router_accuracy": router_accuracy} if name == "llm" else {}
    router = router if router is not None else make(name, test.catalog, seed, **params)
    router.fit(train)
    scores, cost = router.tier_scores(test), router.deciding_cost(test)
    thresholds = None if router.uses_thresholds else [DEFAULT_THRESHOLD]
    curve = sweep(test, scores, thresholds, cost)
    singles, models = single_models(test), every_model(table, test)
    metrics = curve_metrics(test, scores, curve, singles, models)
    metrics["aiq_random_mix"] = random_mix_aiq(test, scores, thresholds, cost, singles, models, seed)
    metrics["router_cost_per_1k"] = float(np.sum(cost.per_query)) / test.n * 1000
    at = assign(scores, router.threshold_vector())
    point = outcomes_of(test, at[None, :], cost).iloc[0]
    metrics.update({f"at_0.5_{k}": float(v) for k, v in point.items()})
    metrics["optimal_selection_rate"] = optimal_selection_rate(at, test.quality, test.cost, GOOD_ENOUGH)
    metrics["optimal_cost_ratio"] = optimal_cost_ratio(at, test.quality, test.cost, GOOD_ENOUGH,
                                                       float(point["cost_usd"] - test.cost[np.arange(test.n), at].sum()))
    metrics["robustness"] = robustness(router, test, at, seed)
    simulated = table.simulated or router.simulated
    notes = {"router": repr(router), "good_enough": "normalised quality >= 7/9 (correct, or judge score 8+)",
             "metrics": METRIC_NOTES, "tiers": test.notes}
    if router.uses_test_labels:
        notes["test_labels"] = "this router reads the test outcomes: a reference, not a deployable router"
    if router.simulated and not table.simulated:
        notes["simulated"] = ("LLM ratings simulated against the outcome-derived difficulty" if name == "llm"
                              else "judge verdicts simulated against the recorded quality")
    if hasattr(router, "cache_info"):
        notes["decision_cache"] = router.cache_info()
    extra = {"apgr_points": metrics.pop("apgr_points"), "tier_models": tier_models(train)}
    if deployable and router.uses_thresholds:
        extra["deployable"] = deployable_points(router, train, test, scores, cost, seed)
    return Evaluation(table.name, name, curve, metrics, singles, test.tiers, test.models, train.n, test.n,
                      simulated, notes, extra)


SHUFFLES = 3  # random orders averaged for the random-mix baseline


def random_mix_aiq(tt: TierTable, scores, thresholds, cost, singles, models, seed: int = 0) -> float:
    """AIQ of random routing with the router's own traffic mix: its scores shuffled across queries (mean of 3).

    The same score distribution and mix at every threshold, with the link to the query cut: what the
    router gains over this is what it knows about queries (the hull's pick of lucky points is in both).
    """
    rng = np.random.default_rng(seed)
    return float(np.mean([hull_aiq(sweep(tt, scores[order], thresholds, cost), singles, models)
                          for order in (rng.permutation(tt.n) for _ in range(SHUFFLES))]))


def hull_aiq(curve: pd.DataFrame, singles: pd.DataFrame, models: pd.DataFrame) -> float:
    """AIQ of a curve over the single models' cost range, its hull counting each tier alone (see curve_metrics)."""
    points = pd.concat([curve[["cost_per_1k", "quality"]], singles[["cost_per_1k", "quality"]]])
    return aiq(points["cost_per_1k"], points["quality"],
               (float(models["cost_per_1k"].min()), float(models["cost_per_1k"].max())))


def curve_metrics(tt: TierTable, scores: np.ndarray, curve: pd.DataFrame, singles: pd.DataFrame,
                  models: pd.DataFrame | None = None) -> dict:
    """Pair metrics (cheapest vs dearest tier, RouteLLM), AIQ and cost at 95% quality (RouterBench).

    AIQ's cost range spans every single model of `models` (default: the tier models) on these queries;
    its hull includes each tier's model alone, which mixing with the router reaches.
    """
    best = float(singles["quality"].max())
    models = singles if models is None else models
    cost_range = (float(models["cost_per_1k"].min()), float(models["cost_per_1k"].max()))
    # any router can be mixed with sending everything to one tier (router off), so the hull counts those
    # points too: a one-point router (rules, llm) then has a curve like the others
    curve = pd.concat([curve[["cost_per_1k", "quality"]], singles[["cost_per_1k", "quality"]]])
    at95 = cost_at_quality(curve["cost_per_1k"], curve["quality"], QUALITY_TARGET * best)
    all_top = float(singles["cost_per_1k"].iloc[-1])
    return {**pair_metrics(tt, scores), "best_single_quality": best,
            "aiq": hull_aiq(curve, singles, models),
            "aiq_cost_range_per_1k": list(cost_range),
            "cost_per_1k_at_95pct_best": at95 if at95 is not None else float("nan"),
            "all_expensive_cost_per_1k": all_top,
            "savings_factor_at_95pct_best": all_top / at95 if at95 else float("nan")}


def pair_metrics(tt: TierTable, scores: np.ndarray) -> dict:
    """RouteLLM's APGR and CPT for the cheapest vs the dearest tier; null with a note on a tiny gap."""
    weak, strong = float(np.nanmean(tt.quality[:, 0])), float(np.nanmean(tt.quality[:, -1]))
    pair = _pair_points(tt, scores)
    gap = strong - weak
    fragile = gap < MIN_GAP
    pair_metric = {"apgr": lambda: apgr(pair["strong_pct"], pair["quality"], weak, strong),
                   "cpt50": lambda: cpt(pair["strong_pct"], pair["quality"], weak, strong, 0.5),
                   "cpt80": lambda: cpt(pair["strong_pct"], pair["quality"], weak, strong, 0.8)}
    return {"weak_quality": weak, "strong_quality": strong,
            **{k: None if fragile else f() for k, f in pair_metric.items()},
            "apgr_note": (f"the dearest tier's quality minus the cheapest's is {gap:+.3f} on this split, under "
                          f"{MIN_GAP} of the quality scale: the gap APGR and CPT divide by is noise") if fragile else None,
            "apgr_points": pair[["strong_pct", "quality"]].to_dict("list")}


def _pair_points(tt: TierTable, scores: np.ndarray) -> pd.DataFrame:
    """RouteLLM's curve for the cheapest and dearest tier: strong-call share against quality."""
    strong_score = 1.0 - np.asarray(scores, float)[:, 0]
    return pair_curve(strong_score, tt.quality[:, 0], tt.quality[:, -1])


def every_model(table: OutcomeTable, tt: TierTable) -> pd.DataFrame:
    """Each model of the table answering the same queries: $ per 1k requests and mean quality."""
    ids = tt.prompts.index
    return pd.DataFrame({"cost_per_1k": table.wide("cost_usd").loc[ids].mean() * 1000,
                         "quality": table.wide("quality").loc[ids].mean()}).dropna()


def tier_models(train: TierTable) -> list:
    """The tier models chosen on the train split, with their quality and $ per 1k requests there."""
    return [{"tier": t, "model": m, "quality": float(np.nanmean(train.quality[:, k])),
             "cost_per_1k": float(train.cost[:, k].mean() * 1000)} for k, (t, m) in enumerate(zip(train.tiers, train.models))]


def robustness(router, tt: TierTable, decided: np.ndarray, seed: int = 0, variants: int = 2,
               sample: int = 1000) -> float:
    """Share of decisions unchanged when a prompt gets a seeded, meaning-preserving edit (RouterArena).

    Measured on a seeded sample of at most `sample` queries, `variants` edits each.
    """
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(tt.n)[:sample])
    part = tt.take(rows)
    same = []
    for _ in range(variants):
        edited = TierTable(**{**vars(part), "prompts": part.prompts.map(lambda p: perturb(p, rng))})
        same.append(assign(router.tier_scores(edited), router.threshold_vector()) == decided[rows])
    return float(np.mean(same))


def deployable_points(router, train: TierTable, test: TierTable, scores, cost, seed: int = 0) -> dict:
    """Thresholds calibrated on the train split (learned routers: out-of-fold scores), measured on the test split.

    Targets: 95% of the best single quality, the seed's traffic mix, and a budget of half the
    all-expensive cost.
    """
    if not router.uses_test_labels and router.fitted_part() is not None:  # learned: its own train scores flatter it
        train_scores = out_of_fold_scores(lambda: make(router.name, router.catalog, seed, **router.settings()), train,
                                          folds=3, seed=seed)
    else:
        train_scores = router.tier_scores(train)
    train_cost = router.deciding_cost(train)
    all_top = float(train.cost[:, -1].mean() * 1000)
    chosen = {}
    for target, pick in [("quality_95pct", lambda: calibrate_quality(train, train_scores, QUALITY_TARGET, train_cost)),
                         ("budget_half", lambda: calibrate_budget(train, train_scores, all_top / 2, train_cost))]:
        try:
            chosen[target] = [float(pick()["threshold"])] * (len(test.tiers) - 1)
        except ValueError:
            chosen[target] = None
    chosen["mix"] = calibrate_mix(train_scores, MIX_TARGETS.get(len(test.tiers), [1 / len(test.tiers)] * len(test.tiers))).tolist()
    out = {}
    for target, t in chosen.items():
        if t is None:
            out[target] = {"reached_on_train": False}
            continue
        row = outcomes_of(test, assign(scores, t)[None, :], cost).iloc[0]
        out[target] = {"thresholds": t, "cost_per_1k": float(row["cost_per_1k"]), "quality": float(row["quality"]),
                       "traffic_mix": {tier: float(row[f"share_{tier}"]) for tier in test.tiers}}
    out["targets"] = {"quality_95pct": QUALITY_TARGET, "budget_half_per_1k": all_top / 2,
                      "mix": MIX_TARGETS.get(len(test.tiers))}
    return out


def evaluate_all(table: OutcomeTable, names=None, seed: int = 0, test_share: float = 0.5, catalog=None,
                 halves=None, **kw) -> dict:
    """name -> Evaluation of every named router on the same split (always-<tier> only for tiers it has)."""
    halves = halves or train_test(table, test_share, seed, catalog)
    names = names or router_names(halves[1].tiers)
    return {n: evaluate_router(table, n, seed, halves=halves, **kw) for n in names
            if not n.startswith("always-") or n[len("always-"):] in halves[1].tiers}


HEADLINE = ("apgr", "cpt50", "cpt80", "aiq", "cost_per_1k_at_95pct_best", "savings_factor_at_95pct_best",
            "router_cost_per_1k", "optimal_selection_rate", "optimal_cost_ratio", "robustness")


def metrics_table(evaluations: dict, columns=HEADLINE) -> pd.DataFrame:
    """One row per router (name -> Evaluation): the headline metrics, the best quality reached, simulated or not."""
    rows = [{"router": name, **{k: e.metrics[k] for k in columns}, "max_quality": float(e.curve["quality"].max()),
             "simulated": e.simulated} for name, e in evaluations.items()]
    return pd.DataFrame(rows).set_index("router").astype({k: float for k in columns})


def single_model_rows(table: OutcomeTable, test: TierTable, best: float, all_top: float) -> list[dict]:
    """Each model of the table answering every held-out query: its quality, and its cost if within 95% of best."""
    models = every_model(table, test).sort_values("quality", ascending=False)
    rows = []
    for model, r in models.iterrows():
        at95 = r["cost_per_1k"] if r["quality"] >= QUALITY_TARGET * best else float("nan")
        rows.append({"router": f"model: {model}", "cost_per_1k_at_95pct_best": at95,
                     "savings_factor_at_95pct_best": all_top / at95, "router_cost_per_1k": 0.0,
                     "max_quality": float(r["quality"]), "simulated": table.simulated})
    return rows


def mix_transfer(table: OutcomeTable, target=None, seed: int = 0, catalog=None) -> dict:
    """Calibrate the classifier's thresholds to a target mix on the train half, apply them to the test half.

    Thresholds come from out-of-fold scores of the train half (5 folds); the test half is scored
    by the classifier fitted on the whole train half. Returns the target, the mix reached and the
    largest miss, in share points.
    """
    train, test = train_test(table, 0.5, seed, catalog)
    target = np.asarray(target if target is not None else MIX_TARGETS.get(len(test.tiers), [0.7, 0.3]))
    thresholds = calibrate_mix(out_of_fold_scores(ClassifierRouter, train, seed=seed), target)
    reached = np.bincount(assign(ClassifierRouter().fit(train).tier_scores(test), thresholds),
                          minlength=len(target)) / test.n
    return {"dataset": table.name, "train": train.n, "test": test.n, "tiers": test.tiers,
            "target": target.tolist(), "reached": reached.round(4).tolist(),
            "max_miss_points": float(np.abs(reached - target).max() * 100)}


def band_check(table: OutcomeTable, catalog=None, seed: int = 0) -> list[dict]:
    """The material's target band against the data, on every query (upper bounds: these policies know the outcomes).

    Rows: the label oracle (each query to its cheapest good-enough tier), and the oracle's ordering (upgrades
    by quality gained per dollar) forced to the band's mix (MIX_TARGETS: 70/30 for two tiers, 75/20/5 for
    three) and, with two tiers, to the band's 5% expensive share (95/5). Each with its savings against
    all-expensive and the share of the best tier's mean quality it keeps (over 100: per-query picks beat any one tier).
    """
    from .routers.baselines import OracleRouter
    tt = TierTable.from_table(table, catalog)
    scores, k = OracleRouter(seed).tier_scores(tt), len(tt.tiers)
    runs = {"label oracle (cheapest good-enough tier)": label_tiers(tt)}
    for target in [MIX_TARGETS.get(k, [1 / k] * k)] + ([[0.95, 0.05]] if k == 2 else []):
        name = "oracle forced to " + "/".join(f"{100 * s:.0f}" for s in target)
        runs[name] = assign(scores, calibrate_mix(scores, target))
    all_top, best = tt.cost[:, -1].mean() * 1000, float(np.nanmax(np.nanmean(tt.quality, axis=0)))
    rows = []
    for name, a in runs.items():
        r = outcomes_of(tt, a[None, :]).iloc[0]
        rows.append({"dataset": table.name, "policy": name, "tiers": "/".join(tt.tiers), "mix %": "/".join(f"{100 * r[f'share_{t}']:.0f}" for t in tt.tiers),
                     "savings x": float(all_top / r["cost_per_1k"]), "% of best quality": round(float(100 * r["quality"] / best), 1)})
    return rows
