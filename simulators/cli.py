"""``gridlake sim``: generate the district's platforms, serve them, move their clock, show the demo."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from simulators.dataset import Dataset
from simulators.settings import SimSettings

__all__ = ["app"]

app = typer.Typer(help="The five source platforms, simulated on loopback.", no_args_is_help=True)
console = Console()

NameOpt = Annotated[str | None, typer.Option("--name", help="dataset name under $GRIDLAKE_HOME/sim/")]
ScaleOpt = Annotated[float | None, typer.Option("--scale", help="1.0 is the district's real volume")]
DaysOpt = Annotated[int | None, typer.Option("--days", help="days of data, ending at --end")]
SeedOpt = Annotated[int | None, typer.Option("--seed")]
EndOpt = Annotated[datetime | None, typer.Option("--end", formats=["%Y-%m-%d"],
                                                 help="the day after the last generated day (default: today)")]


def _generate(settings: SimSettings, dataset: Dataset, *, scale: float | None, days: int | None,
              seed: int | None, end: datetime | None) -> dict[str, Any]:
    from simulators.generate import generate

    scale = settings.scale if scale is None else scale
    days = settings.days if days is None else days
    seed = settings.seed if seed is None else seed
    console.print(f"[bold]Generating[/] {dataset.root} (seed {seed}, scale {scale}, {days} days)")
    meta = generate(dataset, seed=seed, scale=scale, days=days, end=end.date() if end else None,
                    log=lambda line: console.print("  " + line))
    console.print(f"  done in {meta['seconds']['total']} s")
    return meta


@app.command()
def generate(name: NameOpt = None, scale: ScaleOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
             end: EndOpt = None) -> None:
    """Generate (anew) a dataset of the five platforms, with its ground truth."""
    settings = SimSettings()
    _generate(settings, Dataset.named(name or settings.dataset), scale=scale, days=days, seed=seed, end=end)


def _ensure(settings: SimSettings, name: str | None, **options: Any) -> Dataset:
    dataset = Dataset.named(name or settings.dataset)
    if not dataset.exists:
        _generate(settings, dataset, **options)
    return dataset


@app.command()
def serve(name: NameOpt = None, scale: ScaleOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
          end: EndOpt = None) -> None:
    """Serve the five platforms until interrupted (generating the dataset first if there is none)."""
    from simulators.serve import Simulators

    settings = SimSettings()
    dataset = _ensure(settings, name, scale=scale, days=days, seed=seed, end=end)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Simulators(dataset, settings=settings) as sims:
        _show_running(sims)
        console.print("\n# The Airflow connections (paste into a shell):")
        for line in sims.exports():
            print(line, flush=True)
        console.print("\n[dim]Serving until interrupted (Ctrl-C).[/]")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        console.print("Stopping the platforms.")


def _show_running(sims: Any) -> None:
    table = Table(title=f"Platforms of {sims.dataset.root.name}, clock at {sims.clock.now().isoformat()}")
    table.add_column("platform")
    table.add_column("where")
    for platform in ("hotline", "enforcement", "credit"):
        table.add_row(platform, sims.url(platform))
    table.add_row("citymgmt", f"postgresql://reader@127.0.0.1:{sims.database.port}/citymgmt")
    table.add_row("statistics", str(sims.dataset.drop_dir))
    console.print(table)


@app.command()
def clock(
    advance: Annotated[str | None, typer.Option(help="e.g. 30m, 6h, 1d")] = None,
    url: Annotated[str, typer.Option(help="any HTTP simulator's root URL")] = "",
) -> None:
    """Show or move the running simulators' clock (through the control API)."""
    settings = SimSettings()
    base = url or f"http://{settings.host}:{settings.hotline_port}"
    if advance:
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        seconds = float(advance[:-1]) * units[advance[-1]]
        answer = httpx.post(f"{base}/_sim/clock", json={"advance_seconds": seconds})
    else:
        answer = httpx.get(f"{base}/_sim/clock")
    answer.raise_for_status()
    console.print(answer.json()["now"])


