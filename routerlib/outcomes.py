"""OutcomeTable: for each query and model, how good the answer was, its tokens and what it cost."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .catalog import Catalog

OUTCOME_COLUMNS = ["query_id", "model", "quality", "quality_raw", "prompt_tokens", "completion_tokens",
                   "cost_usd", "response"]
QUERY_COLUMNS = ["prompt", "category"]  # required; loaders may add more (e.g. split)


class OutcomeError(ValueError):
    """An outcome table is inconsistent."""


@dataclass
class OutcomeTable:
    """Long table of outcomes (one row per query and model) plus the queries and how figures were made.

    quality is normalised to 0-1 (NaN where missing); quality_raw keeps the original scale.
    """

    name: str
    queries: pd.DataFrame  # index query_id; columns prompt, category (and any extra)
    outcomes: pd.DataFrame  # OUTCOME_COLUMNS
    quality_scale: str
    token_method: str
    cost_method: str
    simulated: bool = False
    source: str = ""
    notes: dict = field(default_factory=dict)

    def __post_init__(self):
        missing = [c for c in OUTCOME_COLUMNS if c not in self.outcomes.columns]
        if missing:
            raise OutcomeError(f"{self.name}: outcome rows lack column(s) {missing}")
        missing = [c for c in QUERY_COLUMNS if c not in self.queries.columns]
        if missing:
            raise OutcomeError(f"{self.name}: queries lack column(s) {missing}")
        self.outcomes = self.outcomes[OUTCOME_COLUMNS].reset_index(drop=True)
        self.queries.index = self.queries.index.astype(str)
        self.queries.index.name = "query_id"
        self.outcomes["query_id"] = self.outcomes["query_id"].astype(str)
        if self.queries.index.duplicated().any():
            dup = self.queries.index[self.queries.index.duplicated()][:3].tolist()
            raise OutcomeError(f"{self.name}: duplicate query ids {dup}")
        if self.outcomes.duplicated(["query_id", "model"]).any():
            dup = self.outcomes.loc[self.outcomes.duplicated(["query_id", "model"]), ["query_id", "model"]]
            raise OutcomeError(f"{self.name}: more than one outcome for {dup.head(3).values.tolist()}")
        unknown = set(self.outcomes["query_id"]) - set(self.queries.index)
        if unknown:
            raise OutcomeError(f"{self.name}: outcomes for unknown query ids {sorted(unknown)[:3]}")
        q = self.outcomes["quality"].astype(float)
        if ((q < 0) | (q > 1)).any():
            raise OutcomeError(f"{self.name}: normalised quality must lie in 0-1")
        for col in ("prompt_tokens", "completion_tokens", "cost_usd"):
            if (self.outcomes[col].astype(float) < 0).any():
                raise OutcomeError(f"{self.name}: negative {col}")

    @property
    def models(self) -> list[str]:
        """Models in order of first appearance."""
        return list(dict.fromkeys(self.outcomes["model"]))

    @property
    def n_queries(self) -> int:
        return len(self.queries)

    def wide(self, column: str = "quality") -> pd.DataFrame:
        """One column per model, one row per query (in query order); NaN where not recorded."""
        table = self.outcomes.pivot(index="query_id", columns="model", values=column)
        return table.reindex(index=self.queries.index, columns=self.models)

    def describe(self, catalog: Catalog | None = None) -> pd.DataFrame:
        """Per model: tier, mean quality, total cost, and how many queries lack a quality."""
        quality, cost = self.wide("quality"), self.wide("cost_usd")
        catalog = catalog or Catalog.load()
        return pd.DataFrame({
            "tier": [catalog.get(m).tier if m in catalog else None for m in self.models],
            "quality_mean": quality.mean(),
            "cost_usd_total": cost.sum(),
            "n_missing": quality.isna().sum(),
        }, index=pd.Index(self.models, name="model"))

    def subset(self, query_ids) -> "OutcomeTable":
        """The same table restricted to some queries (e.g. a train or test split)."""
        ids = pd.Index(query_ids).astype(str)
        return OutcomeTable(self.name, self.queries.loc[ids].copy(), self.outcomes[self.outcomes["query_id"].isin(ids)],
                            self.quality_scale, self.token_method, self.cost_method, self.simulated, self.source,
                            dict(self.notes))

    def __repr__(self):
        tag = ", SIMULATED" if self.simulated else ""
        return (f"OutcomeTable({self.name!r}, {self.n_queries} queries x {len(self.models)} models, "
                f"quality: {self.quality_scale}{tag})")


def priced(outcomes: pd.DataFrame, catalog: Catalog) -> pd.Series:
    """cost_usd from tokens x catalog price, per row (vectorised)."""
    models = outcomes["model"].unique()
    price_in = outcomes["model"].map({m: catalog.get(m).input_per_mtok for m in models})
    price_out = outcomes["model"].map({m: catalog.get(m).output_per_mtok for m in models})
    return (outcomes["prompt_tokens"] * price_in + outcomes["completion_tokens"] * price_out) / 1e6
