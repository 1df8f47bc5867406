"""``gridlake ingest <platform>|all``: the DAGs' loads without the scheduler, with a progress display."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.ingest import PLATFORMS, Job, JobResult, parse_when, platform, run_job
from gridlake.lake import Lake

__all__ = ["ingest"]

console = Console(stderr=True)

SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="backfill from this updated time (ISO 8601; a date or a time without offset is Beijing time)")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", help="backfill up to (not including) this updated time; default: where the incremental loads are")]


def ingest(
    target: Annotated[str, typer.Argument(help=f"a platform ({', '.join(PLATFORMS)}) or 'all'")],
    since: SinceOpt = None,
    until: UntilOpt = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="run only these jobs of the platform (e.g. requests; citymgmt: dust, fume, ...)")] = None,
    accept_schema_change: Annotated[bool, typer.Option(
        "--accept-schema-change", help="land a load that stopped on a changed or vanished field, noting it")] = False,
) -> None:
    """Load platforms into the lake's raw zone: incrementally from the cursors, or a backfill of a time range.

    Endpoints and secrets come from the Airflow connections (AIRFLOW_CONN_<ID>, as `gridlake sim serve` prints
    them). A failed job does not stop the others; the command exits 1 if any failed.
    """
    names = list(PLATFORMS) if target == "all" else [target]
    try:
        jobs = [job for name in names for job in platform(name).jobs if not only or job.name in only]
    except KeyError as err:
        raise typer.BadParameter(str(err.args[0]), param_hint="TARGET") from None
    if not jobs:
        raise typer.BadParameter(f"no job of {target} is named {', '.join(only or [])}", param_hint="--only")
    try:
        start = parse_when(since) if since else None
        end = parse_when(until) if until else None
    except ValueError as err:
        raise typer.BadParameter(f"not an ISO 8601 time: {err}") from None
    if start is not None and end is not None and end <= start:
        raise typer.BadParameter(f"--until {until} is not after --since {since}")

    results: list[tuple[Job, JobResult | None, str | None, float]] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=None),
                  TextColumn("{task.fields[rows]:>12,} rows"), TimeElapsedColumn(), console=console,
                  transient=False) as progress:
        bars = {job: progress.add_task(f"{job.platform}.{job.name}", total=None, rows=0, start=False)
                for job in jobs}

        for job in jobs:
            bar = bars[job]
            progress.start_task(bar)

            def staged(platform_name: str, entity: str, zone: str, rows: int, bar: int = bar) -> None:
                progress.update(bar, rows=progress.tasks[bar].fields["rows"] + rows)

            lake = Lake.default().watched(staged)
            began = time.perf_counter()
            try:
                result = run_job(job, lake=lake, since=start, until=end, accept_schema_change=accept_schema_change)
            except Exception as err:  # reported below, the other jobs go on
                results.append((job, None, f"{type(err).__name__}: {err}", time.perf_counter() - began))
                progress.update(bar, total=1, completed=0, description=f"[red]{job.platform}.{job.name} failed")
            else:
                results.append((job, result, None, time.perf_counter() - began))
                progress.update(bar, total=1, completed=1)
            progress.stop_task(bar)

    _report(results)
    if any(error for _, _, error, _ in results):
        raise typer.Exit(1)


def _report(results: list[tuple[Job, JobResult | None, str | None, float]]) -> None:
    """One line per entity loaded: batches committed, rows read, landed and quarantined."""
    table = Table(title="ingested", title_justify="left")
    table.add_column("entity")
    for column in ("batches", "read", "landed", "quarantined", "s"):
        table.add_column(column, justify="right")
    for job, result, _, seconds in results:
        if result is None:
            table.add_row(f"[red]{job.platform}.{job.name}[/]", "failed", "", "", "", f"{seconds:.1f}")
            continue
        entities: dict[str, list] = {}
        for manifest in result.manifests:
            entities.setdefault(manifest.entity, []).append(manifest)
        if not entities:
            table.add_row(f"{job.platform}.{job.name}", "0", "0", "0", "0", f"{seconds:.1f}")
        for entity, manifests in entities.items():
            backfill = " (backfill)" if any(m.extra.get("backfill") for m in manifests) else ""
            table.add_row(f"{job.platform}.{entity}{backfill}", str(len(manifests)),
                          f"{sum(m.rows_read for m in manifests):,}", f"{sum(m.rows_landed for m in manifests):,}",
                          f"{sum(sum(m.rows_quarantined.values()) for m in manifests):,}", f"{seconds:.1f}")
    console.print(table)
    for job, result, error, _ in results:
        for note in result.notes if result else []:
            console.print(f"[yellow]{job.platform}.{job.name}[/]: {note}")
        if error:
            console.print(f"[red]{job.platform}.{job.name} failed[/]: {error}")
