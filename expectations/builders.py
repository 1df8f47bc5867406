"""Builders of the checks every shared dataset shares, and of the kinds its own rules are made of.

A check is a GX expectation (by class name and arguments, built when the gate runs) with a Chinese title, the
reason given when it fails and the SQL of its failing rows (for the sample). Row rules that GX has no built-in
expectation for are ``UnexpectedRowsExpectation``s: set-based SQL against the candidate's view (``{batch}``) and,
for cross-dataset rules, the views of the datasets it reads, named as the datasets are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from expectations.personal import ID_NUMBER_PATTERN, NAME_PATTERN, PHONE_PATTERN, vocabulary
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = [
    "BEIJING",
    "between",
    "common",
    "freshness",
    "ident",
    "ids_in",
    "in_set",
    "keys",
    "literal",
    "local_date",
    "no_future",
    "not_null",
    "personal_data",
    "row_count_band",
    "rows",
    "select_keys",
]

BEIJING = ZoneInfo("Asia/Shanghai")
_STRING_TYPES = ("VARCHAR",)


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL literal of a Python value (strings, numbers, dates and aware datetimes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"timestamptz '{value.isoformat()}'"
    if isinstance(value, date):
        return f"date '{value.isoformat()}'"
    text = str(value).replace("'", "''")
    return f"'{text}'"


def _braces(sql: str) -> str:
    """Literal braces in SQL, escaped for GX's ``str.format`` of ``{batch}``."""
    return sql.replace("{", "{{").replace("}", "}}")


def local_date(moment: datetime) -> date:
    """The Beijing date of an instant."""
    return moment.astimezone(BEIJING).date()


def select_keys(spec: DatasetSpec, *columns: str, alias: str = "") -> str:
    """The key columns and the given ones, as a select list (the sample's columns)."""
    prefix = f"{alias}." if alias else ""
    names = [*spec.key, *(column for column in columns if column not in spec.key)]
    return ", ".join(prefix + ident(name) for name in names)


def rows(name: str, sql: str, *, title: str, failure: str, column: str | None = None,
         reads: Sequence[str] = ()) -> Check:
    """A rule as the SQL of the rows that break it (``{batch}`` the candidate's view): it holds when none does."""
    return Check(
        name=name, expectation="UnexpectedRowsExpectation", kwargs={"unexpected_rows_query": sql}, column=column,
        title=title, failure=failure, sample_sql=sql, reads=tuple(reads),
    )


def ids_in(spec: DatasetSpec, column: str, dataset: str, key: str, *, many: bool = True,
           where: str | None = None) -> Check:
    """Every id a column names (``many``: a list column, every element) is a row of another shared dataset."""
    ids = f"unnest({ident(column)})" if many else ident(column)
    condition = f" where {where}" if where else ""
    sql = (f"select {select_keys(spec)}, named.id as {ident(column)} from (select {select_keys(spec)}, {ids} as id "
           f"from {{batch}}{condition}) as named anti join {ident(dataset)} as other on other.{ident(key)} = named.id "
           f"where named.id is not null")
    return rows(f"ids_in:{column}", sql, reads=(dataset,), column=column,
                title=f"{column} 所指的每一项都在 {dataset}.{key} 中",
                failure=f"{column} 指向 {dataset} 中不存在的记录：{{n}} 处")


def keys(spec: DatasetSpec) -> list[Check]:
    """The grain's key: unique (as a whole, for a compound key) and never null."""
    shown = ", ".join(spec.key)
    if len(spec.key) == 1:
        (key,) = spec.key
        unique = Check(
            name="key_unique", expectation="ExpectColumnValuesToBeUnique", kwargs={"column": key}, column=key,
            title=f"主键唯一 ({shown})", failure=f"主键重复：{{n}} 行 ({shown})",
            sample_sql=_duplicates(spec),
        )
    else:
        unique = Check(
            name="key_unique", expectation="ExpectCompoundColumnsToBeUnique", kwargs={"column_list": list(spec.key)},
            column=None, title=f"主键唯一 ({shown})", failure=f"主键重复：{{n}} 行 ({shown})",
            sample_sql=_duplicates(spec),
        )
    return [unique, *(not_null(spec, key, label="主键") for key in spec.key)]


