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
Errors are JSON ``{"error": code, "reason": "..."}`` (the reason in Chinese) with 400 (a query refused, or a
result with a value the format cannot carry), 401 (no, a bad or a revoked token), 403 (not the role's), 404, 422 (a
request malformed: a parameter missing or of the wrong kind). Every refusal is logged (portal/access.py).
"""

from __future__ import annotations

import io
import json
import math
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from gridlake.settings import Settings
from gridlake.storage import Store
from portal import labels
from portal.access import Access, Forbidden, QueryResult
from portal.policy import Policies, PolicyError, User
from portal.sql import QueryRefused
from portal.tokens import TokenStore

# a report's kind and file name (``daily``, ``2026-11-19.html``): no path separators, no hidden or parent names
_REPORT_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]*")

__all__ = ["create_app"]

COOKIE = "gridlake_token"
MAX_BODY = 1 << 20  # a request body larger than this is refused before it is read (a query is 10,000 characters)
_CONSOLE_PAGE = 200  # rows per page of the console
_FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


class Unauthorized(Exception):
    """No valid token: ``reason`` is what the caller is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# why a token is refused, as the caller is told (a wrong secret and an unknown id alike: nothing to guess from)
_TOKEN_REFUSED = {"missing": "未提供访问令牌（请求头 Authorization: Bearer <令牌>）", "malformed": "访问令牌格式无效",
                  "unknown": "访问令牌无效", "wrong_secret": "访问令牌无效", "revoked": "访问令牌已被撤销",
                  "policy": "访问令牌的角色或属性已不符合当前的访问策略，请联系管理员重新签发"}


class NotFound(Exception):
    pass


class QueryBody(BaseModel):
    sql: str
    format: str = Field("json", pattern="^(json|csv|parquet)$")
    limit: int | None = Field(None, ge=1)
    offset: int = Field(0, ge=0)


def _jsonable(value: Any) -> Any:
    """A value of a result as JSON can carry it: times as ISO text, decimals as numbers, NaN and infinities as
    null (JSON has none), bytes as hex; lists and structs value by value."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "__float__") and not isinstance(value, int | bool):
        number = float(value)  # decimals
        return number if math.isfinite(number) else None
    return value


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
    """The result as a JSON page or a CSV or Parquet file; QueryRefused when a value has no form in ``fmt``."""
    try:
        return _render(result, fmt, name)
    except (OverflowError, ValueError, TypeError, pa.ArrowException) as err:
        raise QueryRefused("unrenderable", f"查询结果无法输出为 {fmt}（{str(err).splitlines()[0][:200]}）；"
                                           "可先把相关列转换为文本，如 cast(列 as varchar)") from None


def _render(result: QueryResult, fmt: str, name: str) -> Response:
    headers = {"X-Has-More": str(result.has_more).lower(), "X-Rows": str(result.table.num_rows),
               "X-Datasets": json.dumps(result.datasets)}
    if fmt == "json":
        return JSONResponse({"columns": result.table.column_names, "rows": _rows(result.table),
                             "has_more": result.has_more, "offset": result.offset, "limit": result.limit,
                             "datasets": result.datasets}, headers=headers)
    buffer = io.BytesIO()
    table = result.table
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


def _problem(error: dict[str, Any]) -> str:
    """One of a request's validation errors, in Chinese: the field and what is wrong with it."""
    field = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")) or "请求体"
    kind, context = error.get("type", ""), error.get("ctx") or {}
    what = {"missing": "缺少该项", "int_parsing": "应为整数", "int_type": "应为整数", "int_from_float": "应为整数",
            "string_type": "应为文本", "json_invalid": "不是有效的 JSON", "model_attributes_type": "应为 JSON 对象",
            "dict_type": "应为 JSON 对象", "string_pattern_mismatch": "取值无效",
            "greater_than_equal": f"应不小于 {context.get('ge')}", "less_than_equal": f"应不大于 {context.get('le')}",
            }.get(kind, error.get("msg", kind))
    if field == "format" and kind == "string_pattern_mismatch":
        what = "应为 json、csv 或 parquet"
    if kind == "json_invalid":
        field = "请求体"
    return f"{field} {what}"


def _authenticate(request: Request, token: str | None) -> User:
    """The token's user; Unauthorized otherwise, logged (but a page asked for before logging in)."""
    verdict = request.app.state.tokens.verify(token or "")
    problem = verdict.problem
    if problem is None:
        entry = verdict.entry
        try:
            return request.app.state.policies.user(entry["user"], entry["role"], entry["attributes"],
                                                   token_id=entry["token_id"])
        except PolicyError:  # the role or its conditions changed since the token was issued
            problem = "policy"
    reason = _TOKEN_REFUSED[problem]
    if problem != "missing" or request.url.path.startswith("/api/"):
        entry = verdict.entry or {}
        request.app.state.access.log.write_unauthenticated(
            action="authenticate", reason=f"{reason}：{request.method} {request.url.path}",
            token_id=(verdict.token_id or "")[:40] or None, user=entry.get("user"), role=entry.get("role"))
    raise Unauthorized(reason)


