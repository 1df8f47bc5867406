"""The 12345 hotline platform's HTTP API: Open311 GeoReport v2 with paging and the district's extensions.

Served from the hotline's version store (simulators.hotline.generate) as the shared clock sees it: a work
order shows its version valid at ``control.clock.now()``. Everything hotline.md promises is here: the API key,
the filters of ``/requests.json`` (an empty value counts as absent), ``X-Total-Count``, ordering by
(``updated_datetime``, ``service_request_id``), Open311 error arrays, and the platform's own misbehaviour: the
orders marked ``duplicate_on_page`` appear twice on their page, so a page may carry more rows than
``page_size``; ``X-Total-Count`` counts distinct orders and paging counts them too (page n starts after the
first (n-1)*page_size distinct orders).

Parameter rules: times are ISO 8601 (no offset: +08:00; a bare date: local midnight); ``start_date`` and
``end_date`` are inclusive and, when both are given, may span at most 90 days; ``updated_after`` is strict and
``updated_before`` inclusive; ``page`` from 1, ``page_size`` 1-1000; anything else answers 400 naming the
parameter. Unknown parameters (e.g. Open311's ``jurisdiction_id``) are ignored.

``service_request_id`` (Open311: a comma list of ids, at most ``MAX_PAGE_SIZE``) overrides every other
filter, which is then ignored unchecked; ``page``, ``page_size`` and ``extensions`` still apply. Ids match
exactly; an unknown id is left out of the answer (no 404), as Open311's listing does.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from simulators.clock import to_micros
from simulators.dataset import Dataset
from simulators.faults import Ambient, FaultMiddleware, SimControl, control_router
from simulators.scenario import TZ
from simulators.store import VersionStore

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "MAX_SPAN", "PREFIX", "Open311Error", "create_app"]

PREFIX = "/open311/v2"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_SPAN = timedelta(days=90)
_STATUSES = ("open", "closed")
_SPEC = "http://wiki.open311.org/GeoReport_v2"
_CHANGESET = "2026-01-01T00:00:00+08:00"


class Open311Error(Exception):
    """An error answered as Open311 does: ``[{"code": status, "description": ...}]`` with that HTTP status."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error_response(status: int, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status, headers=headers)


