"""Load the enforcement platform's cases and its matter list into the raw zone (one atomic batch per load).

Cases load incrementally on ``updated_at``. A listing is ``GET /api/v1/cases?updated_since=<t>`` (inclusive),
then its opaque ``next_cursor`` page by page, ordered by (updated_at, case_id). The cursor is valid for ten
minutes: on 410 Gone the load restarts the listing from the newest ``updated_at`` it has read (inclusive, so
nothing between is lost) and skips the versions it already has, keyed by (case_id, updated_at). The number of
restarts is bounded (``max_restarts``); a listing that keeps expiring stops the load.

Across loads the cursor (committed in the batch's manifest, with the batch) holds the newest ``updated_at``
read and the case ids read at exactly that time: the next load lists from that time (inclusive) and skips
those versions, so a version is landed once, and a version written later with the same ``updated_at`` is not
lost. ``rows_read`` counts the distinct versions read; repeats (a restarted listing's overlap) are reported
in the manifest's ``extra``.

A backfill (``since``/``until``) re-reads the versions updated in [since, until): the platform has no upper
bound, so it lists from ``since`` and stops once the items reach ``until``, which is clamped to the cursor's
time (where the next incremental load lists from). It skips the versions the lake holds, commits the cursor
unchanged, and the incremental loads after it skip what it landed beyond their cursor.

Each load watches the declared fields (``FieldWatch``): a field the earlier loads had that every record lacks,
or one none of whose values has its type, stops the load with ``SchemaChanged`` unless accepted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from connectors.enforcement.client import (
    MAX_PAGE_SIZE,
    PLATFORM,
    CasePage,
    CursorExpired,
    EnforcementClient,
    EnforcementError,
    RetryPolicy,
)
from connectors.enforcement.rules import TZ, check_case, mask_case, matter_rows, parse_instant, to_micros, version_key
from connectors.enforcement.schema import CASE_FIELDS, CASE_SCHEMA, MATTER_SCHEMA
from gridlake.backfill import Window, backfills_reaching, check_range, landed_versions
from gridlake.connections import get_connection
from gridlake.lake import BatchManifest, Lake, QuarantinedRecord, content_digest
from gridlake.records import FieldWatch
from gridlake.settings import get_settings

__all__ = ["CONN_ID", "DEFAULT_MAX_RESTARTS", "DEFAULT_PAGE_SIZE", "load_cases", "load_matters"]

CONN_ID = "enforcement_api"
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
DEFAULT_MAX_RESTARTS = 5
_WRITE_EVERY = 20_000


def load_cases(
    lake: Lake,
    conn: Any = CONN_ID,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_restarts: int = DEFAULT_MAX_RESTARTS,
    policy: RetryPolicy | None = None,
    on_page: Callable[[int, CasePage], None] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    accept_schema_change: bool = False,
) -> BatchManifest:
    """Land the case versions changed since the committed cursor; returns the committed batch.

    ``conn`` is an Airflow connection (or its id). ``on_page`` is called after each page is read (progress,
    tests). ``since``/``until`` (aware) make the load a backfill of the versions updated in [since, until),
    which skips what the lake holds and leaves the cursor where it is. ``accept_schema_change`` lands a load
    whose source lost a field or changed a field's type (else ``SchemaChanged`` stops it).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}, got {page_size}")
    backfill = check_range(PLATFORM, "cases", since, until)
    conn = get_connection(conn) if isinstance(conn, str) else conn
    with EnforcementClient.from_connection(conn, policy=policy) as client, \
            lake.begin(PLATFORM, "cases", CASE_SCHEMA) as load:
        codes = frozenset(row["matter_code"] for row in matter_rows(client.matters()))
        if not codes:
            raise EnforcementError(f"{PLATFORM}: GET {client.base_url}/api/v1/matters lists no matter: cannot "
                                   f"check matter codes")
        committed = load.cursor_from or {}
        cursor_at = parse_instant(committed["updated_at"]) if committed.get("updated_at") else None
        window: Window | None = None
        stop: int | None = None  # a backfill's end (exclusive), µs
        if backfill:
            window = Window.clamped_to(since, until, cursor_at)
            stop = None if window.until is None else to_micros(window.until)
            # The listing reads from `since`; the newest time read is where a restarted listing resumes.
            newest = _Newest(None, set())
            first = None if window.since is None else window.since.astimezone(TZ).isoformat()
            # The versions of the range the lake already holds (landed or quarantined) are not read again.
            done = _landed(lake, since=window.since, until=window.until)
        else:
            newest = _Newest.of(committed)
            first = committed.get("updated_at")
            # Versions at the cursor's time were landed by the last load; backfills may have landed later ones.
            done = newest.keys() | _landed(lake, since=cursor_at,
                                           batches=backfills_reaching(lake, PLATFORM, "cases", cursor_at))
        watch = FieldWatch(CASE_FIELDS, known=committed.get("fields") or (),
                           min_records=get_settings().schema_change_min_records)
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        read = pages = repeats = restarts = 0
        drift: Counter[str] = Counter()
        start, page_cursor, reached_until = first, None, False
        while not reached_until:
            try:
                page = client.cases_page(limit=page_size, updated_since=start, cursor=page_cursor)
            except CursorExpired as err:
                restarts += 1
                if restarts > max_restarts:
                    raise EnforcementError(f"{err} (the listing expired {restarts} times; gave up)") from err
                # Restart from the newest updated_at read (inclusive): the overlap is skipped below.
                start, page_cursor = newest.iso() or first, None
                continue
            pages += 1
            for item in page.items:
                key = version_key(item)
                if stop is not None and key is not None and key[1] >= stop:
                    reached_until = True  # items come ordered by updated_at: the rest are later still
                    break
                if key is not None and key in done:
                    repeats += 1
                    newest.see(key)
                    continue
                watch.record(item)
                checked = check_case(item, matter_codes=codes, watch=watch)
                drift.update(checked.drift)
                read += 1
                if key is not None:
                    done.add(key)
                    newest.see(key)
                if checked.row is not None:
                    rows.append(checked.row)
                else:
                    assert checked.quarantined is not None
                    quarantined.append(checked.quarantined)
            if on_page is not None:
                on_page(pages, page)
            if len(rows) >= _WRITE_EVERY:
                load.write(pa.Table.from_pylist(rows, schema=CASE_SCHEMA))
                rows = []
            if page.next_cursor is None:
                break
            page_cursor = page.next_cursor
        changes = watch.check(PLATFORM, "cases", accept=accept_schema_change)
        load.write(pa.Table.from_pylist(rows, schema=CASE_SCHEMA))
        load.quarantine(quarantined)
        extra: dict[str, Any] = {
            "pages": pages,
            "requests": client.requests_made,
            "retries": client.retries,
            "token_renewals": client.token_renewals,
            "listing_restarts": restarts,
            "rows_already_read": repeats,
            "schema_drift": dict(sorted(drift.items())),
            "schema_changes": changes,
        }
        if window is not None:
            extra["backfill"] = window.manifest(tz=TZ)
            return load.commit(cursor_to=load.cursor_from, rows_read=read, extra=extra)
        cursor_to = newest.cursor() if newest.at is not None else load.cursor_from
        if cursor_to is not None:
            # An accepted disappearance is the source's schema now: later loads without the field go on.
            cursor_to = {**cursor_to, "fields": [name for name in watch.seen() if changes.get(name) != "disappeared"]}
        return load.commit(cursor_to=cursor_to, rows_read=read, extra=extra)


