"""The credit connector against the simulated platform: offset paging inside a snapshot lands exactly what the
platform serves, through faults and a clock that moves while a load pages, once.

The ``served`` platforms are shared by the session and their clock only moves forward (other tests move it
too), so every test compares what it landed with a listing it fetches itself at the same moment (a snapshot
at the platform's now, from its Date header).
"""

from __future__ import annotations

import json
from collections import defaultdict
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.credit import CreditError, RetryPolicy, load_records, load_subjects
from gridlake.lake import Lake
from tests.support import instant

TZ = ZoneInfo("Asia/Shanghai")
FAST = RetryPolicy(attempts=4, initial_wait_s=0.05, max_wait_s=0.2, timeout_s=20)
KEYS = {"subjects": "uscc", "records": "record_id"}
LOADS = {"subjects": load_subjects, "records": load_records}
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
    assert manifest.cursor_to == {"updated_since": before} == {"updated_since": manifest.extra["snapshot"]}
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
    assert second.cursor_to == {"updated_since": now}


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