def _duplicates(spec: DatasetSpec) -> str:
    columns = ", ".join(ident(name) for name in spec.key)
    return (f"select {select_keys(spec)}, copies from (select {select_keys(spec)}, count(*) over "
            f"(partition by {columns}) as copies from {{batch}}) where copies > 1 order by {columns}")


def not_null(spec: DatasetSpec, column: str, *, label: str = "必填列", name: str | None = None) -> Check:
    """A column that is never null."""
    return Check(
        name=name or f"{'key_not_null' if label == '主键' else 'not_null'}:{column}",
        expectation="ExpectColumnValuesToNotBeNull", kwargs={"column": column}, column=column,
        title=f"{label}不为空 ({column})", failure=f"{label}为空：{{n}} 行 ({column})",
        sample_sql=f"select {select_keys(spec, column)} from {{batch}} where {ident(column)} is null",
    )


def in_set(spec: DatasetSpec, column: str, values: Iterable[str], *, list_name: str, name: str | None = None,
           where: str | None = None) -> Check:
    """A code column whose values (nulls aside) come from a list; ``where`` limits it to some rows."""
    values = sorted(set(values))
    listed = ", ".join(literal(value) for value in values)
    condition = f"{ident(column)} is not null and {ident(column)} not in ({listed})"
    check_name = name or f"in_reference:{column}"
    title = f"{column} 属于{list_name}"
    failure = f"{column} 不在{list_name}中：{{n}} 行"
    if where is None:
        return Check(
            name=check_name, expectation="ExpectColumnValuesToBeInSet", kwargs={"column": column, "value_set": values},
            column=column, title=title, failure=failure,
            sample_sql=f"select {select_keys(spec, column)} from {{batch}} where {condition}",
        )
    return rows(check_name, f"select {select_keys(spec, column)} from {{batch}} where ({where}) and {condition}",
                title=f"{title}（{where}）", failure=failure, column=column)


def between(spec: DatasetSpec, column: str, *, min_value: float | None = None, max_value: float | None = None,
            name: str | None = None, label: str | None = None) -> Check:
    """A numeric column within bounds (nulls aside)."""
    bounds = {key: value for key, value in (("min_value", min_value), ("max_value", max_value)) if value is not None}
    conditions = []
    if min_value is not None:
        conditions.append(f"{ident(column)} < {literal(min_value)}")
    if max_value is not None:
        conditions.append(f"{ident(column)} > {literal(max_value)}")
    shown = (f"{min_value}..{max_value}" if min_value is not None and max_value is not None
             else f">= {min_value}" if min_value is not None else f"<= {max_value}")
    what = label or column
    return Check(
        name=name or f"between:{column}", expectation="ExpectColumnValuesToBeBetween",
        kwargs={"column": column, **bounds},
        column=column, title=f"{what} 在 {shown} 之内", failure=f"{what} 超出 {shown}：{{n}} 行",
        sample_sql=f"select {select_keys(spec, column)} from {{batch}} where {' or '.join(conditions)}",
    )


def no_future(spec: DatasetSpec, column: str, column_type: str, context: GateContext) -> Check:
    """A time column with no value after the run's now (a date column: after now's Beijing date)."""
    limit: date | datetime = local_date(context.now) if column_type == "DATE" else context.now
    shown = limit.isoformat() if isinstance(limit, date) and not isinstance(limit, datetime) else _beijing(limit)
    return Check(
        name=f"no_future:{column}", expectation="ExpectColumnValuesToBeBetween",
        kwargs={"column": column, "max_value": limit}, column=column,
        title=f"{column} 不晚于当前时间 {shown}", failure=f"{column} 晚于当前时间 {shown}：{{n}} 行",
        sample_sql=f"select {select_keys(spec, column)} from {{batch}} where {ident(column)} > {literal(limit)}",
    )


