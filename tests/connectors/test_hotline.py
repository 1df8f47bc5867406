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
from gridlake.records import SchemaChanged
from gridlake.settings import get_settings
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


def _versions(lake: Lake) -> list[Key]:
    """Every version in the lake, raw and quarantine zones (a duplicate would show twice)."""
    landed, quarantined = _landed(lake)
    return landed + [key for key, _ in quarantined]


def _at(key: Key) -> datetime:
    return datetime.fromisoformat(key[1])


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
    # The same list again lands nothing: the snapshot landed first still stands.
    again = load_services(lake, policy=FAST)
    assert (again.rows_read, again.rows_landed, again.files) == (0, 0, [])
    assert again.extra["unchanged"] and again.extra["rows_served"] == len(listed)
    assert again.cursor_to["snapshot_at"] == manifest.cursor_to["snapshot_at"]
    assert lake.read("raw", "hotline", "services").num_rows == len(listed)


def test_a_backfill_of_what_incremental_loads_landed_lands_nothing_and_keeps_the_cursor(
        served, hotline_env, lake) -> None:
    first = load_requests(lake, page_size=100, policy=FAST, clock=served.clock.now)
    _advance(served, 2)
    second = load_requests(lake, page_size=100, policy=FAST, clock=served.clock.now)
    before = _versions(lake)
    since = min(map(_at, before))
    point = datetime.fromisoformat(second.cursor_to["updated_datetime"]) - timedelta(minutes=10)

    backfill = load_requests(lake, page_size=100, policy=FAST, clock=served.clock.now, since=since)
    assert (backfill.rows_read, backfill.rows_landed, backfill.files) == (0, 0, [])
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": point.isoformat(), "clamped": False}
    in_range = [key for key in before if since <= _at(key) <= point]
    assert backfill.extra["rows_already_read"] >= len(in_range) > first.rows_read // 2
    assert backfill.cursor_from == backfill.cursor_to == second.cursor_to == lake.cursor("hotline", "requests")
    assert _versions(lake) == before


def test_a_backfill_then_incremental_loads_land_what_one_clean_run_lands(served, hotline_env, lake,
                                                                         tmp_path) -> None:
    listing = _listing(hotline_env)
    times = sorted({_at(key) for key in listing})
    since, until = times[len(times) // 3], times[2 * len(times) // 3]

    backfill = load_requests(lake, page_size=50, policy=FAST, clock=served.clock.now, since=since, until=until)
    in_range = {key for key in listing if since <= _at(key) < until}
    assert sorted(_versions(lake)) == sorted(in_range) and backfill.rows_read == len(in_range)
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": until.isoformat(), "clamped": False}
    assert backfill.cursor_to is None and lake.cursor("hotline", "requests") is None

    rest = load_requests(lake, page_size=50, policy=FAST, clock=served.clock.now)
    assert rest.rows_read == len(listing) - len(in_range)
    assert rest.extra["rows_already_read"] >= len(in_range)
    clean_lake = Lake(tmp_path / "clean")
    clean = load_requests(clean_lake, page_size=50, policy=FAST, clock=served.clock.now)
    assert sorted(_versions(lake)) == sorted(_versions(clean_lake)) == sorted(listing)  # each version once
    assert sorted(_landed(lake)[1]) == sorted(_landed(clean_lake)[1])  # quarantined alike, for the same reasons
    assert rest.cursor_to == clean.cursor_to  # the incremental loads go on as if there had been no backfill


def test_a_backfill_is_clamped_to_where_the_incremental_loads_start(served, hotline_env, lake) -> None:
    first = load_requests(lake, page_size=100, policy=FAST, clock=served.clock.now)
    newest = datetime.fromisoformat(first.cursor_to["updated_datetime"])
    point = newest - timedelta(minutes=10)
    since = point - timedelta(hours=6)
    asked: list[datetime] = []

    backfill = load_requests(lake, page_size=100, policy=FAST, clock=served.clock.now, since=since,
                             until=newest + timedelta(days=1),
                             on_page=lambda _, page: asked.extend(_aware(i["updated_datetime"]) for i in page.items))
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": point.isoformat(), "clamped": True}
    # The platform was asked for the range up to the clamp (and a second's margin), not for the newest versions.
    assert asked and max(asked) <= point + timedelta(seconds=1) < newest
    assert (backfill.rows_read, backfill.files, backfill.cursor_to) == (0, [], first.cursor_to)
    with pytest.raises(ValueError, match="since=.* is not before until="):
        load_requests(lake, policy=FAST, since=point, until=since)
    with pytest.raises(ValueError, match="until=.* has no offset"):
        load_requests(lake, policy=FAST, until=datetime(2026, 11, 20))


# ---------------------------------------------------------------- any server that follows the spec

def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=TZ)