@app.command()
def demo(name: NameOpt = None, scale: ScaleOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
         end: EndOpt = None) -> None:
    """Generate a fresh demo dataset, serve it, read each platform through its protocol, let a day pass; stop.

    The demo moves the clock, and the platforms keep what the clock revealed, so it generates its own dataset
    (``demo``) anew each time rather than move the one ``serve`` uses.
    """
    from simulators.demo import tour
    from simulators.serve import Simulators

    settings = SimSettings()
    dataset = Dataset.named(name or "demo")
    _generate(settings, dataset, scale=scale, days=days, seed=seed, end=end)
    started = time.monotonic()
    lake_home = dataset.root / "gridlake"  # the demo's own lake: a fresh district gets a fresh lake
    shutil.rmtree(lake_home, ignore_errors=True)
    with Simulators(dataset, settings=settings) as sims:
        _show_running(sims)
        console.rule("Ingestion: every platform into the lake's raw zone (gridlake ingest all)")
        _ingest(sims, lake_home)
        tour(sims, console=console)
        console.rule("Ingestion again, a day later: only what changed lands")
        _ingest(sims, lake_home)
        console.rule("Transformation: dbt build of the shared district datasets (gridlake build)")
        _build(lake_home)
        console.print("\n# The Airflow connections, as `gridlake sim serve` prints them:")
        for line in sims.exports():
            print(line, flush=True)
    console.print(f"\nDemo done in {time.monotonic() - started:.1f} s; the platforms are stopped; the lake is "
                  f"{lake_home / 'lake'}. Serve them with: [bold]make serve[/] (or uv run gridlake sim serve)")


def _build(home: Path) -> None:
    """Run ``gridlake build`` on the demo lake (its own process, as an operator would), then show a few figures
    of the shared datasets."""
    env = dict(os.environ, GRIDLAKE_HOME=str(home))
    done = subprocess.run([sys.executable, "-m", "gridlake", "build", "--quiet"], env=env, check=False)
    if done.returncode != 0:
        raise typer.Exit(done.returncode)
    import duckdb

    with duckdb.connect(str(home / "warehouse" / "gridlake.duckdb"), read_only=True) as warehouse:
        warehouse.execute("set TimeZone = 'Asia/Shanghai'")
        table = Table(title="本月接诉即办街道排名 (hotline_kpi_monthly, month to date)")
        for column in ("排名", "街道", "响应率", "解决率", "满意率", "综合得分", "工单"):
            table.add_column(column, justify="left" if column == "街道" else "right")
        for rank, name, respond, resolve, satisfy, score, orders in warehouse.execute(
                "select unit_rank, unit_name, response_rate, resolution_rate, satisfaction_rate, composite_score, "
                "orders_counted from marts.hotline_kpi_monthly where unit_type = 'street' and unit_rank is not null "
                "and period_month = (select max(period_month) from marts.hotline_kpi_monthly) "
                "order by unit_rank limit 5").fetchall():
            table.add_row(str(rank), name, f"{respond:.1%}", f"{resolve:.1%}", f"{satisfy:.1%}", f"{score:.1f}",
                          str(orders))
        console.print(table)
        counts = warehouse.execute(
            "select (select count(*) from marts.city_events), (select count(*) from marts.hotspots_monthly "
            "where hotspot_kind = 'repeat_hotspot'), (select count(*) from marts.enterprise_profile "
            "where risk_level = 'high')").fetchone()
        console.print(f"city_events: {counts[0]:,} events; repeat hotspots (屡治屡返): {counts[1]}; "
                      f"high-risk enterprises: {counts[2]}. Warehouse: {home / 'warehouse' / 'gridlake.duckdb'}")


def _ingest(sims: Any, home: Path) -> None:
    """Run ``gridlake ingest all`` against the running platforms, as an operator would: its own process, the
    Airflow connections in its environment."""
    env = dict(os.environ, GRIDLAKE_HOME=str(home))
    env.setdefault("GRIDLAKE_PII_SALT", "demo-salt-not-for-production")
    env.update(sims.environment())
    done = subprocess.run([sys.executable, "-m", "gridlake", "ingest", "all"], env=env, check=False)
    if done.returncode != 0:
        raise typer.Exit(done.returncode)


@app.command()
def truth(name: NameOpt = None) -> None:
    """Summarise a dataset's ground truth: planted patterns and dirty records by kind."""
    settings = SimSettings()
    dataset = Dataset.named(name or settings.dataset)
    facts = dataset.truth()
    scenario = facts["scenario"]
    console.print(f"fume chains: {len(scenario['fume_chains'])}, repeat hotspots: "
                  f"{len(scenario['repeat_hotspots'])}, black-listed: {len(scenario['blacklisted_enterprises'])}")
    table = Table(title="dirty records injected")
    for column in ("platform", "kind", "count"):
        table.add_column(column)
    for platform, section in facts.items():
        for kind, entry in (section.get("dirty", {}) if isinstance(section, dict) else {}).items():
            table.add_row(platform, kind, str(entry["count"]))
    console.print(table)

