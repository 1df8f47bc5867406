"""A versioned record store (SQLite) behind the HTTP simulators.

A platform's records change over time: each change is a version with the instant it becomes visible
(``visible_from``) and the ``updated`` time the platform serves (usually the same; the dirty "updated time
goes backwards" versions differ). At clock time T a record shows its version with
``visible_from <= T < visible_to``. Listings filter and order on ``updated``, as the platforms do.

Extra columns (filters a platform answers, e.g. a work order's status) sit beside the JSON body and can be
indexed. Times are integer microseconds since the epoch (simulators.clock.to_micros).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FOREVER", "VersionStore", "write_versions"]

FOREVER = 2**62
_BASE_COLUMNS = ("kind", "entity_id", "seq", "visible_from", "visible_to", "updated", "body")


def write_versions(path: Path, versions: pa.Table, *, indexes: Sequence[str] = ()) -> int:
    """Write all versions of a platform into a new store at ``path``; returns the number written.

    ``versions`` has kind, entity_id, visible_from, updated (int64 micros), body (JSON text) and any extra
    columns; ``seq`` and ``visible_to`` are derived here: versions of an entity in ``visible_from`` order.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    # a year of a platform's bodies passes 2 GiB of text: 64-bit offsets, or take() cannot gather them
    versions = versions.cast(pa.schema([
        field.with_type(pa.large_string()) if pa.types.is_string(field.type) else field for field in versions.schema
    ]))
    order = pc.sort_indices(versions, sort_keys=[("kind", "ascending"), ("entity_id", "ascending"),
                                                 ("visible_from", "ascending")])
    versions = versions.take(order)
    kind = versions["kind"].to_numpy(zero_copy_only=False)
    entity = versions["entity_id"].to_numpy(zero_copy_only=False)
    visible_from = versions["visible_from"].to_numpy()
    n = versions.num_rows
    same_next = np.zeros(n, dtype=bool)
    if n > 1:
        same_next[:-1] = (entity[1:] == entity[:-1]) & (kind[1:] == kind[:-1])
    visible_to = np.full(n, FOREVER, dtype=np.int64)
    visible_to[:-1] = np.where(same_next[:-1], visible_from[1:], FOREVER)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = ~same_next[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    seq = np.arange(n) - group_start + 1
    extras = [name for name in versions.column_names if name not in _BASE_COLUMNS]
    columns = list(_BASE_COLUMNS) + extras

    con = sqlite3.connect(path)
    try:
        ddl_extra = "".join(f", {name}" for name in extras)
        con.execute(
            "create table versions (kind text not null, entity_id text not null, seq integer not null,"
            " visible_from integer not null, visible_to integer not null, updated integer not null,"
            f" body text not null{ddl_extra})"
        )
        data: list[Iterable[Any]] = [kind, entity, seq.tolist(), visible_from.tolist(), visible_to.tolist(),
                                     versions["updated"].to_pylist(), versions["body"].to_pylist()]
        data += [versions[name].to_pylist() for name in extras]
        placeholders = ", ".join("?" for _ in columns)
        con.executemany(f"insert into versions values ({placeholders})", zip(*data))
        # A rowid table, not WITHOUT ROWID: the bodies are large (a work order is over 1 KB), which a clustered
        # primary key stores badly (2.7 times the size). The key is a unique index instead.
        con.execute("create unique index versions_key on versions (kind, entity_id, seq)")
        # pages in (updated, id) order; with the visibility columns in it too, the count of a filter on `updated`
        # (X-Total-Count, asked for with every page) reads the index alone, not every row's 1 KB body: a year's
        # backfill pages through two million versions, and the count of each page was the platform's slowest part
        con.execute("create index versions_updated on versions (kind, updated, entity_id, visible_from, visible_to)")
        for name in indexes:
            con.execute(f"create index versions_{name} on versions (kind, {name})")
        con.commit()
    finally:
        con.close()
    return n


class VersionStore:
    """Read access to a store, one SQLite connection per thread (the servers answer from a thread pool)."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(f"no version store at {path}: generate the dataset first")
        self.path = path
        self._local = threading.local()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            con.row_factory = sqlite3.Row
            self._local.con = con
        return con

    def query(self, sql: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        return self._con().execute(sql, params).fetchall()

    def current(
        self,
        kind: str,
        *,
        at: int,
        where: str = "",
        params: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        columns: str = "*",
    ) -> list[sqlite3.Row]:
        """The versions of ``kind`` visible at ``at``, filtered by ``where``, ordered by (updated, id)."""
        sql = (f"select {columns} from versions where kind = :kind and visible_from <= :at and visible_to > :at"
               + (f" and ({where})" if where else "") + " order by updated, entity_id")
        if limit is not None:
            sql += " limit :limit offset :offset"
        return self.query(sql, {"kind": kind, "at": at, "limit": limit, "offset": offset, **(params or {})})

    def count(self, kind: str, *, at: int, where: str = "", params: dict[str, Any] | None = None) -> int:
        sql = ("select count(*) from versions where kind = :kind and visible_from <= :at and visible_to > :at"
               + (f" and ({where})" if where else ""))
        return int(self.query(sql, {"kind": kind, "at": at, **(params or {})})[0][0])

    def one(self, kind: str, entity_id: str, *, at: int) -> sqlite3.Row | None:
        rows = self.current(kind, at=at, where="entity_id = :entity_id", params={"entity_id": entity_id})
        return rows[0] if rows else None

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
