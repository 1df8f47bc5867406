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

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyarrow as pa

from connectors.credit.client import MAX_PAGE_SIZE, PLATFORM, CreditClient, CreditError, Page, RetryPolicy
from connectors.credit.rules import KEYS, TZ, check, parse_instant, to_micros, version_key
from connectors.credit.schema import RECORD_FIELDS, SCHEMAS, SUBJECT_FIELDS
from gridlake import uscc
from gridlake.backfill import Window, backfills_reaching, check_range, landed_versions
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
    backfill = check_range(PLATFORM, entity, since, until)
    conn = get_connection(conn) if isinstance(conn, str) else conn
    schema = SCHEMAS[entity]
    with CreditClient.from_connection(conn, policy=policy) as client, lake.begin(PLATFORM, entity, schema) as load:
        committed = load.cursor_from or {}
        cursor: str | None = committed.get("updated_since")
        cursor_at = None if cursor is None else parse_instant(cursor)
        window: Window | None = None
        if backfill:
            window = Window.clamped_to(since, until, cursor_at)
            start = None if since is None else since.astimezone(TZ).isoformat()
            # The versions of the range the lake already holds (landed or quarantined) are not landed again.
            landed = _landed(lake, entity, since=window.since, until=window.until)
        else:
            start = cursor
            # Backfills that reached past the cursor landed versions of this load's window.
            landed = _landed(lake, entity, batches=backfills_reaching(lake, PLATFORM, entity, cursor_at))
        probe = client.page(entity, offset=0, limit=1, updated_since=start)
        if probe.date is None:
            raise CreditError(f"{PLATFORM}: {probe.request}: the answer has no readable Date header: cannot "
                              f"take a snapshot at the platform's now")
        snapshot = probe.date.astimezone(TZ).isoformat()
        now = to_micros(probe.date)
        end = now if window is None or window.until is None else min(to_micros(window.until), now)  # exclusive
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
            extra["backfill"] = window.manifest(tz=TZ)
            return load.commit(cursor_to=load.cursor_from, rows_read=read, extra=extra)
        # An accepted disappearance is the source's schema now: the loads after it go on without the field.
        fields = [name for name in watch.seen() if changes.get(name) != "disappeared"]
        return load.commit(
            cursor_to={"updated_since": max(snapshot, cursor, key=parse_instant) if cursor else snapshot,
                       "fields": fields},
            rows_read=read, extra=extra)


def _as_landed(entity: str, key: tuple[str, int]) -> tuple[str, int]:
    """A version's key as the lake holds it: a subject's uscc lands normalised."""
    if entity != "subjects":
        return key
    return uscc.normalise(key[0]) or key[0], key[1]


def _landed(lake: Lake, entity: str, *, since: datetime | None = None, until: datetime | None = None,
            batches: list[BatchManifest] | None = None) -> set[tuple[str, int]]:
    """The versions (key as landed, updated_at µs) the lake holds in [since, until) (of ``batches``, or all); a
    quarantined record without a readable key or time has no version to skip."""
    def quarantined(record_id: str | None, served: Any) -> tuple[str, int] | None:
        key = version_key(entity, served)
        return None if record_id is None or key is None else _as_landed(entity, (record_id, key[1]))

    return landed_versions(lake, PLATFORM, entity, id_column=KEYS[entity], quarantined=quarantined, since=since,
                           until=until, batches=batches)
