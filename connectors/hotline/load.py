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
``updated_after`` filter of an incremental load: a backfill of its range, or a full reload (``full=True``), reads it.

Within a load the same version twice (the platform repeats orders on a page) is read once: ``rows_read``
counts distinct versions, which the lake reconciles against landed + quarantined; the repeats are reported.

A *backfill* (``since``/``until``) reads a range of updated times again, asking the platform for it
(``updated_after``/``updated_before``), and lands the versions of the range that are not in the lake yet (raw or
quarantine zone, keyed as above). It never moves the cursor and never reaches into what the incremental loads
read: its end is clamped to where they start. An incremental load whose start lies before the end of a committed
backfill skips that backfill's versions.

Every load watches the declared fields (``RequestWatch``): a field the earlier loads had that every record of
this one lacks, or whose every value changed type, stops the load (``SchemaChanged``) unless it is accepted.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.hotline.client import PLATFORM, HotlineClient, HotlineError, Page, RetryPolicy
from connectors.hotline.rules import (
    REQUEST_FIELDS,
    TZ,
    RequestRules,
    RequestWatch,
    check_request,
    check_service,
    normalise_code,
    parse_instant,
    version_key,
)
from connectors.hotline.schema import REQUEST_SCHEMA, SERVICE_FIELDS, SERVICE_SCHEMA
from gridlake.backfill import Version, Window, backfills_reaching, check_range, landed_versions
from gridlake.connections import get_connection
from gridlake.lake import BatchManifest, Lake, QuarantinedRecord, content_digest
from gridlake.records import FieldWatch, to_micros
from gridlake.settings import get_settings

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
_TICK = timedelta(microseconds=1)  # the finest step of a landed time
_WRITE_EVERY = 20_000
_Key = tuple[str, str]
_Landed = tuple[str, int | str]  # see _landed


