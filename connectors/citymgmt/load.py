"""Load the fusion platform's tables into the raw zone, incrementally on ``updated_at`` (one atomic batch per load).

Each load streams one query through ADBC (``COPY`` in PostgreSQL's binary format underneath, Arrow record
batches out), never a whole table in memory::

    select <declared columns, cast> from <table> where updated_at > :start order by updated_at, <pk>

and re-chunks the stream into files of ``batch_rows`` rows. ``start`` is the cursor's newest ``updated_at`` less
the look-back: the platform commits in batches, so a row can become visible with an ``updated_at`` minutes older
than rows already landed; the look-back (``settings.citymgmt_lookback``, at least 10 minutes) reads it again.
The cursor, committed in the batch's manifest with the rows it describes, also keeps the (key, ``updated_at``)
versions landed within the look-back, and the next load skips them: each version lands once.

A *backfill* (``since`` and/or ``until``) re-reads ``updated_at >= :since and updated_at < :until`` instead,
skips the versions the lake already holds (raw and quarantine), and leaves the cursor as it was; ``until`` is
clamped to where the incremental loads read from, so the two never overlap.

Before reading, the table's columns are looked up in ``information_schema.columns`` on the same connection: a
declared column missing or of another type stops the load (``SchemaChanged``) unless accepted; undeclared
columns land in ``extra_fields``. A connection dropped or refused is retried (the attempt's load aborted, the
table read again from its start) up to ``RetryPolicy.attempts``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from connectors.citymgmt.rules import RowRules, split
from connectors.citymgmt.schema import (
    PLATFORM,
    TABLES,
    SourceTable,
    declared_sql_type,
    served_sql_type,
    source_table,
    type_matches,
)
from gridlake.backfill import Window, backfills_reaching, check_range, landed_versions
from gridlake.connections import get_connection
from gridlake.http import RetryPolicy
from gridlake.lake import BatchManifest, Lake, Load, QuarantinedRecord
from gridlake.records import SchemaChanged
from gridlake.settings import get_settings

__all__ = ["CONN_ID", "DEFAULT_BATCH_ROWS", "DEFAULT_POLICY", "MIN_LOOKBACK", "CitymgmtError", "ColumnsChanged",
           "RetryPolicy", "connection_uri", "load_all", "load_table"]

CONN_ID = "citymgmt_db"
DEFAULT_BATCH_ROWS = 100_000
MIN_LOOKBACK = timedelta(minutes=10)  # citymgmt.md: "a window of at least 10 minutes"
# A dropped connection is retried this often; each retry reads the table again from its start.
DEFAULT_POLICY = RetryPolicy(attempts=4, initial_wait_s=1.0, max_wait_s=30.0)
_BYTES_PER_ROW = 256  # a generous estimate of a row's size, to ask the driver for batches near batch_rows
_QUARANTINE_EVERY = 10_000
# What libpq says when the connection itself failed (the server's FATAL, a socket that closed): a stream
# cut short arrives as a plain OSError from the Arrow reader, with libpq's message and no SQLSTATE.
_CONNECTION_LOST = ("FATAL:", "server closed the connection", "could not receive data from server",
                    "no connection to the server", "connection to server", "terminating connection",
                    "SSL SYSCALL error", "could not send data to server")
# SQLSTATEs of a connection fault: class 08 (connection exception), admin / crash shutdown, cannot connect
# now (starting or stopping), too many connections.
_TRANSIENT_SQLSTATES = ("57P01", "57P02", "57P03", "53300")


class CitymgmtError(RuntimeError):
    """The replica cannot be read as citymgmt.md describes it (connection, query, a column of another type)."""


class ColumnsChanged(SchemaChanged):
    """A declared column of a table is missing from the replica or has another PostgreSQL type."""

    def __init__(self, source: SourceTable, changes: dict[str, str], details: dict[str, str]) -> None:
        super().__init__(PLATFORM, source.entity, changes, records=0)
        listed = "; ".join(f"{name} {details[name]}" for name in sorted(changes))
        self.args = (f"{PLATFORM}: {source.qualified}: the replica's columns changed ({listed}); the load stops "
                     f"until the declared schema follows them or the change is accepted (accept_schema_change)",)
        self.details = details


class _Transient(Exception):
    """A connection fault (dropped, refused, the server shutting down): the load is tried again."""


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
    since: datetime | None = None,
    until: datetime | None = None,
    accept_schema_change: bool = False,
    policy: RetryPolicy | None = None,
) -> BatchManifest:
    """Land the versions of ``table`` (``schema.table``) changed since the committed cursor; returns the batch.

    ``conn`` is an Airflow connection or its id. ``batch_rows`` bounds the rows held and written at once (one
    file each). ``lookback`` defaults to ``settings.citymgmt_lookback`` and may not be under 10 minutes.
    ``since``/``until`` (aware) make it a backfill of ``[since, until)`` that keeps the cursor.
    ``accept_schema_change`` lands a table whose declared columns went missing (as null) or changed type (as
    null, the value as served kept in ``extra_fields``). ``policy`` bounds the retries of a dropped connection.
    """
    source = source_table(table)
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
    lookback = get_settings().citymgmt_lookback if lookback is None else lookback
    if lookback < MIN_LOOKBACK:
        raise ValueError(f"{PLATFORM}: the look-back must be at least {MIN_LOOKBACK} (citymgmt.md), got {lookback}")
    check_range(PLATFORM, source.entity, since, until)
    policy = policy or DEFAULT_POLICY
    uri = connection_uri(get_connection(conn) if isinstance(conn, str) else conn)
    attempts = 0

    def attempt() -> BatchManifest:
        nonlocal attempts
        attempts += 1
        return _load_once(lake, source, uri, batch_rows=batch_rows, lookback=lookback, rules=rules or RowRules(),
                          since=since, until=until, accept=accept_schema_change, attempt=attempts)

    retrying = Retrying(retry=retry_if_exception_type(_Transient), stop=stop_after_attempt(policy.attempts),
                        wait=wait_exponential_jitter(multiplier=policy.initial_wait_s, max=policy.max_wait_s,
                                                   jitter=policy.initial_wait_s),
                        reraise=False)
    try:
        return retrying(attempt)
    except RetryError as err:
        reason = err.last_attempt.exception()
        raise CitymgmtError(f"{PLATFORM}: {source.qualified}: the connection failed on each of {attempts} "
                            f"attempts, nothing landed: {reason}") from reason


def load_all(
    lake: Lake,
    conn: Any = CONN_ID,
    *,
    tables: Iterable[str] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    lookback: timedelta | None = None,
    rules: RowRules | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    accept_schema_change: bool = False,
    policy: RetryPolicy | None = None,
) -> dict[str, BatchManifest]:
    """Load every table of citymgmt.md (or ``tables``), one atomic batch each; returns the batches by table.

    ``since``/``until`` make each a backfill (see ``load_table``). A table that fails stops the run with its
    error; the tables loaded before it stay committed.
    """
    conn = get_connection(conn) if isinstance(conn, str) else conn
    return {name: load_table(lake, name, conn, batch_rows=batch_rows, lookback=lookback, rules=rules, since=since,
                             until=until, accept_schema_change=accept_schema_change, policy=policy)
            for name in (list(tables) if tables is not None else list(TABLES))}


def _load_once(lake: Lake, source: SourceTable, uri: str, *, batch_rows: int, lookback: timedelta, rules: RowRules,
               since: datetime | None, until: datetime | None, accept: bool, attempt: int) -> BatchManifest:
    """One attempt: a whole load of the table in one batch (aborted, nothing staged kept, if it fails)."""
    backfill = since is not None or until is not None
    with lake.begin(PLATFORM, source.entity, source.schema) as load, _connect(uri, source) as connection:
        plan = _plan(source, _served_columns(connection, source), accept=accept)
        cursor = _Cursor.load(load.cursor_from, lookback=lookback)
        start = cursor.start()
        window = Window.clamped_to(since, until, start)
        if backfill:
            skip = _landed_versions(lake, source, since=window.since, until=window.until)
        else:
            batches = backfills_reaching(lake, PLATFORM, source.entity, start)
            skip = _landed_versions(lake, source, since=start, after=True, batches=batches)
            cursor.add_landed(skip)
        sink = _Sink(load, batch_rows=batch_rows)
        tally = _Tally()
        known = _Known(skip)
        where = _Where.backfill(window.since, window.until) if backfill else _Where.incremental(start)
        for chunk in _stream(connection, source, plan, where=where, batch_rows=batch_rows, tally=tally):
            tally.served += chunk.num_rows
            fresh = known.fresh(chunk) if backfill else cursor.read(chunk)
            tally.already_landed += chunk.num_rows - fresh.num_rows
            if fresh.num_rows:
                newest = pc.max(fresh["updated_at"]).as_py()
                tally.newest = newest if tally.newest is None else max(tally.newest, newest)
            tally.new_versions += fresh.num_rows
            landed, quarantined = split(source, fresh, rules)
            tally.soft_deleted += landed.num_rows - landed["deleted_at"].null_count
            sink.write(landed)
            sink.quarantine(quarantined)
        sink.flush()
        extra: dict[str, Any] = {
            "table": source.qualified,
            "updated_after": None if start is None or backfill else start.isoformat(),
            "lookback_s": lookback.total_seconds(),
            "rows_served": tally.served,
            "rows_already_landed": tally.already_landed,  # the look-back's (or the backfill's) versions landed before
            "rows_soft_deleted": tally.soft_deleted,
            "driver_batches": tally.driver_batches,
            "max_driver_batch_rows": tally.max_driver_rows,
            "batch_rows": batch_rows,
            "schema_changes": plan.changes,
            "schema_drift": dict.fromkeys(plan.drift, tally.new_versions),  # every row read carries them
            "attempts": attempt,
        }
        if backfill:
            # Spelled as given; ``clamped`` here says the clamp changed the end, an open one set to the cursor too.
            extra["backfill"] = {**window.manifest(), "clamped": window.until != until}
            extra["newest_updated_at"] = None if tally.newest is None else tally.newest.isoformat()
            return load.commit(cursor_to=load.cursor_from, rows_read=tally.new_versions, extra=extra)
        return load.commit(cursor_to=cursor.dump(), rows_read=tally.new_versions, extra=extra)


def _landed_versions(lake: Lake, source: SourceTable, *, since: datetime | None, until: datetime | None = None,
                     after: bool = False, batches: list[BatchManifest] | None = None) -> set[tuple[str, int]]:
    """The (pk as text, ``updated_at`` in µs) versions the lake holds in ``[since, until)`` (``(since, until)`` when
    ``after``), of every committed batch or of ``batches``; only key columns are read."""
    def quarantined(record_id: str | None, served: Any) -> tuple[str, int] | None:
        return None if record_id is None else (record_id, _micros(datetime.fromisoformat(served["updated_at"])))

    return landed_versions(lake, PLATFORM, source.entity, id_column=source.pk, quarantined=quarantined, since=since,
                           until=until, after=after, batches=batches)


@dataclass
class _Tally:
    served: int = 0
    already_landed: int = 0
    soft_deleted: int = 0
    new_versions: int = 0
    newest: datetime | None = None
    driver_batches: int = 0
    max_driver_rows: int = 0


@dataclass(frozen=True)
class _Plan:
    """How a table is read given its columns in the replica: the select list, the changes, the drift."""

    select: str
    changes: dict[str, str]
    drift: tuple[str, ...]


@dataclass(frozen=True)
class _Where:
    """The query's condition on ``updated_at`` and its parameters."""

    sql: str
    params: tuple[datetime, ...]
    text: str  # for errors

    @classmethod
    def incremental(cls, start: datetime | None) -> _Where:
        if start is None:
            return cls("", (), "all rows")
        return cls("where updated_at > $1", (start,), f"updated_at > {start.isoformat()}")

    @classmethod
    def backfill(cls, since: datetime | None, until: datetime | None) -> _Where:
        conditions: list[str] = []
        params: list[datetime] = []
        text: list[str] = []
        for moment, operator in ((since, ">="), (until, "<")):
            if moment is not None:
                params.append(moment)
                conditions.append(f"updated_at {operator} ${len(params)}")
                text.append(f"updated_at {operator} {moment.isoformat()}")
        return cls("where " + " and ".join(conditions), tuple(params), " and ".join(text))


