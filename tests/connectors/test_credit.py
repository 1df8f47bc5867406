"""The credit connector against the simulated platform: offset paging inside a snapshot lands exactly what the
platform serves, through faults and a clock that moves while a load pages, once.

The ``served`` platforms are shared by the session and their clock only moves forward (other tests move it
too), so every test compares what it landed with a listing it fetches itself at the same moment (a snapshot
at the platform's now, from its Date header).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.credit import CreditError, RetryPolicy, load_records, load_subjects
from connectors.credit.schema import RECORD_FIELDS, SUBJECT_FIELDS
from gridlake import uscc
from gridlake.lake import Lake
from gridlake.records import SchemaChanged
from tests.support import bare_server, instant, send_json

TZ = ZoneInfo("Asia/Shanghai")
FAST = RetryPolicy(attempts=4, initial_wait_s=0.05, max_wait_s=0.2, timeout_s=20)
KEYS = {"subjects": "uscc", "records": "record_id"}
LOADS = {"subjects": load_subjects, "records": load_records}
FIELDS = {"subjects": SUBJECT_FIELDS, "records": RECORD_FIELDS}
# The truth's subject kinds that break a rule (a subject's code, and the code its records carry) and the
# record kind; re-registrations, full-width brackets and records of unlisted subjects are landed.
USCC_KINDS = ("uscc_bad_check", "registration_number")
Key = tuple[str, str]


# ---------------------------------------------------------------- helpers

@pytest.fixture
def credit_env(served, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    conn = served.connections()["credit_api"]
    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_API", json.dumps(conn))
    yield conn
    httpx.delete(f"{served.url('credit')}/_sim/faults")


def _get(conn: dict[str, Any], entity: str, **params: Any) -> httpx.Response:
    answer = httpx.get(f"{conn['host']}/{entity}", headers={"Authorization": f"ApiKey {conn['password']}"},
                       params=params, timeout=30)
    answer.raise_for_status()
    return answer


def _now(conn: dict[str, Any]) -> str:
    """The platform's now, from its Date header."""
    return parsedate_to_datetime(_get(conn, "subjects", limit=1).headers["Date"]).astimezone(TZ).isoformat()


def _listing(conn: dict[str, Any], entity: str, *, before: str) -> dict[Key, dict[str, Any]]:
    """Every version the platform serves as of ``before``, by (key, updated instant), fetched independently."""
    found: dict[Key, dict[str, Any]] = {}
    offset = 0
    while True:
        body = _get(conn, entity, updated_before=before, offset=offset, limit=1000).json()
        for item in body["items"]:
            found[(item[KEYS[entity]], instant(item["updated_at"]))] = item
        offset += len(body["items"])
        if offset >= body["total"] or not body["items"]:
            return found


def _landed(lake: Lake, entity: str) -> tuple[list[Key], list[tuple[Key, str]]]:
    """The versions in the raw zone (keys as served), and the quarantined ones with their reasons."""
    raw = lake.read("raw", "credit", entity)
    landed = [] if raw is None else [(row[KEYS[entity]], instant(row["updated_at"]))
                                     for row in raw.select([KEYS[entity], "updated_at"]).to_pylist()]
    table = lake.read("quarantine", "credit", entity)
    quarantined = [] if table is None else [
        ((row["record_id"], instant(json.loads(row["raw"])["updated_at"])), row["reason"])
        for row in table.to_pylist()]
    return landed, quarantined


def _control(served, what: str, **body: Any) -> None:
    httpx.post(f"{served.url('credit')}/_sim/{what}", json=body or None).raise_for_status()


