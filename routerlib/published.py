"""The kit's routers beside RouteLLM's published APGR and CPT(50%), with the protocol of every row.

Two protocols for the kit: in-domain (random halves of the benchmark, trained on the other half,
mean over splits) and like-for-like (leave-one-dataset-out: trained on the other RouteLLM
benchmarks, which record the same two models, and scored on the whole benchmark, as the paper does).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import datasets
from .evaluate import pair_metrics
from .routers import make
from .spread import compare
from .tables import TierTable, dataset_catalog

PUBLISHED = Path(__file__).resolve().parent.parent / "data" / "published_routellm.json"
BENCHMARKS = ("routellm-mtbench", "routellm-mmlu", "routellm-gsm8k")
LEARNED = ("classifier", "knn", "cluster", "mlp", "mf", "sw-ranking", "cascade-verifier")
OURS = ("random", "rules", *LEARNED, "oracle")
RANDOM_DRAWS = 100
PROTOCOL = {
    "paper": "paper: trained on Chatbot Arena (+ augmentation); whole benchmark; random = mean over runs",
    "in-domain": "kit, in-domain: trained on a random half of this benchmark, scored on the other half; "
                 "mean ± 95% interval over splits",
    "leave-one-out": "kit, like for like: trained on the other RouteLLM benchmarks (same two models), scored on "
                     "the whole benchmark; random = mean of 100 draws",
}


def routellm_published(path=PUBLISHED) -> dict:
    """The published figures, their source and notes (data/published_routellm.json)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def whole(table) -> TierTable:
    """Every query of a RouteLLM benchmark, cheap (Mixtral) and expensive (GPT-4) tiers."""
    return TierTable.from_table(table, dataset_catalog(table))


def concat(tables: list) -> TierTable:
    """Several tier tables with the same tiers and models, one after the other."""
    first = tables[0]
    if any(t.models != first.models for t in tables):
        raise ValueError(f"tables have different tier models: {[t.models for t in tables]}")
    return TierTable("+".join(t.name for t in tables), first.tiers, first.models,
                     np.concatenate([t.quality for t in tables]), np.concatenate([t.cost for t in tables]),
                     pd.concat([t.prompts for t in tables]), np.concatenate([t.responses for t in tables]),
                     np.concatenate([t.prompt_tokens for t in tables]), False, first.catalog)


def leave_one_out(tables: dict, name: str, router: str, seed: int = 0) -> dict:
    """APGR and CPT(50%) of `router` on the whole of benchmark `name`, trained on the others."""
    test = whole(tables[name])
    train = concat([whole(t) for n, t in tables.items() if n != name])
    if router == "random":
        runs = [_pair(test, make("random", seed=seed + k).fit(train)) for k in range(RANDOM_DRAWS)]
        return {k: float(np.nanmean([r[k] for r in runs])) for k in ("apgr", "cpt50")}
    return _pair(test, make(router, test.catalog, seed).fit(train))


def _pair(test: TierTable, router) -> dict:
    m = pair_metrics(test, router.tier_scores(test))
    return {"apgr": m["apgr"], "cpt50": m["cpt50"]}


def best_learned(table: pd.DataFrame, dataset: str) -> str:
    """One line: the kit's best learned router in-domain (mean APGR over splits) beside the paper's best."""
    part = table[table["dataset"] == dataset]
    ours = part[(part["protocol"] == "in-domain") & part["router"].isin(LEARNED)].dropna(subset=["apgr"])
    theirs = part[part["protocol"] == "paper"].dropna(subset=["apgr"])
    if ours.empty or theirs.empty:
        return f"{dataset}: no learned router has an APGR here"
    mine, paper = ours.loc[ours["apgr"].idxmax()], theirs.loc[theirs["apgr"].idxmax()]
    return (f"{dataset}: best learned router in-domain {mine['router']}, APGR {mine['apgr']:.3f} (95% interval "
            f"{mine['apgr_lo']:.3f} to {mine['apgr_hi']:.3f}); RouteLLM's best published {paper['router']}, "
            f"{paper['apgr']:.3f} ({PROTOCOL['paper'].split(';')[0]})")


def beside_routellm(data_dir=None, seed: int = 0, routers=OURS, catalog=None, splits: int = 10) -> pd.DataFrame:
    """One row per (dataset, protocol, router): the kit in-domain and leave-one-out, and the paper's rows."""
    published = routellm_published()
    tables = {n: datasets.load(n, data_dir, catalog) for n in published["results"]}
    rows = []
    for name, theirs in published["results"].items():
        ours = compare(tables[name], names=list(routers), seed=seed, splits=splits, catalog=catalog, deployable=False)
        rows += [{"dataset": name, "protocol": "in-domain", "router": r, "apgr": ours.at[r, "apgr"],
                  "apgr_lo": ours.at[r, "apgr_lo"], "apgr_hi": ours.at[r, "apgr_hi"], "cpt50": ours.at[r, "cpt50"]}
                 for r in ours.index]
        rows += [{"dataset": name, "protocol": "leave-one-out", "router": r, **leave_one_out(tables, name, r, seed)}
                 for r in routers if r == "random" or r in LEARNED]
        rows += [{"dataset": name, "protocol": "paper", "router": f"{t['router']} ({t['trained_on']})",
                  "apgr": t["apgr"], "cpt50": t["cpt50"]} for t in theirs]
    return pd.DataFrame(rows)

