"""The query service and data portal (FastAPI): an API for apps and the web pages the departments use, both behind
a token per user; the role's policy is enforced beneath every read (portal/access.py).

API (``Authorization: Bearer <token>``):
    GET  /api/me                                 the caller, its role and attributes
    GET  /api/datasets                           the datasets the caller may read, with their catalog entries
    GET  /api/datasets/{name}                    one entry (schema with masked columns marked, checks, history)
    GET  /api/datasets/{name}/rows               the dataset as the caller may see it: ?format=json|csv|parquet
                                                 &limit=&offset= (a page of at most the download cap)
    POST /api/query {"sql", "format", "limit", "offset"}   a read-only query; json (with has_more), csv or parquet
    GET  /api/reports, /reports/{kind}/{file}    the centre's reports (roles that may read them)
    GET  /api/alerts                             failed and held-back publications (roles that may see them)
Pages (a cookie set at /login): / (the catalog), /datasets/{name}, /console, /reports, /alerts.
Errors are JSON ``{"error": code, "reason": "..."}`` (the reason in Chinese) with 400 (a query refused),
401 (no or bad token), 403 (not the role's), 404.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from gridlake.settings import Settings
from portal import labels
from portal.access import Access, Forbidden, QueryResult
from portal.policy import Policies, PolicyError, User
from portal.sql import QueryRefused
from portal.tokens import TokenStore

__all__ = ["create_app"]

COOKIE = "gridlake_token"
_CONSOLE_PAGE = 200  # rows per page of the console
_FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


class Unauthorized(Exception):
    pass


class NotFound(Exception):
    pass


class QueryBody(BaseModel):
    sql: str
    format: str = Field("json", pattern="^(json|csv|parquet)$")
    limit: int | None = Field(None, ge=1)
    offset: int = Field(0, ge=0)


def _interval_text(value: pa.MonthDayNano) -> str:
    """An interval as DuckDB writes it (``1 year 2 months 3 days 04:05:06``): Arrow has no text, CSV or Parquet
    form for it."""
    sign = -1 if value.months < 0 else 1
    years, months = divmod(abs(value.months), 12)
    parts = [f"{count} {unit}{'' if abs(count) == 1 else 's'}" for count, unit in
             ((sign * years, "year"), (sign * months, "month"), (value.days, "day")) if count]
    if value.nanoseconds or not parts:
        micros = abs(value.nanoseconds) // 1000
        seconds, micros = divmod(micros, 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        parts.append(f"{'-' if value.nanoseconds < 0 else ''}{hours:02d}:{seconds // 60:02d}:{seconds % 60:02d}"
                     + (f".{micros:06d}".rstrip("0") if micros else ""))
    return " ".join(parts)


def _jsonable(value: Any) -> Any:
    """A value of a result as JSON has it; lists and structs (a ledger's months, a profile's rules) item by item."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, pa.MonthDayNano):
        return _interval_text(value)
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "__float__") and not isinstance(value, int | float | bool):
        return float(value)  # decimals
    return value


def _portable(table: pa.Table) -> pa.Table:
    """Interval columns (``select max(t) - min(t)``) as text: neither CSV nor Parquet can hold Arrow's intervals."""
    for index, field in enumerate(table.schema):
        if pa.types.is_interval(field.type):
            table = table.set_column(index, field.name, pa.array(
                [None if value is None else _interval_text(value) for value in table.column(index).to_pylist()],
                pa.string()))
    return table


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{key: _jsonable(value) for key, value in row.items()} for row in table.to_pylist()]


def _cells(table: pa.Table) -> list[list[str]]:
    """A result's rows as the console shows them: lists and structs as JSON text, an empty cell for null."""
    def cell(value: Any) -> str:
        value = _jsonable(value)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | dict):
            return json.dumps(value, ensure_ascii=False)
        return str(value)

    return [[cell(value) for value in row] for row in zip(*(column.to_pylist() for column in table.columns))]


def _file(result: QueryResult, fmt: str, name: str) -> Response:
    headers = {"X-Has-More": str(result.has_more).lower(), "X-Rows": str(result.table.num_rows),
               "X-Datasets": json.dumps(result.datasets)}
    if fmt == "json":
        return JSONResponse({"columns": result.table.column_names, "rows": _rows(result.table),
                             "has_more": result.has_more, "offset": result.offset, "limit": result.limit,
                             "datasets": result.datasets}, headers=headers)
    buffer = io.BytesIO()
    table = _portable(result.table)
    if fmt == "csv":
        buffer.write("\ufeff".encode())  # a BOM: Excel opens the Chinese right
        # lists and structs have no CSV form: written as JSON text
        for index, field in enumerate(table.schema):
            if pa.types.is_nested(field.type):
                table = table.set_column(index, field.name, pa.array(
                    [None if value is None else json.dumps(_jsonable(value), ensure_ascii=False, default=str)
                     for value in table.column(index).to_pylist()], pa.string()))
        pacsv.write_csv(table, buffer)
    else:
        pq.write_table(table, buffer, compression="zstd")
    headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return Response(buffer.getvalue(), media_type=_FORMATS[fmt], headers=headers)


