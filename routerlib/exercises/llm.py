"""Checkers for notebook 06: how accurate an LLM router must be, and what the decision cache saves."""
from __future__ import annotations

import numbers

import numpy as np

from ..backends.simulated import SimulatedBackend
from ..evaluate import evaluate_router
from ..routers.llm import LLMRouter
from . import not_yet, right


def least_accuracy(table, grid, against: str = "classifier", seed: int = 0):
    """The least grid accuracy at which the SIMULATED LLM router saves more than `against` at 95% (None if none)."""
    key = "savings_factor_at_95pct_best"
    bar = _or_zero(evaluate_router(table, against, seed=seed, deployable=False).metrics[key])
    for a in sorted(grid):
        if _or_zero(evaluate_router(table, "llm", seed=seed, router_accuracy=a, deployable=False).metrics[key]) > bar:
            return a
    return None


def check_min_accuracy(table, accuracy, grid, against: str = "classifier", seed: int = 0, seeds=None):
    """Is `accuracy` the least on `grid` at which the SIMULATED LLM router saves more than `against` at 95%?

    With `seeds`, the split matters: any accuracy between the least and the greatest of the per-split
    answers is accepted, and the verdict says how the splits disagree.
    """
    grid = sorted(grid)
    on_grid = [g for g in grid if _is_number(accuracy) and np.isclose(accuracy, g)]  # 0.1 * 6 is 0.6 here
    if not on_grid:
        return not_yet(f"pick one of the grid values {[round(g, 3) for g in grid]}; got {accuracy!r}")
    accuracy = on_grid[0]
    if seeds is not None:
        per_split = {s: least_accuracy(table, grid, against, s) for s in seeds}
        found = [a for a in per_split.values() if a is not None]
        text = ", ".join(f"split {s}: {a if a is not None else 'none'}" for s, a in per_split.items())
        if not found:
            return not_yet(f"on no split does any grid accuracy beat {against} ({text}); nothing to pick",
                           per_split=per_split)
        lo, hi = min(found), max(found)
        if accuracy < lo:
            return not_yet(f"{accuracy:g} is too low: on every split the LLM router needs at least {lo:g} to save "
                           f"more than {against} ({text}; SIMULATED ratings); go up the grid", per_split=per_split)
        if accuracy > hi:
            return not_yet(f"{accuracy:g} is more than needed: on every split a less accurate router already saves "
                           f"more than {against} ({text}; SIMULATED ratings); go down the grid", per_split=per_split)
        return right(f"{accuracy:g} is within what the splits give ({text}; SIMULATED ratings): the least accuracy "
                     f"is {lo:g}-{hi:g} depending on the split, so one split's answer is not the answer",
                     per_split=per_split)
    key = "savings_factor_at_95pct_best"
    bar = _or_zero(evaluate_router(table, against, seed=seed, deployable=False).metrics[key])
    saves = {}
    for a in grid[: grid.index(accuracy) + 1]:  # 0: its operating point does not keep 95% of the best quality
        saves[a] = _or_zero(evaluate_router(table, "llm", seed=seed, router_accuracy=a, deployable=False).metrics[key])
        if saves[a] > bar and a < accuracy:
            return not_yet(f"already at accuracy {a:g} the LLM router saves {saves[a]:.2f}x against {against}'s "
                           f"{bar:.2f}x (SIMULATED ratings): a less accurate router is enough", savings=saves, bar=bar)
    if saves[accuracy] <= bar:
        return not_yet(f"at accuracy {accuracy:g} the LLM router saves {saves[accuracy]:.2f}x at 95% of the best "
                       f"quality, not more than {against}'s {bar:.2f}x (SIMULATED ratings): it must be more accurate",
                       savings=saves, bar=bar)
    return right(f"at accuracy {accuracy:g} the LLM router saves {saves[accuracy]:.2f}x, more than {against}'s "
                 f"{bar:.2f}x, and no lower grid value does (SIMULATED ratings)", savings=saves, bar=bar)


def _or_zero(savings) -> float:
    """A savings factor, 0 where the router never reaches the quality target (NaN)."""
    return float(savings) if savings == savings else 0.0


def _is_number(value) -> bool:
    """A real number, not a bool (True == 1 in Python), not a string, not NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and bool(np.isfinite(value))


def check_rating_calls(stream, answer, seed: int = 0):
    """Is `answer` the number of paid rating calls a fresh LLM router with its decision cache makes for `stream`?"""
    if not _is_number(answer) or answer != int(answer):
        return not_yet(f"the answer is a whole number of rating calls, such as 3; got {answer!r}")
    router = LLMRouter(SimulatedBackend(seed=seed))
    router.route_many(stream)
    calls = router.cache_info()["misses"]
    if answer == calls:
        return right(f"{calls} rating calls for {len(stream)} requests: one per distinct normalised text (lower case, "
                     f"single spaces); the other {len(stream) - calls} are cache hits and cost nothing", calls=calls)
    if answer == len(stream):
        return not_yet("that is one call per request, as without the cache; a repeat of a text already rated is "
                       "not rated again", calls=calls)
    if answer == len({q.text for q in stream}):
        return not_yet("that counts texts exactly as written; the cache key is normalised first (lower case, "
                       "runs of spaces made one), so texts that differ only there share one call", calls=calls)
    if answer > calls:
        return not_yet(f"{answer!r} is too many: some texts you counted apart share one cache key once normalised "
                       "(lower case, runs of spaces made one, ends trimmed), so the router rates them once; normalise "
                       "each text (routerlib.routers.llm.normalise) and count the distinct keys", calls=calls)
    return not_yet(f"{answer!r} is too few: texts that differ inside, in punctuation or in spaces between words "
                   "(e.g. '2+2' and '2 + 2', '.' and '!'), keep separate cache keys and each costs a rating call; "
                   "normalise each text (routerlib.routers.llm.normalise) and count the distinct keys", calls=calls)
