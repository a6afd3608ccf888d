"""Model selection among every model of a dataset: predict each model's quality, pick by quality minus lambda x cost.

SelectionRouter learns one ridge regression per model on the classifier's TextFeatures. evaluate_selection()
sweeps the willingness to pay, lambda, on held-out queries and sets the router beside the oracle, random
mixtures of single models and each single model alone, over several splits (as spread.py does for tiers).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..evaluate import MIN_GAP, QUALITY_TARGET
from ..metrics import aiq, cost_at_quality, interval, json_safe, non_decreasing_convex_hull
from ..tables import OutcomeTable, TierTable, split
from .classifier import TextFeatures

GRID = 120  # log-spaced lambdas between 0 and infinity
CURVES = {"selection": "selection router", "random": "random", "oracle": "oracle (upper bound)"}
FIGURES = {"aiq": "AIQ (hull over the single models' cost range)",
           "gap_recovered": "gap recovered, cheapest -> best single model",
           "quality_at_lambda_0": "quality at lambda 0", "cost_per_1k_at_lambda_0": "$/1k at lambda 0",
           "cost_per_1k_at_95pct_best": "$/1k at 95% of the best single (optimistic)"}
DEFINITIONS = {
    "lambda": "willingness to pay: quality (0-1 scale) traded per extra $ per 1k requests; each query goes to the "
              "model with the best predicted quality - lambda x cost. Swept over 0, 120 log-spaced values and "
              "infinity (the cheapest model)",
    "decision_cost": "the router decides on each model's mean cost per query on the train split (a query's own cost "
                     "depends on its answer, unknown before answering); it is charged the recorded test cost",
    "selection": "one ridge regression per model (shared alpha) on the classifier's TextFeatures, predicting that "
                 "model's quality per query; predictions clipped to 0-1",
    "random": "RouterBench's zero router: each query to a random one of two neighbouring models on the single "
              "models' cost-quality hull chosen on the train split; valued at the expected test cost and quality "
              "(no draw), so the curve joins the hull models' test points with straight lines",
    "oracle": "per query and lambda, the model with the best TRUE test quality - lambda x its test cost (ties: the "
              "cheaper; at lambda 0: the cheapest model with the best quality). It reads the test labels: an "
              "optimistic upper bound, not a router",
    "aiq": "mean of a curve's non-decreasing convex hull over the cost range of the single models on the test "
           "split, 0 below the curve's cheapest point (as evaluate.py does for tiers)",
    "gap_recovered": "APGR for N models: the same hull averaged over the costs from the cheapest single model to the "
                     "best one (test split), minus the cheapest's quality, over the best's minus the cheapest's. "
                     "Randomly mixing those two scores 0.5; above 1, routing beats the best model. Null when the "
                     f"gap is under {MIN_GAP}",
    "at_lambda_0": "quality and $/1k at lambda 0: the best predicted model per query (oracle: per query the cheapest "
                   "model with the best test quality; random: the best single model on the train split)",
    "cost_per_1k_at_95pct_best": "least $/1k on the hull keeping 95% of the best single model's test quality "
                                 "(lambda chosen on the test labels: optimistic)",
    "queries": "queries lacking any model's quality or cost are left out (see notes)",
}


def every_model_table(table: OutcomeTable) -> TierTable:
    """Every model of the table as its own 'tier', cheapest mean cost first; queries lacking an outcome are left out."""
    models = list(table.wide("cost_usd").mean().sort_values(kind="stable").index)
    quality, cost = (table.wide(c)[models].to_numpy(float) for c in ("quality", "cost_usd"))
    keep = ~(np.isnan(quality).any(axis=1) | np.isnan(cost).any(axis=1))
    if len(models) < 2 or not keep.any():
        raise ValueError(f"{table.name}: model selection needs at least two models with a recorded quality and cost "
                         f"on the same queries; its models: {', '.join(models)}")
    notes = [] if keep.all() else [(f"left out {int((~keep).sum())} of {len(keep)} queries lacking some model's "
                                    "quality or cost")]
    return TierTable(table.name, models, models, quality[keep], cost[keep], table.queries["prompt"][keep],
                     table.wide("response")[models].to_numpy(object)[keep],
                     table.wide("prompt_tokens")[models[0]].to_numpy(float)[keep], table.simulated, None, notes)


def pick(quality, cost, lams) -> np.ndarray:
    """L x n model indices: per lambda and query, the best quality - lambda x cost (quality n x M, cost n x M or M).

    Ties go to the cheaper model; lambda = infinity takes the cheapest (ties: the better one).
    """
    q = np.asarray(quality, float)[None]
    c = np.broadcast_to(np.asarray(cost, float), q.shape[1:])[None]
    lam = np.asarray(lams, float)[:, None, None]
    inf = np.isinf(lam)
    first = np.where(inf, -c, q - np.where(inf, 0.0, lam) * c)
    second = np.where(inf, q, -c)
    top = first >= first.max(axis=2, keepdims=True) - 1e-12
    return np.where(top, second, -np.inf).argmax(axis=2)


def lambda_grid(cost_per_1k, size: int = GRID) -> np.ndarray:
    """0, `size` log-spaced lambdas and infinity: from trading 0.001 quality for the whole cost range to far past
    the point where any quality gap is worth less than the smallest step in cost."""
    c = np.unique(np.asarray(cost_per_1k, float))
    steps = np.diff(c)
    lo = 1e-3 / max(c[-1] - c[0], 1e-12)
    hi = 10.0 / max(steps.min() if len(steps) else 1.0, 1e-12)
    return np.r_[0.0, np.geomspace(lo, max(hi, 10 * lo), size), np.inf]


def lambda_curve(tt: TierTable, choice: np.ndarray, lams) -> pd.DataFrame:
    """Per lambda (rows of `choice`, L x n model indices): $ per 1k requests, mean quality, and the traffic spread."""
    rows = np.arange(tt.n)
    counts = (choice[:, :, None] == np.arange(len(tt.models))).sum(axis=1)  # L x M
    return pd.DataFrame({"lambda": lams, "cost_per_1k": tt.cost[rows, choice].mean(axis=1) * 1000,
                         "quality": tt.quality[rows, choice].mean(axis=1), "models_used": (counts > 0).sum(axis=1),
                         "busiest_model": np.asarray(tt.models, object)[counts.argmax(axis=1)],
                         "busiest_share": counts.max(axis=1) / tt.n})


def zero_router(train: TierTable, test: TierTable) -> pd.DataFrame:
    """Random mixtures of neighbouring single models on their hull chosen on train: the hull models' test points."""
    cost, quality = train.cost.mean(axis=0) * 1000, train.quality.mean(axis=0)
    hull = non_decreasing_convex_hull(cost, quality)
    on = np.flatnonzero((np.isclose(cost[:, None], hull[None, :, 0])
                         & np.isclose(quality[:, None], hull[None, :, 1])).any(axis=1))
    out = pd.DataFrame({"model": [train.models[k] for k in on], "cost_per_1k": test.cost[:, on].mean(axis=0) * 1000,
                        "quality": test.quality[:, on].mean(axis=0)})
    return out.sort_values("cost_per_1k", ignore_index=True)


