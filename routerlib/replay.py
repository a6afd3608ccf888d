"""ReplayBackend: answers (query, model) from recorded outcomes instead of calling a model."""
from __future__ import annotations

import numpy as np

from .backends import Backend, Completion, Request
from .catalog import Catalog
from .outcomes import OutcomeTable


class ReplayBackend(Backend):
    """Recorded answers, tokens, costs and quality; rating calls go to `router_backend` if given."""

    mode = "replay"

    def __init__(self, table: OutcomeTable, router_backend: Backend | None = None, catalog: Catalog | None = None):
        self.table = table
        self.router_backend = router_backend
        self.catalog = catalog or dataset_catalog(table)
        rows = table.outcomes
        self._index = {(q, m): i for i, (q, m) in enumerate(zip(rows["query_id"], rows["model"]))}

    def complete(self, request: Request) -> Completion:
        if request.purpose != "answer":
            if self.router_backend is None:
                return Completion(request.model, None, error="replay has no recorded router calls; "
                                  "pass router_backend= (e.g. a SimulatedBackend) to answer them")
            return self.router_backend.complete(request)
        qid = request.query.id if request.query else None
        i = self._index.get((qid, request.model))
        if i is None:
            return Completion(request.model, None, error=f"not recorded: query {qid!r} on model {request.model!r}")
        row = self.table.outcomes.iloc[i]
        quality = None if np.isnan(row["quality"]) else float(row["quality"])
        text = row["response"] if isinstance(row["response"], str) else "[recorded outcome; no text recorded]"
        return Completion(request.model, text, int(row["prompt_tokens"]), int(row["completion_tokens"]),
                          float(row["cost_usd"]), quality=quality, simulated=self.table.simulated,
                          token_method=self.table.token_method)

    def __repr__(self):
        return f"ReplayBackend({self.table!r}, router_backend={type(self.router_backend).__name__ if self.router_backend else None})"


def dataset_catalog(table: OutcomeTable, catalog: Catalog | None = None) -> Catalog:
    """A catalog of the table's models; each tier's default is its best model on this table."""
    catalog = catalog or Catalog.load()
    models = [catalog.get(m) for m in table.models]
    quality = table.wide("quality").mean()
    order = [t for t in catalog.tiers if any(m.tier == t for m in models)]
    tiers = {t: max((m for m in models if m.tier == t), key=lambda m: quality.get(m.name, 0)).name for t in order}
    return Catalog(models, tiers)


GOOD_ENOUGH = 7 / 9  # normalised quality counted as a good answer: correct, or a judge score of 8+ of 10


def difficulty_labels(table: OutcomeTable, catalog: Catalog, good_enough: float = GOOD_ENOUGH) -> dict:
    """Per query: easy/medium/hard by the cheapest tier whose default model is good enough."""
    tiers = list(catalog.tiers)
    quality = table.wide("quality")[[catalog.tiers[t] for t in tiers]].to_numpy()
    ok = np.nan_to_num(quality, nan=0.0) >= good_enough
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), len(tiers) - 1)
    names = ["easy", "medium", "hard"] if len(tiers) == 3 else ["easy"] * (len(tiers) - 1) + ["hard"]
    return dict(zip(table.queries.index, np.array(names)[first]))


def replay_inputs(table: OutcomeTable, router_accuracy: float, seed: int = 0, limit: int | None = None,
                  catalog: Catalog | None = None):
    """Backend, queries and catalog to run the exercise on recorded outcomes.

    The LLM router's rating calls are simulated (the table has none), scored against difficulty
    labels derived from the table: the cheapest tier whose best model answers well enough.
    """
    from .queries import Query
    from .simulated import SimulatedBackend

    catalog = dataset_catalog(table, catalog)
    ids = table.queries.index
    if limit is not None and limit < len(ids):
        ids = ids[np.random.default_rng(seed).permutation(len(ids))[:limit]]
        table = table.subset(ids)
    labels = difficulty_labels(table, catalog)
    queries = [Query(qid, text, difficulty=labels[qid]) for qid, text in table.queries["prompt"].items()]
    rater = SimulatedBackend(catalog, seed=seed, router_accuracy=router_accuracy)
    return ReplayBackend(table, router_backend=rater, catalog=catalog), queries, catalog
