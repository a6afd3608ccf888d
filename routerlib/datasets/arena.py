"""arena-bench-v1: 300 prompts, answers of 15 judged models, GPT-4 judge scores 1-10."""
from __future__ import annotations

import pandas as pd

from ..catalog import Catalog
from ..tables import OutcomeTable, priced
from ..tokens import token_method
from .common import read_jsonl, require_columns, token_counts
from .sources import fetch

ROOT = "lmarena/arena-hard-auto/data/arena-bench-v1"
SOURCE = "arena-bench-v1 (lmarena/arena-hard-auto @ 4a705dd6), Apache-2.0"
# judgment file -> answer file, for the 15 judged models (file names differ from model names)
JUDGED = {
    "gpt-4-turbo": "gpt-4-1106-preview", "gpt-4-0314": "gpt-4-0314", "gpt-3.5-turbo": "gpt-3.5-turbo",
    "gpt-3.5-turbo-1106": "gpt-3.5-turbo-1106", "claude-2.1": "claude-2.1", "claude-1": "claude-1",
    "claude-instant-1": "claude-instant-1", "Mixtral-8x7B-Instruct-v0.1": "Mixtral-8x7B-Instruct-v0.1",
    "Llama-2-70b-chat": "Llama-2-70b-chat", "Mistral-7B-Instruct-v0.1": "Mistral-7B-Instruct-v0.1",
    "Starling-LM-7B-alpha": "Starling-LM-7B-alpha", "openchat_3.5": "openchat_3.5",
    "vicuna-33b-v1.3": "vicuna-33b-v1.3", "palm-2-chat-bison-001": "palm-2-chat-bison-001",
    "arena-bench-judgment_judge_any": "llama-13b",
}


def files() -> list[str]:
    return ([f"{ROOT}/question.jsonl"] + [f"{ROOT}/model_judgment/{j}.jsonl" for j in JUDGED]
            + [f"{ROOT}/model_answer/{a}.jsonl" for a in JUDGED.values()])


def scores(path) -> pd.DataFrame:
    """question_id, model, score from one judgment file; missing, -1 and unparseable scores become NaN."""
    rows = read_jsonl(path)
    df = pd.DataFrame(rows)
    require_columns(df, ["question_id", "model", "score"], path)
    df["score"] = pd.to_numeric(df["score"].astype(object), errors="coerce").where(lambda s: s.between(1, 10))
    return df[["question_id", "model", "score"]].drop_duplicates(["question_id", "model"])


def answers(path) -> pd.DataFrame:
    """question_id, model, response (first turn) from one answer file."""
    rows = read_jsonl(path)
    out = []
    for r in rows:
        turns = (r.get("choices") or [{}])[0].get("turns") or [None]
        out.append({"question_id": r.get("question_id"), "model": r.get("model_id"), "response": turns[0]})
    return pd.DataFrame(out)


def load_arena(data_dir=None, catalog=None) -> OutcomeTable:
    """Answers and judgments joined by question id; a missing score stays missing, never 0."""
    catalog = catalog or Catalog.load()
    paths = fetch(files(), data_dir)
    questions = pd.DataFrame(read_jsonl(paths[f"{ROOT}/question.jsonl"]))
    require_columns(questions, ["question_id", "turns"], paths[f"{ROOT}/question.jsonl"])
    questions = questions.assign(prompt=questions["turns"].str[0], category=questions.get("category", "arena-bench"))
    parts = []
    for judged, answered in JUDGED.items():
        s = scores(paths[f"{ROOT}/model_judgment/{judged}.jsonl"])
        a = answers(paths[f"{ROOT}/model_answer/{answered}.jsonl"])
        model = s["model"].iloc[0]
        grid = questions[["question_id"]].assign(model=model)
        merged = grid.merge(s, on=["question_id", "model"], how="left").merge(
            a[["question_id", "response"]].drop_duplicates("question_id"), on="question_id", how="left")
        parts.append(merged)
    out = pd.concat(parts, ignore_index=True).rename(columns={"question_id": "query_id", "score": "quality_raw"})
    out["quality"] = (out["quality_raw"] - 1) / 9
    prompt_tokens = dict(zip(questions["question_id"], token_counts(questions["prompt"])))
    out["prompt_tokens"] = out["query_id"].map(prompt_tokens)
    out["completion_tokens"] = token_counts(out["response"])
    out["cost_usd"] = priced(out, catalog)
    return OutcomeTable(
        "arena-bench", questions.set_index("question_id")[["prompt", "category"]], out,
        quality_scale="GPT-4 judge score 1-10 against a GPT-4 reference answer; normalised (score-1)/9",
        token_method=f"prompt and completion tokens counted from the recorded texts by {token_method()}",
        cost_method="tokens x catalog price (arena-bench recorded no costs)", source=SOURCE,
        notes={"missing_scores": int(out["quality"].isna().sum())})
