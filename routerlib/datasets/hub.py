"""Routing data on the Hugging Face hub (or a local copy of it), read through `datasets.load_dataset`.

Layouts: long (a row per query and model: query_id or query/prompt, model(_name), quality/score/performance in 0-1,
cost_usd or cost); wide (RouterBench: prompt, sample_id, eval_name, a score column per model, `<model>|total_cost`);
llmrouterbench (records as LLMRouterBench's BaselineDataLoader.to_dataframe() gives them: dataset_id, split,
model_name, record_index, prompt/origin_query, score, cost in USD, tokens, raw_output; or nested in its result
files `<dataset>/<split>/<model>/<time>.json`). LLMRouterBench query ids are `dataset/split/record_index`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..catalog import Catalog
from ..tables import OutcomeTable
from . import routerbench
from .common import read_table, require_columns
from .sources import DataFormatError, DataNotFoundError
from .user import LONG_HELP, _long

LLMROUTERBENCH_REPO = "NPULH/LLMRouterBench"
LAYOUTS = ("auto", "long", "wide", "llmrouterbench")
BUILDERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "json"}
PICKLES = {file: name for name, file in routerbench.HUB_FILES.items()}  # the official RouterBench files
LONG_ALIASES = {"model_name": "model", "score": "quality", "performance": "quality", "cost": "cost_usd",
                "total_cost": "cost_usd", "sample_id": "query_id", "eval_name": "category", "dataset": "category",
                "dataset_id": "category", "raw_output": "response"}
WIDE_HELP = "wide (RouterBench) needs a prompt column, a column per model and `<model>|total_cost` columns"


def read_hub(name_or_path, split="train", **kwargs) -> pd.DataFrame:
    """One split of a hub dataset, or of a local file or folder, as a DataFrame (kwargs go to load_dataset)."""
    import datasets

    path = Path(str(name_or_path))
    if path.is_file() and path.suffix.lower() in (".pkl", ".pickle"):
        return read_table(path)  # refused: a pickle can run code (the official RouterBench files load by name)
    builder = BUILDERS.get(path.suffix.lower()) if path.is_file() and "data_files" not in kwargs else None
    args, kwargs = ((builder,), {**kwargs, "data_files": str(path)}) if builder else ((str(name_or_path),), kwargs)
    try:
        return datasets.load_dataset(*args, split=split, **kwargs).to_pandas()
    except (ConnectionError, FileNotFoundError) as e:
        raise DataNotFoundError(
            f"could not load the dataset {str(name_or_path)!r} ({type(e).__name__}: {e}). If it is a local path, check "
            "that it exists. If the Hugging Face hub is unreachable, download the dataset on a networked machine "
            f"(`hf download {name_or_path} --repo-type dataset --local-dir DIR`) and pass a local file or folder "
            "path from DIR instead.") from None


def detect_layout(df: pd.DataFrame, where) -> str:
    """long, wide or llmrouterbench, from the column names."""
    columns = set(df.columns)
    if "records" in columns or {"dataset_id", "model_name", "record_index"} <= columns:
        return "llmrouterbench"
    if columns & {"model", "model_name"}:
        return "long"
    if any(str(c).endswith(("|total_cost", "|model_response")) for c in df.columns):
        return "wide"
    raise DataFormatError(f"{where}: cannot tell the layout from the columns {list(df.columns)[:12]}; {LONG_HELP} "
                          f"(or model_name, score, cost); {WIDE_HELP}. Rename the columns, or pass layout=")


def renamed(df: pd.DataFrame, aliases: dict) -> pd.DataFrame:
    """Columns renamed to the names the converters read, where the target name is not taken."""
    renames = {}
    for source, target in aliases.items():
        if source in df and target not in df and target not in renames.values():
            renames[source] = target
    return df.rename(columns=renames)


def llmrouterbench_long(df: pd.DataFrame, where) -> pd.DataFrame:
    """LLMRouterBench records (flat, or nested per result file) in the long layout; query id dataset/split/index."""
    if "records" in df:  # result files: dataset_name, split, model_name, records [{index, prompt, score, cost, ...}]
        rows = df.explode("records").dropna(subset=["records"]).reset_index(drop=True)
        keys = rows[["dataset_name", "split", "model_name"]].rename(columns={"dataset_name": "dataset_id"})
        df = pd.concat([keys, pd.DataFrame(rows["records"].tolist()).rename(columns={"index": "record_index"})], axis=1)
    require_columns(df, ["dataset_id", "model_name", "record_index", "score"], where)
    split = df["split"].astype(str) + "/" if "split" in df else ""
    ids = df["dataset_id"].astype(str) + "/" + split + df["record_index"].astype(str)
    long = renamed(df.assign(query_id=ids, category=df["dataset_id"]), {**LONG_ALIASES, "origin_query": "prompt"})
    return long.drop_duplicates(["query_id", "model"], keep="last")  # as LLMRouterBench: the last result file wins


def load_hub(name_or_path, split="train", layout="auto", catalog=None, **kwargs) -> OutcomeTable:
    """A hub dataset, local file or folder as an OutcomeTable; kwargs (data_files, name, ...) go to load_dataset."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if layout == "auto" and str(name_or_path) in KNOWN:
        return KNOWN[str(name_or_path)](name_or_path, split, catalog=catalog, **kwargs)
    where = f"{name_or_path} (split {split!r})"
    df = read_hub(name_or_path, split, **kwargs)
    if df.empty:
        raise DataFormatError(f"{where}: the dataset holds no rows")
    layout = detect_layout(df, where) if layout == "auto" else layout
    catalog = catalog or Catalog.load()
    name = Path(str(name_or_path)).stem if Path(str(name_or_path)).exists() else str(name_or_path)
    if layout == "wide":
        table = routerbench.from_wide(df, name, catalog, where)
    else:
        long = llmrouterbench_long(df, where) if layout == "llmrouterbench" else renamed(df, LONG_ALIASES)
        table = _long(long, name, catalog, where)
    table.source = f"{where}, read with datasets.load_dataset"
    return table


def load_routerbench_hub(name_or_path=routerbench.HUB_REPO, split="train", catalog=None, **kwargs) -> OutcomeTable:
    """RouterBench (wide) from a mirror or local file; the official repo's pickles go through routerbench.load_full."""
    official = PICKLES.get(str(kwargs.get("data_files", routerbench.HUB_FILES["routerbench-0shot"])))
    if str(name_or_path) == routerbench.HUB_REPO and official:
        return routerbench.load_full(official, catalog=catalog)
    return load_hub(name_or_path, split, "wide", catalog, **kwargs)


def load_llmrouterbench_hub(name_or_path=LLMROUTERBENCH_REPO, split="train", catalog=None, **kwargs) -> OutcomeTable:
    """LLMRouterBench (arXiv 2601.07206: 33 models, 21 datasets, USD costs), flat records or a result-file folder."""
    if Path(str(name_or_path)).is_dir() and "data_files" not in kwargs:
        kwargs["data_files"] = "**/*.json"
    try:
        return load_hub(name_or_path, split, "llmrouterbench", catalog, **kwargs)
    except DataNotFoundError as e:
        raise DataNotFoundError(f"{e} The project README publishes the results as bench-release.tar.gz: extract "
                                "it and pass its results/bench folder.") from None


KNOWN = {routerbench.HUB_REPO: load_routerbench_hub, LLMROUTERBENCH_REPO: load_llmrouterbench_hub}
