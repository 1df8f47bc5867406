"""Benchmark: the dbt build of the whole project on an ingested district: wall time and peak memory.

    uv run python bench/build.py                            # the demo's scale (0.05, 14 days)
    uv run python bench/build.py --scale 1.0 --days 28      # the district's real volume, four weeks
    uv run --group cosmos python bench/build.py --dag --cosmos  # also as the transform DAG, and through Cosmos

Generates a scratch dataset (reused with ``--reuse`` when there), serves it without artificial latency, ingests
every platform into a scratch lake (`$GRIDLAKE_HOME/bench/build-<scale>-<days>/`), then runs, each in a process of
its own: a full build into an empty warehouse, the same build again (nothing new: what a no-op costs), and, after the
clock moves an hour and the platforms are ingested again, an incremental build. With ``--dag``, the same
incremental build as the ``transform`` DAG runs it (``airflow dags test``, a fresh SQLite metadata database), to
compare the DAG's wall time with the plain build's. With ``--cosmos [model build layer]`` (the ``cosmos``
dependency group: ``uv run --group cosmos python bench/build.py --cosmos``), the same through renderings of
``bench/cosmos_dag.py``: a task per model, its tests after it; a ``dbt build`` task per model; a ``dbt build`` task
per layer (all three when none is named). Each DAG run follows an hour more of ingested data. Prints a table and
JSON lines.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
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
_PEAK = "--peak"
COSMOS_DAGS = {"model": ("transform_cosmos_model", "Cosmos, a task per model, its tests after it"),
               "build": ("transform_cosmos_build", "Cosmos, a dbt build task per model"),
               "layer": ("transform_cosmos_layer", "Cosmos, a dbt build task per layer")}


def _build_one(full_refresh: bool) -> None:
    """In the child: dbt build on $GRIDLAKE_HOME; print seconds, nodes and peak memory as JSON."""
    from gridlake.transform import run_dbt

    began = time.perf_counter()
    result = run_dbt(["build", *(["--full-refresh"] if full_refresh else [])])
    seconds = time.perf_counter() - began
    print(json.dumps({"seconds": round(seconds, 1), "nodes": len(result.nodes),
                      "peak_rss_mib": round(peak_rss_kib() / 1024)}))


def _peak_of(command: list[str]) -> None:
    """In the child: run a command, its output passed through, then print the peak resident memory of its largest
    process as the last line (this small process's own peak is all it could carry over)."""
    done = subprocess.run(command)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"returncode": done.returncode, "peak_rss_mib": round(peak / 1024)}))


