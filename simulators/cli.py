"""``gridlake sim``: generate the district's platforms, serve them, move their clock, show the demo."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
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
    # Ctrl-C and SIGTERM both stop it; SIGINT handled here, not left to Python's default: a process started in
    # the background by a shell without job control (a CI script, `cmd &`) inherits SIGINT ignored, and Python
    # then never raises KeyboardInterrupt
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Simulators(dataset, settings=settings) as sims:
        _show_running(sims)
        console.print("\n# The Airflow connections (paste into a shell):")
        for line in sims.exports():
            print(line, flush=True)
        console.print("\n[dim]Serving until interrupted (Ctrl-C).[/]")
        while not stop.wait(0.5):
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


PortalOpt = Annotated[bool | None, typer.Option(
    "--portal/--no-portal", help="keep the data portal serving at the end until Ctrl-C (default: when run in a "
                                 "terminal); either way it is started, tried with each role's token and its address "
                                 "and tokens printed")]


@app.command()
def demo(name: NameOpt = None, scale: ScaleOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
         end: EndOpt = None, portal: PortalOpt = None) -> None:
    """The whole pipeline on a fresh district: generate it, serve it, run every DAG of the chain through Airflow
    (ingestion, transformation, gate and publish), let a day pass, run the chain again; show what landed, what
    was quarantined, what was published or held back, and where everything is.

    The demo moves the clock, and the platforms keep what the clock revealed, so it generates its own dataset
    (``demo``) anew each time rather than move the one ``serve`` uses.
    """
    from simulators.demo import tour
    from simulators.pipeline import airflow_environment, migrate
    from simulators.serve import Simulators

    settings = SimSettings()
    dataset = Dataset.named(name or "demo")
    _generate(settings, dataset, scale=scale, days=days, seed=seed, end=end)
    started = time.monotonic()
    lake_home = dataset.root / "gridlake"  # the demo's own lake and Airflow: a fresh district gets fresh ones
    airflow_home = dataset.root / "airflow"
    shutil.rmtree(lake_home, ignore_errors=True)
    shutil.rmtree(airflow_home, ignore_errors=True)
    with Simulators(dataset, settings=settings) as sims:
        _show_running(sims)
        env = airflow_environment(airflow_home, lake_home, sims.environment())
        console.rule("Airflow: a metadata database for the demo (airflow db migrate)")
        migrate(env)
        console.rule("The pipeline through Airflow: ingestion → transformation → gate and publish")
        _chain(env)
        tour(sims, console=console)
        console.rule("The pipeline again, a day later: only what changed lands, and is published anew")
        _chain(env)
        _show_landed(lake_home)
        _show_published(lake_home)
        console.rule("The centre's reports, from the published datasets (the reports DAG)")
        _reports(env, lake_home, dataset.end().date())
        console.print("\n# The Airflow connections, as `gridlake sim serve` prints them:")
        for line in sims.exports():
            print(line, flush=True)
    console.print(f"\nDemo done in {time.monotonic() - started:.1f} s; the platforms are stopped.")
    console.print(f"  lake: {lake_home / 'lake'}\n  warehouse: {lake_home / 'warehouse' / 'gridlake.duckdb'}\n"
                  f"  shared zone: {lake_home / 'shared'} (catalog.json: what apps read)\n"
                  f"  check results: {lake_home / 'quality'}")
    console.print("The DAG runs in Airflow's UI (http://localhost:8080), on the same metadata and lake:\n"
                  f"  [bold]make airflow AIRFLOW_HOME={airflow_home} GRIDLAKE_HOME={lake_home}[/]\n"
                  "and, for new runs to reach the platforms, serve them (make serve) and export what it prints.")
    console.rule("The data portal and query service (gridlake serve), a token per role")
    _portal(lake_home, keep_serving=sys.stdin.isatty() if portal is None else portal)


@app.command()
def cluster(name: NameOpt = None, scale: ScaleOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
            end: EndOpt = None,
            workers: Annotated[int, typer.Option(help="Celery workers, each a process of its own")] = 2,
            concurrency: Annotated[int, typer.Option(help="task slots per worker")] = 2,
            run: Annotated[bool, typer.Option(help="unpause the chain's DAGs at once (ingestion starts)")] = False,
            store: Annotated[str | None, typer.Option(
                help="what the tasks share (lake, shared zone, check results, warehouse builds): a folder, or "
                     "s3://bucket/prefix with its connection in AIRFLOW_CONN_GRIDLAKE_STORE; "
                     "default $GRIDLAKE_HOME/cluster/gridlake")] = None,
            ) -> None:
    """Serve the platforms and run Airflow on them with the CeleryExecutor, as docs/deployment.md describes it:
    PostgreSQL, Redis, the API server (UI and REST API), the scheduler, the DAG processor and the workers, on
    loopback, until interrupted. Everything (logs, metadata, each worker's own GRIDLAKE_HOME, and the store unless
    --store says otherwise) goes under $GRIDLAKE_HOME/cluster/."""
    from gridlake.connections import env_var_name
    from gridlake.settings import get_settings
    from gridlake.storage import STORE_CONN_ID
    from simulators.cluster import CHAIN_DAGS, LocalCeleryCluster
    from simulators.serve import Simulators

    settings = SimSettings()
    dataset = _ensure(settings, name, scale=scale, days=days, seed=seed, end=end)
    folder = get_settings().home / "cluster"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Simulators(dataset, settings=settings) as sims:
        _show_running(sims)
        connections = sims.environment()
        store_conn = env_var_name(STORE_CONN_ID)
        if os.environ.get(store_conn):  # the object store's credentials and endpoint, for every process
            connections[store_conn] = os.environ[store_conn]
        local = LocalCeleryCluster(folder, store or folder / "gridlake", connections, workers=workers,
                                   concurrency=concurrency, environment={"GRIDLAKE_PII_SALT": os.environ.get(
                                       "GRIDLAKE_PII_SALT", "demo-salt-not-for-production")})
        console.print(f"Starting Airflow with {workers} Celery workers (logs in {local.logs}) ...")
        with local:
            if run:
                local.unpause(CHAIN_DAGS)
            table = Table(title="The local Celery deployment")
            table.add_column("what")
            table.add_column("where")
            table.add_row("UI and REST API", local.api_url)
            table.add_row("metadata database", local.metadata_uri)
            table.add_row("broker", local.environment_for()["AIRFLOW__CELERY__BROKER_URL"])
            table.add_row("workers", ", ".join(local.worker_names))
            table.add_row("store (GRIDLAKE_STORE: lake, shared zone, warehouse builds)", local.store)
            table.add_row("workers' own GRIDLAKE_HOME", ", ".join(str(home) for home in local.worker_homes.values()))
            table.add_row("process logs", str(local.logs))
            console.print(table)
            console.print("[dim]Unpause the DAGs in the UI (or start with --run); serving until interrupted.[/]")
            while not stop.wait(0.5):
                pass
            console.print("Stopping Airflow and the platforms.")


# the demo's users: one per role of portal/policies.yaml (a street office: 东华门)
_DEMO_USERS = (("中心分析员", "centre", None), ("东华门街道办事处", "street_office", "110101001"),
               ("区城市管理委员会", "urban_management", None), ("区生态环境局", "environment", None),
               ("区信用办", "credit_office", None), ("区统计局", "statistics_bureau", None))
_PORTAL_PORT = 8400


def _portal(home: Path, *, keep_serving: bool) -> None:
    """Issue a token per role, start ``gridlake serve`` on the demo's shared zone, show what each role reaches."""
    gridlake = str(Path(sys.executable).with_name("gridlake"))
    env = {**os.environ, "GRIDLAKE_HOME": str(home)}
    tokens = {}
    for user, role, street in _DEMO_USERS:
        done = subprocess.run([gridlake, "portal", "token", "issue", "--user", user, "--role", role,
                               *(["--street", street] if street else [])], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"issuing the demo's token for {role} failed: {done.stderr[-2000:]}")
        tokens[role] = (user, done.stdout.strip().splitlines()[-1])
    url = f"http://127.0.0.1:{_PORTAL_PORT}"
    server = subprocess.Popen([gridlake, "serve", "--port", str(_PORTAL_PORT)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        table = Table(title=f"The data portal at {url}/ (API: {url}/api/docs): log in with a token")
        for column in ("role", "user", "reads"):
            table.add_column(column)
        for role, (user, token) in tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            me = _portal_call(server, "GET", f"{url}/api/me", headers=headers)
            reads = f"{len(me['datasets'])} datasets"
            if "hotline_requests" in me["datasets"]:
                answer = _portal_call(server, "POST", f"{url}/api/query", headers=headers, json={
                    "sql": "select count(*) as orders, count(distinct street_code) as streets from hotline_requests"})
                row = answer["rows"][0]
                reads += f"; hotline_requests: {row['orders']:,} orders in {row['streets']} street(s)"
            table.add_row(role, user, reads)
        console.print(table)
        console.print("Demo tokens (log in at the portal, or send as Authorization: Bearer ...):")
        for role, (_, token) in tokens.items():
            print(f"  {role:<18} {token}", flush=True)
        if keep_serving:
            console.print(f"[bold]The portal serves at {url}/ until Ctrl-C.[/]")
            try:
                server.wait()
            except KeyboardInterrupt:
                pass
        else:
            console.print(f"The portal is stopped; serve it again with the same tokens:\n"
                          f"  [bold]make portal GRIDLAKE_HOME={home}[/]")
    finally:
        server.terminate()
        server.wait(timeout=30)


def _portal_call(server: subprocess.Popen, method: str, url: str, **options: Any) -> dict:
    """A call to the starting portal, retried until it answers (or the server exits)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = httpx.request(method, url, timeout=60, **options)
            answer.raise_for_status()
            return answer.json()
        except httpx.TransportError:
            if server.poll() is not None:
                raise RuntimeError(f"gridlake serve exited: {server.stderr.read()[-2000:]}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _chain(env: dict[str, str]) -> None:
    from simulators.pipeline import CHAIN, run_chain

    began = time.monotonic()
    runs = run_chain(env, CHAIN)
    table = Table(title=f"DAG runs (dag.test(), {time.monotonic() - began:.0f} s)")
    for column in ("DAG", "state", "tasks"):
        table.add_column(column)
    for dag_id in CHAIN:
        run = runs[dag_id]
        style = "green" if run["state"] == "success" else "red"
        tasks = ", ".join(f"{task} {state}" for task, state in run["tasks"].items())
        table.add_row(dag_id, f"[{style}]{run['state']}[/]", tasks)
    console.print(table)


def _reports(env: dict[str, str], home: Path, end: date) -> None:
    """The three reports of the demo's period through the reports DAG: the bulletin of the last generated day,
    the return-visit report of the last whole week, the analysis of the month the data reach into."""
    from simulators.pipeline import run_chain

    last = end - timedelta(days=1)
    issued_on = {"daily": end.isoformat(), "weekly": (end - timedelta(days=end.weekday())).isoformat(),
                 "monthly": (last.replace(day=28) + timedelta(days=4)).replace(day=1).isoformat()}
    began = time.monotonic()
    run = run_chain(env, ("reports",), confs={"reports": {"issued_on": issued_on}})["reports"]
    console.print(f"The reports DAG wrote, in {time.monotonic() - began:.0f} s ({run['state']}):")
    for path in sorted((home / "reports").glob("*/*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        withheld = f" [yellow]withheld: {', '.join(record['withheld'])}[/]" if record["withheld"] else ""
        console.print(f"  [bold]{record['title']}[/] {record['label']}{withheld}\n"
                      f"    {path.with_suffix('.html')}\n    {path.with_suffix('.pdf')}")
    console.print(f"  index: {home / 'reports' / 'index.html'}")


def _show_landed(home: Path) -> None:
    """Per platform and entity: rows read, landed and quarantined, with the quarantine's reasons."""
    from collections import Counter

    from gridlake.lake import Lake

    lake = Lake(home / "lake")
    table = Table(title="What landed in the raw zone, what was quarantined and why")
    table.add_column("entity", no_wrap=True)
    for column in ("loads", "read", "landed", "quarantined"):
        table.add_column(column, justify="right")
    table.add_column("why (most frequent)")
    for entity, summary in lake.committed_batches().items():
        reasons = Counter(summary["rows_quarantined"])
        why = ", ".join(f"{reason} {count:,}" for reason, count in reasons.most_common(2))
        table.add_row(entity, str(summary["batches"]), f"{summary['rows_read']:,}", f"{summary['rows_landed']:,}",
                      f"{sum(reasons.values()):,}", why)
    console.print(table)


def _show_published(home: Path) -> None:
    """The shared zone: each dataset's last attempt (published, unchanged, failed, held back) and why; then the
    month's street ranking as an app reads it, from the published Parquet."""
    from gridlake.settings import Settings
    from gridlake.shared import SharedZone

    zone = SharedZone.default(Settings(home=home))
    catalog = zone.catalog()
    table = Table(title=f"The shared district datasets ({zone.catalog_path})")
    for column in ("dataset", "last attempt", "current version", "rows", "why"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    style = {"published": "green", "unchanged": "dim", "failed": "red", "held_back": "yellow"}
    for name, entry in catalog["datasets"].items():
        attempt, current = entry["last_attempt"], entry.get("current") or {}
        table.add_row(name, f"[{style.get(attempt['status'], 'yellow')}]{attempt['status']}[/]",
                      current.get("version", "-"), f"{current.get('rows', 0):,}", "; ".join(attempt["reasons"][:2]))
    console.print(table)
    monthly = zone.read("hotline_kpi_monthly")
    if monthly is None:
        return
    import duckdb

    with duckdb.connect() as connection:
        connection.register("monthly", monthly)
        rows = connection.execute(
            "select unit_rank, unit_name, response_rate, resolution_rate, satisfaction_rate, composite_score, "
            "orders_counted from monthly where unit_type = 'street' and unit_rank is not null "
            "and period_month = (select max(period_month) from monthly) order by unit_rank limit 5").fetchall()
    ranking = Table(title="本月接诉即办街道排名 (shared zone: hotline_kpi_monthly, month to date)")
    for column in ("排名", "街道", "响应率", "解决率", "满意率", "综合得分", "工单"):
        ranking.add_column(column, justify="left" if column == "街道" else "right")
    for rank, unit, respond, resolve, satisfy, score, orders in rows:
        ranking.add_row(str(rank), unit, f"{respond:.1%}", f"{resolve:.1%}", f"{satisfy:.1%}", f"{score:.1f}",
                        str(orders))
    console.print(ranking)


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

