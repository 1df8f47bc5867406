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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from connectors.credit.client import MAX_PAGE_SIZE, PLATFORM, CreditClient, CreditError, Page, RetryPolicy
from connectors.credit.rules import TZ, check, parse_instant, version_key
from connectors.credit.schema import SCHEMAS
from gridlake.connections import get_connection
from gridlake.lake import BatchManifest, Lake, QuarantinedRecord

__all__ = ["CONN_ID", "DEFAULT_PAGE_SIZE", "load_records", "load_subjects"]

CONN_ID = "credit_api"
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
_WRITE_EVERY = 20_000


def load_subjects(lake: Lake, conn: Any = CONN_ID, *, page_size: int = DEFAULT_PAGE_SIZE,
                  policy: RetryPolicy | None = None,
                  on_page: Callable[[int, Page], None] | None = None) -> BatchManifest:
    """Land the subject file versions changed since the committed cursor; returns the committed batch."""
    return _load("subjects", lake, conn, page_size=page_size, policy=policy, on_page=on_page)


def load_records(lake: Lake, conn: Any = CONN_ID, *, page_size: int = DEFAULT_PAGE_SIZE,
                 policy: RetryPolicy | None = None,
                 on_page: Callable[[int, Page], None] | None = None) -> BatchManifest:
    """Land the credit record versions changed since the committed cursor; returns the committed batch."""
    return _load("records", lake, conn, page_size=page_size, policy=policy, on_page=on_page)


def _load(entity: str, lake: Lake, conn: Any, *, page_size: int, policy: RetryPolicy | None,
          on_page: Callable[[int, Page], None] | None) -> BatchManifest:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}, got {page_size}")
    conn = get_connection(conn) if isinstance(conn, str) else conn
    schema = SCHEMAS[entity]
    with CreditClient.from_connection(conn, policy=policy) as client, lake.begin(PLATFORM, entity, schema) as load:
        since: str | None = (load.cursor_from or {}).get("updated_since")
        probe = client.page(entity, offset=0, limit=1, updated_since=since)
        if probe.date is None:
            raise CreditError(f"{PLATFORM}: {probe.request}: the answer has no readable Date header: cannot "
                              f"take a snapshot at the platform's now")
        snapshot = probe.date.astimezone(TZ).isoformat()
        rows: list[dict[str, Any]] = []
        quarantined: list[QuarantinedRecord] = []
        seen: set[tuple[str, int]] = set()
        drift: Counter[str] = Counter()
        read = pages = repeats = 0
        total: int | None = None
        if since is None or parse_instant(since) < probe.date:  # else the window [since, snapshot) is empty
            offset = 0
            while True:
                page = client.page(entity, offset=offset, limit=page_size, updated_since=since,
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
                    if key is not None and key in seen:
                        repeats += 1
                        continue
                    if key is not None:
                        seen.add(key)
                    read += 1
                    checked = check(entity, item)
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
        load.write(pa.Table.from_pylist(rows, schema=schema))
        load.quarantine(quarantined)
        return load.commit(
            cursor_to={"updated_since": max(snapshot, since, key=parse_instant) if since else snapshot},
            rows_read=read,
            extra={
                "snapshot": snapshot,
                "total": total,
                "pages": pages,
                "requests": client.requests_made,
                "retries": client.retries,
                "rows_already_read": repeats,
                "schema_drift": dict(sorted(drift.items())),
            },
        )
