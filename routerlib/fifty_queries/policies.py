"""The 50-query exercise's numbers beyond one router: latency percentiles, traffic-mix weights, the policy table
(every strategy and baseline on the same queries, dominated ones marked) and dollars per day."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics import dominated
from ..queries import DIFFICULTIES

SIMULATED_LATENCY = "SIMULATED (lognormal around the catalog's published median TTFT and tokens/s)"
LATENCY_SOURCES = {"simulated": ("SIMULATED", SIMULATED_LATENCY),
                   "live": ("measured", "measured (wall clock per call, retries included)"),
                   "replay": ("not recorded", ("not recorded (replayed answers carry no timing: 0 ms; "
                                              "only the SIMULATED router calls take time)"))}
EASY_SHARES = tuple(np.round(np.linspace(0.3, 0.95, 14), 2))  # the notebook's easy-share axis
# the teaching material's claims the exercise is compared with (a $100/day all-expensive bill)
MATERIAL = {"mix": {"cheap": (0.70, 0.80), "mid": (0.15, 0.25), "expensive": (0.02, 0.05)},
            "savings": (5.0, 10.0),
            "ttft_ms": {"cheap": (100, 300), "mid": (300, 800), "expensive": (1000, 5000)},
            "router_overhead_ms": {"classifier": (5, 5), "llm": (100, 200), "cascade": (200, 200)},
            "daily_usd": {"all-expensive": (100, 100), "rules": (30, 50), "classifier": (15, 25),
                          "cascade": (20, 30)}}


def weighted_percentile(values, weights, q: float) -> float | None:
    """The q-th percentile (0-100) of values under importance weights (the plain percentile when all are equal)."""
    v, w = np.asarray(values, float), np.asarray(weights, float)
    keep = ~np.isnan(v) & (w > 0)
    if not keep.any():
        return None
    v, w = v[keep], w[keep]
    if np.ptp(w) == 0:
        return float(np.percentile(v, q))
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()  # midpoint rule
    return float(np.interp(q / 100, cum, v))


def latency_summary(rows: pd.DataFrame, outcomes: pd.DataFrame, tiers: list, tier_models: dict,
                    weights=None, source: str = SIMULATED_LATENCY) -> dict:
    """p50 and p95 latency (ms) end to end, per routed tier, and of each single-tier policy."""
    w = np.ones(len(rows)) if weights is None else np.asarray(weights, float)
    lat = rows["latency_ms"].to_numpy(float)

    def pct(mask, values=lat, weights=w):
        return {"latency_p50_ms": weighted_percentile(values[mask], weights[mask], 50),
                "latency_p95_ms": weighted_percentile(values[mask], weights[mask], 95)}
    by_id = pd.Series(w, index=rows["id"].to_numpy())
    single = {}
    for t in tiers:
        got = outcomes[outcomes["model"] == tier_models[t]]
        ow = by_id.reindex(got["query_id"]).to_numpy(float)
        single[t] = pct(np.ones(len(got), bool), got["latency_s"].to_numpy(float) * 1000, ow)
    ttft = {t: weighted_percentile(outcomes.loc[outcomes["model"] == m, "ttft_s"] * 1000,
                                   by_id.reindex(outcomes.loc[outcomes["model"] == m, "query_id"]), 50)
            for t, m in tier_models.items()}
    return {**pct(np.ones(len(rows), bool)),
            "ttft_p50_ms": weighted_percentile(rows["ttft_ms"], w, 50), "all_tier_ttft_p50_ms": ttft,
            "latency_by_tier": {t: pct((rows["tier"] == t).to_numpy()) for t in tiers},
            "all_tier_latency": single,
            "latency_source": source}


def ttft_line(summary: dict) -> str:
    """Time to first token per tier beside the material's ranges."""
    got = ", ".join(f"{t} {v:,.0f} ms" for t, v in summary["all_tier_ttft_p50_ms"].items() if v is not None)
    said = ", ".join(f"{t} {lo:,}-{hi:,} ms" for t, (lo, hi) in MATERIAL["ttft_ms"].items())
    return (f"Time to first token, p50 per tier ({summary['latency_label']}): {got or 'not recorded'} "
            f"(the material: {said})")