def single_models(tt: TierTable) -> pd.DataFrame:
    """Per model: $ per 1k requests and mean quality on these queries."""
    return pd.DataFrame({"cost_per_1k": tt.cost.mean(axis=0) * 1000, "quality": tt.quality.mean(axis=0)},
                        index=pd.Index(tt.models, name="model"))


def figures(curve: pd.DataFrame, singles: pd.DataFrame) -> dict:
    """AIQ, gap recovered, the point at lambda 0 and the cost at 95% of the best single model (see DEFINITIONS)."""
    cost, quality = curve["cost_per_1k"], curve["quality"]
    cheap = singles.sort_values(["cost_per_1k", "quality"], ascending=[True, False]).iloc[0]
    best = singles.sort_values(["quality", "cost_per_1k"], ascending=[False, True]).iloc[0]
    gap = best["quality"] - cheap["quality"]
    recovered = None
    if gap >= MIN_GAP:
        recovered = (aiq(cost, quality, (cheap["cost_per_1k"], best["cost_per_1k"])) - cheap["quality"]) / gap
    at95 = cost_at_quality(cost, quality, QUALITY_TARGET * best["quality"])
    top = curve.iloc[0] if "lambda" in curve else curve.iloc[-1]  # random: its dearest mix is its best model alone
    return {"aiq": aiq(cost, quality, (singles["cost_per_1k"].min(), singles["cost_per_1k"].max())),
            "gap_recovered": recovered, "quality_at_lambda_0": float(top["quality"]),
            "cost_per_1k_at_lambda_0": float(top["cost_per_1k"]),
            "cost_per_1k_at_95pct_best": float("nan") if at95 is None else at95}


