"""The outcome table (query x model results), the tier table (query x tier), quality, splits and tier choice.

Everything downstream reads these: a loader fills an OutcomeTable; evaluation picks one model per
tier and works on the TierTable's n x K arrays.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .catalog import Catalog, UnknownModelError, choose_tiers, estimated_model, infer_tiers

GOOD_ENOUGH = 7 / 9  # normalised quality counted as a good answer: correct, or a judge score of 8+ of 10

OUTCOME_COLUMNS = ["query_id", "model", "quality", "quality_raw", "prompt_tokens", "completion_tokens",
                   "cost_usd", "response"]

QUERY_COLUMNS = ["prompt", "category"]  # required; loaders may add more (e.g. split)
TABLE_SETTINGS = ("quality_scale", "token_method", "cost_method", "simulated", "source", "notes")


def _as_json(value):
    """A value json cannot write as such: numpy scalars as Python ones, anything else as text."""
    return value.item() if isinstance(value, np.generic) else str(value)


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
        if not self.queries["prompt"].map(type).eq(str).all():
            self.queries["prompt"] = self.queries["prompt"].map(as_text)
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
            values = self.outcomes[col].astype(float)
            bad = (values < 0) | np.isinf(values)
            if bad.any():
                row = self.outcomes.loc[bad.idxmax()]
                raise OutcomeError(f"{self.name}: {col} must be finite and at least 0, got {values[bad.idxmax()]} "
                                   f"(query {row['query_id']!r}, model {row['model']!r})")

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
        """Per model: tier (inferred where the catalog lacks a model), mean quality, total cost, missing qualities."""
        quality, cost = self.wide("quality"), self.wide("cost_usd")
        catalog = infer_tiers(self, catalog)[0]
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

    def to_hf_dataset(self):
        """A datasets.Dataset: a row per outcome with its query's columns and `query_position` (its place in
        queries); a query with no outcome gets one row with an empty model. A quality_raw that is not numeric
        is stored as JSON text. The metadata is JSON in info.description: save_to_disk keeps it, Parquet and
        push_to_hub drop it (from_hf_dataset then uses defaults and leaves such quality_raw as JSON text)."""
        import datasets

        clash = [c for c in self.queries.columns if c in OUTCOME_COLUMNS + ["query_position"]]
        if clash:
            raise OutcomeError(f"{self.name}: rename the query column(s) {clash}: outcome columns use those names")
        queries = self.queries.reset_index().assign(query_position=range(self.n_queries))
        lonely = queries[~queries["query_id"].isin(self.outcomes["query_id"])]
        rows = pd.concat([p for p in (self.outcomes.merge(queries, on="query_id", how="left"), lonely) if len(p)],
                         ignore_index=True)
        as_json = not pd.api.types.is_numeric_dtype(rows["quality_raw"])
        if as_json:
            rows["quality_raw"] = rows["quality_raw"].map(lambda v: json.dumps(v, default=_as_json))
        meta = {key: getattr(self, key) for key in TABLE_SETTINGS + ("name",)}
        meta.update(query_columns=list(self.queries.columns), quality_raw_json=as_json,
                    dtypes={c: str(t) for c, t in [*self.outcomes.dtypes.items(), *self.queries.dtypes.items()]})
        info = datasets.DatasetInfo(description=json.dumps(meta, default=_as_json))
        return datasets.Dataset.from_pandas(rows, preserve_index=False, info=info)

    @classmethod
    def from_hf_dataset(cls, ds, name=None) -> "OutcomeTable":
        """The table that to_hf_dataset() wrote; where the metadata was lost, settings say "unknown"."""
        try:
            meta = json.loads(ds.info.description or "{}")
        except ValueError:  # a description in prose: not written by to_hf_dataset
            meta = {}
        meta, rows = meta if isinstance(meta, dict) else {}, ds.to_pandas()
        missing = [c for c in OUTCOME_COLUMNS + QUERY_COLUMNS if c not in rows]
        if missing:
            raise OutcomeError(f"dataset lacks column(s) {missing}; for other layouts use datasets.hub.load_hub")
        order = rows.sort_values("query_position", kind="stable") if "query_position" in rows else rows
        extra = [c for c in rows if c not in OUTCOME_COLUMNS + ["query_position"]]
        queries = order.drop_duplicates("query_id").set_index("query_id")[meta.get("query_columns", extra)]
        outcomes = rows.loc[rows["model"].notna(), OUTCOME_COLUMNS]
        if meta.get("quality_raw_json"):
            outcomes["quality_raw"] = outcomes["quality_raw"].map(json.loads)
        dtypes = meta.get("dtypes", {})
        settings = {key: meta.get(key, "unknown") for key in TABLE_SETTINGS[:3]}
        settings.update({key: meta[key] for key in TABLE_SETTINGS[3:] if key in meta})
        queries, outcomes = (f.astype({c: dtypes[c] for c in f if c in dtypes}) for f in (queries, outcomes))
        return cls(name or meta.get("name", "hf-dataset"), queries, outcomes, **settings)

    def __repr__(self):
        tag = ", SIMULATED" if self.simulated else ""
        return (f"OutcomeTable({self.name!r}, {self.n_queries} queries x {len(self.models)} models, "
                f"quality: {self.quality_scale}{tag})")


def as_text(value) -> str:
    """A prompt as text: bytes decoded as UTF-8, a missing one empty."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None or value != value else str(value)


