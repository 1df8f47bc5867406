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
import math
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

__all__ = ["ENTITIES", "MAX_PAGE_SIZE", "PLATFORM", "CreditClient", "CreditError", "Page", "RetryPolicy"]

PLATFORM = "credit"
ENTITIES = ("subjects", "records")
MAX_PAGE_SIZE = 1000
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class CreditError(RuntimeError):
    """A request to the credit platform failed for good: names the platform, the request and the reason."""


class _Transient(Exception):
    """A failure worth another try; ``retry_after`` is the server's wish in seconds, when it said one."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, the backoff, the cap on Retry-After, a generous timeout."""

    attempts: int = 6
    initial_wait_s: float = 1.0
    max_wait_s: float = 30.0
    max_retry_after_s: float = 120.0
    timeout_s: float = 90.0


@dataclass(frozen=True)
class Page:
    """One answer of a listing: ``total`` of its filter, the ``offset`` it starts at, its items as served."""

    total: int
    offset: int
    items: list[Any]
    date: datetime | None
    request: str


class CreditClient:
    """A small client of the credit API; ``requests_made`` and ``retries`` count what it did."""

    def __init__(self, base_url: str, api_key: str, *, policy: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._http = httpx.Client(base_url=self.base_url, headers={"Authorization": f"ApiKey {api_key}"},
                                  timeout=self.policy.timeout_s, transport=transport)
        self.requests_made = 0
        self.retries = 0
        self.platform_now: datetime | None = None
        self._backoff = wait_exponential_jitter(multiplier=self.policy.initial_wait_s, max=self.policy.max_wait_s,
                                                jitter=self.policy.initial_wait_s)

    @classmethod
    def from_connection(cls, conn: Any, *, policy: RetryPolicy | None = None,
                        transport: httpx.BaseTransport | None = None) -> CreditClient:
        """A client for an Airflow connection: host is the base URL, password the API key (specs/README.md)."""
        host = (conn.host or "").strip()
        if not host:
            raise CreditError(f"{PLATFORM}: connection {conn.conn_id!r} has no host (the API's base URL)")
        if "://" not in host:  # a URI-form connection splits the URL: put it back together
            schema = f"/{conn.schema}" if conn.schema else ""
            port = f":{conn.port}" if conn.port else ""
            host = f"http://{host}{port}{schema}"
        if not conn.password:
            raise CreditError(f"{PLATFORM}: connection {conn.conn_id!r} has no password (the API key)")
        return cls(host, conn.password, policy=policy, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CreditClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        described = self._describe(path, params)
        data, response = self.get_json(path, params)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list) \
                or not isinstance(data.get("total"), int) or isinstance(data.get("total"), bool):
            raise CreditError(f"{PLATFORM}: {described}: expected {{'total': n, 'offset': o, 'items': [...]}}, "
                              f"got {json.dumps(data, ensure_ascii=False)[:200]}")
        answered_offset = data.get("offset", offset)
        if answered_offset != offset:
            raise CreditError(f"{PLATFORM}: {described}: answered offset {answered_offset}, asked {offset}")
        return Page(total=data["total"], offset=offset, items=data["items"], date=_date(response),
                    request=described)

    def get_json(self, path: str, params: dict[str, Any]) -> tuple[Any, httpx.Response]:
        """GET ``path`` and parse its JSON body, retrying what is transient; ``CreditError`` otherwise."""
        described = self._describe(path, params)
        retrying = Retrying(retry=retry_if_exception_type(_Transient), stop=stop_after_attempt(self.policy.attempts),
                            wait=self._wait, before_sleep=self._count_retry, reraise=False)
        try:
            return retrying(self._attempt, path, params, described)
        except RetryError as err:
            last = err.last_attempt.exception()
            raise CreditError(f"{PLATFORM}: {described}: gave up after {self.policy.attempts} attempts: "
                              f"{last}") from last

    def _attempt(self, path: str, params: dict[str, Any], described: str) -> tuple[Any, httpx.Response]:
        self.requests_made += 1
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException as err:
            raise _Transient(f"timed out ({type(err).__name__})") from err
        except httpx.TransportError as err:  # refused, reset, dropped mid-body
            raise _Transient(f"connection failed: {type(err).__name__}: {err}") from err
        moment = _date(response)
        if moment is not None:
            self.platform_now = moment
        if response.status_code in _TRANSIENT_STATUS:
            retry_after = _retry_after(response) if response.status_code == 429 else None
            raise _Transient(f"HTTP {response.status_code}: {_error_text(response)}", retry_after=retry_after)
        if response.status_code != 200:
            raise CreditError(f"{PLATFORM}: {described}: HTTP {response.status_code}: {_error_text(response)}")
        try:
            return response.json(), response
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise _Transient(f"the body is not whole JSON ({len(response.content)} bytes; truncated?): "
                             f"{err}") from err

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return min(error.retry_after, self.policy.max_retry_after_s)
        return self._backoff(state)

    def _count_retry(self, state: RetryCallState) -> None:
        self.retries += 1

    def _describe(self, path: str, params: dict[str, Any]) -> str:
        return f"GET {self._http.build_request('GET', path, params=params).url}"


def _date(response: httpx.Response) -> datetime | None:
    """The answer's ``Date`` header (the platform's own time), or None when missing or malformed."""
    stamp = response.headers.get("Date")
    if not stamp:
        return None
    try:
        moment = parsedate_to_datetime(stamp)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else None


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
