"""Benchmark: the same dbt project built from the same raw lake by DuckDB (one node, the default target) and by Spark
(dbt-spark's session method, a local SparkSession): the figures behind docs' "which engine at which size".

    uv run python bench/engines.py --scale 0.05 --days 14                 # the demo's scale
    uv run python bench/engines.py --scale 0.25 --days 28 --reuse
    GRIDLAKE_SPARK_DRIVER_MEMORY=5g uv run python bench/engines.py --scale 1.0 --days 28 --reuse

The lake: with ``--reuse``, bench/pipeline.py's lake of the scratch dataset
(`$GRIDLAKE_HOME/sim/bench-<scale>-<days>/bench/gridlake/lake`) when it is there, read in place and never written;
otherwise the dataset (generated unless ``--reuse`` finds it) is served with ideal platforms and every platform is
loaded into a lake of this script's own (`.../engines/source`, kept for ``--reuse``).

Each engine builds the whole project in a process of its own, into a fresh home whose lake is the source lake's raw
zone (and log) through symbolic links (as bench/marts.py does): a fresh DuckDB warehouse, or a fresh Spark warehouse
directory and metastore. The same three dbt commands, each timed: ``show --inline "select 1"`` (dbt's import and
parse and the engine's start: for Spark, the SparkSession and its JVM, started by the first statement), ``seed``, and
``run`` (every model, full build; no tests: Spark's data tests are the parity test's business, and the unit tests
are DuckDB's). Per engine: the wall time of the three, the start on its own, and the peak resident memory (VmHWM) of
the process summed with its descendants' (Spark: the Python driver and the JVM it started).

Then every mart's row count is compared (the DuckDB warehouse's ``marts`` schema against the Parquet files of Spark's
``marts.db``): a difference fails the script, since timings of different computations compare nothing (the values
are the parity test's, tests/dbt/test_spark.py). Prints a table and, last, a JSON line; ``--out`` also writes the
JSON line into a file (its ``sizes`` list: one entry per scale and span, the latest run of each kept).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _scratch import (  # bench/ is the script's own folder
    add_dataset_options,
    child_environment,
    child_json,
    linked_home,
    load_source_lake,
    scratch_dataset,
)
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENGINES = ("duckdb", "spark")
_CHILD = "--child"


# --- the children (each in a process of its own: its time and memory are its own) --------------------------------

def _child_ingest() -> None:
    """Load every platform into the lake at $GRIDLAKE_HOME (the platforms are served)."""
    from connectors.ingest import PLATFORMS, run_job
    from gridlake.lake import Lake

    lake = Lake.default()
    rows = sum(manifest.rows_landed for p in PLATFORMS.values() for job in p.jobs
               for manifest in run_job(job, lake=lake).manifests)
    print(json.dumps({"rows_landed": rows}))


def _hwm_kib(pid: int) -> dict[int, int]:
    """The peak resident memory (VmHWM, KiB) of a process and of each of its descendants, by process id."""
    out: dict[int, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out[pid] = int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out.update(_hwm_kib(int(child)))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def _child_build(engine: str) -> None:
    """The timed build of the whole project (start, seeds, models) on ``engine`` into the home at $GRIDLAKE_HOME."""
    began = time.perf_counter()
    from gridlake.transform import SPARK_TARGET, run_dbt

    target = SPARK_TARGET if engine == "spark" else None
    run_dbt(["show", "--inline", "select 1 as one"], target=target)
    started = time.perf_counter()
    seeds = run_dbt(["seed"], target=target)
    seeded = time.perf_counter()
    models = run_dbt(["run"], target=target)
    ended = time.perf_counter()
    peaks = _hwm_kib(os.getpid())  # before the JVM goes: its VmHWM goes with it
    children = sum(kib for pid, kib in peaks.items() if pid != os.getpid())
    print(json.dumps({
        "engine": engine, "seconds": round(ended - began, 1), "start_seconds": round(started - began, 1),
        "seed_seconds": round(seeded - started, 1), "run_seconds": round(ended - seeded, 1),
        "seeds": len(seeds.nodes), "models": len(models.nodes),
        "peak_rss_mib": round(sum(peaks.values()) / 1024), "python_peak_rss_mib": round(peaks[os.getpid()] / 1024),
        "children_peak_rss_mib": round(children / 1024),
        "driver_memory": os.environ.get("GRIDLAKE_SPARK_DRIVER_MEMORY", "2g") if engine == "spark" else None}))


# --- the parent ---------------------------------------------------------------------------------------------------

def _raw_size(lake: Path) -> tuple[int, int, int]:
    """The raw zone's landed Parquet files: rows, bytes and files (the declared ``_schema.parquet`` left out)."""
    import pyarrow.parquet as pq

    rows = size = files = 0
    for path in (lake / "raw").glob("*/*/ingest_date=*/*.parquet"):
        rows += pq.ParquetFile(path).metadata.num_rows
        size += path.stat().st_size
        files += 1
    return rows, size, files


