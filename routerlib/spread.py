"""How much a figure moves: every router evaluated over several random splits, beside random on the same splits."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .evaluate import HEADLINE, Evaluation, evaluate_router, single_model_rows
from .metrics import interval, json_safe
from .routers import names as router_names
from .tables import OutcomeTable, TierTable, train_test, transferred

DEFAULT_SPLITS = 10
TIE = 1e-9  # an AIQ gain this small is a tie that the order of a sum decides, not a win
SPREAD_METRICS = (*HEADLINE, "max_quality", "at_0.5_cost_per_1k", "at_0.5_quality")
PAIR_METRICS = ("apgr", "cpt50", "cpt80")  # RouteLLM's: undefined where strong does not beat weak


@dataclass
class Spread:
    """One router on one dataset over several splits: per-split metrics, their means and 95% intervals."""

    dataset: str
    router: str
    evaluations: list = field(repr=False)
    versus_random: list = field(repr=False)  # per split: AIQ minus that of random routing at the router's own mix

    def values(self, metric: str) -> list:
        return [_value(e, metric) for e in self.evaluations]

    def summary(self, metric: str) -> tuple[float, float, float]:
        """(mean, low, high) over the splits; a pair metric null on any split is null (see apgr_note)."""
        values = self.values(metric)
        if metric in PAIR_METRICS and any(v is None for v in values):
            return float("nan"), float("nan"), float("nan")
        return interval(values)

    def apgr_note(self) -> str | None:
        """Why APGR and CPT are null, if they are on any split."""
        notes = [n for n in self.values("apgr_note") if n]
        return f"null on {len(notes)} of {len(self.evaluations)} splits; {notes[0]}" if notes else None

    def vs_random(self) -> dict:
        """Mean AIQ gain over random on the same splits, its 95% interval, and the splits won."""
        mean, lo, hi = interval(self.versus_random)
        wins = int(sum(g > TIE for g in self.versus_random))
        return {"aiq_gain": mean, "aiq_gain_ci95": [lo, hi], "wins": wins, "of": len(self.versus_random),
                "verdict": verdict(self.router, mean, lo, hi, wins, len(self.versus_random))}

    def deployable(self) -> dict:
        """Per target (thresholds calibrated on train): mean and 95% interval of test cost and quality."""
        out = {}
        for target in ("quality_95pct", "mix", "budget_half"):
            runs = [e.extra.get("deployable", {}).get(target) or {} for e in self.evaluations]
            if not any("quality" in r for r in runs):
                continue
            out[target] = {}
            for m in ("cost_per_1k", "quality"):
                mean, lo, hi = interval([r.get(m) for r in runs])
                out[target].update({m: mean, f"{m}_ci95": [lo, hi]})
            out[target]["splits_reached_on_train"] = sum("quality" in r for r in runs)
        return out

    @property
    def simulated(self) -> bool:
        return self.evaluations[0].simulated

    def to_json(self) -> dict:
        """The first split's evaluation, with every metric replaced by its mean, interval and per-split values."""
        doc = self.evaluations[0].to_json()
        metrics = {}
        for name in self.evaluations[0].metrics:
            per_split = self.values(name)
            if all(isinstance(v, (int, float, type(None))) for v in per_split):
                mean, lo, hi = self.summary(name)
                metrics.update({name: mean, f"{name}_ci95": [lo, hi], f"{name}_per_split": per_split})
        metrics["apgr_note"] = self.apgr_note()
        metrics["vs_random"] = self.vs_random()
        doc["metrics"] = json_safe(metrics)
        doc["splits"] = {"n": len(self.evaluations), "train": [e.n_train for e in self.evaluations],
                         "test": [e.n_test for e in self.evaluations],
                         "how": "random halves, seeds seed..seed+n-1; the dataset's own split is not used"}
        doc["deployable"] = json_safe(self.deployable())
        doc["deployable_per_split"] = [json_safe(e.extra.get("deployable")) for e in self.evaluations]
        return doc

    def __repr__(self):
        mean, lo, hi = self.summary("aiq")
        return f"Spread({self.router} on {self.dataset}: AIQ {mean:.3f} [{lo:.3f}, {hi:.3f}] over {len(self.evaluations)} splits)"