def mix_weights(difficulty, mix: dict) -> np.ndarray:
    """Importance weights (summing to 1) that give each difficulty the share `mix` asks for: share / count."""
    d = pd.Series(np.asarray(difficulty, object))
    if d.isna().any():
        raise ValueError(f"--mix reweights by difficulty, but {int(d.isna().sum())} queries have no difficulty label; "
                         "label every query easy, medium or hard, or drop --mix")
    counts = d.value_counts()
    empty = [k for k, share in mix.items() if share > 0 and counts.get(k, 0) == 0]
    if empty:
        raise ValueError(f"--mix gives {', '.join(empty)} a share, but no query is labelled {', '.join(empty)}; "
                         f"give it 0 or add such queries (labelled: {', '.join(counts.index)})")
    unlisted = sorted(set(counts.index) - set(mix))
    if unlisted:
        raise ValueError(f"--mix has no share for {', '.join(map(str, unlisted))}; give one share per difficulty")
    return d.map({k: share / counts[k] for k, share in mix.items() if k in counts}).to_numpy(float)


def parse_mix(text: str) -> dict:
    """'75/20/5' as {easy: 0.75, medium: 0.20, hard: 0.05}; shares must sum to 100."""
    parts = text.replace("%", "").split("/")
    try:
        shares = [float(p) for p in parts]
    except ValueError:
        shares = []
    if len(shares) != len(DIFFICULTIES) or any(not np.isfinite(s) or s < 0 for s in shares):
        raise ValueError(f"--mix expects {len(DIFFICULTIES)} percentages for {'/'.join(DIFFICULTIES)} "
                         f"separated by '/', e.g. 75/20/5; got {text!r}")
    if abs(sum(shares) - 100) > 1e-6:
        raise ValueError(f"--mix shares must add up to 100, but {text} adds up to {sum(shares):g}; "
                         "e.g. 75/20/5")
    return dict(zip(DIFFICULTIES, (s / 100 for s in shares)))


def policy_frames(result) -> dict:
    """Per query, for the routed policy and each single tier: difficulty, tier, cost (with router), quality, latency."""
    rows = result.rows
    frames = {result.summary["router"]: pd.DataFrame({
        "id": rows["id"], "difficulty": rows["difficulty"], "tier": rows["tier"],
        "cost_usd": rows["cost_usd"].fillna(0) + rows["router_cost_usd"].fillna(0), "quality": rows["quality"],
        "latency_ms": rows["latency_ms"], "router_cost_usd": rows["router_cost_usd"].fillna(0),
        "router_ms": rows["router_latency_s"].fillna(0) * 1000})}
    labels = rows.set_index("id")["difficulty"]
    for t, model in result.summary["tier_models"].items():
        got = result.outcomes[result.outcomes["model"] == model]
        frames[f"all-{t}"] = pd.DataFrame({
            "id": got["query_id"].to_numpy(), "difficulty": labels.reindex(got["query_id"]).to_numpy(), "tier": t,
            "cost_usd": got["cost_usd"].to_numpy(), "quality": got["quality"].to_numpy(),
            "latency_ms": got["latency_s"].to_numpy() * 1000})
    return frames


def _dominated_by(names, cost, quality) -> list:
    """Per policy, the name of the cheapest policy that dominates it (metrics.dominated), else ''."""
    return [names[j] if j >= 0 else "" for j in dominated(cost, quality)]


