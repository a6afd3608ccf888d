"""The 50-query exercise: route mixed queries, price every tier, compare routed with all-expensive."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..backends import Request
from ..backends.simulated import DEFAULT_ROUTER_ACCURACY, SimulatedBackend
from ..catalog import Catalog
from ..metrics import finite_or_none, mean_quality, savings_factor, traffic_mix
from ..queries import load_queries
from ..routers import make, names
from ..routers.base import Decision, first_reaching
from ..sweep import out_of_fold_scores
from ..tables import TierTable
from .policies import (
    LATENCY_SOURCES,
    PolicyComparison,
    latency_summary,
    policy_frames,
    policy_table,
    ttft_line,
)

# cascade-verifier learns from recorded answer texts, which the simulator does not write; logprob needs live answers
NOT_ON_THE_EXERCISE = ("cascade-verifier", "cascade-logprob")
ROUTERS = tuple(n for n in names() if n not in NOT_ON_THE_EXERCISE)  # what runs on the 50 queries
# decided from every tier's graded answers (learned routers out of fold, the oracles knowing them)
LEARN_FROM_ANSWERS = ("classifier", "knn", "cluster", "mlp", "mf", "sw-ranking", "oracle", "oracle-label")
ROW_FIELDS = ["id", "difficulty", "task_type", "tier", "model", "prompt_tokens", "completion_tokens",
              "cost_usd", "router_cost_usd", "quality", "latency_ms", "ttft_ms", "latency_label", "latency_s",
              "router_latency_s", "error", "router_error", "routed_tier", "fallback", "truncated"]


def exercise_router(name: str, backend, catalog, router_model=None, seed: int = 0):
    """A router by name for the exercise (see ROUTERS); the LLM router rates with `router_model`."""
    if name not in ROUTERS:
        raise ValueError(f"unknown router {name!r} for the exercise; choose one of {', '.join(ROUTERS)}")
    if name in LEARN_FROM_ANSWERS and backend.mode == "live":
        raise ValueError(f"--router {name} learns from graded answers, and live answers have no grade; "
                         "run it simulated or on --dataset (replay)")
    params = {"backend": backend, "router_model": router_model} if name == "llm" else {}
    if name.startswith("cascade"):
        params = {"backend": backend}
    return make(name, catalog, seed, **params)


def answers_table(queries, outcomes: pd.DataFrame, tier_models: dict) -> TierTable:
    """The exercise's own answers as a TierTable (quality and cost of each tier on each query)."""
    ids = [q.id for q in queries]
    models = list(tier_models.values())
    wide = {c: outcomes.pivot_table(index="query_id", columns="model", values=c, aggfunc="first")
            .reindex(index=ids, columns=models).to_numpy(float) for c in ("quality", "cost_usd")}
    n = len(ids)
    return TierTable("fifty-queries", list(tier_models), models, np.nan_to_num(wide["quality"]),
                     np.nan_to_num(wide["cost_usd"]), pd.Series([q.text for q in queries], index=ids),
                     np.full((n, len(models)), None, object), np.zeros(n), True)


def _decide_from_answers(router, queries, outcomes, tier_models, seed) -> list:
    """Decisions of a router that learns from the answers (scored out of fold, 5 folds) or knows them (oracles)."""
    tt = answers_table(queries, outcomes, tier_models)
    if router.uses_test_labels:
        scores = router.fit(tt).tier_scores(tt)
    else:
        scores = out_of_fold_scores(lambda: make(router.name, router.catalog, seed, **router.settings()), tt, folds=5,
                                    seed=seed)
    tiers = list(tier_models)
    chosen = first_reaching(scores, router.threshold_vector())
    per_query_s = 0.0 if router.uses_test_labels else _scoring_time(router, tt, seed)
    return [Decision(q.id, tiers[k], tier_models[tiers[k]], score=float(scores[i, k]), router_latency_s=per_query_s)
            for i, (q, k) in enumerate(zip(queries, chosen))]


def _scoring_time(router, tt, seed) -> float:
    """Measured seconds per query for a fitted learned router to score one query at a time (best of 3)."""
    fitted = make(router.name, router.catalog, seed, **router.settings()).fit(tt)
    one = tt.take(np.arange(min(10, tt.n)))
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        for i in range(one.n):
            fitted.tier_scores(one.take(np.array([i])))
        best = min(best, (time.perf_counter() - start) / one.n)
    return float(best)


def outcome_table(requests, completions) -> pd.DataFrame:
    """One row per (query, model) answer: the outcome table every evaluation reads."""
    return pd.DataFrame([{
        "query_id": r.query.id, "model": c.model, "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens, "cost_usd": c.cost_usd, "quality": c.quality,
        "latency_s": c.latency_s, "ttft_s": (c.extra or {}).get("ttft_s", np.nan), "error": c.error, "text": c.text,
        "truncated": (c.extra or {}).get("finish_reason") == "length",
    } for r, c in zip(requests, completions)])


