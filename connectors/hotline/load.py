"""Load the hotline's work orders and services into the raw zone (one atomic batch per load).

Work orders (``requests``) load incrementally on ``updated_datetime``. The listing is ordered by
(updated_datetime, service_request_id) and ``updated_after`` is strict, so the load pages by key, not by
offset: each request asks ``updated_after`` = the newest updated time of the page before, less one second
(the orders of that same second come again and are de-duplicated), with ``page=1``. Paging by offset would
lose orders: when an order on an earlier page changes it leaves its place, every later order moves up one
place, and the first order of the next page is skipped. By key, an order that changes while the load pages
moves behind the key and is read when the load gets there; the load ends at the first short page. (Only if a
whole page shares one second does the load page by offset within that second.)

Across loads the cursor (committed with the batch, in its manifest) holds the newest updated time read and
the versions read within ``lookback`` of it. The next load starts at that time less ``lookback`` and skips
those versions: a version is landed once, but a version that appears late with an earlier time (within the
look-back) is still read. A version whose ``updated_datetime`` goes backwards (the spec says it happens) is
landed as served when the load sees it; one that goes back beyond the look-back is invisible to any
``updated_after`` filter, and a full reload (``full=True``) is the only way to read it.

Within a load the same version twice (the platform repeats orders on a page) is read once: ``rows_read``
counts distinct versions, which the lake reconciles against landed + quarantined; the repeats are reported.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.hotline.client import PLATFORM, HotlineClient, HotlineError, Page, RetryPolicy
from connectors.hotline.rules import (
    TZ,
    RequestRules,
    check_request,
    check_service,
    normalise_code,
    parse_instant,
    version_key,
)
from connectors.hotline.schema import REQUEST_SCHEMA, SERVICE_SCHEMA
from gridlake.connections import get_connection
from gridlake.lake import BatchManifest, Lake, QuarantinedRecord

__all__ = [
    "CONN_ID",
    "DEFAULT_LOOKBACK",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "PII_SALT_ENV",
    "load_requests",
    "load_services",
]

CONN_ID = "hotline_api"
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
DEFAULT_LOOKBACK = timedelta(minutes=10)
PII_SALT_ENV = "GRIDLAKE_PII_SALT"
_STEP = timedelta(seconds=1)
_WRITE_EVERY = 20_000


def load_requests(
    lake: Lake,
    conn: Any = CONN_ID,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    clock: Callable[[], datetime] | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    full: bool = False,
    pii_salt: str | None = None,
    policy: RetryPolicy | None = None,
    on_page: Callable[[int, Page], None] | None = None,
) -> BatchManifest:
    """Land the work order versions changed since the committed cursor; returns the committed batch.

    ``conn`` is an Airflow connection (or its id). ``clock`` gives the platform's now, beyond which an
    updated time is quarantined (default: the platform's ``Date`` header). ``full`` reads everything again
    (versions already landed are skipped only within the look-back). ``pii_salt`` keys the complainant phone
    hash (default: the connection's extra ``pii_salt``, else ``$GRIDLAKE_PII_SALT``). ``on_page`` is called
    after each page is read (progress, tests).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}, got {page_size}")
    conn = get_connection(conn) if isinstance(conn, str) else conn
    salt = _salt(conn, pii_salt)
    with HotlineClient.from_connection(conn, policy=policy) as client, \
            lake.begin(PLATFORM, "requests", REQUEST_SCHEMA) as load:
        codes = frozenset(normalise_code(item["service_code"]) for item in client.services()
                          if isinstance(item, dict) and isinstance(item.get("service_code"), str))
        if not codes:
            raise HotlineError(f"{PLATFORM}: GET {client.base_url}/services.json lists no service: cannot check "
                               f"service codes")
        def platform_now() -> datetime:  # read again for every page: a long load's "now" moves on
            return clock() if clock is not None else (client.platform_now or datetime.now(UTC))

        now = platform_now()
        rules = RequestRules(service_codes=codes, now=now, pii_salt=salt)
        cursor = _Cursor.load(load.cursor_from, lookback=lookback)
        tally = _Tally()
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        for page in _pages(client, start=None if full else cursor.start(), page_size=page_size, tally=tally):
            rules = replace(rules, now=platform_now())
            for item in page.items:
                tally.served += 1
                key = version_key(item)
                if key in cursor.seen:
                    tally.already_read += 1
                    continue
                cursor.read(key, item, now=rules.now + rules.future_tolerance)
                checked = check_request(item, rules)
                tally.drift.update(checked.drift)
                tally.without_offset += checked.without_offset
                if checked.row is not None:
                    rows.append(checked.row)
                else:
                    assert checked.quarantined is not None
                    quarantined.append(checked.quarantined)
                if len(rows) >= _WRITE_EVERY:
                    load.write(pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA))
                    rows.clear()
            if on_page is not None:
                on_page(tally.pages, page)
        load.write(pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA))
        load.quarantine(quarantined)
        return load.commit(cursor_to=cursor.dump(), rows_read=cursor.new_versions,
                           extra=tally.report(client, now=now, cursor_from=load.cursor_from, full=full))