class _Open311(BaseHTTPRequestHandler):
    """A bare Open311 server of the tests' orders and services: ``updated_after`` strict, ``updated_before``
    inclusive, ordered by (updated, id), paged."""

    orders: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = [
        {"service_code": "101001", "service_name": "道路扬尘", "group": "dust", "metadata": False}]

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if url.path.endswith("/services.json"):
            send_json(self, 200, self.services)
            return
        after, before = query.get("updated_after"), query.get("updated_before")
        body = sorted((o for o in self.orders
                       if (after is None or _aware(o["updated_datetime"]) > _aware(after))
                       and (before is None or _aware(o["updated_datetime"]) <= _aware(before))),
                      key=lambda o: (_aware(o["updated_datetime"]), o["service_request_id"]))
        size, page = int(query.get("page_size", 100)), int(query.get("page", 1))
        send_json(self, 200, body[(page - 1) * size:page * size])

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


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=TZ)
BASE = datetime(2026, 11, 20, 8, 0, tzinfo=TZ)


def _order(record_id: str, updated: datetime, **more: Any) -> dict[str, Any]:
    return {"service_request_id": record_id, "status": "open", "service_code": "101001",
            "requested_datetime": BASE.isoformat(), "updated_datetime": updated.isoformat(),
            "lat": 39.91, "long": 116.41, **more}


def _orders(first: int, count: int, **more: Any) -> list[dict[str, Any]]:
    """Orders ``first``.. updated a minute apart from BASE (order n at BASE + n minutes)."""
    return [_order(str(n), BASE + timedelta(minutes=n), **more) for n in range(first, first + count)]


def _conn(url: str) -> Any:
    return type("Conn", (), {"conn_id": "hotline_api", "host": url, "password": "k",
                             "extra_dejson": {"pii_salt": "salt"}})()


def _load(lake: Lake, url: str, **options: Any):
    return load_requests(lake, _conn(url), page_size=10, clock=lambda: NOW, policy=FAST, **options)


def test_a_backfill_takes_the_late_versions_up_to_the_incremental_start_and_they_the_rest(
        open311, lake, monkeypatch) -> None:
    orders = _orders(1, 30)  # 08:01 .. 08:30
    monkeypatch.setattr(_Open311, "orders", orders)
    first = _load(lake, open311)
    point = BASE + timedelta(minutes=20)  # the newest (08:30) less the look-back: the next load reads after it
    # Three versions show up late: before the look-back, at its very start, within it.
    orders += [_order("late-1", point - timedelta(hours=1)), _order("late-2", point),
               _order("late-3", point + timedelta(minutes=1))]

    since = BASE - timedelta(hours=2)
    backfill = _load(lake, open311, since=since, until=NOW)
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": point.isoformat(), "clamped": True}
    assert (backfill.rows_read, backfill.cursor_to) == (2, first.cursor_to)
    after = _load(lake, open311)
    assert after.rows_read == 1
    ids = [row["service_request_id"] for row in lake.read("raw", "hotline", "requests").to_pylist()]
    assert ids[30:] == ["late-1", "late-2", "late-3"] and len(ids) == len(set(ids)) == 33


