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
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

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
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_RENEW_MARGIN_S = 60.0  # renew a token this long before the platform says it expires (at most a tenth of it)


class EnforcementError(RuntimeError):
    """A request to the enforcement platform failed for good: names the platform, the request and the reason."""


class CursorExpired(EnforcementError):
    """410 Gone: the paging cursor expired; the listing must restart from the last ``updated_at`` landed."""


class _Transient(Exception):
    """A failure worth another try; ``retry_after`` is the server's wish in seconds, when it said one."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, the exponential backoff, the cap on a server's Retry-After."""

    attempts: int = 6
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0
    max_retry_after_s: float = 120.0
    timeout_s: float = 60.0


@dataclass(frozen=True)
class CasePage:
    """One answer of ``GET /api/v1/cases``: its items as served and the cursor of the next page (or None)."""

    items: list[Any]
    next_cursor: str | None
    request: str


class EnforcementClient:
    """A small client of the enforcement API; ``requests_made``, ``retries``, ``token_renewals`` count what it did."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, policy: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._credentials = {"grant_type": "client_credentials", "client_id": client_id,
                             "client_secret": client_secret}
        self._http = httpx.Client(base_url=self.base_url, timeout=self.policy.timeout_s, transport=transport)
        self._token: str | None = None
        self._token_until = 0.0
        self.requests_made = 0
        self.retries = 0
        self.token_renewals = 0
        self._backoff = wait_exponential_jitter(multiplier=self.policy.initial_wait_s, max=self.policy.max_wait_s,
                                                jitter=self.policy.initial_wait_s)

    @classmethod
    def from_connection(cls, conn: Any, *, policy: RetryPolicy | None = None,
                        transport: httpx.BaseTransport | None = None) -> EnforcementClient:
        """A client for an Airflow connection: host the base URL, login the client_id, password the secret."""
        host = (conn.host or "").strip()
        if not host:
            raise EnforcementError(f"{PLATFORM}: connection {conn.conn_id!r} has no host (the API's base URL)")
        if "://" not in host:  # a URI-form connection splits the URL: put it back together
            schema = f"/{conn.schema}" if conn.schema else ""
            port = f":{conn.port}" if conn.port else ""
            host = f"http://{host}{port}{schema}"
        if not conn.login or not conn.password:
            raise EnforcementError(f"{PLATFORM}: connection {conn.conn_id!r} needs login (client_id) and "
                                   f"password (client_secret)")
        return cls(host, conn.login, conn.password, policy=policy, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EnforcementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ endpoints

    def matters(self) -> dict[str, Any]:
        """``GET /api/v1/matters``: the categories, each with its matters."""
        data = self.get_json(MATTERS_PATH, {})
        if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
            raise EnforcementError(f"{PLATFORM}: {self._describe(MATTERS_PATH, {})}: expected an object with "
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
        described = self._describe(CASES_PATH, params)
        data = self.get_json(CASES_PATH, params)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list) \
                or not (data.get("next_cursor") is None or isinstance(data.get("next_cursor"), str)):
            raise EnforcementError(f"{PLATFORM}: {described}: expected {{'items': [...], 'next_cursor': ...}}, "
                                   f"got {json.dumps(data, ensure_ascii=False)[:200]}")
        return CasePage(items=data["items"], next_cursor=data.get("next_cursor") or None, request=described)

    # ------------------------------------------------------------ the token

    def _renew_token(self) -> str:
        """``POST /oauth/token`` (client credentials), retrying what is transient."""
        data = self._with_retries(lambda: self._token_attempt(), f"POST {self.base_url}{TOKEN_PATH}")
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
        self.requests_made += 1
        response = self._send("POST", TOKEN_PATH, data=self._credentials)
        if response.status_code != 200:
            raise EnforcementError(f"{PLATFORM}: POST {self.base_url}{TOKEN_PATH} (client "
                                   f"{self._credentials['client_id']!r}): HTTP {response.status_code}: "
                                   f"{_error_text(response)}")
        return _parse(response)

    def _bearer(self) -> str:
        if self._token is None or time.monotonic() >= self._token_until:
            return self._renew_token()
        return self._token

    # ------------------------------------------------------------ requests

    def get_json(self, path: str, params: dict[str, Any]) -> Any:
        """GET ``path`` and parse its JSON body, retrying what is transient; ``EnforcementError`` otherwise."""
        described = self._describe(path, params)
        return self._with_retries(lambda: self._get_attempt(path, params, described), described)

    def _with_retries(self, attempt: Any, described: str) -> Any:
        retrying = Retrying(retry=retry_if_exception_type(_Transient), stop=stop_after_attempt(self.policy.attempts),
                            wait=self._wait, before_sleep=self._count_retry, reraise=False)
        try:
            return retrying(attempt)
        except RetryError as err:
            last = err.last_attempt.exception()
            raise EnforcementError(f"{PLATFORM}: {described}: gave up after {self.policy.attempts} attempts: "
                                   f"{last}") from last

    def _get_attempt(self, path: str, params: dict[str, Any], described: str) -> Any:
        self.requests_made += 1
        response = self._send("GET", path, params=params, token=self._bearer())
        if response.status_code == 401:
            # The token expired or was revoked since we got it: a new one, and the call once more.
            self.requests_made += 1
            response = self._send("GET", path, params=params, token=self._renew_token())
            if response.status_code == 401:
                raise EnforcementError(f"{PLATFORM}: {described}: HTTP 401 with a token just issued: "
                                       f"{_error_text(response)}")
        if response.status_code == 410:
            raise CursorExpired(f"{PLATFORM}: {described}: HTTP 410: {_error_text(response)}")
        if response.status_code != 200:
            raise EnforcementError(f"{PLATFORM}: {described}: HTTP {response.status_code}: {_error_text(response)}")
        return _parse(response)

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              data: dict[str, str] | None = None, token: str | None = None) -> httpx.Response:
        """One HTTP exchange; what is transient (status, connection, a timeout) raises ``_Transient``."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._http.request(method, path, params=params, data=data, headers=headers)
        except httpx.TimeoutException as err:
            raise _Transient(f"timed out ({type(err).__name__})") from err
        except httpx.TransportError as err:  # refused, reset, dropped mid-body
            raise _Transient(f"connection failed: {type(err).__name__}: {err}") from err
        if response.status_code in _TRANSIENT_STATUS:
            retry_after = _retry_after(response) if response.status_code == 429 else None
            raise _Transient(f"HTTP {response.status_code}: {_error_text(response)}", retry_after=retry_after)
        return response

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return min(error.retry_after, self.policy.max_retry_after_s)
        return self._backoff(state)

    def _count_retry(self, state: RetryCallState) -> None:
        self.retries += 1

    def _describe(self, path: str, params: dict[str, Any]) -> str:
        shown = {key: ("…" if key == "cursor" else value) for key, value in params.items()}
        return f"GET {self._http.build_request('GET', path, params=shown).url}"


def _parse(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _Transient(f"the body is not whole JSON ({len(response.content)} bytes; truncated?): {err}") from err


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # the HTTP-date form
        moment = parsedate_to_datetime(value)
        served = parsedate_to_datetime(response.headers["Date"]) if "Date" in response.headers else None
    except (TypeError, ValueError, KeyError):
        return None
    if served is None:
        return None
    return max(0.0, math.ceil((moment - served).total_seconds()))


def _error_text(response: httpx.Response) -> str:
    """The platform's ``{"error", "message"}`` when there is one, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "message" in body:
        return f"{body.get('error', 'error')}: {body['message']}"
    return json.dumps(body, ensure_ascii=False)[:200]
