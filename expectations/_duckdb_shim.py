"""The one compatibility shim between Great Expectations 1.24 and DuckDB (through duckdb-engine).

GX's SQL execution engine runs a metric query on a connection it closes before the rows are fetched; for most
servers the rows are already buffered, but a DuckDB connection handed back to its pool is rolled back and its
result set comes out empty, so every metric reads as "no rows". GX keeps one open connection (a static pool) only
for the dialects it lists as needing a persisted connection (SQLite, SQL Server, ...). Listing DuckDB there is
the whole fix: the gate's candidates are views in one in-memory DuckDB database, and one kept connection is
what we want anyway.

On that one kept connection a failed query (a check whose SQL names a column the candidate lacks) leaves
DuckDB's transaction aborted, and GX recovers only from SQLAlchemy's own pending-rollback state: every later
check would fail too. ``recover_after_errors`` rolls the connection back when a statement fails, so one broken
check fails alone.

tests/expectations/test_duckdb_shim.py fails when GX's behaviour changes (the list moves or is renamed, or DuckDB
works without it), so the shim can be dropped or mended then rather than silently doing nothing.
"""

from __future__ import annotations

__all__ = ["DUCKDB", "install", "is_installed", "recover_after_errors"]

DUCKDB = "duckdb"


class _DialectName(str):
    """A dialect name as GX's list holds them: compared as a string, with the enum's ``value`` too."""

    @property
    def value(self) -> str:
        return str(self)


def _engine_module():
    from great_expectations.execution_engine import sqlalchemy_execution_engine

    return sqlalchemy_execution_engine


def is_installed() -> bool:
    """Whether GX treats DuckDB as a dialect that needs one persisted connection."""
    return DUCKDB in _engine_module()._PERSISTED_CONNECTION_DIALECTS


def install() -> None:
    """Make GX keep one connection for DuckDB, as it does for SQLite. Idempotent."""
    module = _engine_module()
    dialects = getattr(module, "_PERSISTED_CONNECTION_DIALECTS", None)
    if dialects is None:
        raise RuntimeError(
            "great_expectations.execution_engine.sqlalchemy_execution_engine has no _PERSISTED_CONNECTION_DIALECTS: "
            "GX changed; see expectations/_duckdb_shim.py"
        )
    if DUCKDB not in dialects:
        module._PERSISTED_CONNECTION_DIALECTS = (*dialects, _DialectName(DUCKDB))


def _roll_back(context) -> None:
    connection = context.connection
    if connection is None or connection.closed:
        return
    try:
        connection.connection.dbapi_connection.rollback()
    except Exception:  # noqa: BLE001 - no transaction to roll back: the connection is usable as it is
        pass


def recover_after_errors(engine) -> None:
    """Roll a DuckDB engine's connection back whenever a statement on it fails (see above). Idempotent."""
    import sqlalchemy as sa

    if engine.dialect.name == DUCKDB and not sa.event.contains(engine, "handle_error", _roll_back):
        sa.event.listen(engine, "handle_error", _roll_back)
