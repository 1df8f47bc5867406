"""Benchmark: the query service under concurrent clients on the demo's data: requests, errors, throughput and
latency percentiles per kind of request.

    uv run python bench/portal.py                               # 50 clients for 30 s over the demo's home
    uv run python bench/portal.py --clients 50 --seconds 60
    uv run python bench/portal.py --requests 20                 # 20 requests per client instead of a duration
    uv run python bench/portal.py --home /path/to/gridlake      # another home with a published shared zone

Serves the portal as ``gridlake serve`` does (uvicorn, one process of its own) over a scratch home whose shared zone
is the given home's (linked, read only: the tokens and the query log go to the scratch home, nothing is written to
the given one), with a token per client: every street office of the district (its rows only), the centre and the
bureaus. Then the clients (threads with httpx) start together and each runs its role's typical mix in turn - the
orders per street (an aggregation), a filtered select of its overdue orders, the latest day's KPIs, and a dataset
downloaded page by page as CSV - until the time is up or each has made its requests. A warm-up round first (each
client once through its mix: the service builds each role's view of a dataset on first use) is timed apart.
A request fails on an HTTP error, a refused query, or a street office's answer holding another street's rows.
Prints a table per kind and a JSON line; exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

# this script shares its name with the portal package: `import portal` must find the package, not this file
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

_SERVE = "--serve"
KINDS = {"aggregate": "orders per street (group by)", "filtered": "a filtered select (overdue orders)",
         "kpi": "the latest month's unit KPIs (a subquery)", "download": "grid cases as CSV, a page of 200 rows"}
PAGE_ROWS = 200


@dataclass
class Client:
    name: str
    role: str
    street: str | None
    token: str = ""
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)


def _serve(port: int) -> None:
    """In the child: the portal over $GRIDLAKE_HOME on loopback, as ``gridlake serve`` runs it."""
    import uvicorn

    from gridlake.settings import get_settings
    from portal.app import create_app
    from portal.policy import default_policies

    uvicorn.run(create_app(get_settings(), default_policies()), host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _clients(count: int) -> list[Client]:
    """``count`` callers: the street offices, two each while they last two thirds of the clients, then the centre
    and the bureaus in turn."""
    from gridlake.reference import streets

    offices = [Client(f"bench-{street.street_code}", "street_office", street.street_code) for street in streets()]
    found = [Client(f"{office.name}-{copy}", office.role, office.street)
             for copy in range(2) for office in offices][: count * 2 // 3]
    others = ["centre", "urban_management", "environment", "statistics_bureau"]
    found += [Client(f"bench-{others[index % len(others)]}-{index}", others[index % len(others)], None)
              for index in range(count - len(found))]
    return found


def _mix(client: Client) -> list[str]:
    if client.role in ("street_office", "centre"):
        return list(KINDS)
    if client.role == "statistics_bureau":  # it reads none of the hotline's orders or grid cases
        return ["kpi"]
    return ["aggregate", "filtered", "kpi"]


class _Wrong(Exception):
    """An answer that came back but is not right for the caller."""


def _check_streets(client: Client, streets: set[str | None]) -> None:
    if client.street and not streets <= {client.street}:
        raise _Wrong(f"rows of other streets: {sorted(str(street) for street in streets - {client.street})}")


def _request(http: httpx.Client, client: Client, kind: str, state: dict[str, int]) -> None:
    """One request of ``kind``; raises on an answer that is not what the caller should get."""
    if kind == "download":
        offset = state.get("offset", 0)
        answer = http.get("/api/datasets/grid_case_lifecycle/rows",
                          params={"format": "csv", "limit": PAGE_ROWS, "offset": offset})
        answer.raise_for_status()
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        _check_streets(client, {row["street_code"] or None for row in rows})
        state["offset"] = offset + PAGE_ROWS if answer.headers["x-has-more"] == "true" else 0  # the next page
        return
    sql = {
        "aggregate": "select street_code, count(*) as orders, avg(transfer_hours) as mean_transfer_hours "
                     "from hotline_requests group by street_code order by orders desc",
        "filtered": "select request_id, street_code, service_name, received_at, resolve_deadline "
                    "from hotline_requests where is_overdue and status <> 'closed' "
                    "order by received_at desc limit 100",
        "kpi": "select unit_type, unit_code, unit_name, response_rate, resolution_rate, satisfaction_rate, "
               "composite_score, unit_rank from hotline_kpi_monthly "
               "where period_month = (select max(period_month) from hotline_kpi_monthly) order by unit_rank",
    }[kind]
    answer = http.post("/api/query", json={"sql": sql})
    answer.raise_for_status()
    rows = answer.json()["rows"]
    if kind != "kpi":
        _check_streets(client, {row["street_code"] for row in rows})


def _run(client: Client, url: str, *, start: threading.Barrier, warmed: threading.Barrier, deadline: list[float],
         requests: int | None, seed: int) -> None:
    kinds = _mix(client)
    random.Random(seed).shuffle(kinds)
    state: dict[str, int] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {client.token}"}, timeout=120) as http:
        start.wait()
        for kind in kinds:  # the warm-up round, not counted
            try:
                _request(http, client, kind, state)
            except Exception as err:  # every failure is counted and named
                client.errors.append(f"warm-up {kind}: {err!r}"[:300])
        warmed.wait()
        made = 0
        while (made < requests) if requests else (time.perf_counter() < deadline[0]):
            kind = kinds[made % len(kinds)]
            began = time.perf_counter()
            try:
                _request(http, client, kind, state)
            except Exception as err:
                client.errors.append(f"{kind}: {err!r}"[:300])
            else:
                client.timings[kind].append(time.perf_counter() - began)
            made += 1


def _percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from gridlake.settings import repo_root

    parser.add_argument("--home", type=Path, default=repo_root() / "var" / "sim" / "demo" / "gridlake",
                        help="a GRIDLAKE_HOME with a published shared zone (default: the demo's)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the clients run (after the warm-up)")
    parser.add_argument("--requests", type=int, default=None, help="requests per client instead of --seconds")
    args = parser.parse_args()

    console = Console()
    shared = args.home.resolve() / "shared"
    if not (shared / "catalog.json").exists():
        console.print(f"[red]no published shared zone at {shared}[/]: run `make demo` first, or name a home")
        raise SystemExit(2)
    clients = _clients(args.clients)
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as scratch:
        home = Path(scratch)
        (home / "shared").symlink_to(shared)
        from portal.tokens import TokenStore

        store = TokenStore(home / "portal" / "tokens.json")
        for client in clients:
            client.token = store.issue(client.name, client.role,
                                       {"street_code": client.street} if client.street else {}).token
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, __file__, _SERVE, str(port)],
                                  env=dict(os.environ, GRIDLAKE_HOME=str(home)))
        try:
            _wait_for(url, server)
            results = _drive(clients, url, seconds=args.seconds, requests=args.requests)
        finally:
            server.terminate()
            server.wait(timeout=30)
        logged = sum(1 for _ in (home / "portal" / "query_log.jsonl").open(encoding="utf-8"))
    _report(console, clients, results, args, logged)
    if any(client.errors for client in clients):
        raise SystemExit(1)


def _wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the portal exited ({server.returncode}) before it answered")
        try:
            if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the portal did not answer within 60 s")


def _drive(clients: list[Client], url: str, *, seconds: float, requests: int | None) -> dict[str, float]:
    """Run the clients together; the warm-up's and the measured run's wall times."""
    deadline = [0.0]
    marks: dict[str, float] = {}

    def started() -> None:
        marks["start"] = time.perf_counter()

    def warmed_up() -> None:
        marks["warmed"] = time.perf_counter()
        deadline[0] = marks["warmed"] + seconds

    start = threading.Barrier(len(clients), action=started)
    warmed = threading.Barrier(len(clients), action=warmed_up)
    threads = [threading.Thread(target=_run, args=(client, url), kwargs={
        "start": start, "warmed": warmed, "deadline": deadline, "requests": requests, "seed": index})
        for index, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"warmup_s": marks["warmed"] - marks["start"], "run_s": time.perf_counter() - marks["warmed"]}


def _report(console: Console, clients: list[Client], results: dict[str, float], args: argparse.Namespace,
            logged: int) -> None:
    timings: dict[str, list[float]] = defaultdict(list)
    for client in clients:
        for kind, values in client.timings.items():
            timings[kind] += values
    errors = [error for client in clients for error in client.errors]
    roles = defaultdict(int)
    for client in clients:
        roles[client.role] += 1
    console.print(f"{len(clients)} concurrent clients ("
                  + ", ".join(f"{count} {role}" for role, count in roles.items())
                  + f") over {args.home}; warm-up round {results['warmup_s']:.1f} s")
    table = Table(title=f"Requests in {results['run_s']:.1f} s (latency in ms)")
    for column in ("kind", "requests", "errors", "req/s", "p50", "p90", "p95", "p99", "max"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    lines = []
    for kind in [*KINDS, "all"]:
        values = sorted(sum(timings.values(), []) if kind == "all" else timings.get(kind, []))
        failed = len(errors) if kind == "all" else sum(1 for error in errors if error.split(":")[0].endswith(kind))
        if not values:
            continue
        line = {"kind": kind, "requests": len(values), "errors": failed,
                "per_s": round(len(values) / results["run_s"], 1),
                **{f"p{int(share * 100)}_ms": round(_percentile(values, share) * 1000, 1)
                   for share in (0.5, 0.9, 0.95, 0.99)}, "max_ms": round(values[-1] * 1000, 1)}
        lines.append(line)
        table.add_row(kind, f"{line['requests']:,}",
                      f"[red]{failed}[/]" if failed else "0", f"{line['per_s']:.1f}",
                      *(f"{line[key]:.0f}" for key in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")))
    console.print(table)
    for kind, text in KINDS.items():
        console.print(f"  {kind}: {text}")
    console.print(f"query log: {logged:,} lines (warm-up and measured requests, every page of a download)")
    for error in errors[:20]:
        console.print(f"[red]{error}[/]")
    for line in lines:
        print(json.dumps({"clients": len(clients), "seconds": round(results["run_s"], 1), **line}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == _SERVE:
        _serve(int(sys.argv[2]))
    else:
        main()