def _json(content: Any, *, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return Response(body, media_type="application/json", headers=headers)


def _param(request: Request, name: str) -> str | None:
    """A query parameter; an empty (or blank) value counts as absent."""
    value = request.query_params.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _moment(name: str, value: str | None) -> int | None:
    """An ISO 8601 datetime parameter as epoch microseconds; without an offset it is local (+08:00)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        hint = " (a '+' in the offset must be URL-encoded as %2B)" if " " in value else ""
        raise Open311Error(400, f"{name}: {value!r} is not an ISO 8601 datetime{hint}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return to_micros(moment)


def _integer(name: str, value: str | None, *, default: int, low: int, high: int | None = None) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise Open311Error(400, f"{name}: {value!r} is not an integer") from None
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Open311Error(400, f"{name}: {number} must be {bound}")
    return number


def _extensions(value: str | None) -> bool:
    if value is None:
        return False
    flag = value.lower()
    if flag not in ("true", "false"):
        raise Open311Error(400, f"extensions: {value!r} must be true or false")
    return flag == "true"


def _items(rows: list[Any], *, extensions: bool) -> list[dict[str, Any]]:
    """Work orders as served: without the 12345 fields unless asked, the duplicated ones twice in a row."""
    items: list[dict[str, Any]] = []
    for row in rows:
        item = json.loads(row["body"])
        if not extensions:
            item.pop("extended_attributes", None)
        items.append(item)
        if row["dup_on_page"]:
            items.append(item)
    return items


def _in_list(column: str, values: list[str]) -> tuple[str, dict[str, Any]]:
    """``column in (...)`` over named parameters (never values spliced into the SQL)."""
    names = [f"{column}{k}" for k in range(len(values))]
    return f"{column} in ({', '.join(':' + n for n in names)})", dict(zip(names, values))


def _requests_filter(request: Request) -> tuple[str, dict[str, Any]]:
    """The SQL filter of a /requests.json query, every parameter checked (400 with the reason otherwise)."""
    ids = _param(request, "service_request_id")
    if ids is not None:  # Open311: it overrides all other arguments
        wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
        if not wanted:
            raise Open311Error(400, f"service_request_id: {ids!r} names no work order")
        if len(wanted) > MAX_PAGE_SIZE:
            raise Open311Error(400, f"service_request_id: {len(wanted)} ids, at most {MAX_PAGE_SIZE} at once")
        return _in_list("entity_id", wanted)
    clauses: list[str] = []
    params: dict[str, Any] = {}
    start = _moment("start_date", _param(request, "start_date"))
    end = _moment("end_date", _param(request, "end_date"))
    if start is not None and end is not None:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > MAX_SPAN.total_seconds() * 1_000_000:
            raise Open311Error(400, f"start_date to end_date spans more than {MAX_SPAN.days} days")
    for name, value, clause in (
        ("start_date", start, "requested >= :start_date"),
        ("end_date", end, "requested <= :end_date"),
        ("updated_after", _moment("updated_after", _param(request, "updated_after")),
         "updated > :updated_after"),
        ("updated_before", _moment("updated_before", _param(request, "updated_before")),
         "updated <= :updated_before"),
    ):
        if value is not None:
            clauses.append(clause)
            params[name] = value
    status = _param(request, "status")
    if status is not None:
        wanted = [s.strip().lower() for s in status.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in _STATUSES]
        if unknown:
            raise Open311Error(400, f"status: {', '.join(unknown)} is not one of {', '.join(_STATUSES)}")
        clause, values = _in_list("status", wanted)
        clauses.append(clause)
        params |= values
    codes = _param(request, "service_code")
    if codes is not None:
        wanted = [c.strip() for c in codes.split(",") if c.strip()]
        clause, values = _in_list("service_code", wanted)
        clauses.append(clause)
        params |= values
    return " and ".join(clauses), params


def create_app(
    dataset: Dataset, *, control: SimControl, api_key: str, ambient: Ambient | None = None
) -> FastAPI:
    """The hotline platform of ``dataset``: the Open311 API under ``PREFIX`` and the ``/_sim`` control API."""
    store = VersionStore(dataset.store_path("hotline"))

    def require_key(request: Request) -> None:
        given = request.headers.get("x-api-key")
        if given is None:
            raise Open311Error(403, "missing X-API-Key header")
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise Open311Error(403, "invalid API key")

    def now() -> int:
        return control.clock.now_micros()

    api = APIRouter(prefix=PREFIX, dependencies=[Depends(require_key)])

    @api.get("/discovery.json")
    def discovery(request: Request) -> Response:
        url = str(request.base_url).rstrip("/") + PREFIX
        return _json({
            "changeset": _CHANGESET,
            "contact": "东城区12345市民服务热线 (simulated)",
            "key_service": "send the key in the X-API-Key header",
            "endpoints": [{"specification": _SPEC, "url": url, "changeset": _CHANGESET, "type": "production",
                           "formats": ["application/json"]}],
        })

    @api.get("/services.json")
    def services() -> Response:
        return _json([json.loads(row["body"]) for row in store.current("service", at=now(), columns="body")])

    @api.get("/requests.json")
    def requests(request: Request) -> Response:
        where, params = _requests_filter(request)
        page = _integer("page", _param(request, "page"), default=1, low=1)
        page_size = _integer("page_size", _param(request, "page_size"), default=DEFAULT_PAGE_SIZE, low=1,
                             high=MAX_PAGE_SIZE)
        extensions = _extensions(_param(request, "extensions"))
        at = now()
        total = store.count("request", at=at, where=where, params=params)
        rows = store.current("request", at=at, where=where, params=params, limit=page_size,
                             offset=(page - 1) * page_size, columns="body, dup_on_page")
        return _json(_items(rows, extensions=extensions), headers={"X-Total-Count": str(total)})

    @api.get("/requests/{service_request_id}.json")
    def one_request(service_request_id: str, request: Request) -> Response:
        extensions = _extensions(_param(request, "extensions"))
        row = store.one("request", service_request_id, at=now())
        if row is None:
            raise Open311Error(404, f"no work order {service_request_id!r}")
        item = json.loads(row["body"])
        if not extensions:
            item.pop("extended_attributes", None)
        return _json([item])

    app = FastAPI(title="12345 hotline (simulated)", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(api)
    app.include_router(control_router(control))

    @app.exception_handler(Open311Error)
    async def open311_error(request: Request, exc: Open311Error) -> JSONResponse:
        return _error_response(exc.status, exc.description)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/_sim"):
            return await http_exception_handler(request, exc)
        return _error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/_sim"):
            return await request_validation_exception_handler(request, exc)
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error_response(400, reasons)

    app.add_middleware(
        FaultMiddleware,
        plan=control.plan,
        error_body=lambda status, message: [{"code": status, "description": message}],
        ambient=ambient,
        clock=control.clock,
    )
    return app