def _task_states(database: Path, dag_id: str) -> dict[str, int]:
    """How many task instances of the DAG's last run ended in each state, from the metadata database."""
    with sqlite3.connect(database) as connection:
        return dict(connection.execute(
            "select state, count(*) from task_instance where dag_id = ? and run_id = "
            "(select run_id from dag_run where dag_id = ? order by id desc limit 1) group by state",
            (dag_id, dag_id)).fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_options(parser)
    parser.add_argument("--dag", action="store_true", help="also time the transform DAG (airflow dags test)")
    parser.add_argument("--cosmos", nargs="*", choices=list(COSMOS_DAGS), default=None, metavar="RENDERING",
                        help=f"also time Cosmos renderings (bench/cosmos_dag.py): {', '.join(COSMOS_DAGS)} (all)")
    args = parser.parse_args()
    if args.cosmos == []:
        args.cosmos = list(COSMOS_DAGS)
    if args.cosmos and importlib.util.find_spec("cosmos") is None:
        parser.error("--cosmos needs the cosmos dependency group: uv sync --group cosmos")

    from connectors.ingest import PLATFORMS, run_job
    from gridlake.lake import Lake
    from gridlake.settings import get_settings
    from simulators.serve import Simulators

    console = Console()
    dataset = scratch_dataset("bench-build", args, console)
    home = get_settings().home / "bench" / f"build-{args.scale:g}-{args.days}"
    shutil.rmtree(home, ignore_errors=True)
    settings = platform_settings(ideal=True)
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
        here = Path(__file__).resolve().parent
        airflow = dict(env, AIRFLOW_HOME=str(home / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                       AIRFLOW__CORE__DAGS_FOLDER=str(here.parent / "dags"))
        command = str(Path(sys.executable).with_name("airflow"))

        def dag_run(label: str, dag_id: str, *, dag_file: Path | None = None) -> dict:
            """An hour more of data, then the DAG's run over it (``airflow dags test``, no executor: its tasks one
            after the other in the one process, as for the ``transform`` DAG)."""
            sims.clock.advance(timedelta(hours=1))
            ingest()
            began = time.perf_counter()
            done = subprocess.run([sys.executable, __file__, _PEAK, command, "dags", "test", dag_id,
                                   *(["--dagfile-path", str(dag_file)] if dag_file else [])],
                                  env=airflow, capture_output=True, text=True)
            output = done.stdout + done.stderr
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            states = _task_states(home / "airflow" / "airflow.db", dag_id)
            if measured["returncode"] != 0 or "state=success" not in output or set(states) != {"success"}:
                console.print(f"[red]the {dag_id} DAG failed[/] ({states})\n{output[-4000:]}")
                raise SystemExit(1)
            # The DAG run's own wall time, as Airflow records it (run start to end); the command's (importing
            # Airflow, parsing the DAG file) is given beside it.
            found = re.search(r"run_duration=([0-9.]+)", output)
            seconds = round(float(found.group(1)), 1) if found else None
            return {"build": label, "seconds": seconds, "ratio": round(seconds / plain, 2) if seconds else None,
                    "tasks": sum(states.values()), "nodes": None, "peak_rss_mib": measured["peak_rss_mib"],
                    "command_seconds": round(time.perf_counter() - began, 1)}

        plain = rows[-1]["seconds"]
        rows[-1]["ratio"] = 1.0
        if args.dag or args.cosmos:
            subprocess.run([command, "db", "migrate"], env=airflow, capture_output=True, check=True)
        if args.dag:
            rows.append(dag_run("transform DAG run, one hour more", "transform"))
            rows[-1]["nodes"] = rows[2]["nodes"]  # the same dbt build, in one task
        if args.cosmos:
            # Cosmos runs dbt in a copy of the project in the temporary directory; the project's seed path
            # ../gridlake/reference_data must resolve from there too. `dags test` reads a DAG file only in the
            # DAGs folder. Cosmos' usage statistics go nowhere.
            scratch = home / "cosmos-tmp"
            scratch.mkdir()
            (scratch / "gridlake").symlink_to(here.parent / "gridlake", target_is_directory=True)
            airflow.update(TMPDIR=str(scratch), AIRFLOW__CORE__DAGS_FOLDER=str(here),
                           AIRFLOW__COSMOS__ENABLE_TELEMETRY="False", DO_NOT_TRACK="1")
            for name in args.cosmos:
                dag_id, label = COSMOS_DAGS[name]
                rows.append(dag_run(f"{label}, one hour more", dag_id, dag_file=here / "cosmos_dag.py"))
    table = Table(title=f"dbt build: scale {args.scale:g}, {args.days} days ({rows_in:,} rows ingested, "
                        f"{rows_hour:,} in the hour after)")
    for column in ("build", "seconds", "x incremental", "tasks", "nodes", "peak RSS MiB"):
        table.add_column(column, justify="left" if column == "build" else "right")
    for row in rows:
        table.add_row(row["build"], f"{row['seconds']:.1f}", f"{row['ratio']:.2f}" if row.get("ratio") else "-",
                      str(row.get("tasks") or "-"), str(row["nodes"] or "-"), str(row["peak_rss_mib"] or "-"))
    console.print(table)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == _ONE:
        _build_one(sys.argv[2] == "full")
    elif len(sys.argv) > 2 and sys.argv[1] == _PEAK:
        _peak_of(sys.argv[2:])
    else:
        main()
