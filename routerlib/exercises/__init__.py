"""Exercise checkers for the strategy notebooks. Each check_... returns a Verdict: right or not yet, and why.

Checkers recompute the truth from routerlib on the learner's data; none holds an expected number.
Modules follow the notebooks: rules (03), thresholds (04, 05), classifier (04), cascade (05), llm (06).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Verdict:
    """A checker's answer: ok, a message saying why, and the numbers it computed."""

    ok: bool
    message: str
    numbers: dict = field(default_factory=dict)

    def __repr__(self):
        return f"{'Right' if self.ok else 'Not yet'}: {self.message}"

    __str__ = __repr__


def right(message: str, **numbers) -> Verdict:
    """A passing verdict."""
    return Verdict(True, message, numbers)


def not_yet(message: str, **numbers) -> Verdict:
    """A failing verdict that says what is wrong and what to try."""
    return Verdict(False, message, numbers)
