"""Cascade: answer on the cheapest tier, score the answer, escalate to the next tier when unsure."""
from __future__ import annotations

import hashlib
import re

import numpy as np

from ..backends import Request
from ..tables import GOOD_ENOUGH
from ..tokens import count_tokens
from .base import DecidingCost, Decision, Router
from .classifier import TextFeatures

REFUSAL = re.compile(r"\b(i can(no|')t (help|assist|provide)|i'm (sorry|unable)|as an ai\b|i am not able)", re.I)
HEDGE = re.compile(r"\b(i'?m not (sure|certain)|i don'?t know|it'?s unclear|might be|possibly|perhaps)\b", re.I)
JUDGE_PROMPT_TOKENS = 60  # instructions around the (query, answer) pair sent to a judge


class HeuristicScorer:
    """Confidence from the answer alone: refusals, hedging, empty or cut-off answers lower it."""

    name = "heuristic"

    def score(self, prompts, answers) -> np.ndarray:
        out = []
        for a in answers:
            a = a if isinstance(a, str) else ""
            s = 1.0
            if not a.strip():
                s = 0.0
            else:
                s -= 0.6 * bool(REFUSAL.search(a)) + 0.3 * bool(HEDGE.search(a))
                s -= 0.3 * (len(a) > 200 and a.rstrip()[-1:] not in ".!?)`\"'*|")  # looks cut off
            out.append(max(s, 0.0))
        return np.array(out)

    def __repr__(self):
        return "HeuristicScorer()"


class VerifierScorer:
    """A learned verifier: logistic regression on TF-IDF of (query, answer) text, fitted on outcomes."""

    name = "verifier"

    def __init__(self, good_enough: float = GOOD_ENOUGH, C: float = 1.0):
        self.good_enough = good_enough
        self.C = C

    def _X(self, prompts, answers, fit=False):
        answers = [a if isinstance(a, str) else "" for a in answers]
        texts = [f"{p}\n[ANSWER]\n{a}" for p, a in zip(prompts, answers)]
        return self.features_.fit_transform(texts, answers) if fit else self.features_.transform(texts, answers)

    def fit(self, tt):
        """Learn from every tier's recorded answers but the last (which is never checked)."""
        k = len(tt.tiers) - 1
        prompts = np.tile(tt.prompts.to_numpy(), k)
        answers = tt.responses[:, :k].T.ravel()
        labels = tt.good(self.good_enough)[:, :k].T.ravel()
        from sklearn.linear_model import LogisticRegression

        self.features_ = TextFeatures(max_features=30000)
        X = self._X(prompts, answers, fit=True)
        self.model_ = LogisticRegression(C=self.C, max_iter=2000).fit(X, labels) if 0 < labels.sum() < len(labels) \
            else None
        self.base_rate_ = float(labels.mean())
        return self

    def score(self, prompts, answers) -> np.ndarray:
        if not hasattr(self, "base_rate_"):
            raise RuntimeError("VerifierScorer is not fitted; call fit(train_table) first")
        if self.model_ is None:
            return np.full(len(answers), self.base_rate_)
        return self.model_.predict_proba(self._X(prompts, answers))[:, 1]

    def __repr__(self):
        return f"VerifierScorer(good_enough={self.good_enough:.3f}, C={self.C})"


class JudgeScorer:
    """An LLM judge asked 'is this answer good enough?'. Each verdict is a paid call.

    Offline (on recorded outcomes) the verdict is SIMULATED: right with probability `accuracy`
    against the recorded quality. Live, `judge_live` asks a real model through a backend.
    """

    name = "judge"

    def __init__(self, judge_model: str | None = None, accuracy: float = 0.85, good_enough: float = GOOD_ENOUGH,
                 seed: int = 0):
        self.judge_model = judge_model
        self.accuracy = accuracy
        self.good_enough = good_enough
        self.seed = seed

    def simulated_verdicts(self, quality: np.ndarray) -> np.ndarray:
        truth = np.nan_to_num(quality, nan=-1.0) >= self.good_enough
        right = np.random.default_rng(self.seed).random(truth.shape) < self.accuracy
        return np.where(right, truth, ~truth).astype(float)

    def simulated_verdict(self, key: str, quality: float) -> float:
        """One SIMULATED verdict on an answer of known quality: right with probability `accuracy` (seeded by key)."""
        digest = hashlib.sha256(f"{self.seed}|{key}".encode()).digest()
        right = np.random.default_rng(int.from_bytes(digest[:8], "little")).random() < self.accuracy
        good = quality >= self.good_enough
        return float(good if right else not good)

    def call_cost(self, tt) -> np.ndarray:
        """n x K: USD of one judge call on each tier's answer."""
        model = tt.catalog.get(self.judge_model or tt.models[0])
        answer_tokens = np.vectorize(lambda a: count_tokens(a) if isinstance(a, str) else 0)(tt.responses)
        prompt = tt.prompt_tokens[:, None] + answer_tokens + JUDGE_PROMPT_TOKENS
        return (prompt * model.input_per_mtok + 3 * model.output_per_mtok) / 1e6

    def judge_live(self, backend, query, answer: str, default_model: str | None = None):
        """Ask the judge model; returns (verdict 0/1 or None if unparseable, the Completion)."""
        text = (f"Question:\n{query.text}\n\nAnswer:\n{answer}\n\nIs this answer correct and complete? "
                "Reply with YES or NO only.")
        model = self.judge_model or default_model
        done = backend.complete(Request(model, ({"role": "user", "content": text},), query, "judge", 3))
        words = set(re.findall(r"[a-z]+", (done.text or "").lower()))
        verdict = 1.0 if "yes" in words and "no" not in words else 0.0 if "no" in words and "yes" not in words else None
        return verdict, done

    def settings(self) -> dict:
        return {"judge_model": self.judge_model, "accuracy": self.accuracy, "good_enough": self.good_enough,
                "seed": self.seed}

    def __repr__(self):
        return f"JudgeScorer(judge_model={self.judge_model!r}, accuracy={self.accuracy})"


