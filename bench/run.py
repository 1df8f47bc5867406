"""Benchmark: the district-scale targets (issue 8), measured and set against their targets in one table.

    bench/run                       # every measurement but the year, at the district's volume (about 35 minutes)
    bench/run --year                # the year too: over an hour more, and over 80 GB of free disk
    bench/run --year-only           # only the year (recorded in bench/results/year.json)
    bench/run --scale 0.05          # the same at the demo's scale (a quick check of the scripts)
    bench/run --engines             # also the whole dbt project on DuckDB and on Spark (Spark adds minutes)

Runs each measurement in a process of its own (the scripts next to this one, each generating the data it needs
or reusing what an earlier one generated) and prints one table - figure, target, measured, ratio to the target,
met - and writes it to ``bench/results/latest.md`` (Markdown, with the machine it ran on) and ``latest.json``:
- bench/pipeline.py: the whole chain through Airflow on 28 days (the full build, then a daily increment), and on
  90 days (the daily increment on a longer history, against the one on 28);
- bench/adbc.py: citymgmt's ingestion against a bare ADBC read to Parquet and against dlt, in the same run;
- bench/marts.py: the dbt build of the KPI and sensor marts against the same aggregations as single hand-written
  DuckDB queries, and against pandas, over the same raw Parquet;
- with ``--engines``, bench/engines.py: the whole dbt project (seeds, models) built by DuckDB and by Spark from the
  pipeline's 28-day lake, each in a process of its own: times and peak memory, reported without a target (the
  figures behind the deployment guide's choice of engine; recorded in ``bench/results/engines.json``);
- with ``--year``, bench/pipeline.py on a year (about 320 million rows): its time and peak memory, kept in
  ``bench/results/year.json``; a run without ``--year`` quotes the last one recorded there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from _scratch import child_json  # bench/ is the script's own folder
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent


def _script(name: str, *args: str) -> list[dict]:
    """Run bench/<name> and return its JSON lines."""
    return child_json([str(HERE / name), *args])


def _row(figure: str, target: str, measured: float | None, limit: float | None, unit: str, *,
         lower_is_better: bool = True, note: str = "") -> dict:
    ratio = None if measured is None or not limit else measured / limit
    met = None if ratio is None else (ratio <= 1 if lower_is_better else ratio >= 1)
    return {"figure": figure, "target": target, "measured": measured, "unit": unit, "ratio": ratio, "met": met,
            "note": note}


def _machine() -> str:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), "0")
    return (f"{os.cpu_count()} cores, {int(memory) / 2**20:.0f} GiB, {platform.platform()}, "
            f"Python {platform.python_version()}")


def _year(scale: float, out: Path, console: Console) -> dict:
    """A year through the chain (a full build), recorded in ``out/year.json``."""
    console.print(f"bench/pipeline.py --scale {scale:g} --days 365 --increments 0 ...")
    (year,) = _script("pipeline.py", "--scale", f"{scale:g}", "--days", "365", "--increments", "0", "--reuse")
    year["recorded_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    year["machine"] = _machine()
    out.mkdir(parents=True, exist_ok=True)
    (out / "year.json").write_text(json.dumps(year, indent=1), encoding="utf-8")
    return year


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--year", action="store_true", help="also run a year through the chain (long; see above)")
    parser.add_argument("--year-only", action="store_true", help="only the year: record it in year.json, and stop")
    parser.add_argument("--engines", action="store_true", help="also DuckDB against Spark (bench/engines.py)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    console = Console()
    if args.year_only:
        console.print(_year(args.scale, args.out, console))
        return
    rows, runs = [], []
    scale = f"{args.scale:g}"

    console.print(f"bench/pipeline.py --scale {scale} --days 28 --increments 1 ...")
    full, increment = _script("pipeline.py", "--scale", scale, "--days", "28", "--increments", "1")
    runs += [full, increment]
    rows.append(_row("full build, 28 days (Airflow: ingestion, dbt, gates, publication)", "< 300 s",
                     full["seconds"], 300, "s"))
    rows.append(_row("full build: peak memory of any process", "< 4,096 MiB", full["peak_rss_mib"], 4096, "MiB"))
    rows.append(_row("daily increment on 28 days, end to end, Airflow included", "< 60 s", increment["seconds"], 60,
                     "s"))
    rows.append(_row("daily increment: peak memory", "< 4,096 MiB", increment["peak_rss_mib"], 4096, "MiB"))

    # the same dataset as the pipeline's (generated once): every comparison reads the same rows
    console.print(f"bench/adbc.py --scale {scale} --days 28 ...")
    (adbc,) = _script("adbc.py", "--scale", scale, "--days", "28", "--reuse")
    runs.append(adbc)
    rows.append(_row("citymgmt ingestion against a bare ADBC read to Parquet (same rows, same run)", "<= 2x",
                     adbc["ratio"], 2, "x"))
    rows.append(_row("citymgmt ingestion: dlt's time over gridlake's (sql_database, pyarrow, Parquet; same run)",
                     "gridlake >= 2x faster", adbc["dlt_vs_gridlake"], 2, "x", lower_is_better=False))
    console.print(f"bench/marts.py --scale {scale} --days 28 ...")
    (marts,) = _script("marts.py", "--scale", scale, "--days", "28", "--reuse")
    runs.append(marts)
    rows.append(_row("dbt build of the KPI and sensor marts against hand-written DuckDB queries (same raw Parquet)",
                     "<= 2x", marts["dbt_vs_duckdb"], 2, "x"))
    rows.append(_row("the same KPIs in pandas: time over dbt's", "ratio reported", marts["pandas_vs_dbt"], None, "x",
                     note=f"{marts['pandas_vs_dbt']:.1f}x dbt, {marts['pandas_vs_duckdb']:.1f}x DuckDB"))
    rows.append(_row("the same KPIs in pandas: peak memory", "reported", marts["pandas_peak_rss_mib"], None, "MiB",
                     note="reported"))

    if args.engines:
        console.print(f"bench/engines.py --scale {scale} --days 28 ...")
        (engines,) = _script("engines.py", "--scale", scale, "--days", "28", "--reuse", "--out",
                             str(args.out / "engines.json"))
        runs.append(engines)
        duck, spark = engines["engines"]["duckdb"], engines["engines"]["spark"]
        size = f"{engines['raw_rows']:,} raw rows, {engines['raw_bytes'] / 2**20:,.0f} MiB"
        rows.append(_row(f"the whole dbt project on Spark (local[2]) against DuckDB: time ({size})", "ratio reported",
                         engines["spark_vs_duckdb"], None, "x",
                         note=f"Spark {spark['seconds']:.0f} s (start {spark['start_seconds']:.0f} s), "
                              f"DuckDB {duck['seconds']:.0f} s"))
        rows.append(_row("the whole dbt project on Spark against DuckDB: peak memory (Spark: driver and JVM)",
                         "ratio reported", engines["spark_vs_duckdb_memory"], None, "x",
                         note=f"Spark {spark['peak_rss_mib']:,} MiB, DuckDB {duck['peak_rss_mib']:,} MiB"))

    console.print(f"bench/pipeline.py --scale {scale} --days 90 --increments 1 ...")
    full90, increment90 = _script("pipeline.py", "--scale", scale, "--days", "90", "--increments", "1")
    runs += [full90, increment90]
    rows.append(_row("daily increment on 90 days, end to end, Airflow included", "< 60 s", increment90["seconds"],
                     60, "s"))
    rows.append(_row("daily increment on 90 days against on 28 days", "<= 1.2x",
                     round(increment90["seconds"] / increment["seconds"], 2), 1.2, "x"))
    rows.append(_row("full build, 90 days: peak memory", "< 4,096 MiB", full90["peak_rss_mib"], 4096, "MiB"))

    year_path = args.out / "year.json"
    year = _year(args.scale, args.out, console) if args.year else (
        json.loads(year_path.read_text(encoding="utf-8")) if year_path.exists() else None)
    if year is None:
        rows.append(_row("a year, end to end (full build)", "completes within 4,096 MiB; time recorded", None, None,
                         "", note="not measured yet (bench/run --year)"))
    elif not year.get("completed", True):  # an attempt that stopped short, recorded by hand with why
        rows.append(_row(f"a year, end to end (full build of {year['days']} days; attempted "
                         f"{year['recorded_at'][:10]})", "completes within 4,096 MiB; time recorded", None, None, "",
                         note=f"NO: {year['stopped']}"))
    else:
        runs.append(year)
        recorded = "" if args.year else f" (recorded {year['recorded_at'][:10]}, bench/run --year)"
        rows.append(_row(f"a year, end to end (full build of {year['days']} days): peak memory{recorded}",
                         "< 4,096 MiB", year["peak_rss_mib"], 4096, "MiB"))
        rows.append(_row(f"a year, end to end: time{recorded}", "recorded", year["seconds"], None, "s",
                         note="recorded"))

    table = Table(title=f"gridlake at scale {args.scale:g}: {_machine()}")
    for column in ("figure", "target", "measured", "ratio", "met"):
        table.add_column(column, justify="left" if column in ("figure", "target") else "right")
    lines = ["| figure | target | measured | ratio | met |", "| --- | --- | ---: | ---: | --- |"]
    for row in rows:
        measured = "—" if row["measured"] is None else f"{row['measured']:,.1f} {row['unit']}"
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}"
        met = "yes" if row["met"] else ("NO" if row["met"] is False else row["note"])
        table.add_row(row["figure"], row["target"], measured, ratio, met)
        lines.append(f"| {row['figure']} | {row['target']} | {measured} | {ratio} | {met} |")
    console.print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    (args.out / "latest.md").write_text(f"# bench/run, scale {args.scale:g}, {stamp}\n\n{_machine()}\n\n"
                                        + "\n".join(lines) + "\n", encoding="utf-8")
    (args.out / "latest.json").write_text(json.dumps({"at": stamp, "scale": args.scale, "machine": _machine(),
                                                      "rows": rows, "runs": runs}, indent=1),
                                          encoding="utf-8")
    console.print(f"written: {args.out / 'latest.md'}")


if __name__ == "__main__":
    main()
