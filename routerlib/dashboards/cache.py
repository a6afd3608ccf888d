"""The session cache: datasets split into train and test, and routers fitted on them with their test scores.

Keyed by (dataset, seed, test_share, data_dir) and (dataset, router, seed, test_share, data_dir); a few
entries each, the least recently used dropped first. Going back to a dataset already loaded skips the
load, the split, the fit and the scoring. `clear_cache()` empties it; `cache_info()` counts hits and misses.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import datasets
from ..routers import make
from ..sweep import single_models
from ..tables import TierTable, train_test


class LRU:
    """A few entries, the least recently used dropped first; counts hits and misses (computations)."""

    def __init__(self, size: int):
        self.size, self.items, self.hits, self.misses = size, OrderedDict(), 0, 0

    def get(self, key, compute):
        """The cached value for key, computed (and kept) on a miss."""
        if key in self.items:
            self.hits += 1
            self.items.move_to_end(key)
            return self.items[key]
        self.misses += 1
        value = compute()
        self.items[key] = value
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return value

    def __contains__(self, key):
        return key in self.items

    def clear(self):
        self.items.clear()
        self.hits = self.misses = 0

    def info(self) -> dict:
        return {"entries": len(self.items), "size": self.size, "hits": self.hits, "misses": self.misses}

    def __repr__(self):
        return f"LRU(size={self.size}, entries={len(self.items)}, hits={self.hits}, misses={self.misses})"


@dataclass
class Split:
    """A dataset's held-out queries, what the dashboards need of its train half, and its single models."""

    test: TierTable
    train: TierTable
    simulated: bool
    singles: pd.DataFrame
    train_good_rate: np.ndarray


@dataclass
class Fit:
    """A router fitted on the train half, its scores and deciding cost on the test half, and curves drawn once."""

    router: object
    scores: np.ndarray
    cost: object
    curves: dict = field(default_factory=dict)  # reference curves and figures, drawn once per dashboard kind


SPLITS = LRU(4)
FITS = LRU(8)


def _dir(data_dir) -> str:
    return str(data_dir or os.environ.get("ROUTERLIB_DATA_DIR") or "")


def split_key(dataset, seed, test_share, data_dir) -> tuple:
    return dataset, seed, test_share, _dir(data_dir)


def fit_key(dataset, router, seed, test_share, data_dir) -> tuple:
    return dataset, router, seed, test_share, _dir(data_dir)


def split_of(dataset, seed=0, test_share=0.5, data_dir=None) -> Split:
    """The dataset loaded and split (cached)."""
    def compute():
        table = datasets.load(dataset, data_dir)
        train, test = train_test(table, test_share, seed)
        good = train.good().mean(axis=0) if train.n else np.ones(len(test.tiers))
        return Split(test, train, table.simulated, single_models(test), good)
    return SPLITS.get(split_key(dataset, seed, test_share, data_dir), compute)


def fit_of(dataset, router, seed=0, test_share=0.5, data_dir=None) -> Fit:
    """The router fitted on the train half and scored on the test half (cached)."""
    def compute():
        split = split_of(dataset, seed, test_share, data_dir)
        fitted = make(router, split.test.catalog, seed)
        fitted.fit(split.train)
        return Fit(fitted, fitted.tier_scores(split.test), fitted.deciding_cost(split.test))
    return FITS.get(fit_key(dataset, router, seed, test_share, data_dir), compute)


def clear_cache():
    """Forget every loaded dataset and fitted router."""
    SPLITS.clear()
    FITS.clear()


def cache_info() -> dict:
    """Entries, hits and misses of the dataset and router caches."""
    return {"splits": SPLITS.info(), "fits": FITS.info()}
