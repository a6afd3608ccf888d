"""Routers: rules, classifier, cascade, LLM-as-router and baselines, behind one protocol (see base.py)."""
from .base import Decision, Router
from .registry import make, names

__all__ = ["Decision", "Router", "make", "names"]
