"""The enforcement connector against the simulated platform: what it lands is exactly what the platform
serves, through faults, expiring tokens and expiring cursors, once.

The ``served`` platforms are shared by the session and their clock only moves forward (other tests move it
too), so every test compares what it landed with a listing it fetches itself at the same clock.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.enforcement import EnforcementError, RetryPolicy, load_cases, load_matters
from gridlake.lake import Lake
from gridlake.records import SchemaChanged
from tests.support import bare_server, instant, send_json

TZ = ZoneInfo("Asia/Shanghai")
CASES = "/api/v1/cases"
MATTERS = "/api/v1/matters"
FAST = RetryPolicy(attempts=4, initial_wait_s=0.05, max_wait_s=0.2, timeout_s=10)
# The truth's dirty kinds that break a field rule, and the reason they are quarantined with. The others
# (a matter code in lower case, a uscc in lower case, with spaces or in full width) land normalised.
RULE_KINDS = {
    "matter_code_as_name": "unknown_matter_code",
    "uscc_bad_check": "uscc_bad_check",
    "enterprise_without_uscc": "enterprise_without_uscc",
    "closed_before_filed": "closed_before_filed",
    "penalty_negative": "penalty_negative",
    "penalty_in_wan_cny": "penalty_in_wan_cny",
}
Key = tuple[str, str]


# ---------------------------------------------------------------- helpers

@pytest.fixture
def enforcement_env(served, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    conn = served.connections()["enforcement_api"]
    monkeypatch.setenv("AIRFLOW_CONN_ENFORCEMENT_API", json.dumps(conn))
    yield conn
    httpx.delete(f"{served.url('enforcement')}/_sim/faults")


def _token(conn: dict[str, Any]) -> str:
    answer = httpx.post(f"{conn['host']}/oauth/token", data={
        "grant_type": "client_credentials", "client_id": conn["login"], "client_secret": conn["password"]})
    answer.raise_for_status()
    return answer.json()["access_token"]


def _listing(conn: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    """Every case version the platform serves now, by (id, updated instant), fetched independently."""
    headers = {"Authorization": f"Bearer {_token(conn)}"}
    found: dict[Key, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": 500}
    while True:
        answer = httpx.get(f"{conn['host']}{CASES}", headers=headers, params=params)
        answer.raise_for_status()
        body = answer.json()
        for item in body["items"]:
            found[(item["case_id"], instant(item["updated_at"]))] = item
        if body["next_cursor"] is None:
            return found
        params = {"limit": 500, "cursor": body["next_cursor"]}


def _landed(lake: Lake) -> tuple[list[Key], list[tuple[Key, str]]]:
    """The versions in the raw zone, and the quarantined ones with their reasons."""
    raw = lake.read("raw", "enforcement", "cases")
    landed = [] if raw is None else [
        (row["case_id"], instant(row["updated_at"])) for row in raw.select(["case_id", "updated_at"]).to_pylist()]
    table = lake.read("quarantine", "enforcement", "cases")
    quarantined = [] if table is None else [
        ((row["record_id"], instant(json.loads(row["raw"])["updated_at"])), row["reason"])
        for row in table.to_pylist()]
    return landed, quarantined


def _control(served, what: str, **body: Any) -> None:
    httpx.post(f"{served.url('enforcement')}/_sim/{what}", json=body or None).raise_for_status()


def _arm(served, kind: str, *, count: int = 1, **more: Any) -> None:
    _control(served, "faults", kind=kind, count=count, path=CASES, **more)


# ---------------------------------------------------------------- tests

def test_a_load_through_faults_and_expiries_lands_each_served_version_once(served, enforcement_env, lake) -> None:
    listing = _listing(enforcement_env)
    for kind, extra in (("429", {"retry_after": 1}), ("500", {}), ("drop", {}), ("truncate", {})):
        _arm(served, kind, **extra)

    def expire(number: int, page) -> None:
        if number == 2:
            _control(served, "actions/expire_tokens")  # the next call answers 401: a new token, once
        if number == 4:
            _control(served, "actions/expire_cursors")  # the next page answers 410: restart the listing
        if number == 6:
            _arm(served, "503")
            _control(served, "actions/expire_tokens")
            _control(served, "actions/expire_cursors")

    patient = RetryPolicy(attempts=6, initial_wait_s=0.05, max_wait_s=0.2, timeout_s=10)
    manifest = load_cases(lake, "enforcement_api", page_size=5, policy=patient, on_page=expire)

    assert httpx.get(f"{served.url('enforcement')}/_sim/faults").json()["armed"] == []
    assert manifest.extra["listing_restarts"] == 2
    assert manifest.extra["token_renewals"] >= 3  # the first token and two renewals after 401
    assert manifest.extra["retries"] >= 5
    landed, quarantined = _landed(lake)
    versions = landed + [key for key, _ in quarantined]
    assert len(versions) == len(set(versions)) == manifest.rows_read
    assert set(versions) == set(listing)
    assert manifest.rows_landed == len(landed) and sum(manifest.rows_quarantined.values()) == len(quarantined)
    assert manifest.extra["rows_already_read"] > 0  # the restarted listings' overlap, skipped

    truth = served.dataset.truth()["enforcement"]["dirty"]
    listed_ids = {case_id for case_id, _ in listing}
    by_reason: dict[str, set[str]] = defaultdict(set)
    for (case_id, _), reason in quarantined:
        by_reason[reason].add(case_id)
    expected = {reason: set(truth[kind]["ids"]) & listed_ids for kind, reason in RULE_KINDS.items()}
    assert dict(by_reason) == {reason: ids for reason, ids in expected.items() if ids}
    assert any(expected.values()), "dirt is served"
    # Each version quarantined for a reason is one the platform served dirty, counted per reason.
    assert manifest.rows_quarantined == {reason: sum(1 for _, r in quarantined if r == reason) for reason in by_reason}

    # What is dirty but usable lands normalised.
    raw = lake.read("raw", "enforcement", "cases")
    rows = {(row["case_id"], instant(row["updated_at"])): row for row in raw.to_pylist()}
    for case_id in set(truth["matter_code_lower_case"]["ids"]) & listed_ids:
        served_codes = {item["matter_code"] for key, item in listing.items() if key[0] == case_id}
        landed_codes = {row["matter_code"] for key, row in rows.items() if key[0] == case_id}
        assert landed_codes == {code.upper() for code in served_codes}
    dirty_uscc = set().union(*(truth[kind]["ids"] for kind in ("uscc_lower_case", "uscc_spaces", "uscc_full_width")))
    landed_dirty = [row for key, row in rows.items() if key[0] in dirty_uscc]
    assert landed_dirty and all(len(row["party"]["uscc"]) == 18 and row["party"]["uscc"].isupper()
                                for row in landed_dirty)


def test_personal_data_is_not_landed(served, enforcement_env, lake) -> None:
    load_cases(lake, policy=FAST)
    listing = _listing(enforcement_env)
    raw = lake.read("raw", "enforcement", "cases")
    assert raw.schema.field("party").type.names == ["type", "uscc", "name"]
    id_numbers = {item["party"]["id_number"] for item in listing.values() if item["party"].get("id_number")}
    people = {item["party"]["name"] for item in listing.values()
              if item["party"].get("type") != "enterprise" and item["party"].get("name")}
    firms = {item["party"]["name"] for item in listing.values()
             if item["party"].get("type") == "enterprise" and item["party"].get("name")}
    quarantine = lake.read("quarantine", "enforcement", "cases")
    text = json.dumps([raw.to_pylist(), quarantine.to_pylist()], ensure_ascii=False, default=str)
    assert id_numbers and people and firms
    assert not any(number in text for number in id_numbers)
    assert not any(name in text for name in people - firms)
    landed_firms = {row["party"]["name"] for row in raw.to_pylist() if row["party"]["type"] == "enterprise"}
    assert landed_firms and landed_firms <= firms


def test_loads_are_incremental_and_land_exactly_what_changed(served, enforcement_env, lake) -> None:
    before = _listing(enforcement_env)
    first = load_cases(lake, policy=FAST)
    assert first.rows_read == len(before)

    again = load_cases(lake, policy=FAST)
    assert (again.rows_read, again.rows_landed, again.files) == (0, 0, [])
    assert again.cursor_to == first.cursor_to

    _control(served, "clock", advance_seconds=6 * 3600)
    after = _listing(enforcement_env)
    changed = set(after) - set(before)
    third = load_cases(lake, page_size=7, policy=FAST)
    landed, quarantined = _landed(lake)
    batch = landed[first.rows_landed:] + [key for key, _ in quarantined[sum(first.rows_quarantined.values()):]]
    assert third.rows_read == len(batch) == len(set(batch))
    assert set(batch) == changed


def test_a_cursor_that_keeps_expiring_stops_the_load_and_lands_nothing(served, enforcement_env, lake) -> None:
    def expire(number: int, page) -> None:
        _control(served, "actions/expire_cursors")

    with pytest.raises(EnforcementError, match=r"enforcement: GET .*/api/v1/cases.*HTTP 410.*gave up"):
        load_cases(lake, page_size=5, max_restarts=2, policy=FAST, on_page=expire)
    assert lake.manifests("enforcement", "cases") == []
    assert [path for path in lake.root.rglob("*") if path.is_file()] == []


def test_a_wrong_secret_stops_at_once_with_the_reason(served, enforcement_env, lake, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ENFORCEMENT_API", json.dumps({**enforcement_env, "password": "wrong"}))
    with pytest.raises(EnforcementError, match=r"enforcement: POST .*/oauth/token .*HTTP 401.*invalid_client"):
        load_cases(lake, policy=FAST)
    assert lake.manifests("enforcement", "cases") == []


def test_the_matters_land_as_a_snapshot(served, enforcement_env, lake) -> None:
    manifest = load_matters(lake, policy=FAST)
    table = lake.read("raw", "enforcement", "matters").to_pylist()
    assert manifest.rows_landed == len(table) == 30
    assert {row["category_code"] for row in table} == set("ABCDEF")
    assert all(row["matter_code"].startswith(row["category_code"]) for row in table)
    again = load_matters(lake, policy=FAST)  # the same list again lands nothing; the first snapshot stands
    assert (again.rows_read, again.rows_landed, again.files) == (0, 0, []) and again.extra["unchanged"]
    assert lake.read("raw", "enforcement", "matters").num_rows == 30


# ---------------------------------------------------------------- any server that follows the spec

class _Platform(BaseHTTPRequestHandler):
    """A bare enforcement platform: a token, the matter list, and cases paged by a cursor it can expire."""

    cases: list[dict[str, Any]] = []
    listing: list[dict[str, Any]] = []
    expire_next_cursor = False
    seen_since: list[str | None] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        send_json(self, 200, {"access_token": "t", "token_type": "Bearer", "expires_in": 3600})

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if self.headers.get("Authorization") != "Bearer t":
            return send_json(self, 401, {"error": "invalid_token", "message": "no"})
        if url.path == MATTERS:
            return send_json(self, 200, {"categories": [{"category_code": "A", "name": "街面秩序", "matters": [
                {"matter_code": "A01", "name": "无照游商"}]}]})
        ordered = sorted(self.cases, key=lambda case: (datetime.fromisoformat(case["updated_at"]), case["case_id"]))
        if "cursor" in query:
            if _Platform.expire_next_cursor:
                _Platform.expire_next_cursor = False
                return send_json(self, 410, {"error": "gone", "message": "cursor expired"})
            start = int(query["cursor"])
        else:
            _Platform.seen_since.append(query.get("updated_since"))
            since = query.get("updated_since")
            ordered = [case for case in ordered
                       if since is None or datetime.fromisoformat(case["updated_at"]) >= datetime.fromisoformat(since)]
            _Platform.listing = ordered
            start = 0
        listing = _Platform.listing
        limit = int(query.get("limit", 100))
        page = listing[start:start + limit]
        more = start + limit < len(listing)
        send_json(self, 200, {"items": page, "next_cursor": str(start + limit) if more else None})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def bare_platform() -> Iterator[str]:
    with bare_server(_Platform) as url:
        yield url


def _case(case_id: str, updated: str, **more: Any) -> dict[str, Any]:
    return {"case_id": case_id, "matter_code": "a01", "updated_at": updated, "status": "filed",
            "party": {"type": "individual", "name": "张三", "id_number": "110101199001011234", "uscc": None},
            "filed_at": "2026-11-20T08:00:00+08:00", **more}


def _bare_conn(url: str) -> Any:
    """An Airflow-like connection to a bare platform."""
    return type("Conn", (), {"conn_id": "enforcement_api", "host": url, "login": "c", "password": "s",
                             "schema": None, "port": None})()


def test_any_spec_server_restarts_from_the_last_landed_time_and_misses_no_tie(bare_platform, lake) -> None:
    conn = _bare_conn(bare_platform)
    _Platform.cases = [_case(f"ZF-{n}", f"2026-11-20T09:00:0{n // 2}+08:00") for n in range(6)]
    _Platform.seen_since = []

    def expire_after_page_two(number: int, page) -> None:
        if number == 2:
            _Platform.expire_next_cursor = True

    first = load_cases(lake, conn, page_size=2, policy=FAST, on_page=expire_after_page_two)
    # The restart asked from the newest updated_at read (inclusive) and skipped what it had.
    assert _Platform.seen_since == [None, "2026-11-20T09:00:01+08:00"]
    assert first.rows_read == first.rows_landed == 6 and first.extra["rows_already_read"] == 2
    assert first.cursor_to == {"updated_at": "2026-11-20T09:00:02+08:00", "case_ids_at": ["ZF-4", "ZF-5"],
                               "fields": ["case_id", "filed_at", "matter_code", "party", "status", "updated_at"]}

    # A version written later with the same updated_at as the cursor is read; the ones landed are not.
    _Platform.cases.append(_case("ZF-9", "2026-11-20T01:00:02Z"))
    second = load_cases(lake, conn, page_size=2, policy=FAST)
    assert (second.rows_read, second.rows_landed, second.extra["rows_already_read"]) == (1, 1, 2)
    raw = lake.read("raw", "enforcement", "cases").to_pylist()
    assert [row["case_id"] for row in raw] == [f"ZF-{n}" for n in (0, 1, 2, 3, 4, 5, 9)]
    assert {row["matter_code"] for row in raw} == {"A01"}
    assert all(row["party"] == {"type": "individual", "uscc": None, "name": None} for row in raw)


# ---------------------------------------------------------------- a source whose schema changes

def _cases(first: int, hour: int, count: int = 25, **more: Any) -> list[dict[str, Any]]:
    """``count`` cases, one a minute from ``hour`` o'clock, with ``more`` fields (None: the field left out)."""
    made = [_case(f"ZF-{first + n:03d}", f"2026-11-20T{hour:02d}:{n:02d}:00+08:00", **more) for n in range(count)]
    return [{key: value for key, value in case.items() if value is not None or key not in more} for case in made]


