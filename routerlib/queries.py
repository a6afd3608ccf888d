"""Queries: the Query type and the loader for query sets such as the 50-query exercise."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .catalog import DATA_DIR

EXERCISE_QUERIES = DATA_DIR / "exercise_queries.jsonl"
DIFFICULTIES = ("easy", "medium", "hard")
MAX_QUERY_CHARS = 200_000  # ~50k tokens: beyond any tier's useful context here; a sign of a broken input
TASK_TYPES = ("classification", "extraction", "reformatting", "simple_fact", "summarisation",
              "code_generation", "multi_step_reasoning", "math", "proof", "system_design")


@dataclass(frozen=True)
class Query:
    """One request to route; task_type, difficulty and reference are optional labels."""

    id: str
    text: str
    task_type: str | None = None
    difficulty: str | None = None
    reference: str | None = None

    def __post_init__(self):
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"query {self.id!r} has an empty text; every query needs some words to route")
        if len(self.text) > MAX_QUERY_CHARS:
            raise ValueError(f"query {self.id!r} is {len(self.text):,} characters, over the {MAX_QUERY_CHARS:,} "
                             "limit; split it or summarise it first")
        if self.difficulty is not None and self.difficulty not in DIFFICULTIES:
            raise ValueError(f"query {self.id!r}: difficulty must be one of {DIFFICULTIES}, got {self.difficulty!r}")

    def __repr__(self):
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"Query({self.id!r}, {text!r}, task_type={self.task_type!r}, difficulty={self.difficulty!r})"


def load_queries(path=None) -> list[Query]:
    """Read a JSONL query file (id, text, and optional labels); all problems are reported at once."""
    path = Path(path or EXERCISE_QUERIES)
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"query file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text ({e}); save it as UTF-8") from None
    queries, problems, seen = [], [], set()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("each line must be a JSON object")
            qid = str(row.get("id", f"line{lineno}"))
            if qid in seen:
                raise ValueError(f"duplicate id {qid!r}")
            query = Query(qid, row.get("text"), row.get("task_type"), row.get("difficulty"), row.get("reference"))
        except (json.JSONDecodeError, ValueError, TypeError) as e:
            problems.append(f"{path}:{lineno}: {e}")
            continue
        seen.add(qid)
        queries.append(query)
    if problems:
        raise ValueError(f"{len(problems)} bad line(s) in the query file; fix them and run again:\n  "
                         + "\n  ".join(problems))
    if not queries:
        raise ValueError(f"{path} holds no queries; expected one JSON object per line with 'id' and 'text'")
    return queries


PERTURBATIONS = ("typo", "casing", "whitespace", "punctuation", "clauses")


def perturb(text: str, rng, kind: str | None = None) -> str:
    """The same request with one meaning-preserving edit (RouterArena's robustness check), seeded by `rng`."""
    kind = kind or PERTURBATIONS[rng.integers(len(PERTURBATIONS))]
    words = text.split(" ")
    if kind == "typo":  # swap two neighbouring letters inside one longer word
        long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if long:
            i = long[rng.integers(len(long))]
            j = int(rng.integers(1, len(words[i]) - 2))
            w = words[i]
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        return " ".join(words)
    if kind == "casing":
        return text.lower() if rng.random() < 0.5 else text[:1].upper() + text[1:].lower()
    if kind == "whitespace":
        i = int(rng.integers(len(words)))
        return " ".join(words[:i] + [""] + words[i:]) + " \n"
    if kind == "punctuation":
        stripped = text.rstrip()
        return stripped[:-1] if stripped[-1:] in ".?!" else stripped + ("?" if rng.random() < 0.5 else ".")
    parts = [p for p in text.replace("? ", "?\0").replace(". ", ".\0").split("\0") if p]  # clauses: reorder sentences
    if len(parts) < 2:
        parts = text.split(", ", 1)[::-1] if ", " in text else [text]
        return ", ".join(parts)
    i = int(rng.integers(len(parts) - 1))
    parts[i], parts[i + 1] = parts[i + 1], parts[i]
    return " ".join(parts)