def _value(e: Evaluation, metric: str):
    if metric == "max_quality":
        return float(e.curve["quality"].max())
    return e.metrics.get(metric)


def verdict(router: str, mean: float, lo: float, hi: float, wins: int, n: int) -> str:
    """In words: does the router beat random on this data, reliably?"""
    if not np.isfinite(lo):
        return f"{router}: one split only; run more splits to tell signal from luck"
    if lo > 0:
        return f"{router} beats random on AIQ by {mean:.3f} (95% interval {lo:.3f} to {hi:.3f}; {wins} of {n} splits)"
    if hi < 0:
        return f"{router} is worse than random on AIQ by {-mean:.3f} (95% interval {lo:.3f} to {hi:.3f})"
    return (f"{router} shows no reliable signal on this data: its AIQ gain over random, {mean:.3f}, has a 95% "
            f"interval ({lo:.3f} to {hi:.3f}) that includes 0 ({wins} of {n} splits won)")


PROTOCOLS = {"in-domain": "trained on the train half of this dataset, scored on its test half",
             "lodo": "leave one dataset out: trained on every other mirrored dataset (labels mapped through each "
                     "one's tiers), scored on the same test halves as in-domain"}


def lodo_sources(name: str, data_dir=None) -> list:
    """Tier tables of every mirrored dataset but `name`, each with its own tiers: what lodo trains on."""
    from . import datasets
    return [TierTable.from_table(datasets.load(n, data_dir)) for n in datasets.PINNED if n != name]


def evaluate_splits(table: OutcomeTable, names=None, splits: int = DEFAULT_SPLITS, seed: int = 0,
                    test_share: float = 0.5, catalog=None, progress: bool = False, sources=None, **kw) -> dict:
    """name -> Spread: each router fitted and scored on `splits` random splits, with random on the same splits.

    With one split the dataset's own split is used where it has one; with more, random halves. With
    `sources` (tier tables of other datasets, see lodo_sources) routers train on those instead of the train half.
    """
    if splits < 1:
        raise ValueError(f"splits must be at least 1, got {splits}")
    runs: dict = {}
    for s in tqdm(range(splits), desc=f"splits ({table.name})", disable=not progress):
        halves = train_test(table, test_share, seed + s, catalog, own_split=splits == 1)
        if sources:
            halves = (transferred(halves[1], sources), halves[1])
        wanted = list(names or router_names(halves[1].tiers))
        for name in dict.fromkeys(["random", *wanted]):
            if name.startswith("always-") and name[len("always-"):] not in halves[1].tiers:
                continue
            runs.setdefault(name, []).append(evaluate_router(table, name, seed + s, halves=halves, **kw))
    return {name: Spread(table.name, name, evs, [e.metrics["aiq"] - e.metrics["aiq_random_mix"] for e in evs])
            for name, evs in runs.items() if names is None or name in names}


def spread_table(spreads: dict, metrics=SPREAD_METRICS) -> pd.DataFrame:
    """One row per router: each metric's mean, with `<metric>_lo` and `<metric>_hi` for its 95% interval.

    `aiq_gain_lo`/`_hi` bound the AIQ gain over random at 95% for all the candidate routers at once
    (Bonferroni: each at 1 - 0.05/m for m candidates), so one lucky router among many is not called reliable.
    """
    n_candidates = max(1, sum(candidate(name) for name in spreads))
    rows = []
    for name, sp in spreads.items():
        row = {"router": name}
        for m in metrics:
            row[m], row[f"{m}_lo"], row[f"{m}_hi"] = sp.summary(m)
        g = sp.vs_random()
        _, lo, hi = interval(sp.versus_random, 1 - 0.05 / n_candidates)
        row.update({"aiq_gain_vs_random": g["aiq_gain"], "aiq_gain_lo": lo, "aiq_gain_hi": hi,
                    "candidates": n_candidates, "wins_vs_random": f"{g['wins']}/{g['of']}",
                    "simulated": sp.simulated})
        rows.append(row)
    return pd.DataFrame(rows).set_index("router")


