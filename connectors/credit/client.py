"""The district credit platform's HTTP API (specs/credit.md): the API key, retries, the platform's own clock.

Every call sends ``Authorization: ApiKey <key>``. The platform is slow (answers of 1-3 s are normal), so the
timeout is generous. Transient, retried with backoff up to a bound: 429 (waiting what ``Retry-After`` says),
500/502/503/504, connection errors and timeouts, a connection dropped mid-body, a body that does not parse as
JSON (truncated). Anything else (400, 401, 404, an answer of the wrong shape) stops at once with a
``CreditError`` naming the platform, the request and the reason.

Each answer's ``Date`` header is kept as ``platform_now``: the snapshot a load pages in must not lie in the
platform's future, and the machine's clock is not the platform's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from gridlake.http import PlatformClient, PlatformError, RetryPolicy, base_url_from, response_date

__all__ = ["DEFAULT_POLICY", "ENTITIES", "MAX_PAGE_SIZE", "PLATFORM", "CreditClient", "CreditError", "Page",
           "RetryPolicy"]

PLATFORM = "credit"
ENTITIES = ("subjects", "records")
MAX_PAGE_SIZE = 1000
# The platform is slow: a patient first wait and a generous timeout.
DEFAULT_POLICY = RetryPolicy(initial_wait_s=1.0, timeout_s=90.0)


class CreditError(PlatformError):
    """A request to the credit platform failed for good: names the platform, the request and the reason."""


@dataclass(frozen=True)
class Page:
    """One answer of a listing: ``total`` of its filter, the ``offset`` it starts at, its items as served."""

    total: int
    offset: int
    items: list[Any]
    date: datetime | None
    request: str


class CreditClient(PlatformClient):
    """A small client of the credit API; ``requests_made`` and ``retries`` count what it did."""

    platform = PLATFORM
    error = CreditError

    def __init__(self, base_url: str, api_key: str, *, policy: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, policy=policy or DEFAULT_POLICY, headers={"Authorization": f"ApiKey {api_key}"},
                         transport=transport)

    @classmethod
    def from_connection(cls, conn: Any, *, policy: RetryPolicy | None = None,
                        transport: httpx.BaseTransport | None = None) -> CreditClient:
        """A client for an Airflow connection: host is the base URL, password the API key (specs/README.md)."""
        base_url = base_url_from(conn, platform=PLATFORM, error=CreditError)
        if not conn.password:
            raise CreditError(f"{PLATFORM}: connection {conn.conn_id!r} has no password (the API key)")
        return cls(base_url, conn.password, policy=policy, transport=transport)

    def page(self, entity: str, *, offset: int, limit: int, updated_since: str | None = None,
             updated_before: str | None = None) -> Page:
        """One page of ``GET /subjects`` or ``GET /records`` (ordered by updated_at and id)."""
        if entity not in ENTITIES:
            raise ValueError(f"entity must be one of {ENTITIES}, got {entity!r}")
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be 1-{MAX_PAGE_SIZE}, got {limit}")
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if updated_since is not None:
            params["updated_since"] = updated_since
        if updated_before is not None:
            params["updated_before"] = updated_before
        path = f"/{entity}"
        described = self.describe(path, params)
        data, response = self.get_json(path, params)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list) \
                or not isinstance(data.get("total"), int) or isinstance(data.get("total"), bool):
            raise CreditError(f"{PLATFORM}: {described}: expected {{'total': n, 'offset': o, 'items': [...]}}, "
                              f"got {json.dumps(data, ensure_ascii=False)[:200]}")
        answered_offset = data.get("offset", offset)
        if answered_offset != offset:
            raise CreditError(f"{PLATFORM}: {described}: answered offset {answered_offset}, asked {offset}")
        return Page(total=data["total"], offset=offset, items=data["items"], date=response_date(response),
                    request=described)