def load_matters(lake: Lake, conn: Any = CONN_ID, *, policy: RetryPolicy | None = None) -> BatchManifest:
    """Land the matter list (6 categories, 30 matters) as one snapshot batch."""
    conn = get_connection(conn) if isinstance(conn, str) else conn
    with EnforcementClient.from_connection(conn, policy=policy) as client, \
            lake.begin(PLATFORM, "matters", MATTER_SCHEMA) as load:
        document = client.matters()
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        seen: set[str] = set()
        for category in document["categories"]:
            for row in _category_rows(category, quarantined):
                if row["matter_code"] in seen:
                    quarantined.append(QuarantinedRecord(row["matter_code"], "matter_code",
                                                         "duplicate_matter_code", mask_case(row)))
                else:
                    seen.add(row["matter_code"])
                    rows.append(row)
        served = len(rows) + len(quarantined)
        digest = content_digest([*rows, *quarantined])
        unchanged = (load.cursor_from or {}).get("content_sha256") == digest
        if not unchanged:  # the same list again lands nothing: the snapshot before it still stands
            load.write(pa.Table.from_pylist(rows, schema=MATTER_SCHEMA))
            load.quarantine(quarantined)
        return load.commit(cursor_to={"content_sha256": digest}, rows_read=0 if unchanged else served,
                           extra={"requests": client.requests_made, "retries": client.retries,
                                  "rows_served": served, "unchanged": unchanged})