def with_fallback(rows: pd.DataFrame, outcomes: pd.DataFrame, tier_models: dict) -> pd.DataFrame:
    """Where the routed tier's call failed, serve the next tier that answered (dearer first, then cheaper).

    Every tier was already called for the baselines, so a fallback costs no extra call and nothing
    is billed twice; a query no tier could answer keeps its error and costs nothing.
    """
    rows = rows.assign(routed_tier=rows["tier"], fallback=False)
    tiers = list(tier_models)
    answered = outcomes[outcomes["error"].isna()].set_index(["query_id", "model"])
    for i in rows.index[rows["error"].notna()]:
        k = tiers.index(rows.at[i, "tier"])
        for tier in tiers[k + 1:] + tiers[:k][::-1]:
            key = (rows.at[i, "id"], tier_models[tier])
            if key in answered.index:
                got = answered.loc[key]
                rows.loc[i, ["tier", "model", "fallback"]] = [tier, tier_models[tier], True]
                rows.loc[i, got.index] = got.to_numpy()
                break
    return rows


@dataclass
class ExerciseResult:
    """Routed rows, the full outcome table, and the summary of one exercise run."""

    rows: pd.DataFrame
    outcomes: pd.DataFrame
    summary: dict
    tiers: list

    def tier_table(self) -> pd.DataFrame:
        """Per tier: requests, share, total and per-request cost, quality."""
        g = self.rows.groupby("tier")
        table = pd.DataFrame({
            "model": g["model"].first(), "requests": g.size(), "cost_usd": g["cost_usd"].sum(),
            "quality": g["quality"].mean()}).reindex(self.tiers)
        table["requests"] = table["requests"].fillna(0).astype(int)
        table["model"] = [self.summary["tier_models"][t] for t in self.tiers]
        table["share"] = table["requests"] / max(1, len(self.rows))
        table["cost_usd"] = table["cost_usd"].fillna(0.0)
        table["cost_per_request_usd"] = table["cost_usd"] / table["requests"].where(table["requests"] > 0)
        for p in ("latency_p50_ms", "latency_p95_ms"):
            table[p] = [self.summary["latency_by_tier"][t][p] for t in self.tiers]
        return table[["model", "requests", "share", "cost_usd", "cost_per_request_usd", "quality",
                      "latency_p50_ms", "latency_p95_ms"]]

    def comparison(self) -> pd.DataFrame:
        """Routed (router cost included) against sending everything to one tier."""
        s = self.summary
        rows = [("routed (incl. router)", s["routed_cost_usd"], s["quality"], s["latency_p50_ms"], s["latency_p95_ms"])]
        rows += [(f"all-{t}", s["all_tier_cost_usd"][t], s["all_tier_quality"][t],
                  *s["all_tier_latency"][t].values()) for t in self.tiers]
        table = pd.DataFrame(rows, columns=["policy", "cost_usd", "quality", "latency_p50_ms", "latency_p95_ms"]
                             ).set_index("policy")
        table["cost_per_request_usd"] = table["cost_usd"] / len(self.rows)
        table["vs_routed"] = table["cost_usd"] / s["routed_cost_usd"] if s["routed_cost_usd"] else None
        return table

    def report(self) -> str:
        """The printed cost comparison."""
        s = self.summary
        label = {"simulated": "SIMULATED (calibrated simulator, not real model calls)", "live": "LIVE",
                 "replay": "REPLAY of recorded answers" + (
                     f"; LLM router ratings SIMULATED (accuracy {s['router_accuracy']} against difficulty derived "
                     "from the recorded outcomes)" if s["router_simulated"] else "")}.get(s["mode"], s["mode"])
        fmt = {"share": "{:.0%}".format, "cost_usd": "${:.4f}".format,
               "cost_per_request_usd": "${:.5f}".format, "quality": "{:.2f}".format, "vs_routed": "{:.2f}x".format,
               "latency_p50_ms": "{:,.0f}".format, "latency_p95_ms": "{:,.0f}".format}
        factor = s["savings_factor"]
        lines = [
            f"Exercise: {s['n_queries']} queries, router={s['router']}, mode={label}",
            "", "Per tier (routed):",
            self.tier_table().to_string(formatters=fmt, na_rep="-"),
            "", self._overhead_line(),
            "", "Routed vs single-tier baselines:",
            self.comparison().to_string(formatters=fmt, na_rep="-"),
            f"Latency (ms, whole answer, router time included): {s['latency_source']}",
            ttft_line(s),
            "", f"Savings factor vs all-{self.tiers[-1]} ({s['baseline_model']}): "
                + (f"{factor:.2f}x" if factor else "n/a (routed cost is zero)"),
            *self._dominance_lines(),
        ]
        if s["quality"] is None:
            lines.append("Quality: unknown (no grader); compare the answers in the run log.")
        if s["failed_calls"]:
            lines.append(f"Failed calls: {s['failed_calls']} (recorded with their errors, cost 0); "
                         f"{s['fallbacks']} request(s) served by the next tier, {s['unanswered']} unanswered")
        missing = {t: n for t, n in s["all_tier_failed_calls"].items() if n}
        if missing:
            lines.append("Note: single-tier totals count answered calls only; failed calls left out: "
                         + ", ".join(f"all-{t} {n}" for t, n in missing.items()))
        if s["truncated_answers"]:
            lines.append(f"Truncated answers (finish_reason=length): {s['truncated_answers']}")
        return "\n".join(lines)

    def _dominance_lines(self) -> list:
        """Whether a single tier costs less with at least the routed quality (the routed policy is then dominated)."""
        by = self.summary.get("dominated_by")
        if self.summary["quality"] is None:
            return []
        if not by:
            return [("Not dominated: no single tier costs less with at least the routed quality. "
                    "`--compare` puts every strategy in one table.")]
        c = self.comparison()
        routed = c.iloc[0]
        return [(f"DOMINATED: {by} costs ${c.at[by, 'cost_per_request_usd']:.5f} per request against "
                 f"${routed['cost_per_request_usd']:.5f} routed, with quality {c.at[by, 'quality']:.2f} against "
                 f"{routed['quality']:.2f}: as tuned, this router is not worth running. "
                 "`--compare` puts every strategy in one table.")]

    def _overhead_line(self) -> str:
        s = self.summary
        if not s["router_calls"]:
            return "Router overhead: none (no model calls to decide)"
        latency = f"mean latency {s['router_latency_mean_s'] * 1000:.0f} ms" + (
            " (SIMULATED)" if s["simulated"] else "")
        return (f"Router overhead: ${s['router_cost_usd']:.5f} over {s['router_calls']} routing calls, "
                f"{latency}, {s['router_errors']} router error(s)")

    def policies(self, mix=None, frames=None, references=("oracle",)) -> PolicyComparison:
        """This router and the single tiers (or the given per-query frames) in one table, at a difficulty mix."""
        frames = frames or policy_frames(self)
        natural = self.rows["difficulty"].value_counts(normalize=True).reindex(["easy", "medium", "hard"]).fillna(0)
        return PolicyComparison(policy_table(frames, self.tiers, mix, references), self.tiers, len(self.rows), mix,
                                self.summary["simulated"], natural.to_dict(), frames)

    def to_json(self) -> dict:
        """The summary and the routed rows, as plain JSON-safe values."""
        rows = self.rows[ROW_FIELDS].astype(object).where(self.rows[ROW_FIELDS].notna(), None)
        return {"summary": self.summary,
                "rows": [{k: finite_or_none(v) for k, v in r.items()} for r in rows.to_dict("records")]}

    def __repr__(self):
        s = self.summary
        return (f"ExerciseResult({s['n_queries']} queries, router={s['router']}, mode={s['mode']}, "
                f"savings_factor={s['savings_factor']})")