def _expected_reasons(served, entity: str, listing: dict[Key, dict[str, Any]]) -> dict[str, set[str]]:
    """The keys the truth says are dirty in a way a rule catches, among those listed, by reason."""
    truth = served.dataset.truth()["credit"]["dirty"]
    expected: dict[str, set[str]] = {}
    for kind in USCC_KINDS:
        codes = set(truth[kind]["ids"])
        expected[kind] = {key for (key, _), item in listing.items() if item["uscc"] in codes}
    if entity == "records":
        expected["valid_until_before_decided"] = set(truth["valid_until_before_decided"]["ids"]) & {
            key for key, _ in listing}
    return {reason: keys for reason, keys in expected.items() if keys}


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("entity", ["subjects", "records"])
def test_a_load_through_faults_lands_each_served_version_once(served, credit_env, lake, entity) -> None:
    before = _now(credit_env)
    listing = _listing(credit_env, entity, before=before)
    for kind, extra in (("429", {"retry_after": 1}), ("500", {}), ("drop", {}), ("truncate", {}), ("503", {})):
        _control(served, "faults", kind=kind, count=1, path=f"/credit/v1/{entity}", **extra)
    patient = RetryPolicy(attempts=7, initial_wait_s=0.05, max_wait_s=0.2, timeout_s=20)

    def more_faults(number: int, page) -> None:
        if number == 3:
            _control(served, "faults", kind="truncate", count=1, path=f"/credit/v1/{entity}")
            _control(served, "faults", kind="drop", count=1, path=f"/credit/v1/{entity}")

    manifest = LOADS[entity](lake, "credit_api", page_size=100, policy=patient, on_page=more_faults)

    assert httpx.get(f"{served.url('credit')}/_sim/faults").json()["armed"] == []
    assert manifest.extra["retries"] >= 7
    assert manifest.cursor_to == {"updated_since": before, "fields": sorted(FIELDS[entity])}
    assert before == manifest.extra["snapshot"]
    landed, quarantined = _landed(lake, entity)
    versions = landed + [key for key, _ in quarantined]
    assert len(versions) == len(set(versions)) == manifest.rows_read
    # Keys as served: the landed uscc is normalised, which for a clean code (all the simulator serves) is itself.
    assert set(versions) == set(listing)
    assert manifest.rows_landed == len(landed) and sum(manifest.rows_quarantined.values()) == len(quarantined)

    by_reason: dict[str, set[str]] = defaultdict(set)
    for (key, _), reason in quarantined:
        by_reason[reason].add(key)
    assert dict(by_reason) == _expected_reasons(served, entity, listing)
    assert set(USCC_KINDS) <= set(by_reason) or entity == "records"
    if entity == "records":
        assert "valid_until_before_decided" in by_reason


def test_personal_data_is_not_landed(served, credit_env, lake) -> None:
    load_subjects(lake, policy=FAST)
    listing = _listing(credit_env, "subjects", before=_now(credit_env))
    people = {item["legal_representative"] for item in listing.values() if item.get("legal_representative")}
    raw = lake.read("raw", "credit", "subjects")
    assert "legal_representative" not in raw.column_names
    quarantine = lake.read("quarantine", "credit", "subjects")
    text = json.dumps([raw.to_pylist(), quarantine.to_pylist()], ensure_ascii=False, default=str)
    assert people and not any(f'"{person}"' in text for person in people)


@pytest.mark.parametrize("entity", ["subjects", "records"])
def test_loads_are_incremental_and_land_exactly_what_changed(served, credit_env, lake, entity) -> None:
    first = LOADS[entity](lake, policy=FAST)
    before = _listing(credit_env, entity, before=first.extra["snapshot"])
    assert first.rows_read == len(before)

    again = LOADS[entity](lake, policy=FAST)
    assert (again.rows_read, again.rows_landed, again.files) == (0, 0, [])
    assert again.cursor_to == first.cursor_to

    _control(served, "clock", advance_seconds=24 * 3600)  # the platform changes a couple of files a day
    third = LOADS[entity](lake, page_size=50, policy=FAST)
    after = _listing(credit_env, entity, before=third.extra["snapshot"])
    changed = set(after) - set(before)
    landed, quarantined = _landed(lake, entity)
    batch = landed[first.rows_landed:] + [key for key, _ in quarantined[sum(first.rows_quarantined.values()):]]
    assert third.rows_read == len(batch) == len(set(batch))
    assert set(batch) == changed
    assert changed, "files and records change within a day"


