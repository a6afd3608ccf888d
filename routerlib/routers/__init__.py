"""Routers: rules, classifier, cascade, LLM-as-router and baselines."""

# Names the command line and routerlib.strategies.make_router accept (kept here: importing it is free).
ROUTER_NAMES = ("random", "oracle", "rules", "classifier", "cascade", "cascade-verifier", "cascade-judge", "llm",
                "always-cheap", "always-mid", "always-expensive")
