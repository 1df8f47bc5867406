"""Benchmark: dbt's build of the KPI and sensor marts against the limit of this stack - the same marts hand-written
as one DuckDB query each over the raw Parquet - and against what a team would otherwise write: pandas. Same lake,
same run, and each side's rows checked equal to dbt's.

    uv run python bench/marts.py --scale 1.0 --days 28 --reuse    # on bench/pipeline.py's lake of that dataset
    uv run python bench/marts.py --scale 0.05 --days 14            # the demo's scale

The marts: hotline_kpi_daily, hotline_kpi_monthly (接诉即办 rates, composite and rank per unit, month to date and
month) and iot_domain_daily (the sensor and position domains per street and day). The lake: with ``--reuse``,
bench/pipeline.py's lake of the scratch dataset (`$GRIDLAKE_HOME/sim/bench-<scale>-<days>/bench/gridlake`) when
it is there, read in place and never written; otherwise the dataset (generated unless ``--reuse`` finds it) is
served with ideal platforms and its hotline, citymgmt and enforcement (the raw tables the marts read) loaded into
a lake of this script's own (`.../marts/source`, kept for ``--reuse``).

Each side runs in a process of its own, ``--rounds`` times, alternating; the best of each is reported:
- dbt: ``dbt run --select +hotline_kpi_daily +hotline_kpi_monthly +iot_domain_daily`` through
  gridlake.transform.run_dbt (the settings as vars, as ``gridlake build`` passes them) into a fresh warehouse
  (its seeds loaded beforehand, untimed): every upstream model the three marts need, full build, no tests. The
  warehouse's GRIDLAKE_HOME sees the lake's raw zone through a symbolic link. Timed: the run_dbt call (dbt's
  import, parse and run).
- DuckDB: the three marts as three hand-written queries (bench/_marts_sql.py), each one statement straight over
  the raw Parquet files the dbt sources read (and the seeds' CSV files), materialised as tables in a fresh DuckDB
  file, with the profile's memory_limit, threads and time zone.
- pandas: the same computations over the same files with pd.read_parquet and groupby (bench/_marts_pandas.py),
  written to Parquet; its peak resident memory (VmHWM) too. ``--no-pandas-iot``: the two hotline marts only.
Then each side's tables are compared with dbt's, row by row on the mart's key (bench/_marts_compare.py: doubles
within 1e-9 relative, an average the models round within its last place): a difference fails the script, naming
the mart, the column and sample keys, since timings of different computations compare nothing. Prints two tables
and a JSON line."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from _scratch import (  # bench/ is the script's own folder
    add_dataset_options,
    child_environment,
    child_json,
    linked_home,
    load_source_lake,
    peak_rss_kib,
    scratch_dataset,
)
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARTS = ("hotline_kpi_daily", "hotline_kpi_monthly", "iot_domain_daily")
KEYS = {"hotline_kpi_daily": "unit_day_key", "hotline_kpi_monthly": "unit_month_key",
        "iot_domain_daily": "domain_day_key"}
SOURCE_PLATFORMS = ("hotline", "citymgmt", "enforcement")  # the raw zones the marts' upstream models read
SEEDS = ("dongcheng_streets", "dongcheng_communities", "service_groups")
_CHILD = "--child"


# --- the children (each in a process of its own: its time and memory are its own) --------------------------------

def _child_ingest() -> None:
    """Load the platforms the marts read into the lake at $GRIDLAKE_HOME (the platforms are served)."""
    from connectors.ingest import platform, run_job
    from gridlake.lake import Lake

    lake = Lake.default()
    rows = 0
    for name in SOURCE_PLATFORMS:
        for job in platform(name).jobs:
            rows += sum(manifest.rows_landed for manifest in run_job(job, lake=lake).manifests)
    print(json.dumps({"rows_landed": rows}))


def _child_seed() -> None:
    """Load the seeds the marts read into the fresh warehouse at $GRIDLAKE_HOME (untimed: reference data)."""
    from gridlake.transform import run_dbt

    run_dbt(["seed", "--select", *SEEDS])
    print(json.dumps({"seeded": list(SEEDS)}))


def _child_dbt() -> None:
    """The timed dbt run of the three marts and their upstream models into the warehouse at $GRIDLAKE_HOME."""
    began = time.perf_counter()
    from gridlake.transform import run_dbt

    result = run_dbt(["run", "--select", *(f"+{mart}" for mart in MARTS)])
    seconds = time.perf_counter() - began
    elapsed = getattr(result.raw.result, "elapsed_time", None)
    print(json.dumps({"seconds": round(seconds, 2), "models": len(result.nodes),
                      "dbt_elapsed_seconds": round(elapsed, 2) if elapsed else None,
                      "peak_rss_mib": round(peak_rss_kib() / 1024)}))


def _child_duckdb(lake: str, out: str) -> None:
    """The three hand-written queries, each materialised as a table of a fresh DuckDB file ``out``."""
    began = time.perf_counter()
    import duckdb
    from _marts_sql import queries

    from gridlake.transform import dbt_vars

    connection = duckdb.connect(out)
    for name, value in _duckdb_settings(Path(out).parent / "spill").items():
        connection.execute(f"set {name} = '{value}'")
    seconds = {}
    for mart, sql in queries(Path(lake), dbt_vars()).items():
        started = time.perf_counter()
        connection.execute(f"create table {mart} as {sql}")
        seconds[mart] = round(time.perf_counter() - started, 2)
    connection.close()
    print(json.dumps({"seconds": round(time.perf_counter() - began, 2), "per_mart": seconds,
                      "peak_rss_mib": round(peak_rss_kib() / 1024)}))


def _child_pandas(lake: str, out: str, with_iot: str) -> None:
    """The same marts in pandas, each written to ``out/<mart>.parquet``."""
    began = time.perf_counter()
    from _marts_pandas import compute

    from gridlake.transform import dbt_vars

    seconds = compute(Path(lake), dbt_vars(), Path(out), with_iot=with_iot == "iot")
    print(json.dumps({"seconds": round(time.perf_counter() - began, 2), "per_mart": seconds,
                      "peak_rss_mib": round(peak_rss_kib() / 1024)}))


def _duckdb_settings(spill: Path) -> dict[str, str]:
    """dbt_project/profiles.yml's settings: the same memory limit (GRIDLAKE_DUCKDB_MEMORY_LIMIT), threads and zone."""
    spill.mkdir(parents=True, exist_ok=True)
    return {"memory_limit": os.environ.get("GRIDLAKE_DUCKDB_MEMORY_LIMIT", "2GB"), "threads": "2",
            "TimeZone": "Asia/Shanghai", "temp_directory": str(spill)}