def test_a_field_that_disappears_stops_the_load_until_the_change_is_accepted(bare_platform, lake) -> None:
    conn = _bare_conn(bare_platform)
    _Platform.cases = _cases(0, 9)
    first = load_cases(lake, conn, policy=FAST)
    assert first.rows_landed == 25 and "status" in first.cursor_to["fields"]

    _Platform.cases += _cases(100, 10, status=None)  # the source no longer sends status at all
    with pytest.raises(SchemaChanged, match=r"enforcement\.cases: .*status disappeared") as stopped:
        load_cases(lake, conn, policy=FAST)
    assert stopped.value.changes == {"status": "disappeared"}
    assert [m.batch_id for m in lake.manifests("enforcement", "cases")] == [first.batch_id]
    assert lake.cursor("enforcement", "cases") == first.cursor_to
    assert lake.read("raw", "enforcement", "cases").num_rows == 25
    with pytest.raises(SchemaChanged):  # the cursor stayed: the next load stops again
        load_cases(lake, conn, policy=FAST)

    accepted = load_cases(lake, conn, policy=FAST, accept_schema_change=True)
    assert accepted.rows_landed == 25 and accepted.extra["schema_changes"] == {"status": "disappeared"}
    raw = lake.read("raw", "enforcement", "cases").to_pylist()
    assert [row["status"] for row in raw[25:]] == [None] * 25
    # Accepted, the field is no longer expected: the loads after it go on without it.
    assert "status" not in accepted.cursor_to["fields"]
    _Platform.cases += _cases(200, 11, status=None)
    after = load_cases(lake, conn, policy=FAST)
    assert after.rows_landed == 25 and after.extra["schema_changes"] == {}


