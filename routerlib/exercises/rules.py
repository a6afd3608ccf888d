"""Checkers for notebook 03: add a rule, edit the tier map."""
from __future__ import annotations

import re

import numpy as np

from ..queries import Query
from ..routers.rules import DEFAULT_TIER_MAP, RuleRouter
from ..sweep import assign, outcomes_of
from ..tables import TierTable
from . import not_yet, right


def rule_tiers(texts, pattern: str | None, tier: str, catalog=None, tier_map=None) -> list:
    """Tier of each text when `pattern` (checked before the built-in task patterns) sends matches to `tier`."""
    router = RuleRouter(tier_map=tier_map, catalog=catalog)
    rx = re.compile(pattern, re.IGNORECASE) if pattern else None
    return [tier if rx and rx.search(t) else router.route(Query(str(i), t)).tier for i, t in enumerate(texts)]


def check_rule(pattern, tier: str, should_route: dict, unchanged, tt: TierTable | None = None,
               max_changed_share: float = 0.2):
    """Does the rule route every `should_route` text right, leave `unchanged` alone, and stay narrow on tt?"""
    if not isinstance(pattern, str) or not pattern.strip():
        return not_yet("no rule yet: set the pattern to a regular expression, e.g. r'\\b(sin|cos)\\b'")
    try:
        re.compile(pattern)
    except re.error as err:
        return not_yet(f"the pattern {pattern!r} is not a valid regular expression ({err}); fix it and re-run")
    catalog = tt.catalog if tt is not None else None
    tiers = list((catalog or RuleRouter().catalog).tiers)
    if tier not in tiers:
        return not_yet(f"tier {tier!r} is not one of {tiers}")
    texts = list(should_route)
    got = rule_tiers(texts, pattern, tier, catalog)
    rx = re.compile(pattern, re.IGNORECASE)
    wrong = [(t, g) for t, g in zip(texts, got) if g != should_route[t]]
    matched = [f"{t[:50]!r} -> {g} (want {should_route[t]})" for t, g in wrong if rx.search(t)]
    unmatched = [f"{t[:50]!r} -> {g} (want {should_route[t]})" for t, g in wrong if not rx.search(t)]
    if matched:
        wants = sorted({should_route[t] for t, _ in wrong if rx.search(t)})
        return not_yet(f"the pattern matches {len(matched)} example(s) but sends them to {tier!r}: "
                       f"{'; '.join(matched)}. The pattern is fine there; set the tier to {' or '.join(map(repr, wants))}")
    if unmatched:
        return not_yet(f"{len(unmatched)} of {len(texts)} examples go to the wrong tier because the pattern does not "
                       f"match them: {'; '.join(unmatched)}. Widen the pattern to match them (test it with re.search)")
    before, after = rule_tiers(unchanged, None, tier, catalog), rule_tiers(unchanged, pattern, tier, catalog)
    broken = [f"{t[:50]!r} {b} -> {a}" for t, b, a in zip(unchanged, before, after) if a != b]
    if broken:
        return not_yet(f"the rule also moves texts it should leave alone: {'; '.join(broken)}. Narrow the pattern "
                       "(word boundaries \\b help)")
    if tt is None:
        return right(f"all {len(texts)} examples reach their tier and the {len(unchanged)} others keep theirs")
    index = {t: k for k, t in enumerate(tt.tiers)}
    old = np.array([index[t] for t in rule_tiers(tt.prompts, None, tier, catalog)])
    new = np.array([index[t] for t in rule_tiers(tt.prompts, pattern, tier, catalog)])
    changed = float((old != new).mean())
    o, n = outcomes_of(tt, old).iloc[0], outcomes_of(tt, new).iloc[0]
    numbers = dict(changed_share=changed, quality_before=o["quality"], quality_after=n["quality"],
                   cost_per_1k_before=o["cost_per_1k"], cost_per_1k_after=n["cost_per_1k"])
    if changed > max_changed_share:
        return not_yet(f"the rule moves {changed:.0%} of the {tt.n} {tt.name} prompts (limit {max_changed_share:.0%}): "
                       "it is too broad; make it more specific", **numbers)
    return right(f"all {len(texts)} examples reach their tier, the {len(unchanged)} others keep theirs, and on "
                 f"{tt.name} the rule moves {changed:.1%} of prompts: quality {o['quality']:.3f} -> "
                 f"{n['quality']:.3f}, "
                 f"${o['cost_per_1k']:.2f} -> ${n['cost_per_1k']:.2f} per 1k", **numbers)


def check_tier_map(tt: TierTable, tier_map, min_cheap_share: float, baseline_map=None, tolerance: float = 0.0):
    """Does the map send at least `min_cheap_share` to the cheapest tier, keeping the baseline map's quality?"""
    if not isinstance(tier_map, dict) or not tier_map:
        return not_yet("the tier map must be a dict {task type: tier}, e.g. {**DEFAULT_TIER_MAP, 'math': 'cheap'}")
    try:
        routed = outcomes_of(tt, assign(RuleRouter(tier_map, catalog=tt.catalog).tier_scores(tt), 0.5)).iloc[0]
    except (ValueError, KeyError) as err:
        return not_yet(f"the map names a tier this dataset lacks: {err}")
    base_router = RuleRouter(baseline_map or DEFAULT_TIER_MAP, catalog=tt.catalog)
    base = outcomes_of(tt, assign(base_router.tier_scores(tt), 0.5)).iloc[0]
    share, cheap = routed[f"share_{tt.tiers[0]}"], tt.tiers[0]
    numbers = dict(cheap_share=share, quality=routed["quality"], baseline_quality=base["quality"],
                   cost_per_1k=routed["cost_per_1k"], baseline_cost_per_1k=base["cost_per_1k"])
    if share < min_cheap_share:
        return not_yet(f"{share:.0%} of prompts go to {cheap} (want at least {min_cheap_share:.0%}); move the most "
                       "common task types (see the task-type counts) to cheap", **numbers)
    if routed["quality"] < base["quality"] - tolerance:
        return not_yet(f"{share:.0%} go to {cheap}, but quality falls to {routed['quality']:.3f} from "
                       f"{base['quality']:.3f}: you moved a task type the cheap model cannot handle", **numbers)
    if share >= 1.0:
        return not_yet(f"every prompt goes to {cheap}: that is the all-{cheap} policy, not a routing map (quality "
                       f"{routed['quality']:.3f} against the baseline map's {base['quality']:.3f}); keep the task types "
                       f"the {cheap} model fails on at a dearer tier", **numbers)
    return right(f"{share:.0%} of prompts go to {cheap} at quality {routed['quality']:.3f} (baseline "
                 f"{base['quality']:.3f}) for ${routed['cost_per_1k']:.2f} per 1k (baseline "
                 f"${base['cost_per_1k']:.2f})", **numbers)
