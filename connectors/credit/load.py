"""Load the credit platform's subject files and credit records into the raw zone (one atomic batch per load).

Each entity loads incrementally, on its own cursor, by offset paging *inside a snapshot*. Offsets over live
data move (a subject that changes while a load pages leaves its place, and everything behind it shifts
forward: the next page skips one), so every page of a load asks the same window
``updated_since=<cursor>&updated_before=<snapshot>``, which the platform answers as of the snapshot: the
offsets do not move however the platform's clock does. The snapshot is the platform's own now, read from the
``Date`` header of a first small answer (the platform refuses a snapshot in its future, or older than 24 h;
the machine's clock is not the platform's). The load pages ``offset=0, limit, 2·limit...`` until ``total``,
checks that ``total`` never changes and no page comes back short, and commits the snapshot as the next cursor,
together with the batch. ``updated_since`` is inclusive and ``updated_before`` exclusive, so consecutive loads
read adjacent windows: nothing twice, nothing lost (a version written during the load is in the next window).

A backfill (``since``/``until``) re-reads the versions updated in [since, until). The platform refuses a
snapshot older than 24 h, so the snapshot stays at the platform's now: the listing asks ``updated_since=since``
and the load stops at the first item at or after ``until`` (clamped to the cursor's snapshot, where the next
incremental load reads from). It skips the versions the lake holds, commits the cursor unchanged, and the
incremental loads after it skip what it landed beyond their cursor. As the platform answers each file as of
the snapshot, a backfill reads the versions current now, not those a later version replaced.

Each load watches the declared fields (``FieldWatch``): a field the earlier loads had that every record lacks,
or one none of whose values has its type, stops the load with ``SchemaChanged`` unless accepted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from connectors.credit.client import MAX_PAGE_SIZE, PLATFORM, CreditClient, CreditError, Page, RetryPolicy
from connectors.credit.rules import KEYS, TZ, check, parse_instant, to_micros, version_key
from connectors.credit.schema import RECORD_FIELDS, SCHEMAS, SUBJECT_FIELDS
from gridlake import uscc
from gridlake.connections import get_connection
from gridlake.lake import BatchManifest, Lake, QuarantinedRecord
from gridlake.records import FieldWatch
from gridlake.settings import get_settings

__all__ = ["CONN_ID", "DEFAULT_PAGE_SIZE", "load_records", "load_subjects"]

CONN_ID = "credit_api"
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
_WRITE_EVERY = 20_000
_FIELDS = {"subjects": SUBJECT_FIELDS, "records": RECORD_FIELDS}


def load_subjects(lake: Lake, conn: Any = CONN_ID, *, page_size: int = DEFAULT_PAGE_SIZE,
                  policy: RetryPolicy | None = None, on_page: Callable[[int, Page], None] | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  accept_schema_change: bool = False) -> BatchManifest:
    """Land the subject file versions changed since the committed cursor; returns the committed batch.

    ``since``/``until`` (aware) make the load a backfill of the versions updated in [since, until), which skips
    what the lake holds and leaves the cursor where it is. ``accept_schema_change`` lands a load whose source
    lost a field or changed a field's type (else ``SchemaChanged`` stops it).
    """
    return _load("subjects", lake, conn, page_size=page_size, policy=policy, on_page=on_page, since=since,
                 until=until, accept_schema_change=accept_schema_change)


def load_records(lake: Lake, conn: Any = CONN_ID, *, page_size: int = DEFAULT_PAGE_SIZE,
                 policy: RetryPolicy | None = None, on_page: Callable[[int, Page], None] | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 accept_schema_change: bool = False) -> BatchManifest:
    """Land the credit record versions changed since the committed cursor; returns the committed batch.

    ``since``/``until`` and ``accept_schema_change`` as for ``load_subjects``.
    """
    return _load("records", lake, conn, page_size=page_size, policy=policy, on_page=on_page, since=since,
                 until=until, accept_schema_change=accept_schema_change)


def _load(entity: str, lake: Lake, conn: Any, *, page_size: int, policy: RetryPolicy | None,
          on_page: Callable[[int, Page], None] | None, since: datetime | None, until: datetime | None,
          accept_schema_change: bool) -> BatchManifest:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}, got {page_size}")
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{PLATFORM}.{entity}: {name} must be an aware datetime, got {moment.isoformat()}")
    if since is not None and until is not None and until <= since:
        raise ValueError(f"{PLATFORM}.{entity}: until ({until.isoformat()}) must be later than since "
                         f"({since.isoformat()})")
    conn = get_connection(conn) if isinstance(conn, str) else conn
    schema = SCHEMAS[entity]
    with CreditClient.from_connection(conn, policy=policy) as client, lake.begin(PLATFORM, entity, schema) as load:
        committed = load.cursor_from or {}
        cursor: str | None = committed.get("updated_since")
        window: _Window | None = None
        if since is not None or until is not None:
            window = _Window.clamped_to(since, until, None if cursor is None else to_micros(parse_instant(cursor)))
            start = None if since is None else since.astimezone(TZ).isoformat()
            # The versions of the range the lake already holds (landed or quarantined) are not landed again.
            landed = {key for key in _lake_keys(lake, entity) if window.holds(key[1])}
        else:
            start = cursor
            # Backfills that reached past the cursor landed versions of this load's window.
            at = None if cursor is None else to_micros(parse_instant(cursor))
            landed = _lake_keys(lake, entity, batches=_backfills_after(lake, entity, at))
        probe = client.page(entity, offset=0, limit=1, updated_since=start)
        if probe.date is None:
            raise CreditError(f"{PLATFORM}: {probe.request}: the answer has no readable Date header: cannot "
                              f"take a snapshot at the platform's now")
        snapshot = probe.date.astimezone(TZ).isoformat()
        now = to_micros(probe.date)
        end = now if window is None or window.until is None else min(window.until, now)  # exclusive
        watch = FieldWatch(_FIELDS[entity], known=committed.get("fields") or (),
                           min_records=get_settings().schema_change_min_records)
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        seen: set[tuple[str, int]] = set()
        drift: Counter[str] = Counter()
        read = pages = repeats = already = 0
        total: int | None = None
        if start is None or to_micros(parse_instant(start)) < end:  # else the window [start, end) is empty
            offset = 0
            reached_end = False
            while not reached_end:
                page = client.page(entity, offset=offset, limit=page_size, updated_since=start,
                                   updated_before=snapshot)
                pages += 1
                if total is None:
                    total = page.total
                elif page.total != total:
                    raise CreditError(f"{PLATFORM}: {page.request}: total {page.total} but {total} on the first "
                                      f"page: the snapshot moved, offsets cannot be trusted")
                expected = min(page_size, max(0, total - offset))
                if len(page.items) != expected:
                    # A whole JSON body with fewer items than the total promises: never land it as if it were whole.
                    raise CreditError(f"{PLATFORM}: {page.request}: {len(page.items)} items but total {total} "
                                      f"promises {expected} at offset {offset}")
                for item in page.items:
                    key = version_key(entity, item)
                    if window is not None and key is not None and key[1] >= end:
                        reached_end = True  # items come ordered by updated_at: the rest are later still
                        break
                    if key is not None and key in seen:
                        repeats += 1
                        continue
                    if key is not None:
                        seen.add(key)
                        if _as_landed(entity, key) in landed:
                            already += 1
                            continue
                    read += 1
                    watch.record(item)
                    checked = check(entity, item, watch=watch)
                    drift.update(checked.drift)
                    if checked.row is not None:
                        rows.append(checked.row)
                    else:
                        assert checked.quarantined is not None
                        quarantined.append(checked.quarantined)
                if on_page is not None:
                    on_page(pages, page)
                if len(rows) >= _WRITE_EVERY:
                    load.write(pa.Table.from_pylist(rows, schema=schema))
                    rows = []
                offset += len(page.items)
                if offset >= total:
                    break
        changes = watch.check(PLATFORM, entity, accept=accept_schema_change)
        load.write(pa.Table.from_pylist(rows, schema=schema))
        load.quarantine(quarantined)
        extra: dict[str, Any] = {
            "snapshot": snapshot,
            "total": total,
            "pages": pages,
            "requests": client.requests_made,
            "retries": client.retries,
            "rows_already_read": repeats,
            "rows_already_landed": already,
            "schema_drift": dict(sorted(drift.items())),
            "schema_changes": changes,
        }
        if window is not None:
            extra["backfill"] = window.manifest()
            return load.commit(cursor_to=load.cursor_from, rows_read=read, extra=extra)
        # An accepted disappearance is the source's schema now: the loads after it go on without the field.
        fields = [name for name in watch.seen() if changes.get(name) != "disappeared"]
        return load.commit(
            cursor_to={"updated_since": max(snapshot, cursor, key=parse_instant) if cursor else snapshot,
                       "fields": fields},
            rows_read=read, extra=extra)


@dataclass(frozen=True)
class _Window:
    """A backfill's range of ``updated_at`` in µs, [since, until) (None: open), after the clamp to the cursor."""

    since: int | None
    until: int | None
    clamped: bool

    @classmethod
    def clamped_to(cls, since: datetime | None, until: datetime | None, cursor_at: int | None) -> _Window:
        """``until`` no later than the cursor's snapshot, where the next incremental load reads from (so the two
        never read the same version); not clamped when there is no cursor."""
        end = None if until is None else to_micros(until)
        clamped = cursor_at is not None and end is not None and end > cursor_at
        if cursor_at is not None and (end is None or end > cursor_at):
            end = cursor_at
        return cls(None if since is None else to_micros(since), end, clamped)

    def holds(self, at: int) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)

    def manifest(self) -> dict[str, Any]:
        return {"since": _iso(self.since), "until": _iso(self.until), "clamped": self.clamped}