class LogprobScorer:
    """Live only: confidence = exp(mean token log-probability) the server reported for the answer."""

    name = "logprob"

    def score_completion(self, completion) -> float:
        logprobs = completion.extra.get("logprobs") if completion.extra else None
        return float(np.exp(np.mean(logprobs))) if logprobs else 0.0

    def __repr__(self):
        return "LogprobScorer()"


class CascadeRouter(Router):
    """Try tiers cheapest first; accept an answer whose score reaches its tier's threshold, else escalate.

    Its scores are the confidence in each tier's answer, so the thresholds are acceptance thresholds.
    Deciding costs the answers it throws away and any paid checks (a judge's calls).
    """

    answers_while_routing = True

    def __init__(self, scorer=None, thresholds=None, backend=None, catalog=None):
        super().__init__(thresholds, catalog)
        self.scorer = scorer if scorer is not None else HeuristicScorer()
        self.backend = backend  # answers route() calls live

    @property
    def name(self) -> str:
        return "cascade" if self.scorer.name == "heuristic" else f"cascade-{self.scorer.name}"

    @property
    def simulated(self) -> bool:
        """Offline, a judge's verdicts are simulated against the recorded quality."""
        return isinstance(self.scorer, JudgeScorer)

    def fit(self, tt, y=None):
        super().fit(tt)
        if hasattr(self.scorer, "fit"):
            self.scorer.fit(tt)
        return self

    def tier_scores(self, tt) -> np.ndarray:
        """n x K confidence in each tier's recorded answer (the last tier is always accepted)."""
        if isinstance(self.scorer, JudgeScorer):
            conf = self.scorer.simulated_verdicts(tt.quality)
        elif isinstance(self.scorer, LogprobScorer):
            raise ValueError("the logprob scorer needs live answers with log-probabilities; recorded outcomes have "
                             "none. Use the heuristic, verifier or judge scorer offline")
        else:
            conf = np.column_stack([self.scorer.score(tt.prompts.to_numpy(), tt.responses[:, k])
                                    for k in range(len(tt.tiers))])
        conf[:, -1] = 1.0
        return conf

    def deciding_cost(self, tt) -> DecidingCost:
        """Every tier below the answering one is paid, plus the judge's calls on each answer it checked."""
        cost = self.scorer.call_cost(tt) if isinstance(self.scorer, JudgeScorer) else np.zeros((tt.n, len(tt.tiers)))
        cost[:, -1] = 0.0
        return DecidingCost(checks=cost, pays_lower_tiers=True)

    def route(self, query, thresholds=None, backend=None) -> Decision:
        """Answer live, cheapest tier first, until an answer is accepted; Decision.calls holds every call made."""
        backend = backend or self.backend
        if backend is None:
            raise ValueError("a cascade decides while answering, so route() needs a backend: "
                             "CascadeRouter(..., backend=...) or route(query, backend=...)")
        tiers, t = self.tier_models(), self.threshold_vector(thresholds)
        calls, accepted, tier = [], None, None
        for k, (tier, model) in enumerate(tiers.items()):
            accepted = backend.complete(Request.ask(model, query, logprobs=isinstance(self.scorer, LogprobScorer)))
            calls.append(accepted)
            if k == len(tiers) - 1:
                break
            if not accepted.ok:  # a failed call has no answer to score (nor to pay a judge for): escalate
                continue
            if isinstance(self.scorer, JudgeScorer):
                verdict, judged = self.scorer.judge_live(backend, query, accepted.text or "", next(iter(tiers.values())))
                if getattr(backend, "mode", "live") != "live" and accepted.quality is not None:
                    # offline (simulated or recorded answers) the verdict is SIMULATED against the known quality
                    verdict = self.scorer.simulated_verdict(f"{query.id}|{accepted.model}", accepted.quality)
                calls.append(judged)
                conf = verdict or 0.0
            elif isinstance(self.scorer, LogprobScorer):
                conf = self.scorer.score_completion(accepted)
            else:
                conf = float(self.scorer.score([query.text], [accepted.text])[0])
            if conf >= t[k]:
                break
        overhead = [c for c in calls if c is not accepted]
        return Decision(query.id, tier, accepted.model, router_prompt_tokens=sum(c.prompt_tokens for c in overhead),
                        router_completion_tokens=sum(c.completion_tokens for c in overhead),
                        router_cost_usd=sum(c.cost_usd for c in overhead),
                        router_latency_s=sum(c.latency_s for c in overhead), calls=calls)

    def settings(self) -> dict:
        return getattr(self.scorer, "settings", dict)()  # the name says which scorer

    def fitted_part(self):
        if isinstance(self.scorer, VerifierScorer):
            if not hasattr(self.scorer, "base_rate_"):
                raise ValueError("the cascade's VerifierScorer is not fitted; call cascade.fit(train_table) first")
            return self.scorer
        return None

    def restore(self, fitted):
        if fitted is not None:
            self.scorer = fitted
        return self

    def __repr__(self):
        return f"CascadeRouter(scorer={self.scorer!r}, thresholds={self.thresholds})"
