"""The enforcement platform's HTTP API (specs/enforcement.md): OAuth2 client credentials, cursor paging.

Tokens are opaque random strings held in memory with a wall-clock expiry; cursors carry their own state
(the last position served, the filter, when they were issued) signed with a per-process key, so a tampered
cursor is refused (400) and one older than its lifetime (wall clock, not the platform's) answers 410 Gone.
Tests force both to expire at once through the ``expire_tokens`` and ``expire_cursors`` actions of
``/_sim/actions/{name}``.

What a listing shows is the store at the shared clock's "now": cases filed later and versions written later
stay hidden until the clock passes them.

Where the spec is silent, the platform behaves so: ``updated_since`` needs an offset, and an empty or
malformed ``updated_since`` or ``limit`` answers 400 naming it; a cursor continues the listing it was issued
for, so sending it with a different ``updated_since`` answers 400 (the same one, or none, is fine), while
``limit`` may change from page to page. A case's ``matter_code`` is one of the 30 codes except in the dirty
cases of the generator (lower case, or the category's name).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from simulators.clock import to_micros
from simulators.dataset import Dataset
from simulators.enforcement.matters import matters_document
from simulators.faults import Ambient, FaultMiddleware, SimControl, control_router
from simulators.store import VersionStore

__all__ = ["MAX_LIMIT", "DEFAULT_LIMIT", "create_app", "error_body"]

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_ERROR_NAMES = {
    400: "invalid_request",
    401: "invalid_token",
    404: "not_found",
    405: "method_not_allowed",
    410: "gone",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


def error_body(status: int, message: str) -> dict[str, str]:
    """The platform's error document for a status (also used by the fault middleware)."""
    return {"error": _ERROR_NAMES.get(status, "error"), "message": message}


class _ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, error: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error or _ERROR_NAMES.get(status, "error")
        self.message = message
        self.headers = headers or {}