def run_exercise(router="llm", backend=None, queries=None, catalog=None, seed=0,
                 router_accuracy=DEFAULT_ROUTER_ACCURACY, router_model=None, progress=True) -> ExerciseResult:
    """Route every query, answer it on every tier, and compare routed against single tiers."""
    catalog = catalog or getattr(backend, "catalog", None) or Catalog.load()
    queries = list(queries or load_queries())
    backend = backend or SimulatedBackend(catalog, seed=seed, router_accuracy=router_accuracy)
    tiers = list(catalog.tiers)
    tier_models = {t: catalog.tier_model(t).name for t in tiers}

    router_obj = exercise_router(router, backend, catalog, router_model, seed)
    requests = [Request.ask(tier_models[t], q) for q in queries for t in tiers]
    outcomes = outcome_table(requests, backend.complete_many(requests, progress=progress, desc="answers"))
    if router in LEARN_FROM_ANSWERS:
        decisions = _decide_from_answers(router_obj, queries, outcomes, tier_models, seed)
    else:
        decisions = router_obj.route_many(queries, progress=progress)

    labels = pd.DataFrame([{"id": q.id, "difficulty": q.difficulty, "task_type": q.task_type} for q in queries])
    chosen = pd.DataFrame([vars(d) for d in decisions]).rename(columns={"query_id": "id"})
    rows = labels.merge(chosen, on="id").merge(
        outcomes.rename(columns={"query_id": "id"}), on=["id", "model"], how="left", validate="one_to_one")
    rows = with_fallback(rows, outcomes, tier_models)
    rows["latency_ms"] = (rows["latency_s"] + rows["router_latency_s"]) * 1000
    rows["ttft_ms"] = (rows["ttft_s"] + rows["router_latency_s"]) * 1000
    label, source = LATENCY_SOURCES.get(backend.mode, ("not recorded", "not recorded"))
    rows["latency_label"] = label

    per_tier = outcomes.assign(tier=outcomes["model"].map({m: t for t, m in tier_models.items()}))
    all_cost = per_tier.groupby("tier")["cost_usd"].sum()
    router_cost = float(rows["router_cost_usd"].sum())
    routed_cost = float(rows["cost_usd"].sum()) + router_cost
    baseline = float(all_cost[tiers[-1]])
    simulated = backend.mode == "simulated"
    summary = {
        "mode": backend.mode,
        "simulated": simulated,
        "router": router,
        "router_model": getattr(router_obj, "router_model", None),
        "router_simulated": bool(router_obj.simulated) and router in ("llm", "cascade-judge"),
        "n_queries": len(queries),
        "tier_models": tier_models,
        "baseline_model": tier_models[tiers[-1]],
        "baseline_cost_usd": baseline,
        "routed_cost_usd": routed_cost,
        "router_cost_usd": router_cost,
        "savings_factor": savings_factor(baseline, routed_cost),
        "traffic_mix": traffic_mix(rows["tier"], tiers),
        "quality": mean_quality(rows["quality"]),
        "quality_scale": "share of answers judged acceptable (0-1)" + (", simulated" if simulated else ""),
        "all_tier_cost_usd": {t: float(all_cost.get(t, 0.0)) for t in tiers},
        "all_tier_quality": {t: mean_quality(per_tier.loc[per_tier["tier"] == t, "quality"]) for t in tiers},
        "router_calls": int((rows["router_prompt_tokens"] > 0).sum()),
        "router_errors": int(rows["router_error"].notna().sum()),
        "router_latency_mean_s": float(rows["router_latency_s"].mean()),
        **latency_summary(rows, outcomes, tiers, tier_models, source=source),
        "latency_label": label,
        "failed_calls": int(outcomes["error"].notna().sum()),
        "all_tier_failed_calls": {t: int(per_tier.loc[per_tier["tier"] == t, "error"].notna().sum()) for t in tiers},
        "fallbacks": int(rows["fallback"].sum()),
        "unanswered": int(rows["error"].notna().sum()),
        "truncated_answers": int(rows["truncated"].sum()),
        "seed": seed if simulated else None,
        "router_accuracy": (getattr(getattr(backend, "router_backend", backend), "router_accuracy", None)
                            if router == "llm" else None),
    }
    result = ExerciseResult(rows[ROW_FIELDS], outcomes, summary, tiers)
    if summary["quality"] is not None and rows["difficulty"].notna().all():
        summary["dominated_by"] = result.policies(references=()).table.at[router, "dominated_by"] or None
    return result


