"""Load the fusion platform's tables into the raw zone, incrementally on ``updated_at`` (one atomic batch per load).

Each load streams one query through ADBC (``COPY`` in PostgreSQL's binary format underneath, Arrow record
batches out), never a whole table in memory::

    select <declared columns, cast> from <table> where updated_at > :start order by updated_at, <pk>

and re-chunks the stream into files of ``batch_rows`` rows. ``start`` is the cursor's newest ``updated_at`` less
the look-back: the platform commits in batches, so a row can become visible with an ``updated_at`` minutes older
than rows already landed; the look-back (``settings.citymgmt_lookback``, at least 10 minutes) reads it again.
The cursor, committed in the batch's manifest with the rows it describes, also keeps the (key, ``updated_at``)
versions landed within the look-back, and the next load skips them: each version lands once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc

from connectors.citymgmt.rules import RowRules, split
from connectors.citymgmt.schema import PLATFORM, TABLES, SourceTable, source_table
from gridlake.connections import get_connection
from gridlake.lake import BatchManifest, Lake, Load, QuarantinedRecord
from gridlake.settings import get_settings

__all__ = ["CONN_ID", "DEFAULT_BATCH_ROWS", "MIN_LOOKBACK", "CitymgmtError", "connection_uri", "load_all",
           "load_table"]

CONN_ID = "citymgmt_db"
DEFAULT_BATCH_ROWS = 100_000
MIN_LOOKBACK = timedelta(minutes=10)  # citymgmt.md: "a window of at least 10 minutes"
_BYTES_PER_ROW = 256  # a generous estimate of a row's size, to ask the driver for batches near batch_rows
_QUARANTINE_EVERY = 10_000


class CitymgmtError(RuntimeError):
    """The replica cannot be read as citymgmt.md describes it (connection, query, a column of another type)."""


def connection_uri(conn: Any) -> str:
    """The libpq URI of an Airflow connection (``postgresql://``; Airflow's ``get_uri()`` says ``postgres://``)."""
    host = conn.host or ""
    if host.startswith(("postgresql://", "postgres://")):  # a whole URI put in the host field
        return host
    credentials = ""
    if conn.login:
        credentials = quote(conn.login, safe="")
        if conn.password:
            credentials += ":" + quote(conn.password, safe="")
        credentials += "@"
    netloc = host + (f":{conn.port}" if conn.port else "")
    params = {key: value for key, value in (conn.extra_dejson or {}).items() if isinstance(value, str | int)}
    query = ("?" + urlencode(params)) if params else ""
    return f"postgresql://{credentials}{netloc}/{quote(conn.schema or '', safe='')}{query}"


def load_table(
    lake: Lake,
    table: str,
    conn: Any = CONN_ID,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    lookback: timedelta | None = None,
    rules: RowRules | None = None,
) -> BatchManifest:
    """Land the versions of ``table`` (``schema.table``) changed since the committed cursor; returns the batch.

    ``conn`` is an Airflow connection or its id. ``batch_rows`` bounds the rows held and written at once (one
    file each). ``lookback`` defaults to ``settings.citymgmt_lookback`` and may not be under 10 minutes.
    """
    source = source_table(table)
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
    lookback = get_settings().citymgmt_lookback if lookback is None else lookback
    if lookback < MIN_LOOKBACK:
        raise ValueError(f"{PLATFORM}: the look-back must be at least {MIN_LOOKBACK} (citymgmt.md), got {lookback}")
    rules = rules or RowRules()
    uri = connection_uri(get_connection(conn) if isinstance(conn, str) else conn)
    with lake.begin(PLATFORM, source.entity, source.schema) as load:
        cursor = _Cursor.load(load.cursor_from, lookback=lookback)
        start = cursor.start()
        sink = _Sink(load, batch_rows=batch_rows)
        tally = _Tally()
        for chunk in _stream(uri, source, start=start, batch_rows=batch_rows, tally=tally):
            tally.served += chunk.num_rows
            fresh = cursor.read(chunk)
            tally.already_landed += chunk.num_rows - fresh.num_rows
            landed, quarantined = split(source, fresh, rules)
            tally.soft_deleted += landed.num_rows - landed["deleted_at"].null_count
            sink.write(landed)
            sink.quarantine(quarantined)
        sink.flush()
        return load.commit(cursor_to=cursor.dump(), rows_read=cursor.new_versions, extra={
            "table": source.qualified,
            "updated_after": None if start is None else start.isoformat(),
            "lookback_s": lookback.total_seconds(),
            "rows_served": tally.served,
            "rows_already_landed": tally.already_landed,  # the look-back's versions landed before
            "rows_soft_deleted": tally.soft_deleted,
            "driver_batches": tally.driver_batches,
            "max_driver_batch_rows": tally.max_driver_rows,
            "batch_rows": batch_rows,
        })


def load_all(
    lake: Lake,
    conn: Any = CONN_ID,
    *,
    tables: Iterable[str] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    lookback: timedelta | None = None,
    rules: RowRules | None = None,
) -> dict[str, BatchManifest]:
    """Load every table of citymgmt.md (or ``tables``), one atomic batch each; returns the batches by table.

    A table that fails stops the run with its error; the tables loaded before it stay committed.
    """
    conn = get_connection(conn) if isinstance(conn, str) else conn
    return {name: load_table(lake, name, conn, batch_rows=batch_rows, lookback=lookback, rules=rules)
            for name in (list(tables) if tables is not None else list(TABLES))}


@dataclass
class _Tally:
    served: int = 0
    already_landed: int = 0
    soft_deleted: int = 0
    driver_batches: int = 0
    max_driver_rows: int = 0


def _stream(uri: str, source: SourceTable, *, start: datetime | None, batch_rows: int,
            tally: _Tally) -> Iterator[pa.Table]:
    """The rows after ``start`` in (updated_at, pk) order, as tables of at most ``batch_rows`` rows."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as pg_dbapi

    where = "" if start is None else "where updated_at > $1"
    query = f"select {source.select_sql()} from {source.qualified} {where} order by updated_at, {source.pk}"
    hint = min(max(batch_rows * _BYTES_PER_ROW, 1 << 16), 1 << 26)
    try:
        with pg_dbapi.connect(uri) as connection, connection.cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(hint)})
            cursor.execute(query, None if start is None else (start,))
            reader = cursor.fetch_record_batch()
            for batch in reader:
                tally.driver_batches += 1
                tally.max_driver_rows = max(tally.max_driver_rows, batch.num_rows)
                for offset in range(0, batch.num_rows, batch_rows):
                    yield _conform(source, pa.Table.from_batches([batch.slice(offset, batch_rows)]))
    except adbc_driver_manager.Error as err:
        raise CitymgmtError(f"{PLATFORM}: reading {source.qualified} (updated_at > {start}) failed: {err}") from err


def _conform(source: SourceTable, rows: pa.Table) -> pa.Table:
    """The declared schema: decimals parsed from their exact text, everything else as SQL cast it."""
    columns = []
    for declared in source.schema:
        column = rows[declared.name]
        try:
            columns.append(column.cast(declared.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
            raise CitymgmtError(f"{PLATFORM}: {source.qualified}.{declared.name} came back as {column.type}, "
                                f"not {declared.type}: {err}") from err
    return pa.Table.from_arrays(columns, schema=source.schema)


class _Sink:
    """Writes landed rows in files of exactly ``batch_rows`` (the last one shorter) and quarantine in bulk."""

    def __init__(self, load: Load, *, batch_rows: int) -> None:
        self.load = load
        self.batch_rows = batch_rows
        self._rows: list[pa.Table] = []
        self._buffered = 0
        self._quarantined: list[QuarantinedRecord] = []

    def write(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self._rows.append(rows)
            self._buffered += rows.num_rows
        while self._buffered >= self.batch_rows:
            whole = pa.concat_tables(self._rows)
            self.load.write(whole.slice(0, self.batch_rows))
            rest = whole.slice(self.batch_rows)
            self._rows, self._buffered = ([rest] if rest.num_rows else []), rest.num_rows

    def quarantine(self, records: list[QuarantinedRecord]) -> None:
        self._quarantined.extend(records)
        if len(self._quarantined) >= _QUARANTINE_EVERY:
            self.load.quarantine(self._quarantined)
            self._quarantined = []

    def flush(self) -> None:
        if self._rows:
            self.load.write(pa.concat_tables(self._rows))
            self._rows, self._buffered = [], 0
        self.load.quarantine(self._quarantined)
        self._quarantined = []


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _instant(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


@dataclass
class _Cursor:
    """The incremental state, in microseconds since the epoch.

    ``newest``: the newest ``updated_at`` read. ``keys_from``: every version with an ``updated_at`` after it has
    been landed and its key is in ``keys`` ((pk as text, updated_at)). A load reads after
    ``max(newest - lookback, keys_from)`` (the look-back, but never below what the keys cover, should the
    look-back grow) and skips the versions in ``keys``.
    """

    lookback_us: int
    newest: int | None = None
    keys_from: int | None = None
    keys: set[tuple[str, int]] = field(default_factory=set)
    recent: dict[tuple[str, int], None] = field(default_factory=dict)  # read now, within the look-back
    new_versions: int = 0
    _start: int | None = None
    _keys_max: int = 0
    _pruned_size: int = 0

    @classmethod
    def load(cls, state: dict[str, Any] | None, *, lookback: timedelta) -> _Cursor:
        cursor = cls(lookback_us=_micros(_instant(0) + lookback))
        if state:
            cursor.newest = _micros(datetime.fromisoformat(state["updated_at"]))
            cursor.keys_from = _micros(datetime.fromisoformat(state["keys_from"]))
            cursor.keys = {(pk, _micros(datetime.fromisoformat(at))) for pk, at in state["versions"]}
            cursor._keys_max = max((at for _, at in cursor.keys), default=0)
        cursor._start = None if cursor.newest is None else max(cursor.newest - cursor.lookback_us, cursor.keys_from)
        return cursor

    def start(self) -> datetime | None:
        return None if self._start is None else _instant(self._start)

    def read(self, rows: pa.Table) -> pa.Table:
        """The rows not landed before; their versions are noted and move ``newest``.

        Only rows as old as the newest kept key can be repeats, and only the look-back's rows are noted, so
        the per-row work in Python stays within the look-back's window, whatever the table's size.
        """
        if rows.num_rows == 0:
            return rows
        updated = pc.cast(rows["updated_at"], pa.int64())
        fresh = rows
        if self.keys:
            candidates = pc.less_equal(updated, pa.scalar(self._keys_max, pa.int64()))
            if pc.any(candidates).as_py():
                maybe = rows.filter(candidates)
                pks = pc.cast(maybe.columns[0], pa.string()).to_pylist()
                ats = pc.cast(maybe["updated_at"], pa.int64()).to_pylist()
                repeats = {key for key in zip(pks, ats, strict=True) if key in self.keys}
                if repeats:
                    all_keys = zip(pc.cast(rows.columns[0], pa.string()).to_pylist(), updated.to_pylist(),
                                   strict=True)
                    fresh = rows.filter(pa.array([key not in repeats for key in all_keys]))
        self.new_versions += fresh.num_rows
        if fresh.num_rows == 0:
            return fresh
        newest = pc.max(pc.cast(fresh["updated_at"], pa.int64())).as_py()
        self.newest = newest if self.newest is None else max(self.newest, newest)
        floor = self.newest - self.lookback_us
        window = fresh.filter(pc.greater(pc.cast(fresh["updated_at"], pa.int64()), pa.scalar(floor, pa.int64())))
        pks = pc.cast(window.columns[0], pa.string()).to_pylist()
        ats = pc.cast(window["updated_at"], pa.int64()).to_pylist()
        self.recent.update(dict.fromkeys(zip(pks, ats, strict=True)))
        if len(self.recent) > 2 * self._pruned_size + 1024:  # drop what fell out of the window
            self.recent = {key: None for key in self.recent if key[1] > floor}
            self._pruned_size = len(self.recent)
        return fresh

    def dump(self) -> dict[str, Any] | None:
        if self.newest is None:
            return None
        keys_from = self.newest - self.lookback_us
        if self._start is not None:
            keys_from = max(keys_from, self._start)
        versions = sorted({key for key in (*self.keys, *self.recent) if key[1] > keys_from},
                          key=lambda key: (key[1], key[0]))
        return {
            "updated_at": _instant(self.newest).isoformat(),
            "keys_from": _instant(keys_from).isoformat(),
            "lookback_s": self.lookback_us / 1e6,
            "versions": [[pk, _instant(at).isoformat()] for pk, at in versions],
        }