def policy_table(frames: dict, tiers: list, mix: dict | None = None, references=("oracle",)) -> pd.DataFrame:
    """One row per policy on the same queries: requests and $/request per tier, cost, quality, latency, savings
    against all-<top tier> and against the cheapest single tier keeping the quality, and what dominates it."""
    out = []
    for name, f in frames.items():
        w = mix_weights(f["difficulty"], mix) if mix else np.full(len(f), 1 / len(f))
        n = len(f)
        per_tier = pd.DataFrame({"tier": f["tier"].to_numpy(), "w": w, "wc": w * f["cost_usd"].to_numpy(float)}
                                ).groupby("tier")[["w", "wc"]].sum().reindex(tiers).fillna(0.0)
        q = f["quality"].to_numpy(float)
        row = {"policy": name, **{f"{t}_requests": per_tier.at[t, "w"] * n for t in tiers},
               **{f"{t}_usd_per_request": per_tier.at[t, "wc"] / per_tier.at[t, "w"] if per_tier.at[t, "w"] else np.nan
                  for t in tiers},
               "cost_per_request_usd": float(np.sum(w * f["cost_usd"].to_numpy(float))),
               "quality": float(np.nansum(w * q) / np.sum(w[~np.isnan(q)])),
               "latency_p50_ms": weighted_percentile(f["latency_ms"], w, 50),
               "latency_p95_ms": weighted_percentile(f["latency_ms"], w, 95)}
        row["cost_usd"] = row["cost_per_request_usd"] * n
        router_ms = f.get("router_ms", pd.Series(0.0, index=f.index)).to_numpy(float)
        row["router_usd_per_request"] = float(np.sum(w * f.get("router_cost_usd", 0.0)))
        row["router_ms_mean"] = float(np.sum(w * router_ms))
        up = (f["tier"] != tiers[0]).to_numpy()  # escalated (a cascade) or sent above the cheap tier
        row["router_ms_above_cheap"] = float(np.sum(w[up] * router_ms[up]) / np.sum(w[up])) if up.any() else np.nan
        out.append(row)
    table = pd.DataFrame(out).set_index("policy")
    top = table.loc[f"all-{tiers[-1]}", "cost_per_request_usd"]
    table["savings_vs_all_" + tiers[-1]] = top / table["cost_per_request_usd"]
    single = table.loc[[f"all-{t}" for t in tiers], ["cost_per_request_usd", "quality"]]
    keeps = [single[single["quality"] >= q - 1e-12]["cost_per_request_usd"].idxmin()
             if (single["quality"] >= q - 1e-12).any() else "" for q in table["quality"]]
    table["cheapest_tier_keeping_quality"] = keeps
    table["savings_vs_that_tier"] = [single.at[k, "cost_per_request_usd"] / c if k and c > 0 else np.nan
                                     for k, c in zip(keeps, table["cost_per_request_usd"])]  # free (0 $) has no ratio
    deployable = [p for p in table.index if p not in references]
    dom = dict(zip(deployable, _dominated_by(deployable, table.loc[deployable, "cost_per_request_usd"],
                                             table.loc[deployable, "quality"])))
    table["dominated_by"] = [dom.get(p, "reference (reads every answer)") for p in table.index]
    return table


NOTES = {
    "classifier": "classifier: scored out of fold (5 folds on the 50 queries: each query's decision comes from a "
                  "model trained on the other 40), so it never sees its own label",
    "cascade": "cascade: heuristic answer scorer; cascade-judge: a cheap model judges each answer (SIMULATED "
               "verdicts); cascade-verifier and cascade-logprob need recorded texts or live logprobs, so they cannot "
               "run here",
    "oracle": "oracle: reads every tier's graded answer, a reference and not a router; left out of the dominance "
              "check",
    "": "dominated: another deployable policy costs less per request with no lower quality"}


def _dollars(low_high, scale: float = 1.0) -> str:
    """'$30-50' (or '$100', or '-' where the material gives no figure)."""
    if not low_high:
        return "-"
    lo, hi = (x * scale for x in low_high)
    return f"${lo:,.0f}" if lo == hi else f"${lo:,.0f}-{hi:,.0f}"


