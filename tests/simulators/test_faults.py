"""The platforms' shared wire behaviour: their own Date, their rate limit, armed faults, the control API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import pytest
from fastapi import FastAPI

from simulators.clock import SimClock
from simulators.faults import Ambient, FaultMiddleware, FaultPlan, SimControl, control_router
from simulators.http import Listener, ServerGroup
from simulators.scenario import TZ

START = datetime(2026, 11, 20, 9, 30, tzinfo=TZ)


def _platform(control: SimControl, ambient: Ambient) -> FastAPI:
    app = FastAPI()
    app.include_router(control_router(control))

    @app.get("/api/items")
    def items() -> dict:
        return {"items": [{"name": "测试" * 50}]}

    app.add_middleware(FaultMiddleware, plan=control.plan, ambient=ambient, clock=control.clock,
                       error_body=lambda status, message: {"error": status, "message": message})
    return app


@pytest.fixture()
def platform() -> Iterator[tuple[httpx.Client, SimControl]]:
    control = SimControl(clock=SimClock(START), plan=FaultPlan(), actions={"ping": lambda: "pong"})
    limited = SimControl(clock=control.clock, plan=FaultPlan())
    with ServerGroup([Listener("open", _platform(control, Ambient())),
                      Listener("limited", _platform(limited, Ambient(rate_limit_per_s=5)))]) as group:
        with httpx.Client(base_url=group.listeners["open"].url) as client:
            client.limited_url = group.listeners["limited"].url  # type: ignore[attr-defined]
            yield client, control


def test_answers_are_dated_by_the_platforms_clock(platform) -> None:
    client, _ = platform
    assert parsedate_to_datetime(client.get("/api/items").headers["date"]) == START
    client.post("/_sim/clock", json={"advance_seconds": 7200})
    assert parsedate_to_datetime(client.get("/api/items").headers["date"]) == START + timedelta(hours=2)
    assert client.post("/_sim/clock", json={"now": START.isoformat()}).status_code == 400  # forward only


def test_calling_too_fast_answers_429_with_retry_after(platform) -> None:
    client, _ = platform
    answers = [client.get(f"{client.limited_url}/api/items") for _ in range(20)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [200] * 5 and 429 in statuses
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["error"] == 429


@pytest.mark.parametrize("kind", ["429", "500", "502", "503"])
def test_armed_status_faults_answer_once_then_the_platform_recovers(platform, kind: str) -> None:
    client, _ = platform
    client.post("/_sim/faults", json={"kind": kind, "path": "/api/items", "retry_after": 3})
    failed = client.get("/api/items")
    assert failed.status_code == int(kind) and failed.json()["error"] == int(kind)
    assert (failed.headers.get("retry-after") == "3") == (kind == "429")
    assert client.get("/api/items").status_code == 200
    assert client.get("/_sim/faults").json()["served"] == {kind: 1}


def test_a_dropped_connection_and_a_truncated_body(platform) -> None:
    client, _ = platform
    client.post("/_sim/faults", json={"kind": "drop"})
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/items")
    client.post("/_sim/faults", json={"kind": "truncate"})
    cut = client.get("/api/items")
    assert cut.status_code == 200
    with pytest.raises(ValueError):
        cut.json()
    assert client.get("/api/items").json()["items"]


def test_a_slow_answer_and_faults_limited_to_a_path(platform) -> None:
    client, _ = platform
    client.post("/_sim/faults", json={"kind": "500", "path": "/api/other"})
    assert client.get("/api/items").status_code == 200
    client.post("/_sim/faults", json={"kind": "slow", "delay_s": 0.5, "path": "/api/items"})
    with pytest.raises(httpx.ReadTimeout):
        client.get("/api/items", timeout=0.2)
    assert client.delete("/_sim/faults").json() == {"armed": []}


def test_actions_run_by_name(platform) -> None:
    client, _ = platform
    assert client.post("/_sim/actions/ping").json() == {"action": "ping", "result": "pong"}
    assert client.post("/_sim/actions/nothing").status_code == 404
