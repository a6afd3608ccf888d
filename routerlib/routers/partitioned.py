"""Batch routing of logs larger than one machine: Parquet partitions scored on a Dask cluster, one task per file.

The fitted router is sent to each worker once; each task reads one partition (query_id, prompt), picks tiers
with the router's batch path (tiers_of) and writes query_id, tier next to it, so no partition's text ever
travels through the scheduler. The single-machine path runs the same function in this process.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def split_log(prompts, folder, rows_per_part: int = 250_000) -> list[Path]:
    """A prompts Parquet file (query_id, prompt) cut into partition files of at most `rows_per_part` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if rows_per_part < 1:
        raise ValueError(f"rows_per_part must be at least 1, got {rows_per_part}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, batch in enumerate(pq.ParquetFile(prompts).iter_batches(rows_per_part, columns=["query_id", "prompt"])):
        paths.append(folder / f"part-{i:05d}.parquet")
        pq.write_table(pa.Table.from_batches([batch]), paths[-1])
    return paths


def route_partition(router, path, out_dir=None, thresholds=None) -> dict:
    """Tiers for one partition file; written to out_dir/<name> when given (else returned). Rows and seconds."""
    import time

    import pandas as pd
    import pyarrow.parquet as pq

    start = time.perf_counter()
    table = pq.read_table(path, columns=["query_id", "prompt"])
    tiers = router.tiers_of(table.column("prompt").to_pylist(), thresholds)
    routed = pd.DataFrame({"query_id": table.column("query_id").to_pandas().array, "tier": tiers})
    out = {"partition": str(path), "rows": len(routed)}
    if out_dir is None:
        out["routed"] = routed
    else:
        out["written"] = str(Path(out_dir) / Path(path).name)
        routed.to_parquet(out["written"], index=False)
    out["seconds"] = time.perf_counter() - start
    return out


def route_partitions(router, paths, client=None, out_dir=None, thresholds=None) -> list[dict]:
    """route_partition() for every file: on a Dask cluster when `client` is given, else here, one after another.

    `client` is a dask.distributed.Client: Client(LocalCluster()) on one machine, Client("tcp://scheduler:8786")
    on a real cluster, whose workers must reach the files (shared disk or s3:// with fsspec) and import routerlib.
    """
    paths = [str(p) for p in paths]
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    if client is None:
        return [route_partition(router, p, out_dir, thresholds) for p in paths]
    shared = client.scatter(router, broadcast=True)  # once per worker, not once per task
    futures = client.map(route_partition, [shared] * len(paths), paths, out_dir=out_dir, thresholds=thresholds,
                         pure=False)
    return client.gather(futures)


def decisions(results) -> "pd.DataFrame":
    """query_id and tier of every partition's result, in partition order."""
    import pandas as pd

    parts = [r["routed"] if "routed" in r else pd.read_parquet(r["written"]) for r in results]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["query_id", "tier"])


def throughput(results) -> float:
    """Routed rows per second of task time, summed over tasks (not wall time)."""
    return float(np.sum([r["rows"] for r in results]) / max(np.sum([r["seconds"] for r in results]), 1e-9))
