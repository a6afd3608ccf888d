"""RouterBench's wide layout: `<model>` correctness, `<model>|model_response`, `<model>|total_cost` (USD)."""
from __future__ import annotations

import ast
import os
from pathlib import Path

import pandas as pd

from ..catalog import Catalog
from ..tables import OutcomeTable, priced
from ..tokens import token_method
from .common import as_quality, read_table, require_columns, token_counts
from .sources import DataNotFoundError, cache_dir, downloads_allowed, fetch
from .sources import data_dir as resolve_data_dir

ROUTERDC = "shuhao02/RouterDC/datasets/routerbench_zs"
SOURCE = "RouterBench (withmartian/routerbench, MIT) as re-packaged by RouterDC (shuhao02/RouterDC @ 0e63989c)"
SPLITS = {"routerbench-arc": "arc_challenge", "routerbench-mbpp": "mbpp", "routerbench-winogrande": "winograde"}
HUB_REPO, HUB_FILES = "withmartian/routerbench", {"routerbench-0shot": "routerbench_0shot.pkl",
                                                 "routerbench-5shot": "routerbench_5shot.pkl"}
META = {"sample_id", "prompt", "eval_name", "oracle_model_to_route_to", "Unnamed: 0", "split", "query_id"}


def files(name: str) -> list[str]:
    return [f"{ROUTERDC}/{SPLITS[name]}_{split}.csv" for split in ("train", "test")]


def model_columns(df: pd.DataFrame) -> list[str]:
    """Models of a wide table: every `<model>|total_cost` column, else every non-meta column without '|'."""
    costed = [c[: -len("|total_cost")] for c in df.columns if c.endswith("|total_cost")]
    return costed or [c for c in df.columns if "|" not in c and c not in META]


def _prompt_text(value) -> str:
    """RouterBench stores prompts as the repr of a list of strings; join them."""
    if isinstance(value, str) and value.startswith("["):
        try:
            parts = ast.literal_eval(value)
            if isinstance(parts, list):
                return "\n".join(map(str, parts))
        except (ValueError, SyntaxError):
            pass
    return value if isinstance(value, str) else str(value)


def _unique_ids(df: pd.DataFrame) -> pd.Series:
    ids = df["sample_id"].astype(str) if "sample_id" in df else pd.Series(df.index.astype(str), index=df.index)
    dup = ids.duplicated(keep=False)
    return ids.where(~dup, ids + "#" + pd.Series(range(len(df)), index=df.index).astype(str))


def from_wide(df: pd.DataFrame, name: str, catalog: Catalog, where, source: str = "") -> OutcomeTable:
    """An OutcomeTable from a wide frame (RouterBench layout); recorded costs are used where present."""
    require_columns(df, ["prompt"], where)
    models = model_columns(df)
    if not models:
        raise ValueError(f"{where}: no model columns found; expect `<model>` quality columns and "
                         "`<model>|total_cost` (or `<model>|model_response`) columns")
    df = df.reset_index(drop=True).assign(query_id=lambda d: _unique_ids(d))
    queries = pd.DataFrame({"prompt": df["prompt"].map(_prompt_text).to_numpy(),
                            "category": (df["eval_name"] if "eval_name" in df else pd.Series(name, index=df.index)).to_numpy()},
                           index=df["query_id"])
    if "split" in df:
        queries["split"] = df["split"].to_numpy()
    prompt_tokens = token_counts(queries["prompt"]).to_numpy()
    parts, recorded = [], True
    for m in models:
        require_columns(df, [m], where)
        quality = as_quality(df[m], f"{where}, column {m!r}")
        response = df.get(f"{m}|model_response")
        cost = df.get(f"{m}|total_cost")
        recorded &= cost is not None
        parts.append(pd.DataFrame({
            "query_id": df["query_id"], "model": m, "quality": quality, "quality_raw": df[m],
            "prompt_tokens": prompt_tokens,
            "completion_tokens": token_counts(response) if response is not None else float("nan"),
            "cost_usd": pd.to_numeric(cost, errors="coerce") if cost is not None else float("nan"),
            "response": response}))
    out = pd.concat(parts, ignore_index=True)
    if not out["quality"].dropna().between(0, 1).all():
        raise ValueError(f"{where}: model quality columns must hold values between 0 and 1")
    unpriced = out["cost_usd"].isna()
    if unpriced.any():
        if out.loc[unpriced, "completion_tokens"].isna().any():
            bad = out.loc[unpriced & out["completion_tokens"].isna(), "model"].iloc[0]
            raise ValueError(f"{where}: no cost for model {bad!r}: add a `{bad}|total_cost` column (USD) "
                             f"or a `{bad}|model_response` column so tokens can be counted")
        out.loc[unpriced, "cost_usd"] = priced(out[unpriced], catalog)
    return OutcomeTable(
        name, queries, out, quality_scale="correct (0/1) as recorded" if out["quality"].dropna().isin([0, 1]).all()
        else "quality 0-1 as recorded",
        token_method=f"tokens counted from the recorded texts by {token_method()} (RouterBench recorded none)",
        cost_method="recorded per call (USD)" if recorded else "recorded where given, else tokens x catalog price",
        source=source, notes={"models": len(models)})


