"""Faults on demand for the HTTP simulators, and the ``/_sim`` control endpoints they share.

Every platform fails now and then (specs/README.md). A test arms faults through the control API:

    POST /_sim/faults   {"kind": "429", "count": 2, "path": "/open311/v2/requests.json", "retry_after": 1}
    DELETE /_sim/faults disarm all
    GET /_sim/faults    what is armed, and how many were served

Kinds: ``429`` (with Retry-After), ``500``, ``502``, ``503``, ``slow`` (answer after ``delay_s``), ``drop``
(the connection is cut mid-body), ``truncate`` (a well-framed answer whose JSON body is cut short).
A fault applies to the next ``count`` requests whose path (the full path, base path included) starts with
``path`` (any path when absent). Ambient behaviour comes from ``Ambient``: the platform's normal latency, a
rate of random 5xx answers, and a request rate above which it answers 429 with Retry-After.

Every answer's ``Date`` header is the platform's own time (the simulators' clock), as a real server's is: a
client that needs the platform's "now" (a credit snapshot's ``updated_before``) reads it there.

The control API also moves the shared clock (``GET/POST /_sim/clock``) and runs platform actions
(``POST /_sim/actions/{name}``, e.g. ``expire_tokens`` on the enforcement platform). It needs no key: it is
the test harness's door, not the platform's.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from simulators.clock import SimClock

__all__ = ["Ambient", "Fault", "FaultMiddleware", "FaultPlan", "SimControl", "control_router"]

FaultKind = Literal["429", "500", "502", "503", "slow", "drop", "truncate"]
ErrorBody = Callable[[int, str], Any]


class Fault(BaseModel):
    kind: FaultKind
    count: int = 1
    path: str | None = None
    retry_after: int = 1
    delay_s: float = 2.0


@dataclass
class Ambient:
    """A platform's normal misbehaviour: latency drawn from a range, a rate of random 5xx answers, and a
    request rate (per second, with a burst of as many) above which it answers 429; 0 means no limit."""

    latency_s: tuple[float, float] = (0.0, 0.0)
    error_rate: float = 0.0
    rate_limit_per_s: float = 0.0
    seed: int = 0


class _RateLimiter:
    """A token bucket: ``take()`` gives 0 when a request may pass, else the seconds until one may."""

    def __init__(self, per_second: float) -> None:
        self.rate = per_second
        self.tokens = per_second
        self.stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


@dataclass
class FaultPlan:
    """The armed faults of one platform (thread-safe: tests arm them from another thread)."""

    armed: list[Fault] = field(default_factory=list)
    served: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self.armed.append(fault.model_copy())

    def clear(self) -> None:
        with self._lock:
            self.armed.clear()

    def take(self, path: str) -> Fault | None:
        """The fault for a request to ``path``, consuming one of its count."""
        with self._lock:
            for fault in self.armed:
                if fault.path is None or path.startswith(fault.path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.armed.remove(fault)
                    self.served[fault.kind] = self.served.get(fault.kind, 0) + 1
                    return fault
        return None


class FaultMiddleware:
    """ASGI middleware that plays armed and ambient faults before (or while) the platform answers."""

    def __init__(self, app: Any, *, plan: FaultPlan, error_body: ErrorBody, ambient: Ambient | None = None,
                 clock: SimClock | None = None):
        self.app = app
        self.plan = plan
        self.error_body = error_body
        self.ambient = ambient or Ambient()
        self.clock = clock
        self._random = random.Random(self.ambient.seed)
        self._limiter = _RateLimiter(self.ambient.rate_limit_per_s) if self.ambient.rate_limit_per_s > 0 else None

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.clock is not None:
            send = self._dated(send)
        if scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        low, high = self.ambient.latency_s
        if high > 0:
            await asyncio.sleep(self._random.uniform(low, high))
        fault = self.plan.take(scope["path"])
        if fault is None and self._limiter is not None:
            wait = self._limiter.take()
            if wait > 0:
                fault = Fault(kind="429", retry_after=max(1, math.ceil(wait)))
        if fault is None and self.ambient.error_rate and self._random.random() < self.ambient.error_rate:
            fault = Fault(kind=self._random.choice(["500", "502", "503"]))
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
            await self.app(scope, receive, send)
        elif fault.kind in ("drop", "truncate"):
            await self._cut(scope, receive, send, drop=fault.kind == "drop")
        else:
            status = int(fault.kind)
            headers = [(b"content-type", b"application/json")]
            if status == 429:
                headers.append((b"retry-after", str(fault.retry_after).encode()))
            message = "too many requests" if status == 429 else "the platform failed to answer"
            body = json.dumps(self.error_body(status, message), ensure_ascii=False).encode()
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    def _dated(self, send: Callable) -> Callable:
        """Stamp the answer with the platform's own time (RFC 9110 HTTP-date) instead of the machine's."""
        assert self.clock is not None
        stamp = format_datetime(self.clock.now().astimezone(timezone.utc), usegmt=True).encode()

        async def dated(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": headers + [(b"date", stamp)]}
            await send(message)

        return dated

    async def _cut(self, scope: dict, receive: Callable, send: Callable, *, drop: bool) -> None:
        """Run the platform, then send only half of its body: cut the connection, or frame the half."""
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        half = body[: max(1, len(body) // 2)]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if drop:
            # Announce the whole body, send half, and break: the client sees the connection close mid-body.
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": start["status"], "headers": headers})
            await send({"type": "http.response.body", "body": half, "more_body": True})
            raise ConnectionAbortedError("simulated connection drop mid-body")
        headers.append((b"content-length", str(len(half)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": half})


@dataclass
class SimControl:
    """What the control API acts on: the shared clock, this platform's faults, named actions."""

    clock: SimClock
    plan: FaultPlan
    actions: dict[str, Callable[[], Any]] = field(default_factory=dict)


class _ClockMove(BaseModel):
    now: datetime | None = None
    advance_seconds: float | None = None


def control_router(control: SimControl) -> APIRouter:
    """The ``/_sim`` endpoints of one platform's server."""
    router = APIRouter(prefix="/_sim", include_in_schema=False)

    @router.get("/clock")
    def get_clock() -> dict:
        return {"now": control.clock.now().isoformat()}

    @router.post("/clock")
    def move_clock(move: _ClockMove) -> dict:
        try:
            if move.now is not None:
                if move.now.tzinfo is None:
                    raise ValueError("now must carry an offset")
                now = control.clock.set(move.now)
            elif move.advance_seconds is not None:
                now = control.clock.advance(timedelta(seconds=move.advance_seconds))
            else:
                raise ValueError("give now or advance_seconds")
        except ValueError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        return {"now": now.isoformat()}

    @router.get("/faults")
    def list_faults() -> dict:
        return {"armed": [f.model_dump() for f in control.plan.armed], "served": dict(control.plan.served)}

    @router.post("/faults")
    def arm_fault(fault: Fault) -> dict:
        control.plan.arm(fault)
        return {"armed": [f.model_dump() for f in control.plan.armed]}

    @router.delete("/faults")
    def clear_faults() -> dict:
        control.plan.clear()
        return {"armed": []}

    @router.post("/actions/{name}")
    def run_action(name: str) -> dict:
        action = control.actions.get(name)
        if action is None:
            raise HTTPException(status_code=404, detail=f"no action {name!r}; known: {sorted(control.actions)}")
        return {"action": name, "result": action()}

    @router.get("/health")
    def health() -> dict:
        return {"ok": True, "now": control.clock.now().isoformat()}

    return router
