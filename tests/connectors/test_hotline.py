"""The hotline connector against the simulated platform (and a bare Open311 server): what it lands is exactly
what the platform serves, faults or not, once.

The ``served`` platforms are shared by the session and their clock only moves forward (other tests move it
too), so every test compares what it landed with a listing it fetches itself at the same clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.hotline import HotlineError, RetryPolicy, load_requests, load_services
from gridlake.connections import ConnectionNotFoundError
from gridlake.lake import Lake
from tests.support import bare_server, instant, send_json

TZ = ZoneInfo("Asia/Shanghai")
REQUESTS = "/open311/v2/requests.json"
FAST = RetryPolicy(attempts=4, initial_wait_s=0.05, max_wait_s=0.2, timeout_s=10)
# The truth's dirty kinds that break a field rule (the others are landed: staging cleans them).
RULE_KINDS = {"lat_long_swapped", "lat_long_zero", "outside_beijing", "time_unparseable", "unknown_service_code",
              "description_control_chars", "description_too_long"}
Key = tuple[str, str]


# ---------------------------------------------------------------- helpers

@pytest.fixture
def hotline_env(served, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    conn = served.connections()["hotline_api"]
    monkeypatch.setenv("AIRFLOW_CONN_HOTLINE_API", json.dumps(conn))
    monkeypatch.setenv("GRIDLAKE_PII_SALT", "test-salt")
    yield conn
    httpx.delete(f"{served.url('hotline')}/_sim/faults")


def _listing(conn: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    """Every order the platform serves now, by (id, updated instant), fetched independently by offset."""
    found: dict[Key, dict[str, Any]] = {}
    page = 1
    while True:
        answer = httpx.get(f"{conn['host']}/requests.json", headers={"X-API-Key": conn["password"]},
                           params={"extensions": "true", "page_size": 1000, "page": page})
        answer.raise_for_status()
        items = answer.json()
        for item in items:
            found[(item["service_request_id"], instant(item["updated_datetime"]))] = item
        if len({item["service_request_id"] for item in items}) < 1000:
            return found
        page += 1


def _landed(lake: Lake) -> tuple[list[Key], list[tuple[Key, str]]]:
    """The versions in the raw zone, and the quarantined ones with their reasons."""
    raw = lake.read("raw", "hotline", "requests")
    landed = [] if raw is None else [
        (row["service_request_id"], row["updated_datetime"].astimezone(TZ).isoformat())
        for row in raw.select(["service_request_id", "updated_datetime"]).to_pylist()]
    table = lake.read("quarantine", "hotline", "requests")
    quarantined = [] if table is None else [
        ((row["record_id"], instant(json.loads(row["raw"])["updated_datetime"])), row["reason"])
        for row in table.to_pylist()]
    return landed, quarantined


def _arm(served, kind: str, *, count: int = 1, **more: Any) -> None:
    answer = httpx.post(f"{served.url('hotline')}/_sim/faults", json={"kind": kind, "count": count,
                                                                      "path": REQUESTS, **more})
    answer.raise_for_status()


def _advance(served, hours: float) -> None:
    httpx.post(f"{served.url('hotline')}/_sim/clock", json={"advance_seconds": hours * 3600}).raise_for_status()


# ---------------------------------------------------------------- tests

def test_a_first_load_through_faults_lands_each_served_version_once(served, hotline_env, lake) -> None:
    listing = _listing(hotline_env)
    for kind, extra in (("429", {"retry_after": 1}), ("500", {}), ("drop", {}), ("truncate", {}), ("503", {})):
        _arm(served, kind, **extra)
    # Five faults in a row on the first request: it needs six attempts.
    patient = RetryPolicy(attempts=7, initial_wait_s=0.05, max_wait_s=0.2, timeout_s=10)
    manifest = load_requests(lake, "hotline_api", page_size=40, policy=patient, clock=served.clock.now)

    served_faults = httpx.get(f"{served.url('hotline')}/_sim/faults").json()
    assert served_faults["armed"] == []  # every fault was met, and retried through
    landed, quarantined = _landed(lake)
    versions = landed + [key for key, _ in quarantined]
    assert len(versions) == len(set(versions)) == manifest.rows_read
    assert set(versions) == set(listing)
    assert manifest.rows_landed == len(landed) and sum(manifest.rows_quarantined.values()) == len(quarantined)
    assert manifest.extra["retries"] >= 5

    truth = served.dataset.truth()["hotline"]["dirty"]
    listed_ids = {record_id for record_id, _ in listing}
    by_reason: dict[str, set[str]] = {}
    for (record_id, _), reason in quarantined:
        by_reason.setdefault(reason, set()).add(record_id)
    expected = {kind: set(truth[kind]["ids"]) & listed_ids for kind in RULE_KINDS}
    assert by_reason == {kind: ids for kind, ids in expected.items() if ids}
    # ...and each quarantined order's every served version is there, counted per reason.
    assert manifest.rows_quarantined == {
        kind: sum(1 for record_id, _ in listing if record_id in ids) for kind, ids in expected.items() if ids}
    duplicated = set(truth["duplicate_on_page"]["ids"]) & listed_ids
    assert manifest.extra["rows_already_read"] >= len(duplicated)


def test_personal_data_is_not_landed_in_clear(served, hotline_env, lake) -> None:
    load_requests(lake, page_size=1000, policy=FAST, clock=served.clock.now)
    raw = lake.read("raw", "hotline", "requests")
    assert not {"complainant", "complainant_name", "complainant_phone"} & set(raw.column_names)
    listing = _listing(hotline_env)
    phones = {item["extended_attributes"]["complainant"]["phone"] for item in listing.values()
              if (item["extended_attributes"].get("complainant") or {}).get("phone")}
    names = {item["extended_attributes"]["complainant"]["name"] for item in listing.values()
             if (item["extended_attributes"].get("complainant") or {}).get("name")}
    text = json.dumps([raw.to_pylist(), lake.read("quarantine", "hotline", "requests").to_pylist()],
                      ensure_ascii=False, default=str)
    assert phones and names and not any(phone in text for phone in phones)
    assert not any(name in text for name in names)
    hashes = raw.column("complainant_phone_hash").drop_null().to_pylist()
    assert hashes and all(len(h) == 64 for h in hashes)
    assert len(set(hashes)) < len(hashes) or len(set(hashes)) == len(phones)  # one complainant, one hash


def test_loads_are_incremental_and_land_exactly_what_changed(served, hotline_env, lake) -> None:
    before = _listing(hotline_env)
    first = load_requests(lake, page_size=50, policy=FAST, clock=served.clock.now)
    assert first.rows_read == len(before)

    again = load_requests(lake, page_size=50, policy=FAST, clock=served.clock.now)
    assert (again.rows_read, again.rows_landed, again.files) == (0, 0, [])
    assert again.cursor_to == first.cursor_to

    _advance(served, 6)
    after = _listing(hotline_env)
    changed = set(after) - set(before)  # empty only once the platform is past its horizon: then nothing lands
    third = load_requests(lake, page_size=50, policy=FAST, clock=served.clock.now)
    landed, quarantined = _landed(lake)
    batch = [key for key in landed[first.rows_landed:]] + [
        key for key, _ in quarantined[sum(first.rows_quarantined.values()):]]
    assert third.rows_read == len(batch) == len(set(batch))
    assert set(batch) == changed


def test_orders_that_change_while_a_load_pages_are_not_lost(served, hotline_env, lake) -> None:
    start = _listing(hotline_env)
    read_before_the_move: set[str] = set()
    last_full_page = len({record_id for record_id, _ in start}) // 20  # the recent orders, the likely to change

    def move_the_clock_once(number: int, page) -> None:
        if number <= last_full_page:
            read_before_the_move.update(item["service_request_id"] for item in page.items)
        if number == last_full_page:
            _advance(served, 12)

    manifest = load_requests(lake, page_size=20, policy=FAST, clock=served.clock.now, on_page=move_the_clock_once)
    end = _listing(hotline_env)
    landed, quarantined = _landed(lake)
    versions = set(landed) | {key for key, _ in quarantined}
    assert len(landed) + len(quarantined) == len(versions) == manifest.rows_read
    assert set(end) <= versions, "every order's version current at the end is landed"
    assert versions <= set(start) | set(end)
    if set(end) != set(start):  # (the platform past its horizon changes nothing: then this is moot)
        assert any(key not in start for key in end if key[0] in read_before_the_move), \
            "orders already read changed while the load paged"


def test_a_connection_dropped_for_good_lands_nothing(served, hotline_env, lake) -> None:
    def cut_after_the_first_page(number: int, page) -> None:
        if number == 1:
            _arm(served, "drop", count=FAST.attempts)

    with pytest.raises(HotlineError, match=r"hotline: GET .*requests\.json.*page=\d.*gave up after 4 attempts"):
        load_requests(lake, page_size=20, policy=FAST, clock=served.clock.now, on_page=cut_after_the_first_page)
    assert lake.manifests("hotline", "requests") == []
    assert [path for path in lake.root.rglob("*") if path.is_file()] == []


def test_a_wrong_key_stops_at_once_with_the_reason(served, hotline_env, lake, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HOTLINE_API", json.dumps({**hotline_env, "password": "wrong-key"}))
    with pytest.raises(HotlineError, match=r"hotline: GET .*/services\.json: HTTP 403: invalid API key"):
        load_requests(lake, policy=FAST)
    assert lake.manifests("hotline", "requests") == []


def test_a_missing_connection_is_a_clear_error(lake, monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_HOTLINE_API", raising=False)
    with pytest.raises(ConnectionNotFoundError, match="hotline_api.*AIRFLOW_CONN_HOTLINE_API"):
        load_requests(lake)


def test_the_services_land_as_a_snapshot(served, hotline_env, lake) -> None:
    listed = httpx.get(f"{hotline_env['host']}/services.json", headers={"X-API-Key": hotline_env["password"]}).json()
    manifest = load_services(lake, policy=FAST)
    table = lake.read("raw", "hotline", "services")
    assert manifest.rows_landed == len(listed) == table.num_rows
    assert sorted(table.column("service_code").to_pylist()) == sorted(s["service_code"] for s in listed)


# ---------------------------------------------------------------- any server that follows the spec

def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=TZ)


class _Open311(BaseHTTPRequestHandler):
    """A bare Open311 server: one service, three orders, one with a field the spec does not know."""

    orders: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path.endswith("/services.json"):
            body: Any = [{"service_code": "101001", "service_name": "道路扬尘", "group": "dust", "metadata": False}]
        else:
            after = query.get("updated_after", [None])[0]
            body = [o for o in self.orders if after is None or _aware(o["updated_datetime"]) > _aware(after)]
        send_json(self, 200, body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def open311() -> Iterator[str]:
    with bare_server(_Open311) as url:
        yield f"{url}/georeport/v2"


def test_any_open311_server_works_and_new_fields_are_landed_and_reported(open311, lake) -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=TZ)

    def order(record_id: str, updated: str, **more: Any) -> dict[str, Any]:
        return {"service_request_id": record_id, "status": "open", "service_code": "101001",
                "requested_datetime": "2026-11-20T08:00:00+08:00", "updated_datetime": updated,
                "lat": 39.91, "long": 116.41, **more}

    _Open311.orders = [
        order("1", "2026-11-20T09:00:00Z"[:19]),  # no offset: +08:00
        order("2", "2026-11-20T02:00:00Z", grid_code="110101001001",
              extended_attributes={"channel": "app", "complainant": {"name": "张三", "phone": "13800000000",
                                                                     "id_card": "110101199001011234"},
                                   "sentiment": "angry"}),
        order("3", (now + timedelta(days=1)).isoformat()),  # in the future: quarantined, the cursor stays
    ]
    conn = type("Conn", (), {"conn_id": "hotline_api", "host": open311, "password": "k",
                             "extra_dejson": {"pii_salt": "salt"}})()
    manifest = load_requests(lake, conn, page_size=10, clock=lambda: now, policy=FAST)
    raw = lake.read("raw", "hotline", "requests").to_pylist()
    assert [row["service_request_id"] for row in raw] == ["1", "2"]
    assert raw[0]["updated_datetime"] == datetime(2026, 11, 20, 1, 0, tzinfo=ZoneInfo("UTC"))
    assert json.loads(raw[1]["extra_fields"]) == {"grid_code": "110101001001",
                                                  "extended_attributes.sentiment": "angry"}
    assert manifest.extra["schema_drift"] == {"extended_attributes.complainant.id_card": 1,
                                              "extended_attributes.sentiment": 1, "grid_code": 1}
    assert manifest.rows_quarantined == {"time_in_future": 1}
    assert manifest.extra["times_without_offset"] == 1
    assert manifest.cursor_to["updated_datetime"] == "2026-11-20T10:00:00+08:00"
    text = json.dumps([raw, lake.read("quarantine", "hotline", "requests").to_pylist()], ensure_ascii=False,
                      default=str)
    assert "110101199001011234" not in text and "13800000000" not in text and "张三" not in text

    again = load_requests(lake, conn, page_size=10, clock=lambda: now, policy=FAST)
    assert again.rows_read == 0
