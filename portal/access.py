"""What a user may read, enforced beneath every query: per dataset, the published version's rows the role's condition
keeps, with its masked columns (and the columns no role sees) emptied - built by the service, cached per version,
role and attributes - registered under the dataset's name in a connection of the query's own to a sandboxed, empty
in-memory DuckDB engine. The engine has no file system, no extensions and locked settings; what a connection
registers is its own (temporary views no other connection sees), so a query sees its tables and nothing else: it
reaches what the role allows, and only that. (A connection to one engine costs microseconds, a fresh engine per
query some 15 ms of CPU - most of what a small query cost.) Every query, run or refused, is logged with the user,
role, SQL, rows and time.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from gridlake.settings import Settings
from gridlake.shared import SharedZone
from portal.policy import Policies, User
from portal.sql import QueryRefused, check_query

__all__ = ["Access", "Forbidden", "QueryLog", "QueryResult"]

# the engine's settings, fixed when it starts and locked: no files, no extensions, no Python objects found by name
_SANDBOX = {"enable_external_access": False, "autoinstall_known_extensions": False,
            "autoload_known_extensions": False, "allow_community_extensions": False,
            "python_enable_replacements": False, "lock_configuration": True}


class Forbidden(Exception):
    """A dataset the caller's role may not read (or one not published): the reason, in Chinese."""


@dataclass
class QueryResult:
    table: pa.Table
    has_more: bool
    offset: int
    limit: int
    datasets: dict[str, str]  # dataset -> version read


