"""Benchmark: load every mirrored dataset; wall time per dataset and in all, and peak memory.

    python benchmarks/load_datasets.py [--data-dir DIR] [--json PATH]   (--update rewrites benchmarks/results/load_datasets.json)

Targets (issue 3): under 10 s in all and under 2 GB of memory.
"""
import argparse
import os
import platform
import resource
import sys
import time

from routerlib import datasets
from routerlib.files import write_json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="the data mirror (default: ROUTERLIB_DATA_DIR)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--update", action="store_true", help="rewrite benchmarks/results/load_datasets.json")
    args = parser.parse_args(argv)
    names = [n for n, row in datasets.status(args.data_dir).iterrows() if row["present"] == row["files"]]
    if not names:
        sys.exit("no dataset is present; set ROUTERLIB_DATA_DIR or --data-dir to the mirror")
    timings = {}
    start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        table = datasets.load(name, args.data_dir)
        timings[name] = {"seconds": round(time.perf_counter() - t0, 3), "queries": table.n_queries,
                         "models": len(table.models)}
    total = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"datasets": timings, "total_seconds": round(total, 3), "peak_rss_mb": round(peak_mb, 1),
              "targets": {"total_seconds": 10, "peak_rss_mb": 2048},
              "met": total < 10 and peak_mb < 2048,
              "machine": {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                          "python": platform.python_version()}}
    for path in [p for p in (args.json, "benchmarks/results/load_datasets.json" if args.update else None) if p]:
        write_json(path, result)
    for name, t in timings.items():
        print(f"{name:<24} {t['seconds']:>7.2f} s  {t['queries']:>6} queries x {t['models']} models")
    print(f"{'total':<24} {total:>7.2f} s  peak memory {peak_mb:.0f} MB  (targets: < 10 s, < 2048 MB)")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