def _category_rows(category: Any, quarantined: list[QuarantinedRecord]) -> list[dict[str, Any]]:
    """The matters of one category; one that does not fit the schema is quarantined."""
    matters = category.get("matters") if isinstance(category, dict) else None
    if not isinstance(matters, list) or not isinstance(category.get("category_code"), str):
        quarantined.append(QuarantinedRecord(None, "categories", "schema_mismatch", mask_case(category)))
        return []
    rows = []
    for matter in matters:
        if not isinstance(matter, dict) or not isinstance(matter.get("matter_code"), str):
            quarantined.append(QuarantinedRecord(None, "matter_code", "schema_mismatch", mask_case(matter)))
            continue
        rows.extend(matter_rows({"categories": [{**category, "matters": [matter]}]}))
    return rows


def _landed(lake: Lake, *, since: datetime | None = None, until: datetime | None = None,
            batches: list[BatchManifest] | None = None) -> set[tuple[str, int]]:
    """The versions (case_id, updated_at µs) the lake holds in [since, until) (of ``batches``, or all); a
    quarantined record without a readable id or time has no version to skip."""
    def quarantined(record_id: str | None, served: Any) -> tuple[str, int] | None:
        key = version_key(served)
        return None if record_id is None or key is None else (record_id, key[1])

    return landed_versions(lake, PLATFORM, "cases", id_column="case_id", quarantined=quarantined, since=since,
                           until=until, batches=batches)


class _Newest:
    """The newest ``updated_at`` read and the case ids read at exactly that time (the incremental cursor)."""

    def __init__(self, at: int | None, ids: set[str]) -> None:
        self.at = at
        self.ids = ids

    @classmethod
    def of(cls, cursor: dict[str, Any]) -> _Newest:
        if not cursor.get("updated_at"):
            return cls(None, set())
        return cls(to_micros(parse_instant(cursor["updated_at"])), set(cursor.get("case_ids_at") or []))

    def keys(self) -> set[tuple[str, int]]:
        return {(case_id, self.at) for case_id in self.ids} if self.at is not None else set()

    def see(self, key: tuple[str, int]) -> None:
        case_id, at = key
        if self.at is None or at > self.at:
            self.at, self.ids = at, {case_id}
        elif at == self.at:
            self.ids.add(case_id)

    def iso(self) -> str | None:
        """The newest time as the district's local ISO time (the spelling of the cursor)."""
        if self.at is None:
            return None
        moment = datetime.fromtimestamp(self.at // 1_000_000, tz=UTC).replace(microsecond=self.at % 1_000_000)
        return moment.astimezone(TZ).isoformat()

    def cursor(self) -> dict[str, Any]:
        return {"updated_at": self.iso(), "case_ids_at": sorted(self.ids)}
