"""Benchmark: the dbt build of the whole project on an ingested district: wall time and peak memory.

    uv run python bench/build.py                            # the demo's scale (0.05, 14 days)
    uv run python bench/build.py --scale 1.0 --days 28      # the district's real volume, four weeks

Generates a scratch dataset (reused with ``--reuse`` when there), serves it without artificial latency, ingests
every platform into a scratch lake (`$GRIDLAKE_HOME/bench/build-<scale>-<days>/`), then runs, each in a process of
its own: a full build into an empty warehouse, the same build again (nothing new: what a no-op costs), and, after the
clock moves an hour and the platforms are ingested again, an incremental build. With ``--dag``, the same
incremental build as the ``transform`` DAG runs it (``airflow dags test``, a fresh SQLite metadata database), to
compare the DAG's wall time with the plain build's. Prints a table and JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

_ONE = "--one"


def _build_one(full_refresh: bool) -> None:
    """In the child: dbt build on $GRIDLAKE_HOME; print seconds, nodes and peak memory as JSON."""
    from gridlake.transform import run_dbt

    began = time.perf_counter()
    result = run_dbt(["build", *(["--full-refresh"] if full_refresh else [])])
    seconds = time.perf_counter() - began
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": round(seconds, 1), "nodes": len(result.nodes), "peak_rss_mib": round(peak / 1024)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=20200708)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--reuse", action="store_true", help="reuse the scratch dataset if it is there")
    parser.add_argument("--dag", action="store_true", help="also time the transform DAG (airflow dags test)")
    args = parser.parse_args()

    from connectors.ingest import PLATFORMS, run_job
    from gridlake.lake import Lake
    from gridlake.settings import get_settings
    from simulators.dataset import Dataset
    from simulators.generate import generate
    from simulators.serve import Simulators
    from simulators.settings import SimSettings

    console = Console()
    dataset = Dataset.named(f"bench-build-{args.scale:g}-{args.days}")
    if not (args.reuse and dataset.meta_path.exists()):
        console.print(f"generating {dataset.root} (scale {args.scale:g}, {args.days} days)")
        generate(dataset, seed=args.seed, scale=args.scale, days=args.days, end=args.end, log=lambda _: None)
    home = get_settings().home / "bench" / f"build-{args.scale:g}-{args.days}"
    shutil.rmtree(home, ignore_errors=True)
    settings = SimSettings(hotline_port=0, enforcement_port=0, credit_port=0, citymgmt_port=0,
                           credit_latency_s=(0.0, 0.0), error_rate=0.0, rate_limit_per_s=0.0)
    rows: list[dict] = []
    with Simulators(dataset, settings=settings) as sims:
        env = dict(os.environ, GRIDLAKE_HOME=str(home), GRIDLAKE_PII_SALT=os.environ.get("GRIDLAKE_PII_SALT", "bench"))
        env.update(sims.environment())
        os.environ.update({key: value for key, value in env.items() if key.startswith("AIRFLOW_CONN_")})
        os.environ["GRIDLAKE_PII_SALT"] = env["GRIDLAKE_PII_SALT"]

        def ingest() -> int:
            lake = Lake(home / "lake")
            return sum(m.rows_read for p in PLATFORMS.values() for job in p.jobs
                       for m in run_job(job, lake=lake).manifests)

        def build(label: str, *, full_refresh: bool = False) -> None:
            done = subprocess.run([sys.executable, __file__, _ONE, "full" if full_refresh else "incremental"],
                                  env=env, capture_output=True, text=True)
            if done.returncode != 0:
                console.print(f"[red]{label} failed[/]\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
                raise SystemExit(1)
            rows.append({"build": label, **json.loads(done.stdout.strip().splitlines()[-1])})

        console.print("ingesting every platform")
        rows_in = ingest()
        build("full build, empty warehouse", full_refresh=True)
        build("again, nothing new")
        sims.clock.advance(timedelta(hours=1))
        rows_hour = ingest()
        build("incremental, one hour more")
        if args.dag:
            sims.clock.advance(timedelta(hours=1))
            ingest()
            airflow = dict(env, AIRFLOW_HOME=str(home / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                           AIRFLOW__CORE__DAGS_FOLDER=str(Path(__file__).resolve().parents[1] / "dags"))
            command = str(Path(sys.executable).with_name("airflow"))
            subprocess.run([command, "db", "migrate"], env=airflow, capture_output=True, check=True)
            began = time.perf_counter()
            done = subprocess.run([command, "dags", "test", "transform"], env=airflow, capture_output=True, text=True)
            if done.returncode != 0 or "state=success" not in done.stdout + done.stderr:
                console.print(f"[red]the transform DAG failed[/]\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
                raise SystemExit(1)
            # The DAG run's own wall time, as Airflow records it (run start to end); the command's start-up
            # (importing Airflow, parsing the DAGs folder) is shown beside it.
            found = re.search(r"run_duration=([0-9.]+)", done.stdout + done.stderr)
            rows.append({"build": "transform DAG run, one hour more",
                         "seconds": round(float(found.group(1)), 1) if found else None, "nodes": rows[-1]["nodes"],
                         "peak_rss_mib": None, "command_seconds": round(time.perf_counter() - began, 1)})
    table = Table(title=f"dbt build: scale {args.scale:g}, {args.days} days ({rows_in:,} rows ingested, "
                        f"{rows_hour:,} in the hour after)")
    for column in ("build", "seconds", "nodes", "peak RSS MiB"):
        table.add_column(column, justify="left" if column == "build" else "right")
    for row in rows:
        table.add_row(row["build"], f"{row['seconds']:.1f}", str(row["nodes"]), str(row["peak_rss_mib"] or "-"))
    console.print(table)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == _ONE:
        _build_one(sys.argv[2] == "full")
    else:
        main()