def _failure(err: Exception, source: SourceTable, doing: str) -> Exception:
    """A database error as ``_Transient`` (a connection fault: retried) or ``CitymgmtError`` (not retried)."""
    import adbc_driver_manager

    message = str(err).strip()
    if isinstance(err, adbc_driver_manager.Error):
        state = err.sqlstate or ""
        transient = state.startswith("08") or state in _TRANSIENT_SQLSTATES or (
            not state and isinstance(err, adbc_driver_manager.OperationalError)
            and err.status_code == adbc_driver_manager.AdbcStatusCode.IO)
    else:  # the Arrow stream's OSError: only libpq's message tells a lost connection from a failed query
        transient = any(marker in message for marker in _CONNECTION_LOST)
    text = f"{PLATFORM}: {source.qualified}: {doing} failed: {message}"
    return _Transient(text) if transient else CitymgmtError(text)


@contextmanager
def _connect(uri: str, source: SourceTable) -> Iterator[Any]:
    """An ADBC connection to the replica; a refused connection is transient."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as pg_dbapi

    try:
        connection = pg_dbapi.connect(uri)
    except adbc_driver_manager.Error as err:
        raise _failure(err, source, "connecting") from err
    try:
        yield connection
    finally:
        try:
            connection.close()
        except adbc_driver_manager.Error:  # closing a connection the server already dropped: nothing to do
            pass


def _served_columns(connection: Any, source: SourceTable) -> dict[str, str]:
    """The table's columns in the replica, each with its PostgreSQL type as ``served_sql_type`` spells it."""
    import adbc_driver_manager

    schema, table = source.qualified.split(".")
    query = ("select column_name::text, data_type::text, numeric_precision::int4, numeric_scale::int4 "
             "from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position")
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, (schema, table))
            rows = cursor.fetchall()
    except (adbc_driver_manager.Error, OSError) as err:
        raise _failure(err, source, "looking up the columns") from err
    if not rows:
        raise CitymgmtError(f"{PLATFORM}: {source.qualified}: the table is not in the replica (or not readable by "
                            f"this login): information_schema.columns lists no column of it")
    return {name: served_sql_type(data_type, precision, scale) for name, data_type, precision, scale in rows}