def priced(outcomes: pd.DataFrame, catalog: Catalog) -> pd.Series:
    """cost_usd from tokens x catalog price, per row (vectorised)."""
    models = outcomes["model"].unique()
    unknown = [m for m in models if m not in catalog]
    if unknown:
        raise UnknownModelError(f"no cost for model(s) {unknown}: the file gives no cost_usd for them and the "
                                "catalog has no price; add a cost_usd column (USD per call) or a --catalog entry")
    price_in = outcomes["model"].map({m: catalog.get(m).input_per_mtok for m in models})
    price_out = outcomes["model"].map({m: catalog.get(m).output_per_mtok for m in models})
    return (outcomes["prompt_tokens"] * price_in + outcomes["completion_tokens"] * price_out) / 1e6


@dataclass
class TierTable:
    """Quality and cost of each tier's model on each query (n x K), with the prompts and answers."""

    name: str
    tiers: list
    models: list
    quality: np.ndarray
    cost: np.ndarray
    prompts: pd.Series
    responses: np.ndarray
    prompt_tokens: np.ndarray
    simulated: bool = False
    catalog: Catalog | None = None
    notes: list = field(default_factory=list)  # what the tier choice replaced or dropped, and queries left out

    @classmethod
    def from_table(cls, table: OutcomeTable, catalog: Catalog | None = None, notes=()) -> "TierTable":
        """Use each tier's default model (by default: chosen on this table, see choose_tiers).

        Queries with no recorded quality or cost for a tier model are left out, and a note says how many.
        """
        catalog = catalog or dataset_catalog(table)
        tiers = list(catalog.tiers)
        if len(tiers) < 2:
            why = "; ".join(notes) or f"its models: {', '.join(table.models)}"
            raise ValueError(f"{table.name}: routing needs at least two tiers, but only {tiers or 'none'} remain(s) "
                             f"({why}); add outcomes of a cheaper or a better model")
        models = [catalog.tiers[t] for t in tiers]
        quality, cost = (table.wide(c)[models].to_numpy(float) for c in ("quality", "cost_usd"))
        keep = ~(np.isnan(quality).any(axis=1) | np.isnan(cost).any(axis=1))
        notes = list(notes)
        if not keep.any():
            raise ValueError(f"{table.name}: no query has a recorded quality and cost for every tier model {models}")
        if not keep.all():
            notes.append(f"left out {int((~keep).sum())} of {len(keep)} queries with no recorded quality or cost "
                         f"for a tier model")
        return cls(table.name, tiers, models, quality[keep], cost[keep], table.queries["prompt"][keep],
                   table.wide("response")[models].to_numpy(object)[keep],
                   table.wide("prompt_tokens")[models[0]].to_numpy(float)[keep], table.simulated, catalog, notes)

    @property
    def n(self) -> int:
        return len(self.prompts)

    def take(self, index) -> "TierTable":
        """Rows `index` (positions or a boolean mask): a split of the same table."""
        idx = np.arange(self.n)[index]
        return TierTable(self.name, self.tiers, self.models, self.quality[idx], self.cost[idx],
                         self.prompts.iloc[idx], self.responses[idx], self.prompt_tokens[idx], self.simulated,
                         self.catalog, list(self.notes))

    def take_ids(self, query_ids) -> "TierTable":
        """Rows of these query ids (as split() returns them); ids the table left out are skipped."""
        where = self.prompts.index.get_indexer(pd.Index(query_ids))
        return self.take(where[where >= 0])

    def good(self, good_enough: float = GOOD_ENOUGH) -> np.ndarray:
        """n x K booleans: is this tier's answer good enough (missing quality counts as not)?"""
        return np.nan_to_num(self.quality, nan=-1.0) >= good_enough

    def __repr__(self):
        return f"TierTable({self.name!r}, {self.n} queries, tiers={dict(zip(self.tiers, self.models))})"


def split(table: OutcomeTable, test_share: float = 0.5, seed: int = 0, own_split: bool = True):
    """Train and test query ids: the dataset's own split where it has one (and `own_split`), else a seeded random one."""
    if not 0 < test_share <= 1:
        raise ValueError(f"test_share must be above 0 and at most 1, got {test_share}")
    q = table.queries
    if own_split and "split" in q and set(q["split"]) >= {"train", "test"}:
        return q.index[q["split"] == "train"], q.index[q["split"] == "test"]
    order = np.random.default_rng(seed).permutation(len(q))
    cut = int(round(len(q) * (1 - test_share)))
    return q.index[np.sort(order[:cut])], q.index[np.sort(order[cut:])]


