"""Benchmark: the light sentence-embedding option (extra `embeddings-light`) alone, the bench's `embeddings` part.

    python benchmarks/embeddings.py [--quick] [--data-dir DIR] [--json PATH]   (--update rewrites
    benchmarks/results/embeddings.json)

Install size on disk, model load, texts/s, a disk-cache miss and hit, and the route() latency of a classifier
router with embeddings. `python -m routerlib bench` measures the same part among the others.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from routerlib.bench import light_embeddings, machine
from routerlib.files import write_json

OUT = Path(__file__).resolve().parent / "results" / "embeddings.json"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer texts and passes")
    parser.add_argument("--data-dir", help="the data mirror (default: ROUTERLIB_DATA_DIR)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--update", action="store_true", help=f"rewrite the committed results, {OUT.name}")
    args = parser.parse_args(argv)
    try:
        result = light_embeddings(args.data_dir, args.quick)
    except ImportError as e:
        sys.exit(str(e))
    result.update({"quick": args.quick, "machine": machine(), "date": time.strftime("%Y-%m-%d")})
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    for path in [p for p in (args.json, OUT if args.update else None) if p]:
        write_json(path, result)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