def _iso(at: int | None) -> str | None:
    """µs since the epoch as the district's local ISO time (the spelling of the cursor)."""
    if at is None:
        return None
    moment = datetime.fromtimestamp(at // 1_000_000, tz=UTC).replace(microsecond=at % 1_000_000)
    return moment.astimezone(TZ).isoformat()


def _as_landed(entity: str, key: tuple[str, int]) -> tuple[str, int]:
    """A version's key as the lake holds it: a subject's uscc lands normalised."""
    if entity != "subjects":
        return key
    return uscc.normalise(key[0]) or key[0], key[1]


def _lake_keys(lake: Lake, entity: str, *, batches: list[BatchManifest] | None = None) -> set[tuple[str, int]]:
    """The versions (key, updated_at µs) the lake holds in the raw and quarantine zones (of ``batches``, or all),
    read column-wise; a quarantined record without a readable key or time has no version to skip."""
    name = KEYS[entity]
    found: set[tuple[str, int]] = set()
    for table in lake.scan("raw", PLATFORM, entity, columns=[name, "updated_at"], batches=batches):
        found.update(zip(table.column(name).to_pylist(), table.column("updated_at").cast(pa.int64()).to_pylist(),
                         strict=True))
    for table in lake.scan("quarantine", PLATFORM, entity, columns=["record_id", "raw"], batches=batches):
        for record_id, raw in zip(table.column("record_id").to_pylist(), table.column("raw").to_pylist(),
                                  strict=True):
            key = version_key(entity, json.loads(raw))
            if record_id is not None and key is not None:
                found.add(_as_landed(entity, (record_id, key[1])))
    return found


def _backfills_after(lake: Lake, entity: str, start: int | None) -> list[BatchManifest]:
    """The committed backfills whose range reaches past ``start`` (where an incremental load reads from)."""
    found = []
    for manifest in lake.manifests(PLATFORM, entity):
        window = manifest.extra.get("backfill")
        if window is None:
            continue
        if window["until"] is None or start is None or to_micros(parse_instant(window["until"])) > start:
            found.append(manifest)
    return found
