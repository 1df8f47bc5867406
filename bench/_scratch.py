"""What the benchmark scripts share: the options of their scratch dataset and generating it (or reusing it), the
platforms' settings as a benchmark serves them, a process's peak memory, and running a measurement in a child
process of its own."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["add_dataset_options", "child_json", "peak_rss_kib", "platform_settings", "scratch_dataset"]

ROOT = Path(__file__).resolve().parents[1]


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


def platform_settings(*, ideal: bool) -> Any:
    """The simulators' settings on free ports; ``ideal``: without latency, errors or rate limits (the platforms'
    own pace is bench/ingest.py's subject, not the pipeline's)."""
    from simulators.settings import SimSettings

    settings = SimSettings(hotline_port=0, enforcement_port=0, credit_port=0, citymgmt_port=0)
    if ideal:
        settings = settings.model_copy(update={"credit_latency_s": (0.0, 0.0), "error_rate": 0.0,
                                               "rate_limit_per_s": 0.0})
    return settings


def peak_rss_kib() -> int:
    """This process's peak resident memory. Not ``ru_maxrss``: Linux carries it over ``exec`` from the parent
    (a generator or a benchmark driver, often larger), while ``VmHWM`` belongs to this process's address space."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


def child_json(args: list[str], env: dict[str, str] | None = None) -> list[dict]:
    """Run ``python <args>`` from the repository's root; the JSON lines it printed, or an error with its stderr."""
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