def test_a_field_whose_every_value_changes_type_stops_the_load(bare_platform, lake) -> None:
    conn = _bare_conn(bare_platform)
    _Platform.cases = _cases(0, 9, penalty_cny="500.00")  # a number now sent as text, by every record
    with pytest.raises(SchemaChanged, match=r"penalty_cny changed_type, over 25 records") as stopped:
        load_cases(lake, conn, policy=FAST)
    assert stopped.value.changes == {"penalty_cny": "changed_type"}
    assert lake.manifests("enforcement", "cases") == []

    accepted = load_cases(lake, conn, policy=FAST, accept_schema_change=True)
    assert (accepted.rows_landed, accepted.rows_quarantined) == (0, {"schema_mismatch": 25})
    assert accepted.extra["schema_changes"] == {"penalty_cny": "changed_type"}


def test_a_few_records_of_the_wrong_type_are_only_quarantined(bare_platform, lake) -> None:
    conn = _bare_conn(bare_platform)
    _Platform.cases = _cases(0, 9, penalty_cny=200.0)
    for case in _Platform.cases[:3]:
        case["penalty_cny"] = "200"
    manifest = load_cases(lake, conn, policy=FAST)
    assert (manifest.rows_landed, manifest.rows_quarantined) == (22, {"schema_mismatch": 3})
    assert manifest.extra["schema_changes"] == {}
    quarantined = lake.read("quarantine", "enforcement", "cases").to_pylist()
    assert {(row["record_id"], row["field"]) for row in quarantined} == {
        (f"ZF-{n:03d}", "penalty_cny") for n in range(3)}


