"""The hotline platform's HTTP API (specs/hotline.md): the API key, retries of what is transient, clear errors.

Transient, retried with backoff up to a bound: 429 (waiting what ``Retry-After`` says), 500/502/503/504,
connection errors and timeouts, a connection dropped mid-body, and a body that does not parse as JSON (a
truncated answer). Anything else (400, 403, 404, an answer of the wrong shape) stops at once. Either way the
error names the platform, the request and the reason.
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

__all__ = ["PLATFORM", "HotlineClient", "HotlineError", "Page", "RetryPolicy"]

PLATFORM = "hotline"
API_KEY_HEADER = "X-API-Key"
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class HotlineError(RuntimeError):
    """A request to the hotline platform failed for good: names the platform, the request and the reason."""


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
class Page:
    """One answer of ``/requests.json``: its items as served and the ``X-Total-Count`` of its filter."""

    items: list[dict[str, Any]]
    total: int | None
    request: str


class HotlineClient:
    """A small client of the hotline API; ``requests_made`` and ``retries`` count what it did."""

    def __init__(self, base_url: str, api_key: str, *, policy: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self._http = httpx.Client(base_url=self.base_url, headers={API_KEY_HEADER: api_key},
                                  timeout=self.policy.timeout_s, transport=transport)
        self.requests_made = 0
        self.retries = 0
        self.platform_now: datetime | None = None
        self._backoff = wait_exponential_jitter(multiplier=self.policy.initial_wait_s, max=self.policy.max_wait_s,
                                                jitter=self.policy.initial_wait_s)

    @classmethod
    def from_connection(cls, conn: Any, *, policy: RetryPolicy | None = None,
                        transport: httpx.BaseTransport | None = None) -> HotlineClient:
        """A client for an Airflow connection: host is the base URL, password the API key (specs/README.md)."""
        host = (conn.host or "").strip()
        if not host:
            raise HotlineError(f"{PLATFORM}: connection {conn.conn_id!r} has no host (the API's base URL)")
        if "://" not in host:  # a URI-form connection splits the URL: put it back together
            schema = f"/{conn.schema}" if conn.schema else ""
            port = f":{conn.port}" if conn.port else ""
            host = f"http://{host}{port}{schema}"
        if not conn.password:
            raise HotlineError(f"{PLATFORM}: connection {conn.conn_id!r} has no password (the API key)")
        return cls(host, conn.password, policy=policy, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HotlineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def services(self) -> list[dict[str, Any]]:
        """``GET /services.json``: the matter categories."""
        data, _ = self.get_json("/services.json", {})
        return _objects(data, self._describe("/services.json", {}))

    def requests_page(self, *, page: int, page_size: int, updated_after: str | None = None) -> Page:
        """One page of ``GET /requests.json`` with the 12345 extensions, ordered by (updated, id)."""
        params: dict[str, Any] = {"extensions": "true", "page": page, "page_size": page_size}
        if updated_after is not None:
            params["updated_after"] = updated_after
        data, response = self.get_json("/requests.json", params)
        total = response.headers.get("X-Total-Count")
        return Page(items=_objects(data, self._describe("/requests.json", params)),
                    total=int(total) if total and total.isdigit() else None,
                    request=self._describe("/requests.json", params))

    def get_json(self, path: str, params: dict[str, Any]) -> tuple[Any, httpx.Response]:
        """GET ``path`` and parse its JSON body, retrying what is transient; ``HotlineError`` otherwise."""
        described = self._describe(path, params)
        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            before_sleep=self._count_retry,
            reraise=False,
        )
        try:
            return retrying(self._attempt, path, params, described)
        except RetryError as err:
            last = err.last_attempt.exception()
            raise HotlineError(f"{PLATFORM}: {described}: gave up after {self.policy.attempts} attempts: "
                               f"{last}") from last

    def _attempt(self, path: str, params: dict[str, Any], described: str) -> tuple[Any, httpx.Response]:
        self.requests_made += 1
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException as err:
            raise _Transient(f"timed out ({type(err).__name__})") from err
        except httpx.TransportError as err:  # refused, reset, dropped mid-body
            raise _Transient(f"connection failed: {type(err).__name__}: {err}") from err
        self._note_date(response)
        if response.status_code in _TRANSIENT_STATUS:
            retry_after = _retry_after(response) if response.status_code == 429 else None
            raise _Transient(f"HTTP {response.status_code}: {_error_text(response)}", retry_after=retry_after)
        if response.status_code != 200:
            raise HotlineError(f"{PLATFORM}: {described}: HTTP {response.status_code}: {_error_text(response)}")
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

    def _note_date(self, response: httpx.Response) -> None:
        """Keep the platform's own time (its ``Date`` header), the "now" of what it serves."""
        stamp = response.headers.get("Date")
        if stamp:
            try:
                self.platform_now = parsedate_to_datetime(stamp)
            except (TypeError, ValueError):
                pass  # a malformed Date header only costs us the platform's clock; system time stands in

    def _describe(self, path: str, params: dict[str, Any]) -> str:
        return f"GET {self._http.build_request('GET', path, params=params).url}"


def _objects(data: Any, described: str) -> list[dict[str, Any]]:
    """The body must be a JSON array; its items are checked one by one later (a bad item is quarantined)."""
    if not isinstance(data, list):
        raise HotlineError(f"{PLATFORM}: {described}: expected a JSON array, got {type(data).__name__}")
    return data


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
    """The Open311 error description when there is one, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, list) and body and isinstance(body[0], dict) and "description" in body[0]:
        return str(body[0]["description"])
    return json.dumps(body, ensure_ascii=False)[:200]
