"""What a caller's SQL may be: one read-only query over the datasets its role may read, parsed (sqlglot, DuckDB's
dialect), never matched as text. Anything else is refused with the reason, before it reaches the engine:
more than one statement, a statement that is not a query (COPY, PRAGMA, ATTACH, SET, INSERT, CREATE, ...), a table
that is not a dataset the role may read (another dataset, a schema-qualified name, a file path written as a table),
a table function or a function that reaches files, settings or the catalog (read_parquet, glob, duckdb_settings,
getenv, ...), or a text longer than the limit. Comments are no trick: the parser reads through them.

The engine runs in a sandbox too (portal/access.py: no file system, no extensions, settings locked), so a query
the parser let through still cannot reach a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

__all__ = ["QueryRefused", "check_query"]

# functions that read files or reach the engine's catalog, settings or environment
_FORBIDDEN_FUNCTION = re.compile(
    r"^(read_\w*|\w*_scan|parquet_\w*|glob|query|query_table|sniff_csv|duckdb_\w*|pragma_\w*|getenv|getvariable|"
    r"current_setting|iceberg_\w*|delta_\w*|sqlite_\w*|postgres_\w*|mysql_\w*|load_\w*|install_\w*|"
    r"which_secret|json_execute_serialized_sql|\w*_serialize\w*|enable_\w*|disable_\w*|checkpoint|force_checkpoint|"
    r"test_all_types|range|generate_series|arrow_scan\w*)$", re.IGNORECASE)  # range: rows made from nothing
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Copy, exp.Command,
           exp.Pragma, exp.Set, exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Describe, exp.Summarize)


@dataclass
class QueryRefused(Exception):
    """A query the service will not run: ``reason`` is what the caller is told (Chinese), ``code`` a stable name."""

    code: str
    reason: str

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    return node.sql_name()


def check_query(sql: str, allowed: set[str], *, max_chars: int) -> tuple[exp.Expression, set[str]]:
    """The parsed query and the datasets it reads; QueryRefused when it may not run."""
    if len(sql) > max_chars:
        raise QueryRefused("too_long", f"查询过长（{len(sql)} 个字符，上限 {max_chars}）")
    try:
        parsed = sqlglot.parse(sql, read="duckdb")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as err:
        raise QueryRefused("unparsable", f"无法解析的 SQL：{str(err).splitlines()[0][:200]}") from None
    # an empty statement (";select 1") counts: the engine must run the one statement that was checked, alone
    statements = [statement for statement in parsed if statement is not None]
    if not statements:
        raise QueryRefused("empty", "没有查询语句")
    if len(parsed) > 1:
        raise QueryRefused("several_statements", f"只允许一条查询语句（收到 {len(parsed)} 条，含空语句）"
                           if len(statements) < len(parsed) else f"只允许一条查询语句（收到 {len(parsed)} 条）")
    query = statements[0]
    if not isinstance(query, exp.Query) or isinstance(query, exp.Values):
        raise QueryRefused("not_a_query", f"只允许只读的 SELECT 查询，不允许 {query.key.upper()} 语句")
    for node in query.walk():
        if isinstance(node, _WRITES):
            raise QueryRefused("not_a_query", f"查询中不允许 {node.key.upper()}")
        if isinstance(node, exp.Func) and _FORBIDDEN_FUNCTION.match(_function_name(node)):
            raise QueryRefused("forbidden_function", f"不允许调用函数 {_function_name(node).lower()}")
    read: set[str] = set()
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise QueryRefused("table_function", f"不允许在 FROM 中调用表函数：{table.this.sql(dialect='duckdb')[:80]}")
        if table.args.get("db") or table.args.get("catalog"):
            raise QueryRefused("qualified_name", f"不允许指定库名或模式名：{table.sql(dialect='duckdb')}")
        if _names_cte_in_scope(table):
            continue
        name = table.name.lower()  # DuckDB's names are case-insensitive, quoted or not
        if name not in allowed:
            raise QueryRefused("dataset_not_allowed", f"无权读取 {table.name!r}：当前角色可读的数据集为 "
                                                      f"{', '.join(sorted(allowed)) or '（无）'}")
        read.add(name)
    return query, read


def _names_cte_in_scope(table: exp.Table) -> bool:
    """Whether an (unquoted) table name refers to a CTE where it stands: one of the WITH clauses of its query or
    of a query around it, or, inside a WITH list, a CTE before its own (any of them in WITH RECURSIVE). A name
    that matches a CTE out of its scope is a dataset like any other, checked before the engine sees it."""
    if table.this.quoted:
        return False
    name = table.name.lower()
    child, parent = table, table.parent
    while parent is not None:
        if isinstance(parent, exp.With):  # child: one of its CTEs
            ctes = parent.expressions
            visible = ctes if parent.args.get("recursive") else ctes[:next(
                index for index, cte in enumerate(ctes) if cte is child)]
        else:
            clause = parent.args.get("with_") or parent.args.get("with")
            visible = clause.expressions if isinstance(clause, exp.With) and clause is not child else []
        if any(cte.alias_or_name.lower() == name for cte in visible):
            return True
        child, parent = parent, parent.parent
    return False
