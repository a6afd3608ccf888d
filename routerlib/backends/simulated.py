"""SimulatedBackend: seeded, calibrated stand-in for real model calls; every output says simulated."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..catalog import DATA_DIR, Catalog
from ..queries import DIFFICULTIES
from ..tokens import count_message_tokens, count_tokens, token_method
from .base import Backend, Completion, Request

DEFAULT_ROUTER_ACCURACY = 0.8
LATENCY_SIGMA = {"ttft": 0.3, "speed": 0.2}  # lognormal spread around the catalog's median figures
CALIBRATION_FILE = DATA_DIR / "simulator_calibration.json"  # written by `python -m routerlib calibrate`


def load_calibration(path=None) -> dict:
    """The committed calibration figures."""
    return json.loads(Path(path or CALIBRATION_FILE).read_text(encoding="utf-8"))


class SimulatedBackend(Backend):
    """Answers come from per-tier calibrated odds of an acceptable answer and answer lengths.

    A 'route' request (the LLM router's rating call) is answered with the query's true
    difficulty label with probability `router_accuracy`, else with one of the other labels.
    """

    mode = "simulated"

    def __init__(self, catalog=None, calibration=None, seed=0, router_accuracy=DEFAULT_ROUTER_ACCURACY):
        if not 0 <= router_accuracy <= 1:
            raise ValueError(f"router_accuracy must be between 0 and 1, got {router_accuracy!r}")
        self.catalog = catalog or Catalog.load()
        self.calibration = calibration or load_calibration()
        self.seed = seed
        self.router_accuracy = router_accuracy

    def _rng(self, request: Request) -> np.random.Generator:
        """One generator per (seed, query, model, purpose), so results never depend on call order."""
        who = request.query.id if request.query else json.dumps(list(request.messages))
        digest = hashlib.sha256(f"{self.seed}|{who}|{request.model}|{request.purpose}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def _tier_figures(self, tier: str, table: str) -> dict:
        try:
            return self.calibration[table][tier]
        except KeyError:
            raise ValueError(f"the simulator has no calibration for tier {tier!r}; calibrated tiers: "
                             f"{list(self.calibration[table])}. Map your models onto those tiers.") from None

    def complete(self, request: Request) -> Completion:
        model = self.catalog.get(request.model)
        rng = self._rng(request)
        query = request.query
        if request.purpose == "route":
            text, quality = self._rating(query, rng), None
            completion_tokens = count_tokens(text)
        else:
            p_ok = self._tier_figures(model.tier, "p_acceptable")
            p = p_ok[query.difficulty] if query and query.difficulty else float(np.mean(list(p_ok.values())))
            quality = float(rng.random() < p)
            lengths = self._tier_figures(model.tier, "completion_tokens")
            cell = lengths.get(query.task_type if query else None, lengths["_all"])
            completion_tokens = max(1, int(round(cell["median"] * np.exp(cell["sigma"] * rng.standard_normal()))))
            if request.max_tokens:
                completion_tokens = min(completion_tokens, request.max_tokens)
            verdict = "acceptable" if quality else "not acceptable"
            text = f"[simulated answer from {model.name}: {verdict}, {completion_tokens} tokens]"
        prompt_tokens = count_message_tokens(list(request.messages))
        ttft, latency = self._latency(model, completion_tokens, rng)
        return Completion(
            model=model.name, text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            cost_usd=model.cost(prompt_tokens, completion_tokens), quality=quality, simulated=True,
            latency_s=latency, token_method=f"simulated; prompt by {token_method()}",
            extra={"ttft_s": ttft, "latency": "SIMULATED (lognormal around the catalog's median figures)"})

    def _latency(self, model, completion_tokens, rng) -> tuple[float, float]:
        """Seeded time to first token and total seconds, lognormal around the model's (else its tier default's)."""
        figures = model if model.ttft_ms else self.catalog.tier_model(model.tier) if model.tier in self.catalog.tiers \
            else model
        if not (figures.ttft_ms and figures.output_tokens_per_s):
            return 0.0, 0.0
        z = rng.standard_normal(2)
        ttft = figures.ttft_ms / 1000 * np.exp(LATENCY_SIGMA["ttft"] * z[0])
        speed = figures.output_tokens_per_s * np.exp(LATENCY_SIGMA["speed"] * z[1])
        return float(ttft), float(ttft + completion_tokens / speed)

    def _rating(self, query, rng) -> str:
        truth = query.difficulty if query and query.difficulty else None
        if truth is None or rng.random() >= self.router_accuracy:
            choices = [d for d in DIFFICULTIES if d != truth]
            label = choices[rng.integers(len(choices))]
        else:
            label = truth
        return json.dumps({"difficulty": label})

    def __repr__(self):
        return f"SimulatedBackend(seed={self.seed}, router_accuracy={self.router_accuracy}, {self.catalog!r})"
