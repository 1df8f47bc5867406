"""A dbt-duckdb plugin that lets the warehouse's DuckDB read the lake where the store keeps it: for a lake on an
object store it registers the store's fsspec filesystem (s3fs, with the credentials of the store's Airflow
connection) on dbt's connection, so the sources' ``read_parquet('s3://...')`` read the same files as every other
reader of the lake, through the same layer. For a lake on disk it does nothing.

The profile names it (``plugins: [{module: gridlake.dbt_storage, config: {lake: ...}}]``); credentials never pass
through the profile or dbt's environment.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from gridlake.storage import Store

__all__ = ["Plugin"]


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        lake = str(plugin_config.get("lake") or "")
        self._store = Store(lake) if lake and "://" in lake else None

    def configure_connection(self, conn: Any) -> None:
        if self._store is not None:
            self._store.register(conn)
