"""Benchmark: generate the simulated district at a given scale and span, and report time and rows per platform.

    uv run python bench/generate.py --scale 1.0 --days 28      # the district's real volume, four weeks

Writes into a scratch dataset (`$GRIDLAKE_HOME/sim/bench`) and prints a JSON line per platform.
"""

from __future__ import annotations

import argparse
import json
from datetime import date

from simulators.dataset import Dataset
from simulators.generate import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=20200708)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--name", default="bench")
    args = parser.parse_args()
    meta = generate(Dataset.named(args.name), seed=args.seed, scale=args.scale, days=args.days, end=args.end)
    for platform, counts in meta["counts"].items():
        print(json.dumps({"platform": platform, "seconds": meta["seconds"][platform],
                          "rows": sum(counts.values()), "tables": counts}, ensure_ascii=False))
    print(json.dumps({"total_seconds": meta["seconds"]["total"], "scale": args.scale, "days": args.days}))


if __name__ == "__main__":
    main()