def _plan(source: SourceTable, served: dict[str, str], *, accept: bool) -> _Plan:
    """Compare the served columns with the declared ones; stop on a change unless ``accept``.

    Accepted, a missing column is read as null; a column of another type is read as null too (a cast could
    round, truncate or fail mid-load) and its value as served goes into ``extra_fields``, so nothing is lost.
    The key and ``updated_at`` cannot be accepted: without them no version can be told from another.
    """
    changes: dict[str, str] = {}
    details: dict[str, str] = {}
    for declared in source.source_fields:
        wanted = declared_sql_type(declared.type)
        if declared.name not in served:
            changes[declared.name], details[declared.name] = "disappeared", f"disappeared (declared {wanted})"
        elif not type_matches(declared.type, served[declared.name]):
            changes[declared.name] = "changed_type"
            details[declared.name] = f"changed_type ({served[declared.name]}, declared {wanted})"
    if changes and not accept:
        raise ColumnsChanged(source, changes, details)
    vital = sorted(set(changes) & {source.pk, "updated_at"})
    if vital:
        raise CitymgmtError(f"{PLATFORM}: {source.qualified}: {', '.join(f'{n} {details[n]}' for n in vital)}: "
                            f"the key and updated_at are needed to read versions, the change cannot be accepted")
    declared_names = {f.name for f in source.source_fields}
    drift = tuple(name for name in served if name not in declared_names and name not in source.personal)
    changed = tuple(name for name, how in changes.items() if how == "changed_type")
    return _Plan(source.select_sql(absent=frozenset(changes), aside=(*drift, *changed)), changes, drift)


