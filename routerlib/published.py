"""The kit's routers beside RouteLLM's published APGR and CPT(50%) on the same three benchmarks."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import datasets
from .strategies import compare

PUBLISHED = Path(__file__).resolve().parent.parent / "data" / "published_routellm.json"
OURS = ("random", "rules", "classifier", "cascade-verifier", "oracle")


def routellm_published(path=PUBLISHED) -> dict:
    """The published figures, their source and notes (data/published_routellm.json)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def beside_routellm(data_dir=None, seed: int = 0, routers=OURS) -> pd.DataFrame:
    """One row per (dataset, router): ours on the held-out half, theirs as published."""
    published, rows = routellm_published(), []
    for name, theirs in published["results"].items():
        ours = compare(datasets.load(name, data_dir), names=routers, seed=seed)
        rows += [{"dataset": name, "source": "routerlib", "router": r, "trained on": "train half of this benchmark"
                  if r in ("classifier", "cascade-verifier") else "-", "apgr": ours.at[r, "apgr"],
                  "cpt50": ours.at[r, "cpt50"]} for r in ours.index]
        rows += [{"dataset": name, "source": "RouteLLM paper", "router": t["router"], "trained on": t["trained_on"],
                  "apgr": t["apgr"], "cpt50": t["cpt50"]} for t in theirs]
    return pd.DataFrame(rows)