class SelectionRouter:
    """Predicts each model's quality per query and picks the best predicted quality - lam x cost.

    Parameters are stored as given; fit() learns `features_` (the classifier's TextFeatures), `ridge_` (one
    ridge regression per model, sharing `alpha`), `models_` and `cost_per_1k_` (each model's mean cost per
    query on the train split, $ per 1k requests: what deciding knows of cost).
    """

    name = "selection"

    def __init__(self, lam: float = 0.0, alpha: float = 10.0, max_features: int = 20000, use_stats: bool = True,
                 embedder=None):
        self.lam = lam
        self.alpha = alpha
        self.max_features = max_features
        self.use_stats = use_stats
        self.embedder = embedder  # optional: texts -> 2-D array of sentence embeddings

    def fit(self, tt: TierTable, y=None) -> "SelectionRouter":
        """Learn from a table of every model (every_model_table): the targets are each model's quality per query."""
        if tt.n < 2:
            raise ValueError(f"SelectionRouter needs training queries; got {tt.n}")
        from sklearn.linear_model import Ridge

        self.features_ = TextFeatures(self.max_features, self.use_stats, self.embedder)
        self.ridge_ = Ridge(alpha=self.alpha).fit(self.features_.fit_transform(tt.prompts), tt.quality)
        self.models_ = list(tt.models)
        self.cost_per_1k_ = tt.cost.mean(axis=0) * 1000
        return self

    def predict_quality(self, texts) -> np.ndarray:
        """n x M: each model's predicted quality (0-1) per text."""
        if not hasattr(self, "ridge_"):
            raise RuntimeError("SelectionRouter is not fitted; call fit(train_table) first")
        return np.clip(self.ridge_.predict(self.features_.transform(texts)), 0.0, 1.0).reshape(-1, len(self.models_))

    def choose(self, texts, lams=None) -> np.ndarray:
        """Model index per text at the router's `lam`; given `lams`, one row per lambda (L x n)."""
        chosen = pick(self.predict_quality(texts), self.cost_per_1k_, [self.lam] if lams is None else lams)
        return chosen[0] if lams is None else chosen

    def select(self, texts) -> list:
        """Model name per text at the router's `lam`."""
        return [self.models_[k] for k in self.choose(texts)]

    def __repr__(self):
        fitted = f", fitted on {len(self.models_)} models" if hasattr(self, "models_") else ""
        return (f"SelectionRouter(lam={self.lam}, alpha={self.alpha}, max_features={self.max_features}, "
                f"use_stats={self.use_stats}, embedder={'yes' if self.embedder else None}{fitted})")