def _stream(connection: Any, source: SourceTable, plan: _Plan, *, where: _Where, batch_rows: int,
            tally: _Tally) -> Iterator[pa.Table]:
    """The rows ``where`` selects in (updated_at, pk) order, as tables of at most ``batch_rows`` rows."""
    import adbc_driver_manager

    query = f"select {plan.select} from {source.qualified} {where.sql} order by updated_at, {source.pk}"
    hint = min(max(batch_rows * _BYTES_PER_ROW, 1 << 16), 1 << 26)
    try:
        with connection.cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(hint)})
            cursor.execute(query, where.params or None)
            reader = cursor.fetch_record_batch()
            for batch in reader:
                tally.driver_batches += 1
                tally.max_driver_rows = max(tally.max_driver_rows, batch.num_rows)
                for offset in range(0, batch.num_rows, batch_rows):
                    yield _conform(source, pa.Table.from_batches([batch.slice(offset, batch_rows)]))
    except (adbc_driver_manager.Error, OSError) as err:
        raise _failure(err, source, f"reading {where.text}") from err


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


class _Known:
    """Versions already in the lake, (pk as text, ``updated_at`` µs): a backfill skips them."""

    def __init__(self, keys: set[tuple[str, int]]) -> None:
        self.keys = keys

    def fresh(self, rows: pa.Table) -> pa.Table:
        if not self.keys or rows.num_rows == 0:
            return rows
        pks = pc.cast(rows.columns[0], pa.string()).to_pylist()
        ats = pc.cast(rows["updated_at"], pa.int64()).to_pylist()
        keep = [key not in self.keys for key in zip(pks, ats, strict=True)]
        return rows if all(keep) else rows.filter(pa.array(keep))


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

    def add_landed(self, keys: set[tuple[str, int]]) -> None:
        """Versions a backfill landed after ``start``: skipped like the look-back's own."""
        if keys:
            self.keys |= keys
            self._keys_max = max(self._keys_max, max(at for _, at in keys))

    def read(self, rows: pa.Table) -> pa.Table:
        """The rows not landed before. Every row read (landed now or before) moves ``newest`` and, within the
        look-back, is noted for the next load to skip.

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
        newest = pc.max(updated).as_py()
        self.newest = newest if self.newest is None else max(self.newest, newest)
        floor = self.newest - self.lookback_us
        window = rows.filter(pc.greater(updated, pa.scalar(floor, pa.int64())))
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
