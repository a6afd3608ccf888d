"""How much the exercise's figures move with the simulator's seed: each policy's mean with its 95% interval."""
from __future__ import annotations

import pandas as pd

from ..metrics import interval

FIGURES = ("savings_vs_all_expensive", "quality")


def over_seeds(comparisons: dict) -> pd.DataFrame:
    """Per policy: each figure's mean and 95% t interval over the seeds' comparisons, and how often it was dominated."""
    tables = {seed: c.table for seed, c in comparisons.items()}
    policies = next(iter(tables.values())).index
    rows = {}
    for policy in policies:
        row = {}
        for figure in FIGURES:
            row[figure], row[f"{figure}_lo"], row[f"{figure}_hi"] = interval(
                [float(t.at[policy, figure]) for t in tables.values()])
        marks = [str(t.at[policy, "dominated_by"] or "") for t in tables.values()]
        row["dominated_in"] = ("reference" if any(m.startswith("reference") for m in marks)
                               else f"{sum(bool(m) for m in marks)} of {len(marks)}")
        rows[policy] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")


def spread_cells(spread: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """The spread as 'mean ± half-width' cells, with how often each policy was dominated."""
    from ..spread import with_intervals

    return with_intervals(spread, FIGURES, digits).assign(dominated_in=spread["dominated_in"])