def run_split(train: TierTable, test: TierTable, router: SelectionRouter) -> dict:
    """One split: the router's, the oracle's and random's curves on the test queries, the single models, the figures."""
    router.fit(train)
    lams = lambda_grid(router.cost_per_1k_)
    curves = {"selection": lambda_curve(test, router.choose(test.prompts, lams), lams),
              "random": zero_router(train, test),
              "oracle": lambda_curve(test, pick(test.quality, test.cost * 1000, lams), lams)}
    singles = single_models(test)
    return {"curves": curves, "singles": singles, "figures": {k: figures(c, singles) for k, c in curves.items()},
            "n_train": train.n, "n_test": test.n}


def evaluate_selection(table: OutcomeTable, splits: int = 10, seed: int = 0, test_share: float = 0.5,
                       progress: bool = False, **params) -> "Selection":
    """SelectionRouter(**params) fitted and swept on `splits` splits, beside the oracle and random on the same splits.

    With one split the dataset's own split is used where it has one; with more, random halves (seeds seed, seed+1, ...).
    """
    if splits < 1:
        raise ValueError(f"splits must be at least 1, got {splits}")
    tt, runs = every_model_table(table), []
    for s in tqdm(range(splits), desc=f"splits ({table.name}, every model)", disable=not progress):
        train_ids, test_ids = split(table, test_share, seed + s, own_split=splits == 1)
        train, test = tt.take_ids(train_ids), tt.take_ids(test_ids)
        if train.n < 2 or test.n < 2:
            raise ValueError(f"{table.name}: a split of {train.n} train / {test.n} test queries is too small")
        runs.append(run_split(train, test, SelectionRouter(**params)))
    return Selection(table.name, single_models(tt), repr(SelectionRouter(**params)), runs, table.simulated, tt.notes)


