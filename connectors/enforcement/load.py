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
from connectors.enforcement.schema import CASE_SCHEMA, MATTER_SCHEMA
from gridlake.connections import get_connection
from gridlake.lake import BatchManifest, Lake, QuarantinedRecord

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
) -> BatchManifest:
    """Land the case versions changed since the committed cursor; returns the committed batch.

    ``conn`` is an Airflow connection (or its id). ``on_page`` is called after each page is read (progress,
    tests).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}, got {page_size}")
    conn = get_connection(conn) if isinstance(conn, str) else conn
    with EnforcementClient.from_connection(conn, policy=policy) as client, \
            lake.begin(PLATFORM, "cases", CASE_SCHEMA) as load:
        codes = frozenset(row["matter_code"] for row in matter_rows(client.matters()))
        if not codes:
            raise EnforcementError(f"{PLATFORM}: GET {client.base_url}/api/v1/matters lists no matter: cannot "
                                   f"check matter codes")
        committed = load.cursor_from or {}
        since: str | None = committed.get("updated_at")
        newest = _Newest.of(committed)
        done: set[tuple[str, int]] = newest.keys()  # versions at the cursor's time, landed by the last load
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        read = pages = repeats = restarts = 0
        drift: Counter[str] = Counter()
        start, page_cursor = since, None
        while True:
            try:
                page = client.cases_page(limit=page_size, updated_since=start, cursor=page_cursor)
            except CursorExpired as err:
                restarts += 1
                if restarts > max_restarts:
                    raise EnforcementError(f"{err} (the listing expired {restarts} times; gave up)") from err
                # Restart from the newest updated_at read (inclusive): the overlap is skipped below.
                start, page_cursor = newest.iso() or since, None
                continue
            pages += 1
            for item in page.items:
                key = version_key(item)
                if key is not None and key in done:
                    repeats += 1
                    continue
                checked = check_case(item, matter_codes=codes)
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
        load.write(pa.Table.from_pylist(rows, schema=CASE_SCHEMA))
        load.quarantine(quarantined)
        return load.commit(cursor_to=newest.cursor() if newest.at is not None else (load.cursor_from or None),
                           rows_read=read, extra={
                               "pages": pages,
                               "requests": client.requests_made,
                               "retries": client.retries,
                               "token_renewals": client.token_renewals,
                               "listing_restarts": restarts,
                               "rows_already_read": repeats,
                               "schema_drift": dict(sorted(drift.items())),
                           })


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
        load.write(pa.Table.from_pylist(rows, schema=MATTER_SCHEMA))
        load.quarantine(quarantined)
        return load.commit(cursor_to=None, rows_read=len(rows) + len(quarantined),
                           extra={"requests": client.requests_made, "retries": client.retries})


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
        if self.at is None:
            return None
        moment = datetime.fromtimestamp(self.at // 1_000_000, tz=UTC).replace(microsecond=self.at % 1_000_000)
        return moment.astimezone(TZ).isoformat()

    def cursor(self) -> dict[str, Any]:
        return {"updated_at": self.iso(), "case_ids_at": sorted(self.ids)}