def test_the_clock_moving_between_pages_loses_nothing(served, credit_env, lake) -> None:
    start = _now(credit_env)
    at_start = _listing(credit_env, "subjects", before=start)

    def move_the_clock(number: int, page) -> None:
        if number == 2:
            _control(served, "clock", advance_seconds=24 * 3600)

    first = load_subjects(lake, page_size=50, policy=FAST, on_page=move_the_clock)
    assert first.extra["snapshot"] == start and first.extra["pages"] > 2
    landed, quarantined = _landed(lake, "subjects")
    assert set(landed) | {key for key, _ in quarantined} == set(at_start)

    # The live listing has moved under the load: files already paged past changed and moved to the end, so
    # the offsets of a live listing shifted.
    now = _now(credit_env)
    at_end = _listing(credit_env, "subjects", before=now)
    changed = {key for key, _ in set(at_end) - set(at_start)}
    assert changed & {key for key, _ in at_start}, "files listed at the start changed while the load paged"

    # The next load reads the window after the snapshot: together, every version, once.
    second = load_subjects(lake, page_size=50, policy=FAST)
    landed, quarantined = _landed(lake, "subjects")
    versions = landed + [key for key, _ in quarantined]
    assert len(versions) == len(set(versions)) == first.rows_read + second.rows_read
    assert set(at_end) <= set(versions) <= set(at_start) | set(at_end)
    assert second.cursor_to == {"updated_since": now, "fields": sorted(SUBJECT_FIELDS)}


def test_a_wrong_key_stops_at_once_with_the_reason(served, credit_env, lake, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_API", json.dumps({**credit_env, "password": "wrong-key"}))
    with pytest.raises(CreditError, match=r"credit: GET .*/credit/v1/subjects.*HTTP 401"):
        load_subjects(lake, policy=FAST)
    assert lake.manifests("credit", "subjects") == []


def test_a_connection_dropped_for_good_lands_nothing(served, credit_env, lake) -> None:
    def cut_after_the_first_page(number: int, page) -> None:
        if number == 1:
            _control(served, "faults", kind="drop", count=FAST.attempts, path="/credit/v1/records")

    with pytest.raises(CreditError, match=r"credit: GET .*records.*offset=50.*gave up after 4 attempts"):
        load_records(lake, page_size=50, policy=FAST, on_page=cut_after_the_first_page)
    assert lake.manifests("credit", "records") == []
    assert [path for path in lake.root.rglob("*") if path.is_file()] == []


# ---------------------------------------------------------------- backfills

def _versions(lake: Lake, entity: str) -> list[Key]:
    landed, quarantined = _landed(lake, entity)
    return landed + [key for key, _ in quarantined]


def _at(key: Key) -> datetime:
    return datetime.fromisoformat(key[1])


def test_a_backfill_over_what_is_loaded_lands_nothing_and_keeps_the_cursor(served, credit_env, lake) -> None:
    first = load_records(lake, policy=FAST)
    versions = _versions(lake, "records")
    since = min(map(_at, versions)) + timedelta(hours=12)
    in_range = [key for key in versions if _at(key) >= since]
    assert in_range and len(in_range) < len(versions)
    assert any(_at(key) >= since for key, _ in _landed(lake, "records")[1]), "quarantined versions in range too"

    backfill = load_records(lake, policy=FAST, since=since)
    assert (backfill.rows_read, backfill.rows_landed, backfill.rows_quarantined, backfill.files) == (0, 0, {}, [])
    assert backfill.extra["rows_already_landed"] == len(in_range)
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": first.cursor_to["updated_since"],
                                          "clamped": False}
    assert backfill.cursor_from == backfill.cursor_to == first.cursor_to == lake.cursor("credit", "records")
    assert load_records(lake, policy=FAST).rows_read == 0 and _versions(lake, "records") == versions


