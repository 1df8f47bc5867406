"""The hotline platform's HTTP API (specs/hotline.md): the API key, the listings, their shape.

Retries, the platform's time and error naming are gridlake.http's: transient failures (429 after its
``Retry-After``, 500/502/503/504, connection errors and timeouts, a connection dropped mid-body, a body that
does not parse as JSON) are retried with backoff up to a bound; anything else (400, 403, 404, an answer of the
wrong shape) stops at once with a ``HotlineError`` naming the platform, the request and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from gridlake.http import PlatformClient, PlatformError, RetryPolicy, base_url_from

__all__ = ["PLATFORM", "HotlineClient", "HotlineError", "Page", "RetryPolicy"]

PLATFORM = "hotline"
API_KEY_HEADER = "X-API-Key"


class HotlineError(PlatformError):
    """A request to the hotline platform failed for good: names the platform, the request and the reason."""


@dataclass(frozen=True)
class Page:
    """One answer of ``/requests.json``: its items as served and the ``X-Total-Count`` of its filter."""

    items: list[dict[str, Any]]
    total: int | None
    request: str


class HotlineClient(PlatformClient):
    """A small client of the hotline API; ``requests_made`` and ``retries`` count what it did."""

    platform = PLATFORM
    error = HotlineError

    def __init__(self, base_url: str, api_key: str, *, policy: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, policy=policy, headers={API_KEY_HEADER: api_key}, transport=transport)

    @classmethod
    def from_connection(cls, conn: Any, *, policy: RetryPolicy | None = None,
                        transport: httpx.BaseTransport | None = None) -> HotlineClient:
        """A client for an Airflow connection: host is the base URL, password the API key (specs/README.md)."""
        base_url = base_url_from(conn, platform=PLATFORM, error=HotlineError)
        if not conn.password:
            raise HotlineError(f"{PLATFORM}: connection {conn.conn_id!r} has no password (the API key)")
        return cls(base_url, conn.password, policy=policy, transport=transport)

    def services(self) -> list[dict[str, Any]]:
        """``GET /services.json``: the matter categories."""
        data, _ = self.get_json("/services.json", {})
        return _objects(data, self.describe("/services.json", {}))

    def requests_page(self, *, page: int, page_size: int, updated_after: str | None = None,
                      updated_before: str | None = None) -> Page:
        """One page of ``GET /requests.json`` with the 12345 extensions, ordered by (updated, id);
        ``updated_after`` is strict (the spec), ``updated_before`` bounds the other end."""
        params: dict[str, Any] = {"extensions": "true", "page": page, "page_size": page_size}
        if updated_after is not None:
            params["updated_after"] = updated_after
        if updated_before is not None:
            params["updated_before"] = updated_before
        data, response = self.get_json("/requests.json", params)
        total = response.headers.get("X-Total-Count")
        described = self.describe("/requests.json", params)
        return Page(items=_objects(data, described), total=int(total) if total and total.isdigit() else None,
                    request=described)


def _objects(data: Any, described: str) -> list[dict[str, Any]]:
    """The body must be a JSON array; its items are checked one by one later (a bad item is quarantined)."""
    if not isinstance(data, list):
        raise HotlineError(f"{PLATFORM}: {described}: expected a JSON array, got {type(data).__name__}")
    return data
