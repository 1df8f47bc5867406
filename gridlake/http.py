"""What every HTTP connector needs of a platform's API: retries with a bound, the platform's own time, clear errors.

A platform call either answers, fails transiently (429 with its ``Retry-After``, 500/502/503/504, a refused or
dropped connection, a timeout, a body cut short) and is tried again with exponential backoff up to
``RetryPolicy.attempts``, or fails for good with the connector's ``PlatformError`` naming the platform, the
request and the reason. The connectors keep what is theirs: authentication, paging, the shape of an answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

__all__ = [
    "PlatformClient",
    "PlatformError",
    "RetryPolicy",
    "Transient",
    "base_url_from",
    "error_text",
    "parse_json",
    "response_date",
    "retry_after",
]

T = TypeVar("T")
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class PlatformError(RuntimeError):
    """A platform call failed for good; each connector has its own subclass (``HotlineError``, ...)."""


class Transient(Exception):
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


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds, in either of its forms (seconds, or an HTTP-date against ``Date``)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
        served = parsedate_to_datetime(response.headers["Date"]) if "Date" in response.headers else None
    except (TypeError, ValueError, KeyError):
        return None
    if served is None:
        return None
    return max(0.0, math.ceil((moment - served).total_seconds()))


def response_date(response: httpx.Response) -> datetime | None:
    """The answer's ``Date`` header (the platform's own time), or None when missing or malformed."""
    stamp = response.headers.get("Date")
    if not stamp:
        return None
    try:
        moment = parsedate_to_datetime(stamp)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else None


def error_text(response: httpx.Response) -> str:
    """The words of a platform's error document: ``{"error", "message"}``, Open311's ``[{"code",
    "description"}]``, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "message" in body:
        return f"{body.get('error', 'error')}: {body['message']}"
    if isinstance(body, list) and body and isinstance(body[0], dict) and "description" in body[0]:
        return str(body[0]["description"])
    return json.dumps(body, ensure_ascii=False)[:200]


def base_url_from(conn: Any, *, platform: str, error: type[PlatformError]) -> str:
    """The API's base URL of an Airflow http connection: its host, or a URI-form connection put back together."""
    host = (conn.host or "").strip()
    if not host:
        raise error(f"{platform}: connection {conn.conn_id!r} has no host (the API's base URL)")
    if "://" not in host:
        schema = f"/{conn.schema}" if conn.schema else ""
        port = f":{conn.port}" if conn.port else ""
        host = f"http://{host}{port}{schema}"
    return host.rstrip("/")


def parse_json(response: httpx.Response) -> Any:
    """The JSON body; a body that does not parse (cut short in transit) is transient."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Transient(f"the body is not whole JSON ({len(response.content)} bytes; truncated?): {err}") from err


class PlatformClient:
    """An HTTP client of one platform; ``requests_made``, ``retries`` and ``platform_now`` tell what it saw."""

    platform = "platform"
    error: type[PlatformError] = PlatformError

    def __init__(self, base_url: str, *, policy: RetryPolicy | None = None, headers: dict[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.http = httpx.Client(base_url=self.base_url, headers=headers or {}, timeout=self.policy.timeout_s,
                                 transport=transport)
        self.requests_made = 0
        self.retries = 0
        self.platform_now: datetime | None = None
        self._backoff = wait_exponential_jitter(multiplier=self.policy.initial_wait_s, max=self.policy.max_wait_s,
                                                jitter=self.policy.initial_wait_s)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self, path: str, params: dict[str, Any], *, method: str = "GET") -> str:
        """The request as an error names it."""
        return f"{method} {self.http.build_request(method, path, params=params).url}"

    def fail(self, described: str, reason: str) -> PlatformError:
        return self.error(f"{self.platform}: {described}: {reason}")

    def send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             data: dict[str, str] | None = None, headers: dict[str, str] | None = None,
             json: Any = None) -> httpx.Response:
        """One exchange; what is transient (status, connection, timeout) raises ``Transient``."""
        self.requests_made += 1
        try:
            response = self.http.request(method, path, params=params, data=data, headers=headers, json=json)
        except httpx.TimeoutException as err:
            raise Transient(f"timed out ({type(err).__name__})") from err
        except httpx.TransportError as err:  # refused, reset, dropped mid-body
            raise Transient(f"connection failed: {type(err).__name__}: {err}") from err
        moment = response_date(response)
        if moment is not None:
            self.platform_now = moment
        if response.status_code in _TRANSIENT_STATUS:
            wait = retry_after(response) if response.status_code == 429 else None
            raise Transient(f"HTTP {response.status_code}: {error_text(response)}", retry_after=wait)
        return response

    def with_retries(self, attempt: Callable[[], T], described: str) -> T:
        """Run ``attempt`` until it answers or raises something not transient, at most ``policy.attempts``."""
        retrying = Retrying(retry=retry_if_exception_type(Transient), stop=stop_after_attempt(self.policy.attempts),
                            wait=self._wait, before_sleep=self._count_retry, reraise=False)
        try:
            return retrying(attempt)
        except RetryError as err:
            last = err.last_attempt.exception()
            raise self.fail(described, f"gave up after {self.policy.attempts} attempts: {last}") from last

    def get_json(self, path: str, params: dict[str, Any]) -> tuple[Any, httpx.Response]:
        """GET ``path`` and parse its JSON body, retrying what is transient; the connector's error otherwise."""
        described = self.describe(path, params)

        def attempt() -> tuple[Any, httpx.Response]:
            response = self.send("GET", path, params=params)
            if response.status_code != 200:
                raise self.fail(described, f"HTTP {response.status_code}: {error_text(response)}")
            return parse_json(response), response

        return self.with_retries(attempt, described)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Transient) and error.retry_after is not None:
            return min(error.retry_after, self.policy.max_retry_after_s)
        return self._backoff(state)

    def _count_retry(self, state: RetryCallState) -> None:
        self.retries += 1
