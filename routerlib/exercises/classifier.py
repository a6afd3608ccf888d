"""Checker for notebook 04: add a feature to the classifier router."""
from __future__ import annotations

import numpy as np

from ..evaluate import curve_metrics
from ..routers.classifier import ClassifierRouter
from ..sweep import single_models, sweep
from ..tables import TierTable
from . import not_yet, right


def held_out_apgr(router, train: TierTable, test: TierTable) -> float:
    """APGR of a router fitted on train and swept on test."""
    scores = router.fit(train).tier_scores(test)
    return curve_metrics(test, scores, sweep(test, scores), single_models(test))["apgr"]


def _shape_problem(out, texts):
    """Why an (n, d) feature array for `texts` is unusable (wrong shape, no columns, NaN), or None."""
    if out.ndim != 2 or out.shape[0] != len(texts):
        return (f"for {len(texts)} texts it returned shape {out.shape}; the classifier needs one row per text, "
                "(n texts, d features): build it with np.column_stack([...]) or [[value] for t in texts]")
    if out.shape[1] == 0:
        return "it returned no columns; give at least one number per text"
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if len(bad):
        return (f"it returned NaN or infinite values for {len(bad)} of {len(texts)} texts, e.g. "
                f"{str(texts[bad[0]])[:60]!r}; guard divisions and logs (np.log1p, max(x, 1))")
    return None


def _feature_problem(feature_fn, texts):
    """Why the feature function's output is unusable, or None when it is a sane (n, d) array of numbers."""
    try:
        out = np.asarray(feature_fn(texts), float)
        flipped = np.asarray(feature_fn(texts[::-1]), float)
    except Exception as err:  # the learner's code: report whatever it raised
        return f"your feature function raised {type(err).__name__}: {err}"
    problem = _shape_problem(out, texts)
    if problem:
        return problem
    if flipped.shape != out.shape or not np.allclose(flipped[::-1], out):
        return "a text's features change with its position in the batch (random or stateful); use the text only"
    return None


def check_classifier_feature(feature_fn, train: TierTable, test: TierTable, tolerance: float = 0.02):
    """Does the feature run, give one finite row per text, and leave the held-out APGR no worse (within tolerance)?"""
    if not callable(feature_fn):
        return not_yet("the feature must be a function: texts -> array of shape (n texts, d features)")
    texts = list(train.prompts.iloc[:50])
    problem = _feature_problem(feature_fn, texts)
    if problem:
        return not_yet(problem)
    every = list(train.prompts) + list(test.prompts)  # the fit and the held-out sweep use all of them
    try:
        values = np.asarray(feature_fn(every), float)
    except Exception as err:  # the learner's code, on a text past the first 50
        return not_yet(f"on the full train and test texts your feature function raised {type(err).__name__}: {err}")
    problem = _shape_problem(values, every)
    if problem:
        return not_yet(f"on the full train and test texts {problem}")
    if np.ptp(values[:train.n], axis=0).max() == 0:
        return not_yet("the feature has the same value for every training text, so it carries no information")
    base = held_out_apgr(ClassifierRouter(), train, test)
    new = held_out_apgr(ClassifierRouter(embedder=feature_fn), train, test)
    numbers = dict(apgr_before=base, apgr_after=new)
    if new < base - tolerance:
        return not_yet(f"held-out APGR fell from {base:.3f} to {new:.3f}; the feature misleads the classifier. "
                       "Put it on a log or 0-1 scale, or pick one that tracks difficulty", **numbers)
    if new - base <= tolerance:
        return right(f"the feature runs and does no harm: held-out APGR {base:.3f} -> {new:.3f} ({new - base:+.3f}) "
                     f"on {test.n} {test.name} queries. That change is within the noise ({tolerance} either way), so "
                     "it does not show the feature helps; to claim a gain, it must beat the noise over several splits "
                     "(routerlib.spread.evaluate_splits)", **numbers)
    return right(f"the feature fits and helps on this split: held-out APGR {base:.3f} -> {new:.3f} ({new - base:+.3f}) "
                 f"on {test.n} {test.name} queries, more than the noise ({tolerance}); confirm it over several splits",
                 **numbers)
