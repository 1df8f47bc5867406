"""What the benchmark scripts share: the options of their scratch dataset, and generating it (or reusing it)."""

from __future__ import annotations

import argparse
import time
from datetime import date
from typing import Any

__all__ = ["add_dataset_options", "scratch_dataset"]


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """--scale, --days, --seed, --end and --reuse."""
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=20200708)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--reuse", action="store_true", help="reuse the scratch dataset if it is there")


def scratch_dataset(prefix: str, args: argparse.Namespace, console: Any) -> Any:
    """``$GRIDLAKE_HOME/sim/<prefix>-<scale>-<days>``, generated anew unless ``--reuse`` finds it there."""
    from simulators.dataset import Dataset
    from simulators.generate import generate

    dataset = Dataset.named(f"{prefix}-{args.scale:g}-{args.days}")
    if not (args.reuse and dataset.meta_path.exists()):
        console.print(f"generating {dataset.root} (scale {args.scale:g}, {args.days} days)")
        began = time.perf_counter()
        generate(dataset, seed=args.seed, scale=args.scale, days=args.days, end=args.end, log=lambda _: None)
        console.print(f"  generated in {time.perf_counter() - began:.0f} s")
    return dataset