def load_requests(
    lake: Lake,
    conn: Any = CONN_ID,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    clock: Callable[[], datetime] | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    full: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    accept_schema_change: bool = False,
    pii_salt: str | None = None,
    policy: RetryPolicy | None = None,
    on_page: Callable[[int, Page], None] | None = None,
) -> BatchManifest:
    """Land the work order versions changed since the committed cursor; returns the committed batch.

    ``conn`` is an Airflow connection (or its id). ``clock`` gives the platform's now, beyond which an
    updated time is quarantined (default: the platform's ``Date`` header). ``full`` reads everything again
    (versions already landed are skipped only within the look-back). ``since``/``until`` (aware) make the load
    a backfill of the versions updated in [since, until) (None: from the beginning / up to the cursor), which
    lands what the lake lacks and leaves the cursor as it is. ``accept_schema_change`` lands a load in which a
    field disappeared or changed type (otherwise ``SchemaChanged`` stops it). ``pii_salt`` keys the complainant
    phone hash (default: the connection's extra ``pii_salt``, else ``$GRIDLAKE_PII_SALT``). ``on_page`` is
    called after each page is read (progress, tests).
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}, got {page_size}")
    backfill = check_range(PLATFORM, "requests", since, until)
    if backfill and full:
        raise ValueError(f"{PLATFORM}.requests: full=True reads everything; it takes no since/until")
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
        watch = RequestWatch(REQUEST_FIELDS, known=(load.cursor_from or {}).get("fields") or (),
                             min_records=get_settings().schema_change_min_records)
        rules = RequestRules(service_codes=codes, now=now, pii_salt=salt, watch=watch)
        window: _Range | None = None
        if backfill:
            # A throwaway cursor (it only tells the repeats within this load); the committed one stays.
            cursor = _Cursor(lookback=lookback)
            window = _Range.of(since, until, point=_resume_point(load.cursor_from, lookback=lookback))
            landed = _landed(lake, since=window.since, until=window.end)
            start, before = window.after(), window.before()
        else:
            cursor = _Cursor.load(load.cursor_from, lookback=lookback)
            start, before = None if full else cursor.start(), None
            landed = _landed(lake, since=start, after=True,
                             batches=backfills_reaching(lake, PLATFORM, "requests", start))
        tally = _Tally()
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        pages: Iterable[Page] = () if window is not None and window.empty else \
            _pages(client, start=start, before=before, page_size=page_size, tally=tally)
        for page in pages:
            rules = replace(rules, now=platform_now())
            for item in page.items:
                tally.served += 1
                if window is not None and not window.holds(_updated(item)):
                    tally.outside += 1  # the one-second margins asked for around the range
                    continue
                key = version_key(item)
                if key in cursor.seen or _as_landed(item, key) in landed:
                    tally.already_read += 1
                    if key not in cursor.seen:  # landed by an earlier batch: it moves the cursor as if read
                        cursor.read(key, item, now=rules.now + rules.future_tolerance, new=False)
                    continue
                cursor.read(key, item, now=rules.now + rules.future_tolerance)
                watch.record(item)
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
        changes = watch.check(PLATFORM, "requests", accept=accept_schema_change)
        load.write(pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA))
        load.quarantine(quarantined)
        extra = tally.report(client, now=now, full=not backfill and (full or load.cursor_from is None))
        extra["schema_changes"] = changes
        if window is not None:
            extra["backfill"] = window.report()
            extra["rows_outside_range"] = tally.outside
            cursor_to = load.cursor_from
        else:
            cursor_to = cursor.dump()
            if cursor_to is not None:
                cursor_to["fields"] = watch.seen()
        return load.commit(cursor_to=cursor_to, rows_read=cursor.new_versions, extra=extra)


def load_services(
    lake: Lake,
    conn: Any = CONN_ID,
    *,
    clock: Callable[[], datetime] | None = None,
    accept_schema_change: bool = False,
    policy: RetryPolicy | None = None,
) -> BatchManifest:
    """Land the whole service list (the matter categories) as one snapshot batch.

    A field the earlier snapshots had that every service lacks, or whose every value changed type, stops the
    load (``SchemaChanged``) unless ``accept_schema_change``.
    """
    conn = get_connection(conn) if isinstance(conn, str) else conn
    with HotlineClient.from_connection(conn, policy=policy) as client, \
            lake.begin(PLATFORM, "services", SERVICE_SCHEMA) as load:
        items = client.services()
        now = clock() if clock is not None else (client.platform_now or datetime.now(UTC))
        watch = FieldWatch(SERVICE_FIELDS, known=(load.cursor_from or {}).get("fields") or (),
                           min_records=get_settings().schema_change_min_records)
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        drift: Counter[str] = Counter()
        codes: set[str] = set()
        for item in items:
            watch.record(item)
            checked = check_service(item, watch=watch)
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
        changes = watch.check(PLATFORM, "services", accept=accept_schema_change)
        digest = content_digest([*rows, *quarantined])
        previous = load.cursor_from or {}
        unchanged = previous.get("content_sha256") == digest
        if not unchanged:  # the same list again lands nothing: the snapshot before it still stands
            load.write(pa.Table.from_pylist(rows, schema=SERVICE_SCHEMA))
            load.quarantine(quarantined)
        snapshot_at = previous["snapshot_at"] if unchanged else now.astimezone(TZ).isoformat()
        return load.commit(cursor_to={"snapshot_at": snapshot_at, "checked_at": now.astimezone(TZ).isoformat(),
                                      "content_sha256": digest, "fields": watch.seen()},
                           rows_read=0 if unchanged else len(items),
                           extra={"requests": client.requests_made, "retries": client.retries,
                                  "rows_served": len(items), "unchanged": unchanged,
                                  "schema_drift": dict(sorted(drift.items())), "schema_changes": changes})


def _resume_point(state: dict[str, Any] | None, *, lookback: timedelta) -> datetime | None:
    """Where the incremental loads read again from (strictly after it): the cursor's newest time less the
    look-back it was committed with; None without a cursor."""
    if not state:
        return None
    stored = state.get("lookback_s")
    return _Cursor.load(state, lookback=lookback if stored is None else timedelta(seconds=stored)).start()


def _landed(lake: Lake, *, since: datetime | None = None, until: datetime | None = None, after: bool = False,
            batches: list[BatchManifest] | None = None) -> set[_Landed]:
    """The versions in the lake, raw and quarantine zones, with an updated time in [since, until) (``after``: not
    ``since`` itself), of all batches or of ``batches``, keyed as ``_as_landed`` keys them. A quarantined version
    whose time does not parse is keyed by its text (``version_key``) and is always in: the platform placed it."""
    untimed: set[_Key] = set()

    def quarantined(_record_id: str | None, item: Any) -> Version | None:
        moment = _updated(item)
        if moment is None:
            untimed.add(version_key(item))
            return None
        return str(item.get("service_request_id")), to_micros(moment)

    timed = landed_versions(lake, PLATFORM, "requests", id_column="service_request_id",
                            time_column="updated_datetime", quarantined=quarantined, since=since, until=until,
                            after=after, batches=batches)
    return timed | untimed


def _as_landed(item: Any, key: _Key) -> _Landed:
    """A version's key as ``_landed`` holds it: (id, updated time in µs), or ``key`` when its time does not parse."""
    moment = _updated(item)
    return key if moment is None else (key[0], to_micros(moment))


