"""The recorded datasets by name: where their files are, and loading them as OutcomeTables."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import pandas as pd

from ..tables import OutcomeTable
from . import arena, routellm, routerbench
from .sources import data_dir, locate, manifest, sha256
from .user import load_user_file


class UnknownDatasetError(KeyError):
    """A dataset name that is not registered."""

    def __str__(self):
        return self.args[0]


@dataclass(frozen=True)
class Dataset:
    """A named recorded dataset: its files (mirror names) and its loader."""

    name: str
    description: str
    files: Callable[[], list]
    load: Callable

    def __repr__(self):
        return f"Dataset({self.name!r}: {self.description})"


DATASETS = {d.name: d for d in [
    Dataset("routellm-mmlu", "RouteLLM MMLU: GPT-4 vs Mixtral, correct/incorrect, 14,037 prompts",
            routellm.mmlu_files, routellm.load_mmlu),
    Dataset("routellm-gsm8k", "RouteLLM GSM8K: GPT-4 vs Mixtral, correct/incorrect with responses, 1,307 prompts",
            lambda: [f"{routellm.ROOT}/gsm8k/gsm8k_responses.csv", f"{routellm.ROOT}/gsm8k/contaminated_prompts.jsonl"],
            routellm.load_gsm8k),
    Dataset("routellm-mtbench", "RouteLLM MT-Bench: GPT-4 vs Mixtral, GPT-4 judge 1-10, 72 questions",
            lambda: [f"{routellm.ROOT}/mt_bench/{f}" for f in
                     ("question.jsonl", "judgements.jsonl", "contaminated_prompts.jsonl")], routellm.load_mtbench),
    Dataset("arena-bench", "arena-bench-v1: 300 prompts, 15 models, GPT-4 judge 1-10", arena.files, arena.load_arena),
    *[Dataset(name, f"RouterBench {task} (RouterDC split): 11 models, correct 0/1, recorded cost",
              partial(routerbench.files, name), partial(routerbench.load_split, name))
      for name, task in routerbench.SPLITS.items()],
    *[Dataset(name, f"full RouterBench {name[-5:]} pickle from the Hugging Face hub (~36k prompts)",
              partial(lambda f: [f"{routerbench.HUB_REPO}/{f}"], fname), partial(routerbench.load_full, name))
      for name, fname in routerbench.HUB_FILES.items()],
]}


PINNED = [name for name in DATASETS if name not in routerbench.HUB_FILES]  # `data fetch all`: what notebooks read


def names_or_all(names) -> list:
    """Dataset names, with `all` standing for every pinned dataset (the hub's full RouterBench is fetched by name)."""
    names = list(names or ["all"])
    return list(dict.fromkeys(n for name in names for n in (PINNED if name == "all" else [get(name).name])))


def get(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)} "
                       "(or give the path of a CSV/Parquet outcome file)") from None


def load(name_or_path, data_dir=None, catalog=None) -> OutcomeTable:
    """A dataset by name, a user's CSV/Parquet outcome file by path, or `hf:<hub dataset or path>`."""
    if str(name_or_path).startswith("hf:"):
        from .hub import load_hub
        return load_hub(str(name_or_path)[3:], catalog=catalog)
    if name_or_path in DATASETS:
        return DATASETS[name_or_path].load(data_dir=data_dir, catalog=catalog)
    if Path(str(name_or_path)).suffix.lower() in (".csv", ".parquet", ".pq", ".jsonl") or Path(str(name_or_path)).exists():
        if not Path(str(name_or_path)).is_file():
            raise FileNotFoundError(f"outcome file not found: {name_or_path}")
        if str(name_or_path).endswith(".jsonl"):
            from .user import load_run_log
            return load_run_log(name_or_path, catalog)
        return load_user_file(name_or_path, catalog)
    get(name_or_path)  # raises the unknown-dataset error


def status(explicit=None) -> pd.DataFrame:
    """Per dataset: how many of its files are present, and where they would be read from."""
    rows = []
    for d in DATASETS.values():
        names = d.files()
        found = [locate(n, explicit) for n in names]
        rows.append({"dataset": d.name, "files": len(names), "present": sum(p is not None for p in found),
                     "read_from": str(data_dir(explicit)), "description": d.description})
    return pd.DataFrame(rows).set_index("dataset")


def verify(names=None, explicit=None) -> pd.DataFrame:
    """Check every file of these datasets (default: all pinned ones) against its pinned sha256."""
    pinned = manifest()
    rows = []
    for name in names_or_all(names):
        for f in get(name).files():
            path = locate(f, explicit)
            expected = pinned.get(f, {}).get("sha256")
            state = ("missing" if path is None else "unpinned" if expected is None
                     else "ok" if sha256(path) == expected else "MISMATCH")
            rows.append({"dataset": name, "file": f, "state": state, "path": str(path) if path else None})
    return pd.DataFrame(rows)