def compare(table: OutcomeTable, names=None, seed: int = 0, singles: bool = False, splits: int = DEFAULT_SPLITS,
            **kw) -> pd.DataFrame:
    """Every named router's headline metrics over `splits` splits (means, with _lo/_hi 95% bounds).

    With `singles`, every model of the table alone is added (on the first split).
    """
    spreads = evaluate_splits(table, names, splits, seed, **kw)
    out = spread_table(spreads)
    if singles:
        e = next(iter(spreads.values())).evaluations[0]
        test = train_test(table, kw.get("test_share", 0.5), seed, kw.get("catalog"), own_split=splits == 1)[1]
        extra = pd.DataFrame(single_model_rows(table, test, e.metrics["best_single_quality"],
                                               e.metrics["all_expensive_cost_per_1k"])).set_index("router")
        out = pd.concat([out, extra])
    return out


REFERENCES = ("random", "oracle", "oracle-label")  # baselines and upper bounds, not candidates for deployment


def candidate(router: str) -> bool:
    """A router one might deploy: not a baseline, an upper bound or a single tier."""
    return router not in REFERENCES and not str(router).startswith("always-")


def dataset_verdict(table: pd.DataFrame, dataset: str) -> str:
    """In words: the real router with the largest reliable AIQ gain over random (at its own mix), or that none has one."""
    candidates = table[[candidate(r) for r in table.index]]
    candidates = candidates[candidates.get("aiq_gain_lo", pd.Series(dtype=float)).notna()]
    candidates = candidates[~candidates["simulated"].astype(bool)]  # decisions drawn from the test outcomes
    reliable = candidates[candidates["aiq_gain_lo"] > 0]
    worse = list(candidates.index[candidates["aiq_gain_hi"] < 0])
    if reliable.empty:
        text = (f"On {dataset} no router beats random reliably: every router's AIQ gain over random, at its own "
                "traffic mix, has an interval reaching 0 or below, so here routing is no better than a coin")
    else:
        best = reliable["aiq_gain_vs_random"].idxmax()
        row = reliable.loc[best]
        text = (f"On {dataset} the best router that reliably beats random is {best}: AIQ +{row['aiq_gain_vs_random']:.3f}"
                f" over random at its own traffic mix (interval {row['aiq_gain_lo']:.3f} to "
                f"{row['aiq_gain_hi']:.3f}, 95% for all {int(row.get('candidates', 1))} routers compared at once)")
    return (text + (f"; reliably worse than random: {', '.join(worse)}" if worse else "")
            + " (routers with simulated decisions are not counted).")


def with_intervals(table: pd.DataFrame, metrics, digits: int = 3) -> pd.DataFrame:
    """Cells as 'mean ± half-width' (the 95% interval), 'n/a' where a metric is undefined."""
    def cell(row, m):
        mean, lo, hi = row.get(m), row.get(f"{m}_lo"), row.get(f"{m}_hi")
        if mean is None or mean != mean:
            return "n/a"
        if lo is None or lo != lo:
            return f"{mean:.{digits}f}"
        return f"{mean:.{digits}f} ± {(hi - lo) / 2:.{digits}f}"
    return pd.DataFrame({m: [cell(r, m) for _, r in table.iterrows()] for m in metrics}, index=table.index)


def over_runs(tables: dict, metrics) -> pd.DataFrame:
    """Per row: each metric's mean with its 95% interval over runs (run -> table, e.g. one per seed), as with_intervals reads."""
    stacked = pd.concat({run: t[list(metrics)].astype(float) for run, t in tables.items()}, names=["run", "row"])
    rows = next(iter(tables.values())).index
    out = {}
    for row in rows:
        values = stacked.xs(row, level="row")
        out[row] = {f"{m}{suffix}": v for m in metrics
                    for suffix, v in zip(("", "_lo", "_hi"), interval(values[m].to_numpy()))}
    return pd.DataFrame.from_dict(out, orient="index")