def _authenticate(app: FastAPI, token: str | None) -> User:
    entry = app.state.tokens.check(token or "")
    if entry is None:
        raise Unauthorized()
    try:
        return app.state.policies.user(entry["user"], entry["role"], entry["attributes"], token_id=entry["token_id"])
    except PolicyError:  # the role or its conditions changed since the token was issued
        raise Unauthorized() from None


def api_user(request: Request) -> User:
    """The caller of an API route, by its bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return _authenticate(request.app, token.strip() if scheme.lower() == "bearer" else None)


def page_user(request: Request) -> User:
    """The user of a page, by the token the login set in a cookie."""
    return _authenticate(request.app, request.cookies.get(COOKIE))


ApiUser = Annotated[User, Depends(api_user)]
PageUser = Annotated[User, Depends(page_user)]


def create_app(settings: Settings, policies: Policies, *, access: Access | None = None) -> FastAPI:
    """The service over ``settings.home``'s shared zone, tokens and reports."""
    access = access or Access(settings, policies)
    tokens = TokenStore(settings.home / "portal" / "tokens.json")
    templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
    templates.env.filters.update(beijing=labels.beijing, status_text=labels.status_text,
                                 dataset_title=labels.dataset_title, dataset_description=labels.dataset_description,
                                 street_name=labels.street_name)
    reports_root = settings.home / "reports"
    app = FastAPI(title="gridlake 数据服务", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.access = access
    app.state.tokens = tokens
    app.state.policies = policies

    def _user(token: str | None) -> User:
        return _authenticate(app, token)

    @app.exception_handler(Unauthorized)
    def unauthorized(request: Request, _: Unauthorized) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "unauthorized", "reason": "未提供有效的访问令牌"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, err: Forbidden) -> Response:
        return JSONResponse({"error": "forbidden", "reason": str(err)}, status_code=403)

    @app.exception_handler(QueryRefused)
    def refused(request: Request, err: QueryRefused) -> Response:
        return JSONResponse({"error": err.code, "reason": err.reason}, status_code=400)

    @app.exception_handler(NotFound)
    def not_found(request: Request, err: NotFound) -> Response:
        return JSONResponse({"error": "not_found", "reason": str(err)}, status_code=404)

    # --- API ---------------------------------------------------------------------------------------------------

    @app.get("/api/me")
    def me(user: ApiUser) -> dict[str, Any]:
        return {"user": user.name, "role": user.role.name, "title": user.role.title, "attributes": user.attributes,
                "datasets": sorted(user.role.datasets), "reports": user.role.reports, "alerts": user.role.alerts}

    @app.get("/api/datasets")
    def datasets(user: ApiUser) -> dict[str, Any]:
        return {"datasets": access.catalog(user)}

    @app.get("/api/datasets/{name}")
    def dataset(name: str, user: ApiUser) -> dict[str, Any]:
        entry = access.catalog(user).get(name)
        if entry is None:
            access.log.write(user, action="catalog", sql=None, status="refused", rows=None, ms=0,
                             reason=f"无权读取或不存在的数据集 {name}")
            raise Forbidden(f"角色「{user.role.title}」无权读取数据集 {name}（或该数据集不存在）")
        return {"dataset": name, **entry}

    @app.get("/api/datasets/{name}/rows")
    def dataset_rows(name: str, user: ApiUser, format: str = "json", limit: int | None = None,
                     offset: int = 0) -> Response:
        if format not in _FORMATS:
            raise QueryRefused("bad_format", f"不支持的格式 {format}（json、csv、parquet）")
        if name not in user.role.datasets:
            access.log.write(user, action="download", sql=None, status="refused", rows=None, ms=0,
                             reason=f"无权读取数据集 {name}")
            raise Forbidden(f"角色「{user.role.title}」无权读取数据集 {name}")
        return _file(access.download(user, name, limit=limit, offset=offset), format, name)

    @app.post("/api/query")
    def query(body: QueryBody, user: ApiUser) -> Response:
        result = access.query(user, body.sql, limit=body.limit, offset=body.offset)
        return _file(result, body.format, "query")

    def _reports() -> list[dict[str, Any]]:
        found = []
        for path in sorted(reports_root.glob("*/*.json"), reverse=True):
            record = json.loads(path.read_text(encoding="utf-8"))
            found.append({key: record[key] for key in ("kind", "slug", "title", "label", "issued_on", "generated_at",
                                                       "withheld", "files")})
        return found

    def _may(user: User, what: str) -> None:
        if not getattr(user.role, what):
            raise Forbidden(f"角色「{user.role.title}」无权查看{'分析报告' if what == 'reports' else '发布告警'}")

    @app.get("/api/reports")
    def reports(user: ApiUser) -> dict[str, Any]:
        _may(user, "reports")
        return {"reports": _reports()}

    def _alerts() -> list[dict[str, Any]]:
        return list(reversed(access.zone.alerts()))[:200]

    @app.get("/api/alerts")
    def alerts(user: ApiUser) -> dict[str, Any]:
        _may(user, "alerts")
        return {"alerts": _alerts()}

    # --- pages -------------------------------------------------------------------------------------------------

    def render(request: Request, template: str, user: User | None, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, template, {"user": user, **context})

    def refuse(request: Request, user: User, message: str) -> HTMLResponse:
        """A page the user's role may not see: the reason, in Chinese, with 403."""
        return templates.TemplateResponse(request, "error.html", {"user": user, "message": message}, status_code=403)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        return render(request, "login.html", None, error=None)

    @app.post("/login", response_class=HTMLResponse)
    def login(request: Request, token: Annotated[str, Form()]) -> Response:
        try:
            _user(token.strip())
        except Unauthorized:
            return render(request, "login.html", None, error="令牌无效或已撤销")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
        return response

    @app.get("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse)
    def catalog_page(request: Request, user: PageUser) -> HTMLResponse:
        return render(request, "catalog.html", user, datasets=access.catalog(user))

    @app.get("/datasets/{name}", response_class=HTMLResponse)
    def dataset_page(request: Request, name: str, user: PageUser) -> Response:
        entry = access.catalog(user).get(name)
        if entry is None:
            return refuse(request, user, f"角色「{user.role.title}」无权读取数据集 {name}（或该数据集尚未发布）")
        return render(request, "dataset.html", user, name=name, entry=entry)

    def console(request: Request, user: User, sql: str, *, result: QueryResult | None = None,
                error: str | None = None) -> HTMLResponse:
        shown = None
        if result is not None:
            shown = {"columns": result.table.column_names, "rows": _cells(result.table), "has_more": result.has_more,
                     "offset": result.offset, "datasets": result.datasets}
        return render(request, "console.html", user, sql=sql, result=shown, error=error, page=_CONSOLE_PAGE,
                      datasets=access.catalog(user), max_download_rows=access.max_download_rows)

    @app.get("/console", response_class=HTMLResponse)
    def console_page(request: Request, user: PageUser, sql: str = "") -> HTMLResponse:
        return console(request, user, sql)

    @app.post("/console", response_class=HTMLResponse)
    def console_run(request: Request, user: PageUser, sql: Annotated[str, Form()],
                    offset: Annotated[int, Form()] = 0) -> Response:
        try:
            result = access.query(user, sql, limit=_CONSOLE_PAGE, offset=offset)
        except (QueryRefused, Forbidden) as err:
            return console(request, user, sql, error=err.reason if isinstance(err, QueryRefused) else str(err))
        return console(request, user, sql, result=result)

    @app.post("/console/download")
    def console_download(request: Request, user: PageUser, sql: Annotated[str, Form()],
                         format: Annotated[str, Form()] = "csv") -> Response:
        if format not in _FORMATS:
            return console(request, user, sql, error=f"不支持的格式 {format}（json、csv、parquet）")
        try:  # a refused download stays on the console page with the reason, as a refused run does
            result = access.query(user, sql, action="download", cap=access.max_download_rows)
        except (QueryRefused, Forbidden) as err:
            return console(request, user, sql, error=err.reason if isinstance(err, QueryRefused) else str(err))
        return _file(result, format, "query")

    @app.get("/reports", response_class=HTMLResponse)
    def reports_page(request: Request, user: PageUser) -> Response:
        if not user.role.reports:
            return refuse(request, user, f"角色「{user.role.title}」无权查看分析报告")
        return render(request, "reports.html", user, reports=_reports())

    @app.get("/reports/{kind}/{file}")
    def report_file(kind: str, file: str, request: Request) -> Response:
        user = _user(request.cookies.get(COOKIE) or request.headers.get("authorization", "").removeprefix("Bearer "))
        _may(user, "reports")
        path = (reports_root / kind / file).resolve()
        if path.parent.parent != reports_root.resolve() or path.suffix not in (".html", ".pdf") or not path.exists():
            raise NotFound(f"没有报告文件 {kind}/{file}")
        media = "text/html; charset=utf-8" if path.suffix == ".html" else "application/pdf"
        return Response(path.read_bytes(), media_type=media)

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request, user: PageUser) -> Response:
        if not user.role.alerts:
            return refuse(request, user, f"角色「{user.role.title}」无权查看发布告警")
        return render(request, "alerts.html", user, alerts=_alerts())

    return app
