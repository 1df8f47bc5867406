"""The HTTP connectors' shared mechanism: retries of what is transient, the platform's time, named errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from gridlake.http import (
    PlatformClient,
    PlatformError,
    RetryPolicy,
    base_url_from,
    error_text,
    response_date,
    retry_after,
)
from simulators.http import Listener, ServerGroup

FAST = RetryPolicy(attempts=3, initial_wait_s=0.01, max_wait_s=0.05, timeout_s=5)


class DemoError(PlatformError):
    pass


class DemoClient(PlatformClient):
    platform = "demo"
    error = DemoError


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = FastAPI()
    calls: dict[str, int] = {}

    @app.get("/flaky/{name}")
    def flaky(name: str, fail: int) -> Response:
        calls[name] = calls.get(name, 0) + 1
        if calls[name] <= fail:
            return JSONResponse({"error": "service_unavailable", "message": "busy"}, status_code=503,
                                headers={"Date": "Fri, 20 Nov 2026 01:00:00 GMT"})
        return JSONResponse({"ok": name}, headers={"Date": "Fri, 20 Nov 2026 02:00:00 GMT"})

    @app.get("/missing")
    def missing() -> Response:
        return JSONResponse([{"code": 404, "description": "no such order"}], status_code=404)

    @app.get("/slow-down")
    def slow_down() -> Response:
        return JSONResponse({"error": "rate_limited", "message": "later"}, status_code=429,
                            headers={"Retry-After": "0"})

    with ServerGroup([Listener("demo", app)]) as group:
        yield group.listeners["demo"].url


def test_transient_failures_are_retried_and_the_platform_time_kept(url: str) -> None:
    with DemoClient(url, policy=FAST) as client:
        data, _ = client.get_json("/flaky/a", {"fail": 2})
        assert data == {"ok": "a"}
        assert (client.requests_made, client.retries) == (3, 2)
        assert client.platform_now == datetime(2026, 11, 20, 2, tzinfo=UTC)


def test_giving_up_names_the_platform_the_request_and_the_last_reason(url: str) -> None:
    with DemoClient(url, policy=FAST) as client, pytest.raises(DemoError) as caught:
        client.get_json("/flaky/b", {"fail": 5})
    message = str(caught.value)
    assert message.startswith("demo: GET ") and "/flaky/b?fail=5" in message
    assert "gave up after 3 attempts" in message and "HTTP 503: service_unavailable: busy" in message


def test_what_is_not_transient_stops_at_once_with_the_platforms_words(url: str) -> None:
    with DemoClient(url, policy=FAST) as client:
        with pytest.raises(DemoError, match="HTTP 404: no such order"):
            client.get_json("/missing", {})
        assert client.requests_made == 1
        with pytest.raises(DemoError, match="gave up"):
            client.get_json("/slow-down", {})
        assert client.retries == 2


def test_retry_after_in_both_forms_and_the_date() -> None:
    seconds = httpx.Response(429, headers={"Retry-After": "7"})
    dated = httpx.Response(429, headers={"Retry-After": "Fri, 20 Nov 2026 01:00:30 GMT",
                                         "Date": "Fri, 20 Nov 2026 01:00:00 GMT"})
    assert retry_after(seconds) == 7 and retry_after(dated) == 30
    assert retry_after(httpx.Response(429)) is None
    assert response_date(dated) == datetime(2026, 11, 20, 1, tzinfo=UTC)
    assert response_date(httpx.Response(200, headers={"Date": "yesterday"})) is None


def test_error_documents_of_either_form() -> None:
    assert error_text(httpx.Response(400, json={"error": "invalid_request", "message": "limit"})) == \
        "invalid_request: limit"
    assert error_text(httpx.Response(400, json=[{"code": 400, "description": "bad date"}])) == "bad date"
    assert error_text(httpx.Response(502, text="<html>gateway</html>")) == "<html>gateway</html>"


def test_a_base_url_from_either_form_of_connection() -> None:
    json_form = SimpleNamespace(conn_id="x", host="http://127.0.0.1:8313/credit/v1/", schema=None, port=None)
    uri_form = SimpleNamespace(conn_id="x", host="127.0.0.1", schema="credit/v1", port=8313)
    assert base_url_from(json_form, platform="credit", error=DemoError) == "http://127.0.0.1:8313/credit/v1"
    assert base_url_from(uri_form, platform="credit", error=DemoError) == "http://127.0.0.1:8313/credit/v1"
    with pytest.raises(DemoError, match="credit: connection 'x' has no host"):
        base_url_from(SimpleNamespace(conn_id="x", host="", schema=None, port=None), platform="credit",
                      error=DemoError)