def load_services(
    lake: Lake,
    conn: Any = CONN_ID,
    *,
    clock: Callable[[], datetime] | None = None,
    policy: RetryPolicy | None = None,
) -> BatchManifest:
    """Land the whole service list (the matter categories) as one snapshot batch."""
    conn = get_connection(conn) if isinstance(conn, str) else conn
    with HotlineClient.from_connection(conn, policy=policy) as client, \
            lake.begin(PLATFORM, "services", SERVICE_SCHEMA) as load:
        items = client.services()
        now = clock() if clock is not None else (client.platform_now or datetime.now(UTC))
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        drift: Counter[str] = Counter()
        codes: set[str] = set()
        for item in items:
            checked = check_service(item)
            drift.update(checked.drift)
            if checked.row is not None and normalise_code(checked.row["service_code"]) in codes:
                quarantined.append(QuarantinedRecord(checked.row["service_code"], "service_code",
                                                     "duplicate_service_code", _json(item)))
            elif checked.row is not None:
                codes.add(normalise_code(checked.row["service_code"]))
                rows.append(checked.row)
            else:
                assert checked.quarantined is not None
                quarantined.append(checked.quarantined)
        load.write(pa.Table.from_pylist(rows, schema=SERVICE_SCHEMA))
        load.quarantine(quarantined)
        return load.commit(cursor_to={"snapshot_at": now.astimezone(TZ).isoformat()}, rows_read=len(items),
                           extra={"requests": client.requests_made, "retries": client.retries,
                                  "schema_drift": dict(sorted(drift.items()))})


def _json(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False, default=str)


def _salt(conn: Any, given: str | None) -> bytes:
    """The key of the complainant phone hash: kept apart from the data, the same for every load."""
    extra = getattr(conn, "extra_dejson", None) or {}
    salt = given or extra.get("pii_salt") or os.environ.get(PII_SALT_ENV)
    if not salt:
        raise HotlineError(
            f"{PLATFORM}: no salt for the complainant phone hash: set the connection {conn.conn_id!r}'s extra "
            f"'pii_salt' or ${PII_SALT_ENV} (a secret, the same for every load, never in code)")
    return str(salt).encode()


@dataclass
class _Tally:
    """What a load saw, for its manifest."""

    pages: int = 0
    served: int = 0
    already_read: int = 0
    without_offset: int = 0
    drift: Counter[str] = field(default_factory=Counter)

    def report(self, client: HotlineClient, *, now: datetime, cursor_from: dict[str, Any] | None,
               full: bool) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "requests": client.requests_made,
            "retries": client.retries,
            "rows_served": self.served,
            "rows_already_read": self.already_read,  # repeats on a page and the look-back's versions
            "times_without_offset": self.without_offset,
            "schema_drift": dict(sorted(self.drift.items())),
            "platform_now": now.astimezone(TZ).isoformat(),
            "full": full or cursor_from is None,
        }


@dataclass
class _Cursor:
    """The incremental state: the newest updated time read and the versions read within the look-back."""

    lookback: timedelta
    newest: datetime | None = None
    newest_id: str | None = None
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)  # version key -> its (approximate) time
    new_versions: int = 0

    @classmethod
    def load(cls, state: dict[str, Any] | None, *, lookback: timedelta) -> _Cursor:
        cursor = cls(lookback=lookback)
        if state:
            cursor.newest = datetime.fromisoformat(state["updated_datetime"])
            cursor.newest_id = state.get("service_request_id")
            for record_id, updated, at in state.get("versions", []):
                cursor.seen[(record_id, updated)] = datetime.fromisoformat(at)
        return cursor

    def start(self) -> datetime | None:
        """Where the load starts: the newest time less the look-back (None: from the beginning)."""
        return None if self.newest is None else self.newest - self.lookback

    def read(self, key: tuple[str, str], item: Any, *, now: datetime) -> None:
        """Note a version read: it is not read again; its time moves the cursor unless it is in the future."""
        self.new_versions += 1
        moment = _updated(item)
        if moment is None:  # unparseable: it sits where the platform ordered it, after the newest so far
            self.seen[key] = self.newest or datetime.min.replace(tzinfo=UTC)
            return
        self.seen[key] = moment
        if moment <= now and (self.newest is None or moment >= self.newest):
            self.newest, self.newest_id = moment, key[0]

    def dump(self) -> dict[str, Any] | None:
        if self.newest is None:
            return None
        since = self.newest - self.lookback
        versions = sorted((at, key) for key, at in self.seen.items() if at > since)
        return {
            "updated_datetime": self.newest.astimezone(TZ).isoformat(),
            "service_request_id": self.newest_id,
            "lookback_s": self.lookback.total_seconds(),
            "versions": [[key[0], key[1], at.astimezone(TZ).isoformat()] for at, key in versions],
        }


def _updated(item: Any) -> datetime | None:
    value = item.get("updated_datetime") if isinstance(item, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None


def _pages(client: HotlineClient, *, start: datetime | None, page_size: int, tally: _Tally):
    """The pages of the listing after ``start``, by key (see the module docstring), until a short page."""
    anchor, page = start, 1
    while True:
        after = None if anchor is None else anchor.astimezone(TZ).replace(microsecond=0).isoformat()
        answer = client.requests_page(page=page, page_size=page_size, updated_after=after)
        tally.pages += 1
        distinct = {version_key(item)[0] for item in answer.items}
        expected = None if answer.total is None else min(page_size, max(0, answer.total - (page - 1) * page_size))
        if expected is not None and len(distinct) < expected:
            # A whole JSON array with fewer orders than the platform counted: never land it as if it were whole.
            raise HotlineError(f"{PLATFORM}: {answer.request}: {len(distinct)} orders on the page but "
                               f"X-Total-Count {answer.total} promises {expected}")
        yield answer
        if len(distinct) < page_size:
            return
        times = [moment for moment in map(_updated, answer.items) if moment is not None]
        following = (max(times) - _STEP).replace(microsecond=0) if times else None
        if following is not None and (anchor is None or following > anchor):
            anchor, page = following, 1
        else:
            page += 1  # a whole page within one second of the anchor: page by offset inside it