def test_a_field_that_disappears_stops_the_load_until_the_change_is_accepted(open311, lake, monkeypatch) -> None:
    n = get_settings().schema_change_min_records
    orders = _orders(1, n, media_url="https://media.example/1.jpg")
    monkeypatch.setattr(_Open311, "orders", orders)
    first = _load(lake, open311)
    assert "media_url" in first.cursor_to["fields"] and first.extra["schema_changes"] == {}

    orders += _orders(n + 1, n)  # no media_url any more
    for _ in range(2):  # it stops, and the next load stops again: nothing lands, the cursor stays
        with pytest.raises(SchemaChanged, match=r"hotline\.requests: .*media_url disappeared") as caught:
            _load(lake, open311)
        assert caught.value.changes == {"media_url": "disappeared"}
        assert [m.seq for m in lake.manifests("hotline", "requests")] == [1]
        assert lake.cursor("hotline", "requests") == first.cursor_to
        assert lake.read("raw", "hotline", "requests").num_rows == n

    accepted = _load(lake, open311, accept_schema_change=True)
    assert (accepted.rows_landed, accepted.extra["schema_changes"]) == (n, {"media_url": "disappeared"})
    assert "media_url" not in accepted.cursor_to["fields"]
    orders += _orders(2 * n + 1, n)
    later = _load(lake, open311)  # an accepted change is the schema now, not a change
    assert (later.rows_landed, later.extra["schema_changes"]) == (n, {})


@pytest.mark.parametrize(("change", "path"), [
    ({"service_code": 101001}, "service_code"),
    ({"extended_attributes": {"dispatches": [{"unit_code": "D01", "dispatched_at": 1763600000}]}},
     "extended_attributes.dispatches[].dispatched_at"),
])
def test_a_field_whose_every_value_changed_type_stops_the_load(open311, lake, monkeypatch, change, path) -> None:
    n = get_settings().schema_change_min_records
    monkeypatch.setattr(_Open311, "orders", _orders(1, n, **change))
    with pytest.raises(SchemaChanged, match=rf"{path.replace('[', '.').replace(']', '.')} changed_type") as caught:
        _load(lake, open311)
    assert caught.value.changes == {path: "changed_type"}
    assert lake.manifests("hotline", "requests") == []

    accepted = _load(lake, open311, accept_schema_change=True)  # accepted, but the records still do not fit
    assert accepted.rows_quarantined == {"schema_mismatch": n}
    assert accepted.extra["schema_changes"] == {path: "changed_type"}


def test_a_few_records_of_the_wrong_type_are_only_quarantined(open311, lake, monkeypatch) -> None:
    n = get_settings().schema_change_min_records
    orders = _orders(1, n + 5)
    for order in orders[:3]:
        order["lat"] = "39.91 N"
    monkeypatch.setattr(_Open311, "orders", orders)
    manifest = _load(lake, open311)
    assert (manifest.rows_landed, manifest.rows_quarantined) == (n + 2, {"schema_mismatch": 3})
    assert manifest.extra["schema_changes"] == {}
    assert lake.read("quarantine", "hotline", "requests").column("field").to_pylist() == ["lat"] * 3


def test_a_service_field_that_disappears_stops_the_snapshot(open311, lake, monkeypatch) -> None:
    n = get_settings().schema_change_min_records
    services = [{"service_code": f"1010{k:02d}", "service_name": "道路扬尘", "keywords": "扬尘"} for k in range(n)]
    monkeypatch.setattr(_Open311, "services", services)
    first = load_services(lake, _conn(open311), policy=FAST)
    assert "keywords" in first.cursor_to["fields"]
    for service in services:
        del service["keywords"]
    with pytest.raises(SchemaChanged, match=r"hotline\.services: .*keywords disappeared"):
        load_services(lake, _conn(open311), policy=FAST)
    assert lake.cursor("hotline", "services") == first.cursor_to
    accepted = load_services(lake, _conn(open311), policy=FAST, accept_schema_change=True)
    assert (accepted.rows_landed, accepted.extra["schema_changes"]) == (n, {"keywords": "disappeared"})
