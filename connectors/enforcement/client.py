"""The enforcement platform's HTTP API (specs/enforcement.md): OAuth2 client credentials, cursor paging.

Authentication: a bearer token from ``POST /oauth/token`` (client credentials), renewed before it expires and,
when a call answers 401 anyway (tokens really expire mid-load, or the platform revokes them), renewed once and
the call sent again; a second 401 stops. A 410 Gone (an expired paging cursor) is not an error of the call but
of the listing: it is raised as ``CursorExpired`` for the load to restart its listing.

Transient, retried with backoff up to a bound: 429 (waiting what ``Retry-After`` says), 500/502/503/504,
connection errors and timeouts, a connection dropped mid-body, a body that does not parse as JSON (truncated).
Anything else (400, 403, 404, an answer of the wrong shape) stops at once with an ``EnforcementError`` naming
the platform, the request and the reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from gridlake.http import PlatformClient, PlatformError, RetryPolicy, base_url_from, error_text, parse_json

__all__ = [
    "CASES_PATH",
    "MATTERS_PATH",
    "MAX_PAGE_SIZE",
    "PLATFORM",
    "TOKEN_PATH",
    "CasePage",
    "CursorExpired",
    "EnforcementClient",
    "EnforcementError",
    "RetryPolicy",
]

PLATFORM = "enforcement"
TOKEN_PATH = "/oauth/token"
CASES_PATH = "/api/v1/cases"
MATTERS_PATH = "/api/v1/matters"
MAX_PAGE_SIZE = 500
_RENEW_MARGIN_S = 60.0  # renew a token this long before the platform says it expires (at most a tenth of it)


class EnforcementError(PlatformError):
    """A request to the enforcement platform failed for good: names the platform, the request and the reason."""


class CursorExpired(EnforcementError):
    """410 Gone: the paging cursor expired; the listing must restart from the last ``updated_at`` landed."""


@dataclass(frozen=True)
class CasePage:
    """One answer of ``GET /api/v1/cases``: its items as served and the cursor of the next page (or None)."""

    items: list[Any]
    next_cursor: str | None
    request: str


class EnforcementClient(PlatformClient):
    """A small client of the enforcement API; ``requests_made``, ``retries``, ``token_renewals`` count what it did."""

    platform = PLATFORM
    error = EnforcementError

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, policy: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, policy=policy, transport=transport)
        self._credentials = {"grant_type": "client_credentials", "client_id": client_id,
                             "client_secret": client_secret}
        self._token: str | None = None
        self._token_until = 0.0
        self.token_renewals = 0

    @classmethod
    def from_connection(cls, conn: Any, *, policy: RetryPolicy | None = None,
                        transport: httpx.BaseTransport | None = None) -> EnforcementClient:
        """A client for an Airflow connection: host the base URL, login the client_id, password the secret."""
        base_url = base_url_from(conn, platform=PLATFORM, error=EnforcementError)
        if not conn.login or not conn.password:
            raise EnforcementError(f"{PLATFORM}: connection {conn.conn_id!r} needs login (client_id) and "
                                   f"password (client_secret)")
        return cls(base_url, conn.login, conn.password, policy=policy, transport=transport)

    # ------------------------------------------------------------ endpoints

    def matters(self) -> dict[str, Any]:
        """``GET /api/v1/matters``: the categories, each with its matters."""
        data, _ = self.get_json(MATTERS_PATH, {})
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
            raise EnforcementError(f"{PLATFORM}: {self.describe(MATTERS_PATH, {})}: expected an object with "
                                   f"'categories', got {type(data).__name__}")
        return data

    def cases_page(self, *, limit: int, updated_since: str | None = None, cursor: str | None = None) -> CasePage:
        """One page of ``GET /api/v1/cases``: the first of a listing (``updated_since``) or the next (``cursor``)."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be 1-{MAX_PAGE_SIZE}, got {limit}")
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        elif updated_since is not None:
            params["updated_since"] = updated_since
        described = self.describe(CASES_PATH, params)
        data, _ = self.get_json(CASES_PATH, params)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list) \
                or not (data.get("next_cursor") is None or isinstance(data.get("next_cursor"), str)):
            raise EnforcementError(f"{PLATFORM}: {described}: expected {{'items': [...], 'next_cursor': ...}}, "
                                   f"got {json.dumps(data, ensure_ascii=False)[:200]}")
        return CasePage(items=data["items"], next_cursor=data.get("next_cursor") or None, request=described)

    # ------------------------------------------------------------ the token

    def _renew_token(self) -> str:
        """``POST /oauth/token`` (client credentials), retrying what is transient."""
        data = self.with_retries(self._token_attempt, f"POST {self.base_url}{TOKEN_PATH}")
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise EnforcementError(f"{PLATFORM}: POST {self.base_url}{TOKEN_PATH}: no access_token in the answer")
        expires_in = data.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 3600.0
        self._token = token
        self._token_until = time.monotonic() + lifetime - min(_RENEW_MARGIN_S, lifetime / 10)
        self.token_renewals += 1
        return token

    def _token_attempt(self) -> Any:
        response = self.send("POST", TOKEN_PATH, data=self._credentials)
        if response.status_code != 200:
            raise EnforcementError(f"{PLATFORM}: POST {self.base_url}{TOKEN_PATH} (client "
                                   f"{self._credentials['client_id']!r}): HTTP {response.status_code}: "
                                   f"{error_text(response)}")
        return parse_json(response)

    def _bearer(self) -> str:
        if self._token is None or time.monotonic() >= self._token_until:
            return self._renew_token()
        return self._token

    # ------------------------------------------------------------ requests

    def get_json(self, path: str, params: dict[str, Any]) -> tuple[Any, httpx.Response]:
        """GET ``path`` with the bearer token and parse its JSON body; a 401 renews the token once, a 410 is
        ``CursorExpired``, anything else not transient an ``EnforcementError``."""
        described = self.describe(path, params)

        def attempt() -> tuple[Any, httpx.Response]:
            response = self._get(path, params, self._bearer())
            if response.status_code == 401:
                # The token expired or was revoked since we got it: a new one, and the call once more.
                response = self._get(path, params, self._renew_token())
                if response.status_code == 401:
                    raise self.fail(described, f"HTTP 401 with a token just issued: {error_text(response)}")
            if response.status_code == 410:
                raise CursorExpired(f"{PLATFORM}: {described}: HTTP 410: {error_text(response)}")
            if response.status_code != 200:
                raise self.fail(described, f"HTTP {response.status_code}: {error_text(response)}")
            return parse_json(response), response

        return self.with_retries(attempt, described)

    def _get(self, path: str, params: dict[str, Any], token: str) -> httpx.Response:
        return self.send("GET", path, params=params, headers={"Authorization": f"Bearer {token}"})

    def describe(self, path: str, params: dict[str, Any], *, method: str = "GET") -> str:
        """The request as an error names it, without the (long, opaque) cursor."""
        shown = {key: ("…" if key == "cursor" else value) for key, value in params.items()}
        return super().describe(path, shown, method=method)