def load_split(name: str, data_dir=None, catalog=None) -> OutcomeTable:
    """One RouterDC-packaged RouterBench task (train and test CSVs together, `split` kept)."""
    catalog = catalog or Catalog.load()
    paths = fetch(files(name), data_dir)
    frames = [read_table(p, ["prompt", "sample_id"]).assign(split="train" if n.endswith("_train.csv") else "test")
              for n, p in paths.items()]
    return from_wide(pd.concat(frames, ignore_index=True), name, catalog, ", ".join(map(str, paths.values())), SOURCE)


def load_full(name: str, data_dir=None, catalog=None) -> OutcomeTable:
    """The full RouterBench pickle from the data dir, or from the Hugging Face hub where reachable."""
    catalog = catalog or Catalog.load()
    local = fetch_full(name, data_dir)
    df = read_table(local, ["prompt", "sample_id"], trusted_pickle=True)  # the official file, as RouterBench ships it
    return from_wide(df, name, catalog, local, "RouterBench (withmartian/routerbench on the Hugging Face hub, MIT)")


def fetch_full(name: str, data_dir=None) -> Path:
    """The full RouterBench pickle: from the data dir, else from the Hugging Face hub."""
    local = resolve_data_dir(data_dir) / HUB_REPO / HUB_FILES[name]
    return local if local.is_file() else _hub_download(HUB_FILES[name])


def _hub_download(filename: str) -> Path:
    how = (f"Put {filename} at <data dir>/{HUB_REPO}/{filename} (set ROUTERLIB_DATA_DIR), or run on a machine that "
           f"reaches the Hugging Face hub (dataset {HUB_REPO}).")
    if not downloads_allowed():
        raise DataNotFoundError(f"{filename} is not in the data dir and downloads are off. {how}")
    try:
        from huggingface_hub import hf_hub_download
        return Path(hf_hub_download(HUB_REPO, filename, repo_type="dataset",
                                    cache_dir=os.fspath(cache_dir() / "huggingface")))
    except Exception as e:  # offline, hub unreachable, or huggingface_hub missing
        raise DataNotFoundError(f"could not get {filename} from the Hugging Face hub ({type(e).__name__}). {how}") \
            from None


def cost_check(table: OutcomeTable, catalog: Catalog | None = None) -> pd.DataFrame:
    """Recorded cost against tokens x catalog price, per model (ratio 1.0 = the same)."""
    catalog = catalog or Catalog.load()
    out = table.outcomes.dropna(subset=["cost_usd", "completion_tokens"])
    out = out[out["model"].map(lambda m: m in catalog)]
    check = pd.DataFrame({"recorded_usd": out.groupby("model")["cost_usd"].sum(),
                          "tokens_x_price_usd": priced(out, catalog).groupby(out["model"]).sum()})
    check["ratio"] = check["recorded_usd"] / check["tokens_x_price_usd"]
    return check.reindex([m for m in table.models if m in check.index])
