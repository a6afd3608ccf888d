"""Load test of the router server: requests/s and added latency with an instant upstream.

    python benchmarks/serve_load.py [--requests 3000] [--concurrency 8] [--router classifier|rules] [--json PATH]

Prints the figures; --json PATH writes them, --update rewrites benchmarks/results/serve_load.json.
The target is 200 requests/s of routing overhead alone.
"""
import argparse
import json
from pathlib import Path

from routerlib.bench.serve_load import serve_load
from routerlib.files import write_json

OUT = Path(__file__).resolve().parent / "results" / "serve_load.json"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--router", choices=["classifier", "rules"], default="classifier")
    parser.add_argument("--json", help="write every figure to this JSON file")
    parser.add_argument("--update", action="store_true", help=f"rewrite the committed results, {OUT.name}")
    args = parser.parse_args()
    result = serve_load(args.requests, args.concurrency, args.router)
    print(json.dumps({k: v for k, v in result.items() if k.startswith("serve_") or k == "meets_target"}, indent=2))
    for path in [p for p in (args.json, OUT if args.update else None) if p]:
        write_json(path, result)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
