"""How much the exercise's figures move with the simulator's seed: each policy's mean with its 95% interval."""
from __future__ import annotations

import pandas as pd

from ..spread import over_runs, with_intervals

FIGURES = ("savings_vs_all_expensive", "quality")


def over_seeds(comparisons: dict) -> pd.DataFrame:
    """Per policy: each figure's mean and 95% t interval over the seeds' comparisons, and how often it was dominated."""
    tables = {seed: c.table for seed, c in comparisons.items()}
    spread = over_runs(tables, FIGURES).rename_axis("policy")
    marks = pd.DataFrame({seed: t["dominated_by"].fillna("").astype(str) for seed, t in tables.items()})
    spread["dominated_in"] = [("reference" if row.str.startswith("reference").any()
                               else f"{(row != '').sum()} of {len(row)}") for _, row in marks.loc[spread.index].iterrows()]
    return spread


def spread_cells(spread: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """The spread as 'mean ± half-width' cells, with how often each policy was dominated."""
    return with_intervals(spread, FIGURES, digits).assign(dominated_in=spread["dominated_in"])