def every_router(seed: int = 0, router_accuracy: float = DEFAULT_ROUTER_ACCURACY, catalog=None) -> pd.DataFrame:
    """The simulated exercise under every router that runs on it: savings, quality and the traffic mix."""
    rows = []
    for name in ROUTERS:
        s = run_exercise(name, catalog=catalog, seed=seed, router_accuracy=router_accuracy, progress=False).summary
        rows.append({"router": name, "savings vs all-expensive": f"{s['savings_factor']:.2f}x",
                     "quality": f"{s['quality']:.2f}", "router $": f"{s['router_cost_usd']:.4f}",
                     **{f"{t} share": f"{v:.0%}" for t, v in s["traffic_mix"].items()},
                     "simulated decisions": "yes" if s["router_simulated"] else "-"})
    return pd.DataFrame(rows).set_index("router")


COMPARED = ("rules", "classifier", "cascade", "cascade-judge", "llm", "oracle")  # the four strategies and the oracle


def compare_policies(seed: int = 0, router_accuracy: float = DEFAULT_ROUTER_ACCURACY, catalog=None, mix=None,
                     queries=None) -> PolicyComparison:
    """Every strategy and the single-tier baselines on the same simulated answers, in one table."""
    frames = {}
    for name in COMPARED:
        result = run_exercise(name, catalog=catalog, queries=queries, seed=seed, router_accuracy=router_accuracy,
                              progress=False)
        frames.update(policy_frames(result))
    order = [n for n in COMPARED if n != "oracle"] + [f"all-{t}" for t in result.tiers] + ["oracle"]
    return result.policies(mix, {n: frames[n] for n in order})