# ---------------------------------------------------------------- backfills

def _versions(lake: Lake) -> list[Key]:
    landed, quarantined = _landed(lake)
    return landed + [key for key, _ in quarantined]


def _at(key: Key) -> datetime:
    return datetime.fromisoformat(key[1])


def test_a_backfill_over_what_is_loaded_lands_nothing_and_keeps_the_cursor(served, enforcement_env, lake) -> None:
    first = load_cases(lake, policy=FAST)
    versions = _versions(lake)
    cursor_at = datetime.fromisoformat(first.cursor_to["updated_at"])
    since = min(map(_at, versions)) + timedelta(hours=12)
    in_range = [key for key in versions if since <= _at(key) < cursor_at]
    assert in_range and len(in_range) < len(versions)
    assert set(_landed(lake)[1]), "quarantined versions are in the range too"

    backfill = load_cases(lake, policy=FAST, since=since)
    assert (backfill.rows_read, backfill.rows_landed, backfill.rows_quarantined, backfill.files) == (0, 0, {}, [])
    assert backfill.extra["rows_already_read"] == len(in_range)
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": first.cursor_to["updated_at"],
                                          "clamped": False}
    assert backfill.cursor_from == backfill.cursor_to == first.cursor_to == lake.cursor("enforcement", "cases")
    again = load_cases(lake, policy=FAST)
    assert again.rows_read == 0 and _versions(lake) == versions


