"""What the benchmark scripts share: the options of their scratch dataset and generating it (or reusing it), the
platforms' settings as a benchmark serves them, a process's peak memory, and running a measurement in a child
process of its own."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["add_dataset_options", "child_environment", "child_json", "linked_home", "load_source_lake",
           "peak_rss_kib", "platform_settings", "scratch_dataset"]

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


def child_environment(home: Path) -> dict[str, str]:
    """The environment of a measuring child: this checkout importable, ``home`` its GRIDLAKE_HOME, a salt."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, GRIDLAKE_HOME=str(home), PYTHONPATH=path)
    env.setdefault("GRIDLAKE_PII_SALT", "bench")
    return env


def load_source_lake(dataset: Any, *, reuse: bool, work: Path, ingest: list[str], what: str, console: Any) -> Path:
    """The raw lake a comparison reads: bench/pipeline.py's lake of ``dataset`` when ``reuse`` finds it (read only),
    else one loaded into ``work/source`` by the child command ``ingest`` (run with the platforms served ideally;
    it prints its counts as its last JSON line), kept for the next ``reuse``."""
    pipeline = dataset.root / "bench" / "gridlake" / "lake"
    if reuse and (pipeline / "raw" / "hotline").is_dir():
        console.print(f"reading bench/pipeline.py's lake {pipeline} (read only)")
        return pipeline
    home = work / "source"
    done = home / "loaded.json"
    if reuse and done.exists():
        console.print(f"reusing the lake {home / 'lake'}")
        return home / "lake"
    from simulators.serve import Simulators

    shutil.rmtree(home, ignore_errors=True)
    console.print(f"loading {what} into {home / 'lake'} ...")
    began = time.perf_counter()
    with Simulators(dataset, settings=platform_settings(ideal=True)) as sims:
        loaded = child_json(ingest, {**child_environment(home), **sims.environment()})[-1]
    console.print(f"  {loaded['rows_landed']:,} rows landed in {time.perf_counter() - began:.0f} s")
    done.write_text(json.dumps(loaded), encoding="utf-8")
    return home / "lake"


def linked_home(home: Path, lake: Path) -> Path:
    """A fresh GRIDLAKE_HOME whose lake is ``lake``'s raw zone (and log) through symbolic links: what runs there
    reads the files in place and writes only its warehouse, target and logs."""
    shutil.rmtree(home, ignore_errors=True)
    (home / "lake").mkdir(parents=True)
    for part in ("raw", "_log"):
        if (lake / part).exists():
            (home / "lake" / part).symlink_to(lake / part)
    return home
