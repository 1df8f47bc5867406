"""The demo's tour of the running platforms: one read of each through its own protocol, then a day passes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table
from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_attempt

__all__ = ["tour"]

_CITYMGMT_TABLES = (
    "dust.road", "dust.reading", "fume.restaurant", "fume.reading", "garbage.station", "garbage.collection",
    "vehicle.vehicle", "vehicle.position", "staff.worker", "staff.position", "grid.cell", "grid.case",
    "grid.case_step", "traffic.parking_lot", "traffic.occupancy", "traffic.violation", "diesel.obd",
)


class _Transient(Exception):
    """A 429 or 5xx answer: the platform asks to be called again."""

    def __init__(self, answer: httpx.Response) -> None:
        super().__init__(f"{answer.request.method} {answer.request.url.path}: HTTP {answer.status_code}")
        self.retry_after = float(answer.headers.get("Retry-After", "0") or 0)


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    backoff = min(0.2 * 2 ** (state.attempt_number - 1), 5.0)
    return max(backoff, getattr(error, "retry_after", 0.0))


@retry(retry=retry_if_exception_type((_Transient, httpx.TransportError, ValueError)), wait=_wait,
       stop=stop_after_attempt(8), reraise=True)
def _call(client: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
    """One request, retried as the platforms ask: 429 (after Retry-After), 5xx, dropped or truncated answers."""
    answer = client.request(method, url, **options)
    if answer.status_code == 429 or answer.status_code >= 500:
        raise _Transient(answer)
    answer.raise_for_status()
    answer.json()  # a truncated body is a transient failure, never an answer
    return answer


def _snapshot(sims: Any, since: datetime) -> dict[str, int]:
    """What each platform answers now, read as its connector would; "changed" counts are since ``since``."""
    conns = sims.connections()
    counts: dict[str, int] = {}
    hotline = conns["hotline_api"]
    with httpx.Client(headers={"X-API-Key": hotline["password"]}, timeout=30) as client:
        for label, params in (("hotline: work orders", {}),
                              ("hotline: work orders changed since the first read",
                               {"updated_after": since.isoformat()})):
            answer = _call(client, "GET", f"{hotline['host']}/requests.json", params={"page_size": 1, **params})
            counts[label] = int(answer.headers["X-Total-Count"])

    enforcement = conns["enforcement_api"]
    with httpx.Client(timeout=30) as client:
        token = _call(client, "POST", f"{enforcement['host']}/oauth/token", data={
            "grant_type": "client_credentials", "client_id": enforcement["login"],
            "client_secret": enforcement["password"]}).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        cases, cursor = 0, None
        while True:
            params = {"updated_since": since.isoformat(), "limit": 500}
            if cursor:
                params["cursor"] = cursor
            body = _call(client, "GET", f"{enforcement['host']}/api/v1/cases", params=params).json()
            cases += len(body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                break
    counts["enforcement: cases changed since the first read"] = cases

    credit = conns["credit_api"]
    with httpx.Client(headers={"Authorization": f"ApiKey {credit['password']}"}, timeout=30) as client:
        for entity in ("subjects", "records"):
            answer = _call(client, "GET", f"{credit['host']}/{entity}", params={"limit": 1})
            counts[f"credit: {entity}"] = int(answer.json()["total"])

    with psycopg.connect(conns["citymgmt_db"]) as con:
        for table in _CITYMGMT_TABLES:
            counts[f"citymgmt: {table}"] = con.execute(f"select count(*) from {table}").fetchone()[0]

    drop = sims.dataset.drop_dir
    releases = sorted(p.name for p in drop.iterdir() if (p / "manifest.json").exists()) if drop.exists() else []
    counts["statistics: releases with a manifest"] = len(releases)
    return counts


def tour(sims: Any, *, console: Console) -> dict[str, int]:
    """Read each platform, move the clock one day, read again; print what changed."""
    then = sims.clock.now()
    before = _snapshot(sims, then)
    sims.clock.advance(timedelta(days=1))
    after = _snapshot(sims, then)
    table = Table(title=f"What the platforms answer at {then.isoformat()} and one day later")
    for column in ("platform: what", "now", "+1 day"):
        table.add_column(column, justify="right" if column != "platform: what" else "left")
    for key, value in before.items():
        table.add_row(key, f"{value:,}", f"{after[key]:,}")
    console.print(table)
    truth = sims.dataset.truth()
    dirty = sum(entry["count"] for section in truth.values() if isinstance(section, dict)
                for entry in section.get("dirty", {}).values())
    scenario = truth["scenario"]
    console.print(f"Ground truth ({sims.dataset.truth_path}): {len(scenario['fume_chains'])} fume chains, "
                  f"{len(scenario['repeat_hotspots'])} repeat hotspots, "
                  f"{len(scenario['blacklisted_enterprises'])} black-listed enterprises, {dirty:,} dirty records.")
    return after
