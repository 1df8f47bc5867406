"""The dbt project built on Spark (dbt-spark's session method, a local SparkSession in this process) from the same
models and the same raw Parquet as the DuckDB warehouse gives the same marts, row for row (issue 9).

The Spark build runs once per session on the test district's lake (``lake_home``), seeds and models only: the unit
tests are DuckDB's, and the data tests, which pass on Spark too (dbt_project/README.md, "Spark"), would add two
minutes to what this comparison checks more strictly. Its marts are read from the Parquet files Spark wrote and
compared with the DuckDB build's (``built``): the same columns in the same order, the same number of rows, and, row
by row by the mart's key, equal values. Instants compare as instants; doubles within a
relative 1e-9 or an absolute 1e-6 (DuckDB and Spark turn instants into seconds and sum in orders of their own: the
last bits differ); everything else exactly.

Every mart of the project is compared (``MARTS``: all eleven, each with its key).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from gridlake.settings import Settings

pytestmark = pytest.mark.slow

# Every mart and its key (the column its `unique` test holds to).
MARTS = {
    "hotline_requests": "request_id",
    "hotline_kpi_daily": "unit_day_key",
    "hotline_kpi_monthly": "unit_month_key",
    "grid_case_lifecycle": "case_id",
    "enterprise_profile": "uscc",
    "iot_domain_daily": "domain_day_key",
    "hotspots_monthly": "hotspot_key",
    "seasonal_patterns": "seasonal_pattern_key",
    "city_events": "event_id",
    "problem_ledger": "ledger_key",
    "responsibility_chain": "chain_party_key",
}
RELATIVE_TOLERANCE = 1e-9
# Instants become doubles of seconds since 1970 (epoch), exact to one unit in the last place there, 2.4e-7 s; durations
# taken from them agree within a microsecond
ABSOLUTE_TOLERANCE = 1e-6


@pytest.fixture(scope="session")
def spark_built(settings: Settings) -> Iterator[Path]:
    """The Spark build of the whole project (seeds and models) on the test district's lake; the folder of Spark's
    tables (its warehouse directory, one folder of Parquet files per table). The SparkSession dbt started in this
    process is stopped afterwards, its JVM with it."""
    from gridlake.transform import SPARK_TARGET, paths, run_dbt

    try:
        run_dbt(["build", "--exclude", "resource_type:test", "resource_type:unit_test"], settings=settings,
                target=SPARK_TARGET)
        yield paths(settings).spark / "warehouse"
    finally:
        _stop_spark()


def _stop_spark() -> None:
    """Stop the process's SparkContext and close its Py4J gateway now, while logging still works (left to the
    interpreter's exit, Py4J logs into pytest's closed streams)."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is not None:
        context.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        SparkContext._gateway = None
        SparkContext._jvm = None


def _normalised(value: Any) -> Any:
    """A value as it is compared: instants in UTC, lists and structs element by element."""
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"a naive timestamp {value}: an instant is expected"
        return value.astimezone(timezone.utc)
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    if isinstance(value, dict):
        return {name: _normalised(item) for name, item in value.items()}
    return value


def _equal(spark: Any, expected: Any) -> bool:
    """Equal values; doubles within RELATIVE_TOLERANCE (an integer and a double of the same value are equal)."""
    if isinstance(spark, float) or isinstance(expected, float):
        if spark is None or expected is None:
            return spark is expected
        return math.isclose(spark, expected, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE) or (
            math.isnan(spark) and math.isnan(expected))
    if isinstance(spark, list) and isinstance(expected, list):
        return len(spark) == len(expected) and all(map(_equal, spark, expected))
    if isinstance(spark, dict) and isinstance(expected, dict):
        return spark.keys() == expected.keys() and all(_equal(spark[name], expected[name]) for name in spark)
    if type(spark) is not type(expected) and not any(isinstance(value, bool) for value in (spark, expected)):
        return isinstance(spark, int) and isinstance(expected, int) and spark == expected
    return type(spark) is type(expected) and spark == expected


def _table(connection: duckdb.DuckDBPyConnection, relation: str, key: str) -> tuple[list[str], list[tuple]]:
    cursor = connection.execute(f"select * from {relation} order by {key}")
    columns = [column[0] for column in cursor.description]
    return columns, [tuple(_normalised(value) for value in row) for row in cursor.fetchall()]


def compare_mart(duckdb_warehouse: duckdb.DuckDBPyConnection, spark_tables: Path, mart: str) -> list[str]:
    """How the mart built on Spark differs from the DuckDB build's (empty when equal): columns, row count, and up to
    five differing rows with the columns that differ."""
    key = MARTS[mart]
    expected_columns, expected = _table(duckdb_warehouse, f"marts.{mart}", key)
    files = spark_tables / "marts.db" / mart
    reader = duckdb.connect()
    try:
        reader.execute("set TimeZone = 'Asia/Shanghai'")
        columns, rows = _table(reader, f"read_parquet('{files}/*.parquet')", key)
    finally:
        reader.close()
    if columns != expected_columns:
        return [f"columns: Spark {columns}, DuckDB {expected_columns}"]
    problems = []
    if len(rows) != len(expected):
        problems.append(f"rows: Spark {len(rows)}, DuckDB {len(expected)}")
    position = columns.index(key)
    keys = [row[position] for row in expected]
    assert len(set(keys)) == len(keys), f"{mart}: the key {key} is not unique in the DuckDB build"
    by_key = {row[position]: row for row in rows}
    for row in expected:
        other = by_key.get(row[position])
        if other is None:
            problems.append(f"{key}={row[position]!r}: missing on Spark")
        elif not _equal(list(other), list(row)):
            differ = {name: (mine, theirs) for name, mine, theirs in zip(columns, other, row)
                      if not _equal(mine, theirs)}
            problems.append(f"{key}={row[position]!r}: (Spark, DuckDB) {differ}")
        if len(problems) >= 6:
            break
    extra = set(by_key) - set(keys)
    if extra:
        problems.append(f"{len(extra)} keys only on Spark, e.g. {sorted(map(str, extra))[:3]}")
    return problems


@pytest.mark.parametrize("mart", list(MARTS))
def test_spark_mart_equals_duckdb(built: duckdb.DuckDBPyConnection, spark_built: Path, mart: str) -> None:
    assert compare_mart(built, spark_built, mart) == []


def test_spark_marts_are_not_empty(built: duckdb.DuckDBPyConnection, spark_built: Path) -> None:
    """The comparison means something: every mart has rows."""
    for mart in MARTS:
        (count,) = built.execute(f"select count(*) from marts.{mart}").fetchone()
        assert count > 0, mart