# --- the parent ---------------------------------------------------------------------------------------------------

def _child(args: list[str], env: dict[str, str]) -> dict:
    return child_json([__file__, _CHILD, *args], env)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_options(parser)
    parser.add_argument("--rounds", type=int, default=2, help="runs of dbt and of DuckDB (pandas runs once)")
    parser.add_argument("--no-pandas-iot", action="store_true", help="pandas computes the two hotline marts only")
    args = parser.parse_args()

    console = Console()
    dataset = scratch_dataset("bench", args, console)
    work = dataset.root / "marts"
    work.mkdir(parents=True, exist_ok=True)
    lake = load_source_lake(dataset, reuse=args.reuse, work=work, ingest=[__file__, _CHILD, "ingest"],
                            what=", ".join(SOURCE_PLATFORMS), console=console)
    home = linked_home(work / "dbt", lake)
    env = child_environment(home)
    dbt_runs, duckdb_runs = [], []
    for round_ in range(args.rounds):
        shutil.rmtree(home / "warehouse", ignore_errors=True)
        _child(["seed"], env)
        dbt_runs.append(_child(["dbt"], env))
        hand = work / "duckdb" / "marts.duckdb"
        shutil.rmtree(hand.parent, ignore_errors=True)
        hand.parent.mkdir(parents=True)
        duckdb_runs.append(_child(["duckdb", str(lake), str(hand)], env))
        console.print(f"round {round_ + 1}: dbt {dbt_runs[-1]['seconds']:.1f} s, "
                      f"DuckDB {duckdb_runs[-1]['seconds']:.1f} s")
    pandas_out = work / "pandas"
    shutil.rmtree(pandas_out, ignore_errors=True)
    pandas_out.mkdir(parents=True)
    console.print("pandas ...")
    pandas_run = _child(["pandas", str(lake), str(pandas_out), "hotline" if args.no_pandas_iot else "iot"], env)
    console.print(f"  {pandas_run['seconds']:.1f} s, peak {pandas_run['peak_rss_mib']:,} MiB")

    from _marts_compare import compare

    warehouse = home / "warehouse" / "gridlake.duckdb"
    rows, differences = compare(warehouse, work / "duckdb" / "marts.duckdb", pandas_out, MARTS, KEYS)
    best_dbt = min(run["seconds"] for run in dbt_runs)
    best_duckdb = min(run["seconds"] for run in duckdb_runs)
    duckdb_per_mart = min((run["per_mart"] for run in duckdb_runs), key=lambda m: sum(m.values()))
    everything = set(pandas_run["per_mart"]) == set(MARTS)
    # with --no-pandas-iot, pandas is set against DuckDB's queries of the same marts, and not against dbt's build
    duckdb_same = best_duckdb if everything else sum(duckdb_per_mart[mart] for mart in pandas_run["per_mart"])
    result = {
        "figure": "marts_dbt_vs_duckdb", "scale": args.scale, "days": args.days,
        "dbt_seconds": best_dbt, "duckdb_seconds": best_duckdb, "dbt_vs_duckdb": round(best_dbt / best_duckdb, 2),
        "dbt_elapsed_seconds": min(run["dbt_elapsed_seconds"] or run["seconds"] for run in dbt_runs),
        "dbt_models": dbt_runs[0]["models"], "dbt_peak_rss_mib": max(run["peak_rss_mib"] for run in dbt_runs),
        "duckdb_per_mart": duckdb_per_mart, "duckdb_peak_rss_mib": max(run["peak_rss_mib"] for run in duckdb_runs),
        "pandas_seconds": pandas_run["seconds"], "pandas_peak_rss_mib": pandas_run["peak_rss_mib"],
        "pandas_per_mart": pandas_run["per_mart"],
        "pandas_vs_duckdb": round(pandas_run["seconds"] / duckdb_same, 2),
        "pandas_vs_dbt": round(pandas_run["seconds"] / best_dbt, 2) if everything else None,
        "rows": rows, "duckdb_matches_dbt": "duckdb" not in differences,
        "pandas_matches_dbt": "pandas" not in differences,
    }
    table = Table(title=f"The KPI and sensor marts, scale {args.scale:g}, {args.days} days "
                        f"(dbt and DuckDB best of {args.rounds}, pandas once)")
    for column in ("computed by", "seconds", "peak MiB", "vs DuckDB", "matches dbt"):
        table.add_column(column, justify="left" if column == "computed by" else "right")
    table.add_row(f"dbt run ({result['dbt_models']} models)", f"{best_dbt:.1f}", f"{result['dbt_peak_rss_mib']:,}",
                  f"{result['dbt_vs_duckdb']:.2f}", "-")
    table.add_row("DuckDB, one query per mart", f"{best_duckdb:.1f}", f"{result['duckdb_peak_rss_mib']:,}", "1.00",
                  "yes" if result["duckdb_matches_dbt"] else "[red]NO[/]")
    table.add_row("pandas" if everything else "pandas (hotline marts)", f"{pandas_run['seconds']:.1f}",
                  f"{pandas_run['peak_rss_mib']:,}", f"{result['pandas_vs_duckdb']:.2f}",
                  "yes" if result["pandas_matches_dbt"] else "[red]NO[/]")
    console.print(table)
    marts = Table(title="Per mart (pandas: the orders' preparation in the monthly mart's seconds)")
    for column in ("mart", "rows", "DuckDB s", "pandas s"):
        marts.add_column(column, justify="left" if column == "mart" else "right")
    for mart in MARTS:
        marts.add_row(mart, f"{rows[mart]:,}", f"{duckdb_per_mart[mart]:.2f}",
                      f"{pandas_run['per_mart'][mart]:.2f}" if mart in pandas_run["per_mart"] else "-")
    console.print(marts)
    console.print(f"ratio dbt / DuckDB: {result['dbt_vs_duckdb']:.2f} (target: at most 2)")
    print(json.dumps(result))
    if differences:
        for side, problems in differences.items():
            for problem in problems:
                console.print(f"[red]{side} differs from dbt:[/] {problem}")
        raise SystemExit(f"the marts differ from dbt's ({', '.join(differences)}): the comparison is void")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == _CHILD:
        {"ingest": _child_ingest, "seed": _child_seed, "dbt": _child_dbt, "duckdb": _child_duckdb,
         "pandas": _child_pandas}[sys.argv[2]](*sys.argv[3:])
    else:
        main()
