"""ReplayBackend: answers (query, model) from recorded outcomes instead of calling a model."""
from __future__ import annotations

import numpy as np

from ..catalog import Catalog
from ..queries import Query
from ..tables import OutcomeTable, TierTable, dataset_catalog, difficulty_labels
from .base import Backend, Completion, Request
from .simulated import SimulatedBackend


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
        tokens = [0 if np.isnan(row[c]) else int(row[c]) for c in ("prompt_tokens", "completion_tokens")]
        return Completion(request.model, text, *tokens,
                          float(row["cost_usd"]), quality=quality, simulated=self.table.simulated,
                          token_method=self.table.token_method)

    def __repr__(self):
        return f"ReplayBackend({self.table!r}, router_backend={type(self.router_backend).__name__ if self.router_backend else None})"


def replay_inputs(table: OutcomeTable, router_accuracy: float, seed: int = 0, limit: int | None = None,
                  catalog: Catalog | None = None):
    """Backend, queries and catalog to run the exercise on recorded outcomes.

    The LLM router's rating calls are simulated (the table has none), scored against difficulty
    labels derived from the table: the cheapest tier whose best model answers well enough.
    """

    catalog = dataset_catalog(table, catalog)
    ids = table.queries.index
    if limit is not None and limit < len(ids):
        ids = ids[np.random.default_rng(seed).permutation(len(ids))[:limit]]
        table = table.subset(ids)
    labels = difficulty_labels(TierTable.from_table(table, catalog))  # queries lacking a tier's outcome are left out
    queries = [Query(qid, text, difficulty=labels[qid]) for qid, text in table.queries["prompt"].items()
               if qid in labels]
    rater = SimulatedBackend(catalog, seed=seed, router_accuracy=router_accuracy)
    return ReplayBackend(table, router_backend=rater, catalog=catalog), queries, catalog