@pytest.mark.parametrize("entity", ["subjects", "records"])
def test_a_backfill_of_a_middle_range_then_the_incremental_load_land_each_version_once(
        served, credit_env, lake, tmp_path, entity) -> None:
    listing = _listing(credit_env, entity, before=_now(credit_env))
    times = sorted({_at(key) for key in listing})
    since, until = times[len(times) // 3], times[2 * len(times) // 3]
    backfill = LOADS[entity](lake, policy=FAST, page_size=50, since=since, until=until)
    expected = {key for key in listing if since <= _at(key) < until}
    assert set(_versions(lake, entity)) == expected and backfill.rows_read == len(expected)
    assert backfill.cursor_to is None
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": until.isoformat(), "clamped": False}

    incremental = LOADS[entity](lake, policy=FAST)
    assert incremental.rows_read == len(listing) - len(expected)
    assert incremental.extra["rows_already_landed"] == len(expected)
    clean = Lake(tmp_path / "clean")
    one_run = LOADS[entity](clean, policy=FAST)
    assert sorted(_versions(lake, entity)) == sorted(_versions(clean, entity)) == sorted(listing)
    assert sorted(_landed(lake, entity)[1]) == sorted(_landed(clean, entity)[1])  # same versions, same reasons
    assert incremental.cursor_to == one_run.cursor_to
    assert LOADS[entity](lake, policy=FAST).rows_read == 0


def test_a_backfill_is_clamped_to_the_cursors_snapshot(served, credit_env, lake) -> None:
    first = load_records(lake, policy=FAST)
    before = _listing(credit_env, "records", before=first.extra["snapshot"])
    _control(served, "clock", advance_seconds=24 * 3600)
    changed = set(_listing(credit_env, "records", before=_now(credit_env))) - set(before)
    cursor_at = datetime.fromisoformat(first.cursor_to["updated_since"])
    assert changed and all(_at(key) >= cursor_at for key in changed)

    # Asked up to a day past the cursor, the backfill stops at it: what changed since is the incremental load's.
    backfill = load_records(lake, policy=FAST, since=cursor_at - timedelta(days=2),
                            until=cursor_at + timedelta(days=1))
    assert backfill.extra["backfill"]["until"] == first.cursor_to["updated_since"]
    assert backfill.extra["backfill"]["clamped"] is True
    assert backfill.rows_read == 0 and backfill.cursor_to == first.cursor_to
    incremental = load_records(lake, policy=FAST)
    versions = _versions(lake, "records")
    assert len(versions) == len(set(versions)) and set(versions) == set(before) | changed
    assert incremental.rows_read == len(changed)


# ---------------------------------------------------------------- a source whose schema changes

class _Platform(BaseHTTPRequestHandler):
    """A bare credit platform: subjects in a snapshot window, paged by offset, its Date header at ``now``."""

    subjects: list[dict[str, Any]] = []
    now = datetime(2026, 11, 20, tzinfo=UTC)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        query = {key: values[0] for key, values in parse_qs(urlparse(self.path).query).items()}
        since, before = (datetime.fromisoformat(query[name]) if name in query else None
                         for name in ("updated_since", "updated_before"))
        listing = sorted((item for item in self.subjects
                          if (since is None or datetime.fromisoformat(item["updated_at"]) >= since)
                          and (before is None or datetime.fromisoformat(item["updated_at"]) < before)),
                         key=lambda item: (datetime.fromisoformat(item["updated_at"]), item["uscc"]))
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 1000))
        send_json(self, 200, {"total": len(listing), "offset": offset, "items": listing[offset:offset + limit]})

    def date_time_string(self, timestamp: float | None = None) -> str:
        return format_datetime(_Platform.now.astimezone(UTC), usegmt=True)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def bare_conn() -> Iterator[Any]:
    with bare_server(_Platform) as url:
        yield type("Conn", (), {"conn_id": "credit_api", "host": url, "login": None, "password": "k",
                                "schema": None, "port": None})()