class QueryLog:
    """``$GRIDLAKE_HOME/portal/query_log.jsonl``: one line per query or download, run or refused."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, user: User, *, action: str, sql: str | None, status: str, rows: int | None, ms: float,
              reason: str | None = None, datasets: dict[str, str] | None = None) -> None:
        self._append({"user": user.name, "role": user.role.name, "token_id": user.token_id, "action": action,
                      "sql": sql, "status": status, "rows": rows, "ms": round(ms, 1), "reason": reason,
                      "datasets": datasets or {}})

    def write_unauthenticated(self, *, action: str, reason: str, token_id: str | None = None,
                              user: str | None = None, role: str | None = None) -> None:
        """A request refused before it had a user: no token, or one invalid or revoked (its id and the user it
        names when known, never the token)."""
        self._append({"user": user, "role": role, "token_id": token_id, "action": action, "sql": None,
                      "status": "refused", "rows": None, "ms": 0.0, "reason": reason, "datasets": {}})

    def _append(self, line: dict[str, Any]) -> None:
        line = {"at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **line}
        text = json.dumps(line, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(text)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]


class Access:
    def __init__(self, settings: Settings, policies: Policies, *, max_rows: int = 10_000,
                 max_download_rows: int = 1_000_000, max_sql_chars: int = 10_000, timeout_s: float = 30.0,
                 cache_tables: int = 64) -> None:
        self.zone = SharedZone.default(settings)
        self.policies = policies
        self.max_rows = max_rows
        self.max_download_rows = max_download_rows
        self.max_sql_chars = max_sql_chars
        self.timeout_s = timeout_s
        self.log = QueryLog(settings.home / "portal" / "query_log.jsonl")
        self._cache: OrderedDict[tuple, pa.Table] = OrderedDict()
        self._cache_size = cache_tables
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}
        self._catalog_cache: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._engine = duckdb.connect(config=dict(_SANDBOX))

    # --- what a user may read --------------------------------------------------------------------------------

    def _catalog(self) -> dict[str, Any]:
        """The shared zone's catalog, parsed once per version of the file (a publication replaces it whole: a
        new inode on disk, a new ETag on an object store), not once per request and dataset. Read only: callers
        copy what they change."""
        key = self.zone.catalog_signature()
        if key is None:
            return self.zone.catalog()
        with self._lock:
            if self._catalog_cache is not None and self._catalog_cache[0] == key:
                return self._catalog_cache[1]
        catalog = self.zone.catalog()
        with self._lock:
            self._catalog_cache = (key, catalog)
        return catalog

    def catalog(self, user: User) -> dict[str, dict[str, Any]]:
        """The catalog entries of the published datasets the user may read, each schema column marked masked."""
        out = {}
        for name, entry in self._catalog()["datasets"].items():
            rule = user.rule(name)
            if rule is None or not entry.get("current"):
                continue
            hidden = set(rule.mask) | self.policies.never
            schema = [{**column, "masked": column["name"] in hidden} for column in entry["current"]["schema"]]
            out[name] = {**entry, "current": {**entry["current"], "schema": schema},
                         "row_condition": rule.condition(user.attributes)}
        return out

    def _entry(self, user: User, dataset: str) -> dict[str, Any]:
        if user.rule(dataset) is None:
            raise Forbidden(f"角色「{user.role.title}」无权读取数据集 {dataset}")
        entry = self._catalog()["datasets"].get(dataset)
        if not entry or not entry.get("current"):
            raise Forbidden(f"数据集 {dataset} 尚未发布")
        return entry["current"]

    def table(self, user: User, dataset: str) -> tuple[pa.Table, str]:
        """The rows and columns of ``dataset`` the user may see (of its current version), and that version."""
        version = self._entry(user, dataset)
        rule = user.rule(dataset)
        condition = rule.condition(user.attributes)
        hidden = set(rule.mask) | self.policies.never
        key = (dataset, version["version"], user.role.name, condition, tuple(sorted(hidden)))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key], version["version"]
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one build per key, however many callers wait for it
            with self._lock:
                if key in self._cache:
                    return self._cache[key], version["version"]
            full = self.zone.read(version)
            if full is None:
                raise Forbidden(f"数据集 {dataset} 的版本 {version['version']} 已不可读")
            columns = ", ".join(
                f'cast(null as {field.type_sql}) as "{field.name}"' if field.name in hidden else f'"{field.name}"'
                for field in _fields(full))
            with duckdb.connect() as connection:
                connection.register("source", full)
                table = connection.sql(
                    f"select {columns} from source" + (f" where {condition}" if condition else "")).to_arrow_table()
            with self._lock:
                self._cache[key] = table
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
                self._building.pop(key, None)
        return table, version["version"]

    # --- queries ---------------------------------------------------------------------------------------------

    def query(self, user: User, sql: str, *, limit: int | None = None, offset: int = 0,
              action: str = "query", cap: int | None = None) -> QueryResult:
        """Run a caller's SQL over what the user may read; a page of at most the row cap. Logged either way."""
        began = time.monotonic()
        cap = cap or self.max_rows
        limit = min(max(1, limit or cap), cap)
        offset = max(0, offset)
        try:
            _, read = check_query(sql, set(user.role.datasets), max_chars=self.max_sql_chars)
            tables = {name: self.table(user, name) for name in sorted(read)}
            result = self._run(sql, tables, limit=limit, offset=offset)
        except (QueryRefused, Forbidden) as err:
            reason = err.reason if isinstance(err, QueryRefused) else str(err)
            self.log.write(user, action=action, sql=self._logged(sql), status="refused", rows=None,
                           ms=(time.monotonic() - began) * 1000, reason=reason)
            raise
        except duckdb.Error as err:
            reason = f"查询执行出错：{str(err).splitlines()[0][:300]}"
            self.log.write(user, action=action, sql=sql, status="error", rows=None,
                           ms=(time.monotonic() - began) * 1000, reason=reason)
            raise QueryRefused("execution_error", reason) from None
        self.log.write(user, action=action, sql=sql, status="ok", rows=result.table.num_rows,
                       ms=(time.monotonic() - began) * 1000, datasets=result.datasets)
        return result

    def _logged(self, sql: str) -> str:
        """The SQL as logged: an over-long one cut at the limit (the log is no place for megabytes of it)."""
        if len(sql) <= self.max_sql_chars:
            return sql
        return f"{sql[:self.max_sql_chars]}…（已截断，共 {len(sql)} 个字符）"

    def _run(self, sql: str, tables: dict[str, tuple[pa.Table, str]], *, limit: int, offset: int) -> QueryResult:
        with self._lock:
            connection = self._engine.cursor()
        try:
            for name, (table, _) in tables.items():
                connection.register(name, table)  # a temporary view of this connection's own
            timer = threading.Timer(self.timeout_s, connection.interrupt)
            timer.start()
            try:
                relation = connection.sql(
                    f"select * from ({sql.rstrip().rstrip(';')}\n) as q limit {limit + 1} offset {offset}")
                relation = _as_text_where_needed(relation)
                table = relation.to_arrow_table()
            except duckdb.InterruptException:
                raise QueryRefused("timeout", f"查询超过 {self.timeout_s:g} 秒，已中止") from None
            finally:
                timer.cancel()
        finally:
            connection.close()
        has_more = table.num_rows > limit
        return QueryResult(table.slice(0, limit), has_more, offset, limit,
                           {name: version for name, (_, version) in tables.items()})

    def download(self, user: User, dataset: str, *, limit: int | None = None, offset: int = 0) -> QueryResult:
        """A dataset as the user may see it, paged (the download cap, not the query's)."""
        return self.query(user, f'select * from "{dataset}"', limit=limit, offset=offset, action="download",
                          cap=self.max_download_rows)


# types no download format carries whole (Parquet and CSV have no intervals, unions or bit strings): given as text
_TEXT_TYPES = re.compile(r"\b(INTERVAL|UNION|BIT)\b")


def _as_text_where_needed(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The result with the columns of types no format carries cast to text (DuckDB's own rendering)."""
    types = [str(kind) for kind in relation.types]
    if not any(_TEXT_TYPES.search(kind) for kind in types):
        return relation
    columns = ", ".join(
        (f"cast(#{index} as varchar)" if _TEXT_TYPES.search(kind) else f"#{index}")
        + ' as "' + name.replace('"', '""') + '"'
        for index, (name, kind) in enumerate(zip(relation.columns, types, strict=True), start=1))
    return relation.query("result", f"select {columns} from result")


@dataclass
class _Field:
    name: str
    type_sql: str


def _fields(table: pa.Table) -> list[_Field]:
    """The table's columns with their DuckDB types (for a masked column's empty cast)."""
    with duckdb.connect() as connection:
        connection.register("t", table.slice(0, 0))
        return [_Field(name, str(kind)) for name, kind in connection.execute(
            "select column_name, column_type from (describe t)").fetchall()]
