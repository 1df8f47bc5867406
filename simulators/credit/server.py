"""The district credit platform's HTTP API (specs/credit.md): API key, offset paging, snapshots.

Listings are ordered by ``updated_at`` and id and paged by offset. Without ``updated_before`` they show the
live state at the shared clock's "now", so a file that changes while a client pages moves to the end and
the offsets behind it shift. With ``updated_before`` they show the state just before that instant (a version
written exactly at ``updated_before`` is not yet in it), which does not move while the clock does.

Where the spec is silent, the platform behaves so:
- ``updated_since`` is inclusive (``updated_at >= updated_since``); times need an offset (400 otherwise).
- ``updated_before`` must lie in the last 24 hours up to the platform's "now" (the ``Date`` header of every
  answer): older answers 400 (snapshots are kept 24 h), later answers 400 too, since a snapshot of a moment
  still to come would change while a client pages it.
- An empty parameter value (``/subjects?updated_since=&offset=&limit=``, the spec's template) counts as absent.
- ``GET /subjects/{uscc}`` matches the code exactly as stored: no case folding, width or space normalisation.

The platform is slow: its latency is the ``Ambient`` passed in (``gridlake sim serve`` sets 1-3 s).
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from simulators.clock import to_micros
from simulators.dataset import Dataset
from simulators.faults import Ambient, FaultMiddleware, SimControl, control_router
from simulators.store import VersionStore

__all__ = ["BASE_PATH", "DEFAULT_LIMIT", "MAX_LIMIT", "SNAPSHOT_MAX_AGE", "create_app", "error_body"]

BASE_PATH = "/credit/v1"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
SNAPSHOT_MAX_AGE = timedelta(hours=24)
_ERROR_NAMES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


def error_body(status: int, message: str) -> dict[str, str]:
    """The platform's error document for a status (also used by the fault middleware)."""
    return {"error": _ERROR_NAMES.get(status, "error"), "message": message}


class _ApiError(Exception):
    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _parse_time(name: str, value: str) -> int:
    """An ISO datetime parameter as micros; an offset is required (an unencoded '+' arrives as a space)."""
    text = value.strip()
    if len(text) > 6 and text[-6] == " " and text[-3] == ":":
        text = text[:-6] + "+" + text[-5:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _ApiError(400, f"{name}: {value!r} is not an ISO 8601 datetime") from None
    if moment.tzinfo is None:
        raise _ApiError(400, f"{name}: {value!r} has no offset (send e.g. +08:00 or Z)")
    return to_micros(moment)


def _given(value: str | None) -> str | None:
    """A query parameter as given; an empty (or blank) value counts as absent."""
    if value is None or not value.strip():
        return None
    return value


def _parse_int(name: str, value: str | None, *, default: int, low: int, high: int | None) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _ApiError(400, f"{name}: {value!r} is not an integer") from None
    if number < low or (high is not None and number > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise _ApiError(400, f"{name}: {number} is out of range {bounds}")
    return number


def create_app(
    dataset: Dataset, *, control: SimControl, api_key: str, ambient: Ambient | None = None
) -> FastAPI:
    """The credit platform over ``dataset``'s credit store, at the time of ``control.clock``."""
    store = VersionStore(dataset.store_path("credit"))

    app = FastAPI(title="区信用平台 (simulated)", openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(control_router(control))
    app.add_middleware(FaultMiddleware, plan=control.plan, error_body=error_body, ambient=ambient,
                       clock=control.clock)

    @app.exception_handler(_ApiError)
    async def api_error(_: Request, err: _ApiError) -> JSONResponse:
        return JSONResponse(error_body(err.status, err.message), status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(err.status_code, str(err.detail)), status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(400, str(err.errors())), status_code=400)

    def api_key_auth(request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "apikey" or not key.strip():
            raise _ApiError(
                401, "missing Authorization: ApiKey <key>", headers={"WWW-Authenticate": "ApiKey"}
            )
        if not hmac.compare_digest(key.strip().encode(), api_key.encode()):
            raise _ApiError(
                401, "Authorization: the API key is not valid", headers={"WWW-Authenticate": "ApiKey"}
            )

    def listing(
        kind: str,
        updated_since: str | None,
        offset: str | None,
        limit: str | None,
        updated_before: str | None,
    ) -> Response:
        updated_since, offset, limit, updated_before = map(_given, (updated_since, offset, limit, updated_before))
        start = _parse_int("offset", offset, default=0, low=0, high=None)
        size = _parse_int("limit", limit, default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        at = control.clock.now_micros()
        if updated_before is not None:
            at = _snapshot_at(updated_before) - 1  # the state just before updated_before
        where, params = "", {}
        if updated_since is not None:
            where, params = "updated >= :since", {"since": _parse_time("updated_since", updated_since)}
        total = store.count(kind, at=at, where=where, params=params)
        rows = store.current(
            kind, at=at, where=where, params=params, limit=size, offset=start, columns="body"
        )
        content = (
            f'{{"total":{total},"offset":{start},"items":[' + ",".join(row["body"] for row in rows) + "]}"
        )
        return Response(content=content.encode("utf-8"), media_type="application/json")

    def _snapshot_at(updated_before: str) -> int:
        """``updated_before`` as micros, checked to lie within the 24 hours up to the platform's now."""
        before = _parse_time("updated_before", updated_before)
        now = control.clock.now()
        if before > to_micros(now):
            raise _ApiError(
                400,
                f"updated_before: {updated_before!r} is later than the platform's now ({now.isoformat()}); "
                "a snapshot must not lie in the future: take the platform's time from the answer's Date header",
            )
        if before < to_micros(now - SNAPSHOT_MAX_AGE):
            raise _ApiError(
                400,
                f"updated_before: {updated_before!r} is more than 24 hours before the "
                f"platform's now ({now.isoformat()}); snapshots are kept 24 h",
            )
        return before

    @app.get(f"{BASE_PATH}/subjects", dependencies=[Depends(api_key_auth)])
    def subjects(
        updated_since: str | None = None,
        offset: str | None = None,
        limit: str | None = None,
        updated_before: str | None = None,
    ) -> Response:
        return listing("subject", updated_since, offset, limit, updated_before)

    @app.get(f"{BASE_PATH}/records", dependencies=[Depends(api_key_auth)])
    def records(
        updated_since: str | None = None,
        offset: str | None = None,
        limit: str | None = None,
        updated_before: str | None = None,
    ) -> Response:
        return listing("record", updated_since, offset, limit, updated_before)

    @app.get(f"{BASE_PATH}/subjects/{{code}}", dependencies=[Depends(api_key_auth)])
    def subject(code: str) -> dict[str, Any]:
        now = control.clock.now_micros()
        row = store.one("subject", code, at=now)
        if row is None:
            raise _ApiError(404, f"subject {code!r}: no credit file with this code")
        found = store.current(
            "record", at=now, where="uscc = :uscc", params={"uscc": code}, columns="body"
        )
        return json.loads(row["body"]) | {"records": [json.loads(item["body"]) for item in found]}

    return app