def api_user(request: Request) -> User:
    """The caller of an API route, by its bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return _authenticate(request, token.strip() if scheme.lower() == "bearer" else None)


def page_user(request: Request) -> User:
    """The user of a page, by the token the login set in a cookie."""
    return _authenticate(request, request.cookies.get(COOKIE))


ApiUser = Annotated[User, Depends(api_user)]
PageUser = Annotated[User, Depends(page_user)]


def create_app(settings: Settings, policies: Policies, *, access: Access | None = None) -> FastAPI:
    """The service over the store's shared zone and reports (``settings.home``'s by default) and the tokens of
    ``settings.home``."""
    access = access or Access(settings, policies)
    tokens = TokenStore(settings.home / "portal" / "tokens.json")
    templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
    templates.env.filters.update(beijing=labels.beijing, status_text=labels.status_text,
                                 dataset_title=labels.dataset_title, dataset_description=labels.dataset_description,
                                 street_name=labels.street_name)
    report_store = Store.default(settings).child("reports")  # where the reports DAG's workers put them
    app = FastAPI(title="gridlake 数据服务", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.access = access
    app.state.tokens = tokens
    app.state.policies = policies

    @app.exception_handler(Unauthorized)
    def unauthorized(request: Request, err: Unauthorized) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "unauthorized", "reason": err.reason}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    def forbidden(request: Request, err: Forbidden) -> Response:
        return JSONResponse({"error": "forbidden", "reason": str(err)}, status_code=403)

    @app.exception_handler(QueryRefused)
    def refused(request: Request, err: QueryRefused) -> Response:
        return JSONResponse({"error": err.code, "reason": err.reason}, status_code=400)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            return JSONResponse({"error": "too_large", "reason": f"请求体过大（{int(length):,} 字节，上限 "
                                                               f"{MAX_BODY:,}）"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, err: RequestValidationError) -> Response:
        return JSONResponse({"error": "invalid_request", "reason": "请求无效：" + "；".join(
            _problem(error) for error in err.errors())}, status_code=422)

    @app.exception_handler(NotFound)
    def not_found(request: Request, err: NotFound) -> Response:
        return JSONResponse({"error": "not_found", "reason": str(err)}, status_code=404)

    def _answer(user: User, result: QueryResult, fmt: str, name: str, *, action: str, sql: str) -> Response:
        """The result in ``fmt``; a value with no form in it refused with the reason, and logged."""
        try:
            return _file(result, fmt, name)
        except QueryRefused as err:
            access.log.write(user, action=action, sql=sql, status="error", rows=None, ms=0, reason=err.reason)
            raise

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
        return _answer(user, access.download(user, name, limit=limit, offset=offset), format, name,
                       action="download", sql=f'select * from "{name}"')

    @app.post("/api/query")
    def query(body: QueryBody, user: ApiUser) -> Response:
        result = access.query(user, body.sql, limit=body.limit, offset=body.offset)
        return _answer(user, result, body.format, "query", action="query", sql=body.sql)

    def _reports() -> list[dict[str, Any]]:
        found = []
        for name in sorted(report_store.glob("*/*.json"), reverse=True):
            record = json.loads(report_store.read_text(name))
            found.append({key: record[key] for key in ("kind", "slug", "title", "label", "issued_on", "generated_at",
                                                       "withheld", "files")})
        return found

    def _may(user: User, what: str) -> None:
        if not getattr(user.role, what):
            reason = f"角色「{user.role.title}」无权查看{'分析报告' if what == 'reports' else '发布告警'}"
            access.log.write(user, action=what, sql=None, status="refused", rows=None, ms=0, reason=reason)
            raise Forbidden(reason)

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
            _authenticate(request, token.strip())
        except Unauthorized as err:
            return render(request, "login.html", None, error=err.reason)
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
            access.log.write(user, action="catalog", sql=None, status="refused", rows=None, ms=0,
                             reason=f"无权读取或不存在的数据集 {name}")
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
        try:
            return console(request, user, sql, result=result)
        except (OverflowError, ValueError) as err:
            return console(request, user, sql,
                           error=f"查询结果无法显示（{err}）；可先把相关列转换为文本，如 cast(列 as varchar)")

    @app.post("/console/download")
    def console_download(request: Request, user: PageUser, sql: Annotated[str, Form()],
                         format: Annotated[str, Form()] = "csv") -> Response:
        if format not in _FORMATS:
            return console(request, user, sql, error=f"不支持的格式 {format}（json、csv、parquet）")
        try:  # a refused download stays on the console page with the reason, as a refused run does
            result = access.query(user, sql, action="download", cap=access.max_download_rows)
            return _answer(user, result, format, "query", action="download", sql=sql)
        except (QueryRefused, Forbidden) as err:
            return console(request, user, sql, error=err.reason if isinstance(err, QueryRefused) else str(err))

    @app.get("/reports", response_class=HTMLResponse)
    def reports_page(request: Request, user: PageUser) -> Response:
        try:
            _may(user, "reports")
        except Forbidden as err:
            return refuse(request, user, str(err))
        return render(request, "reports.html", user, reports=_reports())

    @app.get("/reports/{kind}/{file}")
    def report_file(kind: str, file: str, request: Request) -> Response:
        user = _authenticate(request, request.cookies.get(COOKIE)
                             or request.headers.get("authorization", "").removeprefix("Bearer "))
        _may(user, "reports")
        suffix = Path(file).suffix
        if (not _REPORT_NAME.fullmatch(kind) or not _REPORT_NAME.fullmatch(file) or suffix not in (".html", ".pdf")
                or not report_store.exists(f"{kind}/{file}")):
            raise NotFound(f"没有报告文件 {kind}/{file}")
        media = "text/html; charset=utf-8" if suffix == ".html" else "application/pdf"
        return Response(report_store.read_bytes(f"{kind}/{file}"), media_type=media)

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request, user: PageUser) -> Response:
        try:
            _may(user, "alerts")
        except Forbidden as err:
            return refuse(request, user, str(err))
        return render(request, "alerts.html", user, alerts=_alerts())

    return app
