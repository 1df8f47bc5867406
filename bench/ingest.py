"""Benchmark: rows per second landed from each platform, and the loading process's peak memory.

    uv run python bench/ingest.py                           # the demo's scale (0.05, 14 days)
    uv run python bench/ingest.py --scale 1.0 --days 7      # the district's real volume, one week
    uv run python bench/ingest.py --ideal                   # platforms without latency, errors or rate limits

Generates a scratch dataset (`$GRIDLAKE_HOME/sim/bench-ingest-<scale>-<days>`, reused when there with
``--reuse``), serves it, and for each platform runs a first, full load (`gridlake ingest <platform>`'s code)
into an empty lake, each in a process of its own so that its peak resident memory (VmHWM) is its own.
As served, the platforms behave as the district's do (1% of answers fail, 50 requests/s, the credit platform
answers in 1-3 s): the figures are what a first load costs here, retries and waits included. Prints a table
and a JSON line per platform.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _scratch import (  # bench/ is the script's own folder
    add_dataset_options,
    peak_rss_kib,
    platform_settings,
    scratch_dataset,
)
from rich.console import Console
from rich.table import Table

_ONE = "--one"


def _load_one(platform_name: str) -> None:
    """In the child: load one platform into the lake at $GRIDLAKE_HOME; print rows and seconds as JSON."""
    from connectors.ingest import platform, run_job
    from gridlake.connections import get_connection
    from gridlake.lake import Lake

    lake = Lake.default()
    get_connection(platform(platform_name).conn_id)  # Airflow's connection parser imports once, before the clock
    began = time.perf_counter()
    read = landed = quarantined = 0
    for job in platform(platform_name).jobs:
        for manifest in run_job(job, lake=lake).manifests:
            read += manifest.rows_read
            landed += manifest.rows_landed
            quarantined += sum(manifest.rows_quarantined.values())
    seconds = time.perf_counter() - began
    size = sum(f.stat().st_size for f in (lake.root / "raw").rglob("*.parquet"))
    peak_kib = peak_rss_kib()
    print(json.dumps({"platform": platform_name, "rows_read": read, "rows_landed": landed,
                      "rows_quarantined": quarantined, "seconds": round(seconds, 2),
                      "rows_per_s": round(read / seconds) if seconds else None,
                      "peak_rss_mib": round(peak_kib / 1024), "parquet_mib": round(size / 2**20, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_options(parser)
    parser.add_argument("--ideal", action="store_true", help="serve without latency, errors or rate limits")
    parser.add_argument("--platforms", nargs="*", default=None)
    args = parser.parse_args()

    from connectors.ingest import PLATFORMS
    from simulators.serve import Simulators

    console = Console()
    dataset = scratch_dataset("bench-ingest", args, console)
    settings = platform_settings(ideal=args.ideal)
    results = []
    with Simulators(dataset, settings=settings) as sims, tempfile.TemporaryDirectory(prefix="bench-lake-") as home:
        env = dict(os.environ, GRIDLAKE_HOME=home, GRIDLAKE_PII_SALT=os.environ.get("GRIDLAKE_PII_SALT", "bench"))
        env.update(sims.environment())
        for name in args.platforms or list(PLATFORMS):
            shutil.rmtree(Path(home) / "lake", ignore_errors=True)
            done = subprocess.run([sys.executable, __file__, _ONE, name], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                console.print(f"[red]{name} failed[/]\n{done.stderr[-3000:]}")
                continue
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    table = Table(title=f"First load into an empty lake: scale {args.scale:g}, {args.days} days"
                        f"{', ideal platforms' if args.ideal else ', platforms as served'}")
    for column in ("platform", "rows read", "seconds", "rows/s", "peak RSS MiB", "Parquet MiB"):
        table.add_column(column, justify="left" if column == "platform" else "right")
    for row in results:
        table.add_row(row["platform"], f"{row['rows_read']:,}", f"{row['seconds']:.1f}", f"{row['rows_per_s']:,}",
                      str(row["peak_rss_mib"]), str(row["parquet_mib"]))
    console.print(table)
    for row in results:
        print(json.dumps(row))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == _ONE:
        _load_one(sys.argv[2])
    else:
        main()
