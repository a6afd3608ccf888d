"""Derive the simulator's figures from real recorded answers (arena-bench-v1 in the data mirror).

Run `python -m routerlib calibrate --data-dir ../shared/data` to rewrite data/simulator_calibration.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..datasets.arena import load_arena
from ..queries import DIFFICULTIES
from ..routers.rules import detect_task_type
from ..tokens import token_method
from .simulated import CALIBRATION_FILE

ACCEPTABLE_SCORE = 8  # GPT-4 judge score (1-10) from which an answer counts as acceptable
MIN_CELL = 8  # fewer answers than this in a (tier, task type) cell: use the tier's overall length

# Recorded models standing in for each tier, by their standing in 2023-24.
TIER_STAND_INS = {
    "cheap": ["gpt-3.5-turbo-1106", "claude-instant-1", "mistralai/Mixtral-8x7B-Instruct-v0.1"],
    "mid": ["gpt-4-0314"],
    "expensive": ["gpt-4-1106-preview"],
}
# The other judged models set each question's difficulty, so tiers are not graded on themselves.
DIFFICULTY_PANEL = ["gpt-3.5-turbo", "claude-1", "Starling-LM-7B-alpha", "openchat_3.5", "Llama-2-70b-chat",
                    "vicuna-33b-v1.3", "mistralai/Mistral-7B-Instruct-v0.1", "palm-2-chat-bison-001"]


def _lognormal(tokens: pd.Series) -> dict:
    log_t = np.log(tokens.clip(lower=1))
    return {"median": int(np.exp(log_t.median())), "sigma": round(float(log_t.std()), 3), "n": len(log_t)}


def calibrate(data_dir) -> dict:
    """Compute P(acceptable | tier, difficulty) and completion lengths by tier and task type."""
    table = load_arena(data_dir)
    scores, tokens = table.wide("quality_raw").astype(float), table.wide("completion_tokens")
    task = table.queries["prompt"].map(detect_task_type)
    panel = scores[DIFFICULTY_PANEL]
    panel_pass = (panel >= ACCEPTABLE_SCORE).where(panel.notna()).mean(axis=1)  # missing scores are skipped
    # Easy: most panel models answer acceptably; hard: at most one in eight does.
    difficulty = pd.cut(panel_pass, [-0.01, 0.125, 0.5, 1.0], labels=["hard", "medium", "easy"]).astype(str)

    p_acceptable, lengths, counts = {}, {}, {}
    for tier, models in TIER_STAND_INS.items():
        s = scores[models].melt(ignore_index=False, value_name="score").dropna(subset=["score"])
        by_diff = (s["score"] >= ACCEPTABLE_SCORE).groupby(difficulty.reindex(s.index)).agg(["mean", "size"])
        p_acceptable[tier] = {d: round(float(by_diff.loc[d, "mean"]), 3) for d in DIFFICULTIES}
        counts[tier] = {d: int(by_diff.loc[d, "size"]) for d in DIFFICULTIES}
        t = tokens[models].melt(ignore_index=False, value_name="tokens").dropna(subset=["tokens"])
        lengths[tier] = {"_all": _lognormal(t["tokens"])}
        for name, grp in t["tokens"].groupby(task.reindex(t.index)):
            if len(grp) >= MIN_CELL:
                lengths[tier][name] = _lognormal(grp)

    return {
        "simulated_from": "arena-bench-v1 (lmarena/arena-hard-auto, commit 4a705dd6963f777aba2ae79259e3013934e6e012)",
        "p_acceptable": p_acceptable,
        "completion_tokens": lengths,
        "derivation": {
            "acceptable": f"GPT-4 judge score >= {ACCEPTABLE_SCORE} on the 1-10 scale; missing or -1 scores dropped",
            "tier_stand_ins": TIER_STAND_INS,
            "difficulty": ("share of the difficulty panel scoring acceptable on the question (missing scores "
                           "skipped): > 0.5 easy, > 0.125 medium, else hard"),
            "difficulty_panel": DIFFICULTY_PANEL,
            "questions_per_difficulty": {d: int((difficulty == d).sum()) for d in DIFFICULTIES},
            "answers_per_cell": counts,
            "task_type": "routerlib.routers.rules.detect_task_type on the question text",
            "completion_tokens": (f"lognormal per tier and task type: median and sigma of log tokens of the stand-ins' "
                                  f"answers, counted by {token_method()}; cells with fewer than {MIN_CELL} answers "
                                  "use the tier's '_all' figures"),
            "command": "python -m routerlib calibrate --data-dir <data mirror>",
        },
    }


def write_calibration(data_dir, path=None) -> dict:
    """Recompute the calibration and write it as JSON."""
    cal = calibrate(data_dir)
    Path(path or CALIBRATION_FILE).write_text(json.dumps(cal, indent=2) + "\n", encoding="utf-8")
    return cal