class PolicyComparison:
    """Every strategy and baseline on the same queries, optionally reweighted to a difficulty mix."""

    def __init__(self, table: pd.DataFrame, tiers: list, n_queries: int, mix: dict | None, simulated: bool,
                 natural_mix: dict, frames: dict | None = None):
        self.table, self.tiers, self.n_queries, self.mix = table, tiers, n_queries, mix
        self.simulated, self.natural_mix, self.frames = simulated, natural_mix, frames

    def at(self, mix: dict | None) -> PolicyComparison:
        """The same policies and answers, reweighted to another difficulty mix."""
        return PolicyComparison(policy_table(self.frames, self.tiers, mix), self.tiers, self.n_queries, mix,
                                self.simulated, self.natural_mix, self.frames)

    def easy_share_curve(self, easy_shares=EASY_SHARES, medium_to_hard=(20, 5)) -> pd.DataFrame:
        """Savings and quality of every policy against the share of easy traffic (the rest split medium:hard)."""
        m, h = medium_to_hard[0] / sum(medium_to_hard), medium_to_hard[1] / sum(medium_to_hard)
        top = f"savings_vs_all_{self.tiers[-1]}"
        parts = [self.at({"easy": e, "medium": (1 - e) * m, "hard": (1 - e) * h}).table[[top, "quality"]]
                 .assign(easy_share=e) for e in easy_shares]
        return pd.concat(parts).rename(columns={top: "savings"}).reset_index()

    @property
    def label(self) -> str:
        return "SIMULATED" if self.simulated else "measured"

    def mix_line(self) -> str:
        """What difficulty mix the numbers are at, and how it was reached."""
        natural = "/".join(f"{v:.0%}" for v in self.natural_mix.values())
        if not self.mix:
            return f"difficulty mix as in the queries: {natural} {'/'.join(self.natural_mix)} (unweighted)"
        target = "/".join(f"{v:.0%}" for v in self.mix.values())
        return (f"difficulty mix {target} {'/'.join(self.mix)} by importance weights (share / queries of that "
                f"difficulty) on the queries' own {natural}; every metric is the weighted mean or percentile")

    def report(self) -> str:
        """The one printed table, dominated policies marked, and the per-tier cost per request."""
        t = self.table
        top = self.tiers[-1]
        view = pd.DataFrame({
            "requests " + "/".join(self.tiers): ["/".join(f"{r:.1f}" if self.mix else f"{r:.0f}" for r in row)
                                                 for row in t[[f"{x}_requests" for x in self.tiers]].to_numpy()],
            "$/request": t["cost_per_request_usd"].map("${:.5f}".format),
            "total $": t["cost_usd"].map("${:.4f}".format),
            "quality": t["quality"].map("{:.3f}".format),
            "p50 ms": t["latency_p50_ms"].map("{:,.0f}".format), "p95 ms": t["latency_p95_ms"].map("{:,.0f}".format),
            f"vs all-{top}": t[f"savings_vs_all_{top}"].map("{:.2f}x".format),
            "cheapest tier keeping quality": [f"{k} ({s:.2f}x)" if k else "none reaches it" for k, s in
                                              zip(t["cheapest_tier_keeping_quality"], t["savings_vs_that_tier"])],
            "dominated": [("DOMINATED by " + d) if d and not d.startswith("reference") else d
                          for d in t["dominated_by"]]}, index=t.index)
        per_tier = t[[f"{x}_usd_per_request" for x in self.tiers]].rename(columns=lambda c: c.split("_")[0])
        title = f"All strategies and baselines on the same {self.n_queries} queries ({self.label}; {self.mix_line()})"
        lines = [title, "", view.to_string(), "",
                 f"$ per request on each tier ({self.label}):", per_tier.to_string(
                     float_format="${:.5f}".format, na_rep="-"), "",
                 *self._overhead_lines(), *[f"- {n}" for n in self.notes()]]
        return "\n".join(lines)

    def _overhead_lines(self) -> list:
        """What deciding costs each strategy per request (money and time), beside the material's claims."""
        said = {"classifier": "~5 ms", "llm": "100-200 ms, ~$0.0001", "cascade": "~200 ms on escalations"}
        t = self.table[self.table["router_ms_mean"] > 0]
        if t.empty:
            return []
        view = pd.DataFrame({
            "router $/request": t["router_usd_per_request"].map("${:.6f}".format),
            "ms per request": t["router_ms_mean"].map("{:,.1f}".format),
            f"ms on requests above {self.tiers[0]}": t["router_ms_above_cheap"].map("{:,.1f}".format),
            "the material": [said.get(p.split("-")[0], "-") for p in t.index]}, index=t.index)
        return [f"Deciding overhead ({self.label}; a cascade's overhead is its thrown-away answers and judge calls):",
                view.to_string(), ""]

    def notes(self) -> list:
        """The notes that concern the policies in the table."""
        return [text for key, text in NOTES.items() if any(p.startswith(key) for p in self.table.index)]

    def to_json(self, requests_per_day: int | None = None) -> dict:
        """The table (and the daily projection) as JSON-safe records, with its label and mix."""
        records = self.table.reset_index().astype(object).where(self.table.reset_index().notna(), None)
        doc = {"numbers": self.label, "mix": self.mix, "mix_note": self.mix_line(), "notes": self.notes(),
               "policies": records.to_dict("records")}
        if requests_per_day:
            doc.update(requests_per_day=requests_per_day,
                       daily=self.daily(requests_per_day).reset_index().to_dict("records"),
                       daily_assumptions=self.daily_assumptions(requests_per_day))
        return doc

    def at_mix(self, policy: str) -> dict:
        """One policy's savings and quality at the table's mix, for the exercise's JSON summary."""
        t, top = self.table, f"all-{self.tiers[-1]}"
        row = t.loc[policy]
        return {"numbers": self.label, "mix": self.mix, "how": self.mix_line(),
                "savings_factor": float(row[f"savings_vs_all_{self.tiers[-1]}"]), "quality": float(row["quality"]),
                f"{top}_quality": float(t.at[top, "quality"]),
                f"quality_vs_{top}": float(row["quality"] / t.at[top, "quality"]),
                "cost_per_request_usd": float(row["cost_per_request_usd"]),
                "latency_p50_ms": row["latency_p50_ms"], "latency_p95_ms": row["latency_p95_ms"],
                "dominated_by": row["dominated_by"] or None}

    def __repr__(self):
        best = self.table.drop(index="oracle", errors="ignore")
        undominated = list(best.index[best["dominated_by"] == ""])
        return (f"PolicyComparison({len(self.table)} policies on {self.n_queries} queries, {self.label}, "
                f"mix={self.mix or 'as labelled'}, undominated={undominated})")

    def daily(self, requests_per_day: int) -> pd.DataFrame:
        """Each policy's projected $ per day at this many requests, beside the material's estimates."""
        t, top = self.table, f"all-{self.tiers[-1]}"
        ours_top = t.at[top, "cost_per_request_usd"] * requests_per_day
        material = {p: MATERIAL["daily_usd"].get("cascade" if p.startswith("cascade") else p) for p in t.index}
        material[top] = MATERIAL["daily_usd"]["all-expensive"]
        return pd.DataFrame({
            "usd_per_day": t["cost_per_request_usd"] * requests_per_day,
            "savings_vs_" + top: ours_top / (t["cost_per_request_usd"] * requests_per_day),
            "material_usd_per_day": [_dollars(m) for m in material.values()],
            "material_scaled_to_our_all_expensive": [_dollars(m, ours_top / 100) for m in material.values()],
        }, index=t.index)

    def daily_report(self, requests_per_day: int) -> str:
        """The printed dollars-per-day table and what it assumes."""
        daily = self.daily(requests_per_day)
        fmt = {"usd_per_day": "${:,.2f}".format, daily.columns[1]: "{:.2f}x".format}
        return "\n".join([f"Dollars per day at {requests_per_day:,} requests/day ({self.label}):",
                          daily.to_string(formatters=fmt), self.daily_assumptions(requests_per_day)])

    def daily_assumptions(self, requests_per_day: int) -> str:
        """What the dollars-per-day projection assumes."""
        return (f"Projection ({self.label}): {requests_per_day:,} requests/day x each policy's mean $/request on "
                f"these {self.n_queries} queries ({self.mix_line()}); assumes your requests have these prompts' "
                "token lengths and answer lengths, catalog list prices (no batch or cache discounts, no retries), "
                "router and judge calls included, quality as measured here. The material's figures assume $100/day "
                "all-expensive; the last column scales its ratios to this projection's all-expensive bill.")