def train_test(table: OutcomeTable, test_share: float = 0.5, seed: int = 0, catalog: Catalog | None = None,
               own_split: bool = True):
    """(train, test) TierTables; each tier's model is its best on the train queries only (no peeking).

    `catalog` gives the models' tiers and prices (default: the project catalog).
    """
    train_ids, test_ids = split(table, test_share, seed, own_split)
    catalog, notes = choose_tiers(table.subset(train_ids) if len(train_ids) else table, catalog)
    tt = TierTable.from_table(table, catalog, notes)
    return tt.take_ids(train_ids), tt.take_ids(test_ids)


def dataset_catalog(table: OutcomeTable, catalog: Catalog | None = None) -> Catalog:
    """A catalog of the table's models with one model per tier, chosen by choose_tiers()."""
    return choose_tiers(table, catalog)[0]


def mapped_tiers(table: OutcomeTable, tiers: dict, catalog: Catalog | None = None) -> tuple[OutcomeTable, Catalog]:
    """The table's models given tiers by hand ({model: tier}, cheapest tier first); other models are left out."""
    catalog = catalog or Catalog.load()
    absent = [m for m in tiers if m not in table.models]
    if absent:
        raise ValueError(f"--tiers names {absent}, not in {table.name}; its models: {', '.join(table.models)}")
    models = [replace(catalog.get(m), tier=t) if m in catalog else estimated_model(table, m, t)
              for m, t in tiers.items()]
    kept = table.outcomes[table.outcomes["model"].isin(list(tiers))]
    notes = {**table.notes, "tiers": f"tiers as given: {tiers}"}
    dropped = [m for m in table.models if m not in tiers]
    if dropped:
        notes["tiers"] += f"; left out {', '.join(dropped)} (not in --tiers)"
    mapped = OutcomeTable(table.name, table.queries, kept, table.quality_scale, table.token_method, table.cost_method,
                          table.simulated, table.source, notes)
    defaults = {}
    for m, t in tiers.items():
        defaults.setdefault(t, m)
    return mapped, Catalog(models, defaults)


def cheapest_good_tier(tt: TierTable, good_enough: float = GOOD_ENOUGH) -> np.ndarray:
    """Per query, the index of the cheapest tier whose answer is good enough; K (one past the last) if none is."""
    good = tt.good(good_enough)
    return np.where(good.any(axis=1), good.argmax(axis=1), len(tt.tiers))


def label_tiers(tt: TierTable, good_enough: float = GOOD_ENOUGH) -> np.ndarray:
    """The label-derived policy: the cheapest good-enough tier, else the best-quality one (cheapest among equals)."""
    first = cheapest_good_tier(tt, good_enough)
    best = np.nan_to_num(tt.quality, nan=-1.0).argmax(axis=1)
    return np.where(first < len(tt.tiers), first, best)


def transferred(test: TierTable, sources: list) -> TierTable:
    """Training rows in `test`'s tiers from other datasets (leave one dataset out).

    Labels are mapped through each source's own tiers: a query whose cheapest good-enough tier sits at
    position p (cheapest 0, dearest 1, none past 1) counts as good enough on every test tier from p up.
    Costs are the test tiers' mean costs; responses are those of the source tier at the same position.
    """
    k = len(test.tiers)
    parts = []
    for src in sources:
        position = cheapest_good_tier(src) / max(len(src.tiers) - 1, 1)
        first = np.ceil(position * (k - 1) - 1e-9).astype(int)
        quality = (np.arange(k)[None, :] >= first[:, None]).astype(float)
        columns = np.ceil(np.linspace(0, len(src.tiers) - 1, k) - 1e-9).astype(int)  # same rounding as labels
        parts.append((src.prompts, quality, src.responses[:, columns], src.prompt_tokens))
    prompts = pd.concat([p[0] for p in parts])
    return TierTable(f"{'+'.join(s.name for s in sources)} as {test.name}", test.tiers, test.models,
                     np.vstack([p[1] for p in parts]), np.tile(np.nanmean(test.cost, axis=0), (len(prompts), 1)),
                     prompts, np.vstack([p[2] for p in parts]), np.concatenate([p[3] for p in parts]),
                     test.simulated, test.catalog, [f"trained on {', '.join(s.name for s in sources)}; labels mapped "
                                                    "by the position of each query's cheapest good-enough tier"])


def difficulty_names(n_tiers: int) -> list:
    """Difficulty label of each tier position: easy, medium, hard (two tiers: easy, hard)."""
    return {1: ["easy"], 2: ["easy", "hard"]}.get(n_tiers, ["easy"] + ["medium"] * (n_tiers - 2) + ["hard"])


def difficulty_labels(tt: TierTable, good_enough: float = GOOD_ENOUGH) -> dict:
    """Per query id: easy/medium/hard by the cheapest good-enough tier (hard when none is)."""
    first = np.minimum(cheapest_good_tier(tt, good_enough), len(tt.tiers) - 1)
    return dict(zip(tt.prompts.index, np.array(difficulty_names(len(tt.tiers)))[first]))
