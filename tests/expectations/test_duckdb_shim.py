"""The one shim between GX 1.24 and DuckDB (expectations/_duckdb_shim.py), and the GX behaviour it patches.

If GX changes, these tests fail: either GX's list of persisted-connection dialects is gone or renamed (the shim
would do nothing), or GX reads a DuckDB metric right without it (the shim can go).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from expectations import _duckdb_shim


@pytest.fixture
def database() -> Iterator[str]:
    """A named in-memory DuckDB database with a table of three rows, kept alive by one open connection."""
    url = f"duckdb:///:memory:shim_{uuid.uuid4().hex}"
    engine = sa.create_engine(url)
    keeper = engine.connect()
    keeper.execute(sa.text("create table numbers as select * from range(3) as t(n)"))
    keeper.commit()
    yield url
    keeper.close()
    engine.dispose()


def _count(url: str) -> list[tuple]:
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    engine = SqlAlchemyExecutionEngine(connection_string=url)
    try:
        return [tuple(row) for row in engine.execute_query(sa.text("select count(*) from numbers")).fetchall()]
    finally:
        engine.close()


def test_without_the_shim_gx_reads_duckdb_results_as_empty(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from great_expectations.execution_engine import sqlalchemy_execution_engine as module

    original = tuple(dialect for dialect in module._PERSISTED_CONNECTION_DIALECTS if dialect != "duckdb")
    monkeypatch.setattr(module, "_PERSISTED_CONNECTION_DIALECTS", original)
    assert not _duckdb_shim.is_installed()

    # GX closes the connection before the rows are fetched: DuckDB's result is gone. When this starts to
    # return [(3,)], GX has fixed it and the shim can be removed.
    assert _count(database) == []


def test_with_the_shim_gx_keeps_one_connection_and_reads_the_rows(database: str) -> None:
    _duckdb_shim.install()
    _duckdb_shim.install()  # idempotent

    from great_expectations.execution_engine import sqlalchemy_execution_engine as module

    assert _duckdb_shim.is_installed()
    assert sum(1 for dialect in module._PERSISTED_CONNECTION_DIALECTS if dialect == "duckdb") == 1
    assert module._dialect_requires_persisted_connection(connection_string="duckdb:///:memory:x")
    assert _count(database) == [(3,)]


def test_a_failed_query_does_not_poison_the_kept_connection(database: str) -> None:
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    _duckdb_shim.install()
    engine = SqlAlchemyExecutionEngine(connection_string=database)
    try:
        _duckdb_shim.recover_after_errors(engine.engine)
        with pytest.raises(sa.exc.DBAPIError):
            engine.execute_query(sa.text("select no_such_column from numbers")).fetchall()
        with pytest.raises(sa.exc.DBAPIError):
            engine.execute_query(sa.text("select no_such_column from numbers")).fetchall()
        assert engine.execute_query(sa.text("select sum(n) from numbers")).fetchall() == [(3,)]
    finally:
        engine.close()