@dataclass(frozen=True)
class _Range:
    """A backfill's ``Window`` as hotline reads it: the updated times [since, end) and the margins asked around it.

    The incremental loads read strictly after the cursor's point, so a window that ends there (``capped``) reads
    the versions of that very instant too: its ``end`` is one tick past the point, and nothing falls between.
    """

    window: Window
    end: datetime | None

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None, *, point: datetime | None) -> _Range:
        window = Window.clamped_to(since, until, point)
        return cls(window, window.until + _TICK if window.capped and window.until is not None else window.until)

    @property
    def since(self) -> datetime | None:
        return self.window.since

    @property
    def empty(self) -> bool:
        return self.since is not None and self.end is not None and self.since >= self.end

    def holds(self, moment: datetime | None) -> bool:
        """Whether an updated time is in the range (one that does not parse: the platform placed it there)."""
        return moment is None or ((self.since is None or moment >= self.since)
                                  and (self.end is None or moment < self.end))

    def after(self) -> datetime | None:
        """The first ``updated_after`` (strict; sent in whole seconds): a second before ``since``."""
        return None if self.since is None else self.since - _STEP

    def before(self) -> datetime | None:
        """The ``updated_before`` (the spec does not say whether it is strict): a second past the end."""
        return None if self.end is None else self.end.replace(microsecond=0) + _STEP

    def report(self) -> dict[str, Any]:
        """The manifest's ``extra["backfill"]``, in the district's local time."""
        return self.window.manifest(tz=TZ)


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
    outside: int = 0
    without_offset: int = 0
    drift: Counter[str] = field(default_factory=Counter)

    def report(self, client: HotlineClient, *, now: datetime, full: bool) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "requests": client.requests_made,
            "retries": client.retries,
            "rows_served": self.served,
            # repeats on a page, the look-back's versions, and those an earlier batch landed (a backfill's own,
            # or the versions a backfill landed when an incremental load reads them again)
            "rows_already_read": self.already_read,
            "times_without_offset": self.without_offset,
            "schema_drift": dict(sorted(self.drift.items())),
            "platform_now": now.astimezone(TZ).isoformat(),
            "full": full,
        }


@dataclass
class _Cursor:
    """The incremental state: the newest updated time read and the versions read within the look-back."""

    lookback: timedelta
    newest: datetime | None = None
    newest_id: str | None = None
    seen: dict[_Key, datetime] = field(default_factory=dict)  # version key -> its (approximate) time
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
        """Where the load starts, strictly after: the newest time less the look-back, in whole seconds as
        ``updated_after`` is sent (None: from the beginning)."""
        return None if self.newest is None else (self.newest - self.lookback).replace(microsecond=0)

    def read(self, key: _Key, item: Any, *, now: datetime, new: bool = True) -> None:
        """Note a version read (``new``: not landed before): it is not read again; its time moves the cursor
        unless it is in the future."""
        self.new_versions += new
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
        since = self.start()
        assert since is not None
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


def _pages(client: HotlineClient, *, start: datetime | None, page_size: int, tally: _Tally,
           before: datetime | None = None) -> Iterator[Page]:
    """The pages of the listing after ``start`` (and up to ``before``), by key (see the module docstring), until
    a short page."""
    anchor, page = start, 1
    until = None if before is None else before.astimezone(TZ).isoformat()
    while True:
        after = None if anchor is None else anchor.astimezone(TZ).replace(microsecond=0).isoformat()
        answer = client.requests_page(page=page, page_size=page_size, updated_after=after, updated_before=until)
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