def _subjects(first: int, day: int, count: int = 25, **more: Any) -> list[dict[str, Any]]:
    """``count`` subjects updated a second apart on November ``day``, with ``more`` fields (None: left out);
    the platform's now moves to the day after."""
    start = datetime(2026, 11, day, 9, tzinfo=TZ)
    _Platform.now = start + timedelta(days=1)
    made = [{"uscc": uscc.complete(f"9111010100000{first + n:04d}"), "name": f"某某餐饮有限公司{first + n}",
             "legal_representative": "张三", "street_code": "110101001", "registered_capital_wan_cny": 100.0,
             "established_on": "2020-01-01", "status": "active", "credit_level": "A",
             "updated_at": (start + timedelta(seconds=n)).isoformat(), **more} for n in range(count)]
    return [{key: value for key, value in item.items() if value is not None or key not in more} for item in made]


def test_a_field_that_disappears_stops_the_load_until_the_change_is_accepted(bare_conn, lake) -> None:
    _Platform.subjects = _subjects(0, 10)
    first = load_subjects(lake, bare_conn, policy=FAST)
    assert first.rows_landed == 25 and "credit_level" in first.cursor_to["fields"]

    _Platform.subjects += _subjects(100, 11, credit_level=None)  # the source no longer sends credit_level
    with pytest.raises(SchemaChanged, match=r"credit\.subjects: .*credit_level disappeared") as stopped:
        load_subjects(lake, bare_conn, policy=FAST)
    assert stopped.value.changes == {"credit_level": "disappeared"}
    assert [m.batch_id for m in lake.manifests("credit", "subjects")] == [first.batch_id]
    assert lake.cursor("credit", "subjects") == first.cursor_to
    assert lake.read("raw", "credit", "subjects").num_rows == 25

    accepted = load_subjects(lake, bare_conn, policy=FAST, accept_schema_change=True)
    assert accepted.rows_landed == 25 and accepted.extra["schema_changes"] == {"credit_level": "disappeared"}
    raw = lake.read("raw", "credit", "subjects").to_pylist()
    assert [row["credit_level"] for row in raw[25:]] == [None] * 25
    # Accepted, the field is no longer expected: the loads after it go on without it.
    assert "credit_level" not in accepted.cursor_to["fields"]
    _Platform.subjects += _subjects(200, 12, credit_level=None)
    after = load_subjects(lake, bare_conn, policy=FAST)
    assert after.rows_landed == 25 and after.extra["schema_changes"] == {}


def test_a_field_whose_every_value_changes_type_stops_the_load(bare_conn, lake) -> None:
    _Platform.subjects = _subjects(0, 10, registered_capital_wan_cny="100万元")  # a number now sent as text
    with pytest.raises(SchemaChanged, match=r"registered_capital_wan_cny changed_type, over 25 records"):
        load_subjects(lake, bare_conn, policy=FAST)
    assert lake.manifests("credit", "subjects") == []
    # A backfill is watched too.
    with pytest.raises(SchemaChanged, match=r"registered_capital_wan_cny changed_type"):
        load_subjects(lake, bare_conn, policy=FAST, since=datetime(2026, 11, 10, tzinfo=TZ))
    assert lake.manifests("credit", "subjects") == []

    accepted = load_subjects(lake, bare_conn, policy=FAST, accept_schema_change=True)
    assert (accepted.rows_landed, accepted.rows_quarantined) == (0, {"schema_mismatch": 25})
    assert accepted.extra["schema_changes"] == {"registered_capital_wan_cny": "changed_type"}


def test_a_few_records_of_the_wrong_type_are_only_quarantined(bare_conn, lake) -> None:
    _Platform.subjects = _subjects(0, 10)
    for item in _Platform.subjects[:3]:
        item["registered_capital_wan_cny"] = "100"
    manifest = load_subjects(lake, bare_conn, policy=FAST)
    assert (manifest.rows_landed, manifest.rows_quarantined) == (22, {"schema_mismatch": 3})
    assert manifest.extra["schema_changes"] == {}
    quarantined = lake.read("quarantine", "credit", "subjects").to_pylist()
    assert {row["field"] for row in quarantined} == {"registered_capital_wan_cny"}
    assert sorted(row["record_id"] for row in quarantined) == sorted(item["uscc"] for item in _Platform.subjects[:3])