@dataclass
class Selection:
    """Model selection on one dataset over several splits: per split the curves and figures of the router, random
    and the oracle (see DEFINITIONS)."""

    dataset: str
    models: pd.DataFrame  # per model: $ per 1k requests and mean quality over the queries kept
    router: str
    runs: list = field(repr=False)
    simulated: bool = False
    notes: list = field(default_factory=list)

    def values(self, curve: str, figure: str) -> list:
        return [r["figures"][curve][figure] for r in self.runs]

    def summary(self, curve: str, figure: str) -> tuple[float, float, float]:
        """(mean, low, high) over the splits; null (NaN) if the figure is null on any split."""
        values = self.values(curve, figure)
        return (float("nan"),) * 3 if any(v is None for v in values) else interval(values)

    def gains(self, figure: str = "aiq") -> list:
        """Per split: the router's figure minus random's (None where either is null)."""
        return [None if s is None or r is None else s - r
                for s, r in zip(self.values("selection", figure), self.values("random", figure))]

    def vs_random(self, figure: str = "aiq") -> dict:
        """Mean gain over random on the same splits, its 95% interval and the splits won (with AIQ: a verdict)."""
        from ..spread import verdict

        gains = self.gains(figure)
        if any(g is None for g in gains):
            return {"gain": None, "gain_ci95": [None, None], "wins": None, "of": len(gains)}
        mean, lo, hi = interval(gains)
        wins = int(sum(g > 0 for g in gains))
        out = {"gain": mean, "gain_ci95": [lo, hi], "wins": wins, "of": len(gains)}
        return {**out, "verdict": verdict("selection", mean, lo, hi, wins, len(gains))} if figure == "aiq" else out

    def oracle_share(self) -> float:
        """Mean over splits of the router's AIQ gain over random as a share of the oracle's (1: the oracle's)."""
        s, r, o = (np.asarray(self.values(c, "aiq"), float) for c in CURVES)
        return float(np.mean((s - r) / np.where(o - r > 0, o - r, np.nan)))

    def report(self) -> str:
        """The printed summary: the models, the router's lambda curve, the figures beside random and the oracle."""
        first = self.runs[0]
        tag = " [SIMULATED data]" if self.simulated else ""
        lines = [f"model selection on {self.dataset}: {len(self.models)} models, {len(self.runs)} split(s) of "
                 f"{first['n_train']} train / {first['n_test']} test queries{tag}"]
        lines += [f"  note: {n}" for n in self.notes]
        models = self.models.rename(columns={"cost_per_1k": "$/1k"}).round(4)
        lines += [f"models (mean over the {first['n_train'] + first['n_test']} queries kept), cheapest first:",
                  _indent(models.to_string()), f"router: {self.router}; {DEFINITIONS['decision_cost']}",
                  "lambda curve of the router on split 1 (lambda: quality per extra $ per 1k requests):"]
        curve = first["curves"]["selection"].drop_duplicates(["cost_per_1k", "quality"])  # distinct operating points
        rows = curve.iloc[np.unique(np.linspace(0, len(curve) - 1, 9).round().astype(int))]
        lines.append(_indent(rows.assign(busiest_model=rows["busiest_model"].map(lambda m: str(m).split("/")[-1]))
                             .round({"lambda": 4, "cost_per_1k": 4, "quality": 3, "busiest_share": 2})
                             .to_string(index=False)))
        table = pd.DataFrame({label: [_cell(*self.summary(c, f)) for f in FIGURES] for c, label in CURVES.items()},
                             index=list(FIGURES.values()))
        lines += [f"figures, mean ± 95% interval over {len(self.runs)} split(s):", _indent(table.to_string())]
        lines.append("verdict: " + self.vs_random("aiq")["verdict"])
        gap = self.vs_random("gap_recovered")
        if gap["gain"] is not None:
            lines.append(f"gap recovered minus random's: {_cell(gap['gain'], *gap['gain_ci95'])} "
                         f"({gap['wins']} of {gap['of']} splits won)")
        oracle = {f: _cell(*self.summary("oracle", f)) for f in FIGURES}
        lines.append(f"oracle (reads the test labels: an optimistic upper bound): AIQ {oracle['aiq']}; at lambda 0 "
                     f"(per query the cheapest model with the best quality) quality {oracle['quality_at_lambda_0']} "
                     f"at {oracle['cost_per_1k_at_lambda_0']} $/1k; the router takes {self.oracle_share():.0%} of "
                     "the oracle's AIQ headroom over random")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """Figures per curve (mean, interval, per split), the gains over random, and the first split's curves."""
        metrics = {c: {} for c in CURVES}
        for c in CURVES:
            for f in FIGURES:
                mean, lo, hi = self.summary(c, f)
                metrics[c].update({f: mean, f"{f}_ci95": [lo, hi], f"{f}_per_split": self.values(c, f)})
        first = self.runs[0]
        return json_safe({
            "dataset": self.dataset, "models_compared": "all", "router": self.router, "simulated": self.simulated,
            "models": self.models.to_dict("index"), "metrics": metrics,
            "vs_random": {f: self.vs_random(f) for f in ("aiq", "gap_recovered")},
            "oracle_share_of_headroom": self.oracle_share(),
            "splits": {"n": len(self.runs), "train": [r["n_train"] for r in self.runs],
                       "test": [r["n_test"] for r in self.runs],
                       "how": "one split: the dataset's own where it has one; more: random halves, seeds seed.."},
            "curves_split_1": {c: first["curves"][c].to_dict("records") for c in CURVES},
            "singles_split_1": first["singles"].to_dict("index"), "notes": self.notes, "definitions": DEFINITIONS})

    def __repr__(self):
        mean, lo, hi = self.summary("selection", "aiq")
        return (f"Selection({self.dataset}: {len(self.models)} models, AIQ {mean:.3f} [{lo:.3f}, {hi:.3f}] over "
                f"{len(self.runs)} splits)")


def _cell(mean, lo, hi, digits: int = 3) -> str:
    """'mean ± half-width' of the 95% interval; 'n/a' where undefined."""
    if mean != mean:
        return "n/a"
    return f"{mean:.{digits}f}" if lo != lo else f"{mean:.{digits}f} ± {(hi - lo) / 2:.{digits}f}"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
