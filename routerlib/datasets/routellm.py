"""RouteLLM's recorded evals (GPT-4 vs Mixtral on MMLU, GSM8K, MT-Bench), decontaminated as RouteLLM does."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..tables import OutcomeTable, priced
from ..tokens import token_method
from .common import as_bool_quality, read_jsonl, read_table, require_columns, token_counts
from .sources import fetch, manifest

ROOT = "lm-sys/RouteLLM/routellm/evals"
STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
SOURCE = "RouteLLM evals (lm-sys/RouteLLM @ 0b64fdaf), Apache-2.0"
MMLU_PREFIX = f"{ROOT}/mmlu/responses/mmlu_"


def mmlu_files() -> list[str]:
    return sorted(n for n in manifest() if n.startswith(MMLU_PREFIX)) + [f"{ROOT}/mmlu/contaminated_prompts.jsonl"]


def _contaminated(path) -> set:
    return {r["eval_prompt"] for r in read_jsonl(path)}


def _long(frame: pd.DataFrame, quality: dict, responses: dict | None, catalog: Catalog) -> pd.DataFrame:
    """Stack per-model quality (and response) columns of a wide frame into outcome rows."""
    parts = []
    for model, q in quality.items():
        parts.append(pd.DataFrame({
            "query_id": frame["query_id"], "model": model, "quality": q,
            "response": frame[responses[model]] if responses else None}))
    out = pd.concat(parts, ignore_index=True)
    out["quality_raw"] = out["quality"]
    return out


def _table(name, queries, out, catalog, completion_note, quality_scale, notes) -> OutcomeTable:
    out["cost_usd"] = priced(out, catalog)
    return OutcomeTable(
        name, queries, out, quality_scale=quality_scale,
        token_method=f"prompt tokens by {token_method()}; {completion_note}",
        cost_method="tokens x catalog price (RouteLLM recorded no costs)", source=SOURCE, notes=notes)


def load_mmlu(data_dir=None, catalog=None) -> OutcomeTable:
    """MMLU, 57 subjects; correctness True/False per model; 5 contaminated prompts dropped."""
    catalog = catalog or Catalog.load()
    paths = fetch(mmlu_files(), data_dir)
    frames = []
    for name, path in paths.items():
        if name.startswith(MMLU_PREFIX):
            df = read_table(path, ["prompt", STRONG, WEAK])
            subject = name[len(MMLU_PREFIX):-len(".csv")]
            frames.append(df.assign(category=subject, query_id=[f"mmlu.{subject}.{i}" for i in range(len(df))]))
    data = pd.concat(frames, ignore_index=True)
    original = len(data)
    data = data[~data["prompt"].isin(_contaminated(paths[f"{ROOT}/mmlu/contaminated_prompts.jsonl"]))]
    quality = {m: as_bool_quality(data[m], f"MMLU column {m}") for m in (STRONG, WEAK)}
    out = _long(data, quality, None, catalog)
    out["prompt_tokens"] = out["query_id"].map(dict(zip(data["query_id"], token_counts(data["prompt"]))))
    out["completion_tokens"] = 1.0  # a multiple-choice letter; RouteLLM kept no responses
    queries = data.set_index("query_id")[["prompt", "category"]]
    return _table("routellm-mmlu", queries, out, catalog, "completion assumed 1 token (answer letter; "
                  "responses not recorded)", "correct (True/False as 1/0)",
                  {"strong": STRONG, "weak": WEAK, "kept": len(data), "original": original})


def load_gsm8k(data_dir=None, catalog=None) -> OutcomeTable:
    """GSM8K: correctness and full responses per model; contaminated prompts dropped."""
    catalog = catalog or Catalog.load()
    names = [f"{ROOT}/gsm8k/gsm8k_responses.csv", f"{ROOT}/gsm8k/contaminated_prompts.jsonl"]
    paths = fetch(names, data_dir)
    responses = {m: f"{m}_response" for m in (STRONG, WEAK)}
    data = read_table(paths[names[0]], ["prompt", STRONG, WEAK, *responses.values()])
    original = len(data)
    data = data.assign(query_id=[f"gsm8k.{i}" for i in range(len(data))], category="gsm8k")
    data = data[~data["prompt"].isin(_contaminated(paths[names[1]]))]
    quality = {m: as_bool_quality(data[m], f"GSM8K column {m}") for m in (STRONG, WEAK)}
    out = _long(data, quality, responses, catalog)
    out["prompt_tokens"] = out["query_id"].map(dict(zip(data["query_id"], token_counts(data["prompt"]))))
    out["completion_tokens"] = token_counts(out["response"])
    queries = data.set_index("query_id")[["prompt", "category"]]
    return _table("routellm-gsm8k", queries, out, catalog, "completion tokens counted from the recorded responses",
                  "correct (True/False as 1/0)", {"strong": STRONG, "weak": WEAK, "kept": len(data),
                                                  "original": original})


_ANSWER = re.compile(r"### Assistant A:\n(.*?)(?=\n\n### User:|\n\n<\|The End of Assistant A)", re.DOTALL)


def _answers_from_judge_prompt(text) -> list[str]:
    """The assistant's answers, as quoted in a multi-turn judge prompt."""
    if not isinstance(text, str):
        return []
    conversation = text.split("<|The Start of Assistant A's Conversation with User|>")[-1]
    return [a.strip() for a in _ANSWER.findall(conversation)]