@dataclass
class _Tokens:
    """Issued bearer tokens and their wall-clock expiry (``time.monotonic``)."""

    ttl_s: float
    _issued: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._issued = {key: until for key, until in self._issued.items() if until > now}
            self._issued[token] = now + self.ttl_s
        return token

    def check(self, token: str) -> None:
        with self._lock:
            until = self._issued.get(token)
        if until is None:
            raise _ApiError(
                401,
                "the access token is unknown or was revoked: get a new one at /oauth/token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if until <= time.monotonic():
            raise _ApiError(
                401,
                "the access token has expired: get a new one at /oauth/token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._issued)
            self._issued.clear()
        return count


@dataclass
class _Position:
    updated: int
    case_id: str
    since: int | None


@dataclass
class _Cursors:
    """Opaque cursors: base64 of the position and filter, the issue time and a generation, HMAC-signed."""

    ttl_s: float
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _generation: int = 0

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encode(self, position: _Position) -> str:
        state = {
            "u": position.updated,
            "c": position.case_id,
            "s": position.since,
            "t": time.time(),
            "g": self._generation,
        }
        payload = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).rstrip(b"=")
        return f"{payload.decode()}.{self._sign(payload)}"

    def decode(self, cursor: str) -> _Position:
        payload, _, signature = cursor.partition(".")
        if not payload or not hmac.compare_digest(self._sign(payload.encode()).encode(), signature.encode()):
            raise _ApiError(
                400,
                "cursor: not a cursor this platform issued (malformed or altered)",
                error="invalid_cursor",
            )
        try:
            state = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            position = _Position(
                updated=int(state["u"]),
                case_id=str(state["c"]),
                since=None if state["s"] is None else int(state["s"]),
            )
            issued, generation = float(state["t"]), int(state["g"])
        except (binascii.Error, ValueError, KeyError, TypeError) as err:
            raise _ApiError(400, f"cursor: unreadable ({err})", error="invalid_cursor") from None
        if generation != self._generation or time.time() - issued > self.ttl_s:
            raise _ApiError(
                410,
                "cursor: expired; restart the listing from the last updated_at you landed",
                error="cursor_expired",
            )
        return position

    def expire_all(self) -> int:
        self._generation += 1
        return self._generation


_SPACED_OFFSET = re.compile(r" (\d\d:?\d\d)$")


def _parse_since(value: str) -> int:
    """``updated_since`` as micros; an offset is required (a '+' sent unencoded arrives as a space)."""
    text = _SPACED_OFFSET.sub(r"+\1", value.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _ApiError(400, f"updated_since: {value!r} is not an ISO 8601 datetime") from None
    if moment.tzinfo is None:
        raise _ApiError(400, f"updated_since: {value!r} has no offset (send e.g. +08:00 or Z)")
    return to_micros(moment)


def _parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise _ApiError(400, f"limit: {value!r} is not an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _ApiError(400, f"limit: {limit} is out of range 1..{MAX_LIMIT}")
    return limit


def create_app(
    dataset: Dataset,
    *,
    control: SimControl,
    client_id: str,
    client_secret: str,
    token_ttl_s: float = 3600,
    cursor_ttl_s: float = 600,
    ambient: Ambient | None = None,
) -> FastAPI:
    """The enforcement platform over ``dataset``'s case store, at the time of ``control.clock``."""
    store = VersionStore(dataset.store_path("enforcement"))
    tokens = _Tokens(ttl_s=token_ttl_s)
    cursors = _Cursors(ttl_s=cursor_ttl_s)
    control.actions["expire_tokens"] = tokens.expire_all
    control.actions["expire_cursors"] = cursors.expire_all

    app = FastAPI(title="综合执法平台 (simulated)", openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(control_router(control))
    app.add_middleware(FaultMiddleware, plan=control.plan, error_body=error_body, ambient=ambient,
                       clock=control.clock)

    @app.exception_handler(_ApiError)
    async def api_error(_: Request, err: _ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": err.error, "message": err.message}, status_code=err.status, headers=err.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(err.status_code, str(err.detail)), status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(400, str(err.errors())), status_code=400)

    def bearer(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _ApiError(
                401,
                "missing Authorization: Bearer <token> (get one at /oauth/token)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        tokens.check(token.strip())

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        fields = {key: values[0] for key, values in parse_qs((await request.body()).decode("utf-8")).items()}
        given_id, given_secret = fields.get("client_id"), fields.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                given_id, _, given_secret = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise _ApiError(
                    401, "Authorization: unreadable Basic credentials", error="invalid_client"
                ) from None
        grant = fields.get("grant_type")
        if grant is None:
            raise _ApiError(400, "grant_type: missing (send grant_type=client_credentials)")
        if grant != "client_credentials":
            raise _ApiError(
                400,
                f"grant_type: {grant!r} is not supported; use client_credentials",
                error="unsupported_grant_type",
            )
        if not (
            hmac.compare_digest((given_id or "").encode(), client_id.encode())
            and hmac.compare_digest((given_secret or "").encode(), client_secret.encode())
        ):
            raise _ApiError(
                401, "client_id/client_secret: unknown client or wrong secret", error="invalid_client"
            )
        return JSONResponse(
            {"access_token": tokens.issue(), "token_type": "Bearer", "expires_in": int(token_ttl_s)},
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/api/v1/cases", dependencies=[Depends(bearer)])
    def list_cases(
        updated_since: str | None = None, limit: str | None = None, cursor: str | None = None
    ) -> Response:
        size = _parse_limit(limit)
        since = None if updated_since is None else _parse_since(updated_since)
        where, params = [], {}
        if cursor is not None:
            position = cursors.decode(cursor)
            if updated_since is not None and since != position.since:
                raise _ApiError(
                    400, "cursor: issued for another updated_since; resend the same filter or none"
                )
            since = position.since
            where.append("(updated > :after_updated or (updated = :after_updated and entity_id > :after_id))")
            params |= {"after_updated": position.updated, "after_id": position.case_id}
        if since is not None:
            where.append("updated >= :since")
            params["since"] = since
        rows = store.current(
            "case",
            at=control.clock.now_micros(),
            where=" and ".join(where),
            params=params,
            limit=size + 1,
            columns="entity_id, updated, body",
        )
        page, more = rows[:size], len(rows) > size
        next_cursor = (
            cursors.encode(_Position(updated=page[-1]["updated"], case_id=page[-1]["entity_id"], since=since))
            if more
            else None
        )
        content = (
            '{"items":['
            + ",".join(row["body"] for row in page)
            + '],"next_cursor":'
            + json.dumps(next_cursor)
            + "}"
        )
        return Response(content=content.encode("utf-8"), media_type="application/json")

    @app.get("/api/v1/cases/{case_id}", dependencies=[Depends(bearer)])
    def one_case(case_id: str) -> Response:
        row = store.one("case", case_id, at=control.clock.now_micros())
        if row is None:
            raise _ApiError(404, f"case {case_id!r}: no such case")
        return Response(content=row["body"].encode("utf-8"), media_type="application/json")

    @app.get("/api/v1/matters", dependencies=[Depends(bearer)])
    def matters() -> dict[str, Any]:
        return matters_document()

    return app