def row_count_band(spec: DatasetSpec, context: GateContext) -> Check:
    """The row count within the band of the current published version's (skipped the first time)."""
    band = context.settings.publish.row_count_band
    previous = context.previous_rows.get(spec.name)
    if previous is None:
        return Check(
            name="row_count_band", expectation="ExpectTableRowCountToBeBetween", kwargs={}, column=None,
            title=f"行数在上一版本的 ±{band:.0%} 之内", failure="", skipped="首次发布，没有上一版本可比",
        )
    low, high = math.floor(previous * (1 - band)), math.ceil(previous * (1 + band))
    return Check(
        name="row_count_band", expectation="ExpectTableRowCountToBeBetween",
        kwargs={"min_value": low, "max_value": high}, column=None,
        title=f"行数在上一版本 {previous} 行的 ±{band:.0%} 之内（{low}–{high}）",
        failure=f"行数 {{observed}} 超出上一版本 {previous} 行的 ±{band:.0%}（{low}–{high}）",
    )


def freshness(spec: DatasetSpec, column_type: str | None, context: GateContext) -> Check | None:
    """The newest value of the freshness column no older than the newest raw data less the lag."""
    column = spec.freshness_column
    if column is None:
        return None
    lag = context.settings.publish.freshness_lag
    if context.newest_raw_at is None:
        return Check(
            name=f"freshness:{column}", expectation="ExpectColumnMaxToBeBetween", kwargs={}, column=column,
            title=f"{column} 的最新值不早于最新原始数据减 {_lag(lag)}", failure="",
            skipped="本次运行未提供最新原始数据时间",
        )
    threshold: date | datetime = context.newest_raw_at - lag
    shown = _beijing(threshold)
    if column_type == "DATE":
        threshold = local_date(threshold)
        shown = threshold.isoformat()
    return Check(
        name=f"freshness:{column}", expectation="ExpectColumnMaxToBeBetween",
        kwargs={"column": column, "min_value": threshold}, column=column,
        title=f"{column} 的最新值不早于 {shown}（最新原始数据 {_beijing(context.newest_raw_at)} 减 {_lag(lag)}）",
        failure=(f"数据不够新：{column} 最新为 {{observed}}，应不早于 {shown}"
                 f"（最新原始数据 {_beijing(context.newest_raw_at)} 减 {_lag(lag)}）"),
    )


def personal_data(spec: DatasetSpec, columns: Mapping[str, str]) -> list[Check]:
    """No mobile number, resident id number or person's name in any string column or list of strings."""
    scalar = [name for name, kind in columns.items() if kind in _STRING_TYPES]
    lists = [name for name, kind in columns.items() if kind in tuple(f"{t}[]" for t in _STRING_TYPES)]
    words = sorted(vocabulary())
    name_condition = f"regexp_matches(trim(value), '{_braces(NAME_PATTERN)}')"
    if words:
        name_condition += f" and trim(value) not in ({_braces(', '.join(literal(word) for word in words))})"
    kinds = (
        ("no_phone_numbers", f"regexp_matches(value, '{_braces(PHONE_PATTERN)}')", "手机号码"),
        ("no_id_numbers", f"regexp_matches(value, '{_braces(ID_NUMBER_PATTERN)}')", "身份证号码"),
        ("no_person_names", name_condition, "人名"),
    )
    keys_sql = select_keys(spec)
    checks = []
    for name, condition, label in kinds:
        parts = [
            f"select {keys_sql}, {literal(column)} as column_name, value from "
            f"(select {keys_sql}, {ident(column)} as value from {{batch}}) where {condition}"
            for column in scalar
        ] + [
            f"select {keys_sql}, {literal(column)} as column_name, value from "
            f"(select {keys_sql}, unnest({ident(column)}) as value from {{batch}}) where {condition}"
            for column in lists
        ]
        if not parts:
            continue
        checks.append(rows(name, "\nunion all\n".join(parts), title=f"任何文本列都不含{label}",
                           failure=f"含有{label}（个人信息）：{{n}} 处"))
    return checks


def common(spec: DatasetSpec, context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    """The checks every shared dataset gets: key, no future times, row count, freshness, no personal data."""
    checks = keys(spec)
    checks += [no_future(spec, column, columns.get(column, ""), context) for column in spec.time_columns]
    checks.append(row_count_band(spec, context))
    fresh = freshness(spec, columns.get(spec.freshness_column or ""), context)
    if fresh is not None:
        checks.append(fresh)
    checks += personal_data(spec, columns)
    return checks


def _beijing(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _lag(lag: timedelta) -> str:
    hours = lag.total_seconds() / 3600
    return f"{hours / 24:g} 天" if hours % 24 == 0 else f"{hours:g} 小时"