def load_mtbench(data_dir=None, catalog=None) -> OutcomeTable:
    """MT-Bench: GPT-4 judge scores 1-10 per turn, averaged over the two turns; 8 questions dropped."""
    catalog = catalog or Catalog.load()
    names = [f"{ROOT}/mt_bench/{f}" for f in ("question.jsonl", "judgements.jsonl", "contaminated_prompts.jsonl")]
    paths = fetch(names, data_dir)
    questions = pd.DataFrame(read_jsonl(paths[names[0]]))
    require_columns(questions, ["question_id", "category", "turns"], paths[names[0]])
    judgements = pd.DataFrame(read_jsonl(paths[names[1]]))
    require_columns(judgements, ["question_id", "model", "score", "turn", "user_prompt"], paths[names[1]])
    dirty = _contaminated(paths[names[2]])
    original = len(questions)
    keep = ~(questions["turns"].str[0].isin(dirty) | questions["turns"].str[1].isin(dirty))
    questions = questions[keep].assign(query_id=lambda d: "mtbench." + d["question_id"].astype(str))

    judgements["score"] = pd.to_numeric(judgements["score"], errors="coerce").where(lambda s: s >= 1)
    scores = judgements.groupby(["question_id", "model"])["score"].mean().rename("quality_raw").reset_index()
    second = judgements[judgements["turn"] == 2].set_index(["question_id", "model"])["user_prompt"]
    answers = second.map(_answers_from_judge_prompt)
    grid = pd.MultiIndex.from_product([questions["question_id"], [STRONG, WEAK]], names=["question_id", "model"])
    out = scores.set_index(["question_id", "model"]).reindex(grid)
    out["answers"] = answers.reindex(grid)
    out = out.reset_index()
    turns = questions.set_index("question_id")["turns"]
    tok = lambda s: token_counts(pd.Series(s, dtype=object)).to_numpy()  # noqa: E731
    ans = out["answers"].map(lambda a: a if isinstance(a, list) and len(a) == 2 else None)
    t1, t2 = out["question_id"].map(turns.str[0]), out["question_id"].map(turns.str[1])
    a1, a2 = ans.map(lambda a: a and a[0]), ans.map(lambda a: a and a[1])
    # Turn 2 resends turn 1 and its answer as context.
    out["prompt_tokens"] = tok(t1) + tok(t1) + tok(a1) + tok(t2)
    out["completion_tokens"] = tok(a1) + tok(a2)
    out["response"] = ans.map(lambda a: "\n\n---\n\n".join(a) if a else None)
    out["quality"] = (out["quality_raw"] - 1) / 9
    out["query_id"] = "mtbench." + out["question_id"].astype(str)
    queries = questions.set_index("query_id").assign(prompt=lambda d: d["turns"].str[0])[["prompt", "category"]]
    missing_answers = int(np.isnan(out["completion_tokens"]).sum())
    return _table("routellm-mtbench", queries, out, catalog,
                  "completion tokens counted from the answers quoted in the judge's turn-2 prompt; prompt tokens "
                  "of turn 2 include turn 1 and its answer", "GPT-4 judge score 1-10 (mean of 2 turns); "
                  "normalised (score-1)/9",
                  {"strong": STRONG, "weak": WEAK, "kept": len(questions), "original": original,
                   "rows_without_answers": missing_answers})
