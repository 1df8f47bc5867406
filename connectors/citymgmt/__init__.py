"""The city-management fusion platform (城市管理融合平台) and grid platform: a PostgreSQL replica, via ADBC."""

from __future__ import annotations

from connectors.citymgmt.load import (
    CONN_ID,
    DEFAULT_BATCH_ROWS,
    CitymgmtError,
    ColumnsChanged,
    RetryPolicy,
    load_all,
    load_table,
)
from connectors.citymgmt.rules import REASONS
from connectors.citymgmt.schema import PLATFORM, TABLES, SourceTable

__all__ = [
    "CONN_ID",
    "DEFAULT_BATCH_ROWS",
    "PLATFORM",
    "REASONS",
    "TABLES",
    "CitymgmtError",
    "ColumnsChanged",
    "RetryPolicy",
    "SourceTable",
    "load_all",
    "load_table",
]
