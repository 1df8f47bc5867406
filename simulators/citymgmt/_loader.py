"""Bulk loading: chunks of row versions split into what is visible at the end and the hidden future, then
written as CSV and sent with COPY from a background thread (generation of the next chunk overlaps it).

Everything is loaded in one transaction that also creates the tables: with ``wal_level = minimal``
PostgreSQL then skips the write-ahead log for the COPY.
"""

from __future__ import annotations

import io
import queue
import threading
from collections import defaultdict
from types import TracebackType
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from simulators.citymgmt._util import NULL_TS, segmented_cummax, ts_array
from simulators.citymgmt.schema import SIM_SCHEMA, Table, create_tables

__all__ = ["Loader"]

_STOP = object()


def _arrow(column: Any, sql_type: str) -> pa.Array:
    if isinstance(column, (pa.Array, pa.ChunkedArray)):
        return column
    array = np.asarray(column)
    if sql_type == "timestamptz":
        return ts_array(array)
    if array.dtype == object or array.dtype.kind == "U":
        return pa.array(array, type=pa.string(), from_pandas=True)
    return pa.array(array)


class Loader:
    """Collects row versions per table and loads them; ``end_us``: the clock's first "now"."""

    def __init__(self, conninfo: str, *, end_us: int, max_pending: int = 6) -> None:
        self._conninfo = conninfo
        self._end = end_us
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="citymgmt-loader", daemon=True)
        self.rows_at_end: dict[str, int] = defaultdict(int)
        self.rows_total: dict[str, int] = defaultdict(int)
        self.versions_hidden: dict[str, int] = defaultdict(int)
        self._ready = threading.Event()

    def __enter__(self) -> Loader:
        self._thread.start()
        self._ready.wait()
        self._raise_if_failed()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._queue.put(_STOP if exc is None else None)
        self._thread.join()
        if exc is None:
            self._raise_if_failed()

    def add(self, t: Table, columns: dict[str, Any], *, visible_at: np.ndarray) -> None:
        """Row versions of ``t`` (all versions of a key in one call): the latest visible version of each key
        goes to the platform table, later versions to ``_sim`` with their ``visible_at``."""
        self._raise_if_failed()
        n = len(visible_at)
        if n == 0:
            return
        missing = [c.name for c in t.columns if c.name not in columns and c.name != "deleted_at"]
        if missing:
            raise ValueError(f"{t.qualified}: chunk lacks columns {missing}")
        pk = np.asarray(columns[t.pk])
        key = np.unique(pk, return_inverse=True)[1] if pk.dtype.kind in "OU" else pk
        updated = np.asarray(columns["updated_at"], dtype=np.int64)
        order = np.lexsort((updated, key))
        key_sorted = key[order]
        first = np.ones(n, dtype=bool)
        first[1:] = key_sorted[1:] != key_sorted[:-1]
        # A later version of a key is never visible before an earlier one (the row lock orders commits).
        visible = np.asarray(visible_at, dtype=np.int64)[order]
        if not first.all():
            visible = segmented_cummax(visible, first)
        now = visible <= self._end
        now_keys = key_sorted[now]
        keep = np.ones(len(now_keys), dtype=bool)
        keep[:-1] = now_keys[1:] != now_keys[:-1]
        public_idx = order[now][keep]
        future_idx = order[~now]
        self.rows_total[t.qualified] += int(first.sum())
        self.rows_at_end[t.qualified] += len(public_idx)
        self.versions_hidden[t.qualified] += len(future_idx)

        deleted = columns.get("deleted_at")
        arrays = []
        for column in t.columns:
            values = (
                np.full(n, NULL_TS, dtype=np.int64)
                if column.name == "deleted_at" and deleted is None
                else columns[column.name]
            )
            arrays.append(_arrow(values, column.sql_type))
        chunk = pa.Table.from_arrays(arrays, names=list(t.column_names))
        if len(public_idx):
            self._queue.put((t, False, chunk.take(pa.array(public_idx))))
        if len(future_idx):
            hidden = chunk.take(pa.array(future_idx)).append_column("visible_at", ts_array(visible[~now]))
            self._queue.put((t, True, hidden))

    # --- the loading thread ----------------------------------------------------------------------------

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"loading into PostgreSQL failed: {self._error}") from self._error

    def _work(self) -> None:
        try:
            with psycopg.connect(self._conninfo) as conn:
                create_tables(conn)
                self._ready.set()
                while True:
                    item = self._queue.get()
                    if item is _STOP:
                        conn.commit()
                        return
                    if item is None:
                        conn.rollback()
                        return
                    self._copy(conn, *item)
        except BaseException as err:  # handed to the generating thread, which raises it
            self._error = err
            self._ready.set()
            while True:  # drain, so that the producer never blocks on a full queue
                item = self._queue.get()
                if item is _STOP or item is None:
                    return

    @staticmethod
    def _copy(conn: psycopg.Connection, t: Table, hidden: bool, chunk: pa.Table) -> None:
        buffer = io.BytesIO()
        pacsv.write_csv(chunk, buffer)
        schema, name = (SIM_SCHEMA, t.sim_name) if hidden else (t.schema, t.name)
        statement = sql.SQL("copy {}.{} ({}) from stdin (format csv, header true)").format(
            sql.Identifier(schema),
            sql.Identifier(name),
            sql.SQL(", ").join(sql.Identifier(name) for name in chunk.column_names),
        )
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            view = buffer.getbuffer()
            step = 1 << 20
            for at in range(0, len(view), step):
                copy.write(view[at : at + step])
            del view