def _mart_rows(homes: dict[str, Path]) -> dict[str, dict[str, int | None]]:
    """Every mart's rows on each engine (None: the engine built no such table); the marts: the DuckDB build's."""
    import duckdb

    counts: dict[str, dict[str, int | None]] = {}
    warehouse = duckdb.connect(str(homes["duckdb"] / "warehouse" / "gridlake.duckdb"), read_only=True)
    try:
        marts = [name for (name,) in warehouse.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        for mart in marts:
            (count,) = warehouse.execute(f"select count(*) from marts.{mart}").fetchone()
            counts[mart] = {"duckdb": count}
    finally:
        warehouse.close()
    if "spark" in homes:
        reader = duckdb.connect()
        tables = homes["spark"] / "spark" / "warehouse" / "marts.db"
        for mart in marts:
            files = list((tables / mart).glob("*.parquet"))
            counts[mart]["spark"] = reader.execute(
                f"select count(*) from read_parquet('{tables / mart}/*.parquet')").fetchone()[0] if files else None
        reader.close()
    return counts


def _record(out: Path, result: dict) -> None:
    """Keep ``result`` in ``out`` (one entry per scale and span, the latest of each)."""
    kept = json.loads(out.read_text(encoding="utf-8"))["sizes"] if out.exists() else []
    kept = [size for size in kept if (size["scale"], size["days"]) != (result["scale"], result["days"])]
    kept = sorted([*kept, result], key=lambda size: (size["raw_rows"], size["days"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"figure": "engines", "sizes": kept}, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_options(parser)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
                        help="the engines to build with (DuckDB always: its marts are the reference)")
    parser.add_argument("--out", type=Path, default=None, help="keep the result in this JSON file too")
    args = parser.parse_args()
    engines = ["duckdb", *(engine for engine in args.engines if engine != "duckdb")]

    console = Console()
    dataset = scratch_dataset("bench", args, console)
    work = dataset.root / "engines"
    work.mkdir(parents=True, exist_ok=True)
    lake = load_source_lake(dataset, reuse=args.reuse, work=work, ingest=[__file__, _CHILD, "ingest"],
                            what="every platform", console=console)
    raw_rows, raw_bytes, raw_files = _raw_size(lake)
    console.print(f"raw zone: {raw_rows:,} rows in {raw_files:,} files, {raw_bytes / 2**20:,.1f} MiB")
    homes, runs = {}, {}
    for engine in engines:
        homes[engine] = linked_home(work / engine, lake)
        console.print(f"{engine}: seeds and models into {homes[engine]} ...")
        (runs[engine],) = child_json([__file__, _CHILD, "build", engine], child_environment(homes[engine]))[-1:]
        run = runs[engine]
        console.print(f"  {run['seconds']:.1f} s (start {run['start_seconds']:.1f} s), "
                      f"peak {run['peak_rss_mib']:,} MiB")

    counts = _mart_rows(homes)
    differ = {mart: sides for mart, sides in counts.items() if len(set(sides.values())) > 1}
    result: dict[str, Any] = {
        "figure": "engines", "scale": args.scale, "days": args.days,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "load_average": os.getloadavg()[0],
        "raw_rows": raw_rows, "raw_bytes": raw_bytes, "raw_files": raw_files, "dbt_commands": "show, seed, run",
        "engines": runs, "mart_rows": {mart: sides["duckdb"] for mart, sides in counts.items()},
        "marts_match": not differ,
    }
    if "spark" in runs:
        duck, spark = runs["duckdb"], runs["spark"]
        result.update({"spark_vs_duckdb": round(spark["seconds"] / duck["seconds"], 2),
                       "spark_vs_duckdb_after_start": round((spark["seconds"] - spark["start_seconds"])
                                                            / (duck["seconds"] - duck["start_seconds"]), 2),
                       "spark_vs_duckdb_memory": round(spark["peak_rss_mib"] / duck["peak_rss_mib"], 2)})

    table = Table(title=f"The whole dbt project (seeds, models), scale {args.scale:g}, {args.days} days: "
                        f"{raw_rows:,} raw rows, {raw_bytes / 2**20:,.0f} MiB of Parquet")
    for column in ("engine", "seconds", "start s", "seeds s", "models s", "peak MiB", "x DuckDB time",
                   "x DuckDB memory"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for engine, run in runs.items():
        label = "DuckDB" if engine == "duckdb" else f"Spark, driver {run['driver_memory']}"
        table.add_row(label, f"{run['seconds']:.1f}", f"{run['start_seconds']:.1f}", f"{run['seed_seconds']:.1f}",
                      f"{run['run_seconds']:.1f}", f"{run['peak_rss_mib']:,}",
                      f"{run['seconds'] / runs['duckdb']['seconds']:.2f}",
                      f"{run['peak_rss_mib'] / runs['duckdb']['peak_rss_mib']:.2f}")
    console.print(table)
    console.print("start: dbt's import and parse and the engine's start (Spark: its JVM and SparkSession); peak: the "
                  "process's VmHWM summed with its children's (Spark: the Python driver and the JVM)")
    console.print(f"marts: {len(counts)}, {sum(result['mart_rows'].values()):,} rows; same row counts on every "
                  f"engine: {'yes' if not differ else '[red]NO[/]'}")
    if args.out:
        _record(args.out, result)
    print(json.dumps(result))
    if differ:
        for mart, sides in differ.items():
            console.print(f"[red]{mart}:[/] {sides}")
        raise SystemExit(f"the engines built different marts ({', '.join(differ)}): the comparison is void")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == _CHILD:
        {"ingest": _child_ingest, "build": _child_build}[sys.argv[2]](*sys.argv[3:])
    else:
        main()