def test_a_backfill_of_a_middle_range_then_the_incremental_load_land_each_version_once(
        served, enforcement_env, lake, tmp_path) -> None:
    listing = _listing(enforcement_env)
    times = sorted({_at(key) for key in listing})
    since, until = times[len(times) // 3], times[2 * len(times) // 3]
    backfill = load_cases(lake, policy=FAST, page_size=50, since=since, until=until)
    expected = {key for key in listing if since <= _at(key) < until}
    assert set(_versions(lake)) == expected and backfill.rows_read == len(expected)
    assert backfill.cursor_to is None
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": until.isoformat(), "clamped": False}

    incremental = load_cases(lake, policy=FAST)
    assert incremental.rows_read == len(listing) - len(expected)
    assert incremental.extra["rows_already_read"] == len(expected)
    clean = Lake(tmp_path / "clean")
    one_run = load_cases(clean, policy=FAST)
    together, _ = _landed(lake), _landed(clean)
    assert sorted(_versions(lake)) == sorted(_versions(clean)) == sorted(listing)
    assert sorted(together[1]) == sorted(_landed(clean)[1])  # the same versions quarantined for the same reasons
    assert incremental.cursor_to == one_run.cursor_to
    assert load_cases(lake, policy=FAST).rows_read == 0


def test_a_backfill_with_no_end_on_an_empty_lake_reads_to_the_end(served, enforcement_env, lake) -> None:
    listing = _listing(enforcement_env)
    since = sorted(_at(key) for key in listing)[len(listing) // 2]
    backfill = load_cases(lake, policy=FAST, since=since)
    assert backfill.extra["backfill"] == {"since": since.isoformat(), "until": None, "clamped": False}
    assert set(_versions(lake)) == {key for key in listing if _at(key) >= since}
    incremental = load_cases(lake, policy=FAST)
    versions = _versions(lake)
    assert sorted(versions) == sorted(listing) and incremental.rows_read == len(listing) - backfill.rows_read
    assert incremental.cursor_to["updated_at"] == instant(max(map(_at, listing)))
    assert load_cases(lake, policy=FAST).rows_read == 0


def test_a_backfill_is_clamped_to_where_the_incremental_load_reads_from(served, enforcement_env, lake) -> None:
    first = load_cases(lake, policy=FAST)
    before = _listing(enforcement_env)
    _control(served, "clock", advance_seconds=6 * 3600)
    changed = set(_listing(enforcement_env)) - set(before)
    cursor_at = datetime.fromisoformat(first.cursor_to["updated_at"])
    assert changed and all(_at(key) >= cursor_at for key in changed)

    # Asked up to a day ahead, the backfill stops at the cursor: what changed since is the incremental load's.
    backfill = load_cases(lake, policy=FAST, since=cursor_at - timedelta(days=2),
                          until=cursor_at + timedelta(days=1))
    assert backfill.extra["backfill"]["until"] == first.cursor_to["updated_at"]
    assert backfill.extra["backfill"]["clamped"] is True
    assert backfill.rows_read == 0 and backfill.cursor_to == first.cursor_to
    incremental = load_cases(lake, policy=FAST)
    versions = _versions(lake)
    assert len(versions) == len(set(versions)) and set(versions) == set(before) | changed
    assert incremental.rows_read == len(changed)
