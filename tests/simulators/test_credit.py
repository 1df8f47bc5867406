"""The credit platform simulator, driven over HTTP as a client written from specs/credit.md would.

The enforcement platform is generated first (its fines become penalty records), then the credit platform,
served on loopback by a server whose clock stays at the end of the span, one whose clock the tests move,
and a slow one (the platform's ambient latency).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from gridlake import uscc
from simulators.clock import SimClock
from simulators.credit.generate import DIRTY_RATES
from simulators.credit.generate import generate as generate_credit
from simulators.credit.server import create_app
from simulators.enforcement.generate import generate as generate_enforcement
from simulators.faults import Ambient, FaultPlan, SimControl
from simulators.generate import GenContext
from simulators.http import Listener, ServerGroup

API_KEY = "credit-key"
BASE = "/credit/v1"


@dataclass
class Platform:
    ctx: GenContext
    truth: dict[str, Any]
    enforcement_truth: dict[str, Any]
    url: str  # clock fixed at the end of the span
    moving_url: str  # clock moved by the tests that need it
    slow_url: str  # answers after 0.3-0.4 s


@pytest.fixture(scope="module")
def platform(make_context: Callable[..., GenContext]) -> Iterator[Platform]:
    ctx = make_context(name="credit")
    enforcement = generate_enforcement(ctx)
    result = generate_credit(ctx)
    fixed = SimClock(ctx.end)
    apps = {
        "main": create_app(ctx.dataset, control=SimControl(clock=fixed, plan=FaultPlan()), api_key=API_KEY),
        "moving": create_app(
            ctx.dataset, control=SimControl(clock=SimClock(ctx.end), plan=FaultPlan()), api_key=API_KEY
        ),
        "slow": create_app(
            ctx.dataset,
            control=SimControl(clock=fixed, plan=FaultPlan()),
            api_key=API_KEY,
            ambient=Ambient(latency_s=(0.3, 0.4)),
        ),
    }
    group = ServerGroup([Listener(name, app) for name, app in apps.items()]).start()
    try:
        urls = {name: listener.url + BASE for name, listener in group.listeners.items()}
        yield Platform(
            ctx=ctx,
            truth=result.truth,
            enforcement_truth=enforcement.truth,
            url=urls["main"],
            moving_url=urls["moving"],
            slow_url=urls["slow"],
        )
    finally:
        group.stop()


# --- a client written from the spec -------------------------------------------------------------------------


class Client:
    """API key, retries of what is transient, offset paging (live or pinned to a snapshot)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(timeout=10, headers={"Authorization": f"ApiKey {API_KEY}"})
        self.events: Counter[str] = Counter()

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        for _ in range(12):
            try:
                answer = self.http.get(self.base_url + path, params=params)
                if answer.status_code == 200:
                    answer.json()  # a truncated body is a transient failure, never a page
            except httpx.TransportError as err:
                self.events[type(err).__name__] += 1
                continue
            except ValueError:  # a truncated body: invalid JSON, or cut inside a UTF-8 character
                self.events["truncated"] += 1
                continue
            if answer.status_code == 429:
                self.events["429"] += 1
                time.sleep(float(answer.headers["Retry-After"]))
                continue
            if answer.status_code >= 500:
                self.events[str(answer.status_code)] += 1
                time.sleep(0.05)
                continue
            return answer
        raise AssertionError(f"GET {path} kept failing: {dict(self.events)}")

    def pages(
        self, path: str, *, limit: int = 1000, after_page: Callable[[int], None] | None = None, **filters: str
    ) -> tuple[list[dict[str, Any]], int]:
        """All items of a listing in the order served, and the total of its last page."""
        items: list[dict[str, Any]] = []
        offset, total, pages = 0, None, 0
        while total is None or offset < total:
            answer = self.get(path, {"offset": offset, "limit": limit, **filters})
            assert answer.status_code == 200, answer.text
            page = answer.json()
            assert page["offset"] == offset
            total = page["total"]
            items += page["items"]
            if not page["items"]:
                break
            offset += len(page["items"])
            pages += 1
            if after_page is not None:
                after_page(pages)
        return items, total


@pytest.fixture
def client(platform: Platform) -> Iterator[Client]:
    with_client = Client(platform.url)
    yield with_client
    with_client.close()


@pytest.fixture(scope="module")
def served(platform: Platform) -> dict[str, list[dict[str, Any]]]:
    """All subjects and records as served at the end of the span."""
    reader = Client(platform.url)
    try:
        return {"subjects": reader.pages("/subjects")[0], "records": reader.pages("/records")[0]}
    finally:
        reader.close()


def _key(item: dict[str, Any]) -> str:
    return item.get("record_id") or item["uscc"]


# --- tests --------------------------------------------------------------------------------------------------


def test_api_key(platform: Platform) -> None:
    for headers in ({}, {"Authorization": "ApiKey wrong"}, {"Authorization": f"Bearer {API_KEY}"}):
        answer = httpx.get(f"{platform.url}/subjects", headers=headers)
        assert answer.status_code == 401 and set(answer.json()) == {"error", "message"}
    ok = httpx.get(
        f"{platform.url}/subjects", params={"limit": 2}, headers={"Authorization": f"ApiKey {API_KEY}"}
    )
    assert ok.status_code == 200 and len(ok.json()["items"]) == 2


def test_request_errors(platform: Platform, client: Client) -> None:
    for params in (
        {"limit": 1001},
        {"limit": 0},
        {"offset": -1},
        {"offset": "x"},
        {"updated_since": "last week"},
        {"updated_since": "2026-11-01T00:00:00"},
    ):
        answer = client.get("/records", params)
        assert answer.status_code == 400 and set(answer.json()) == {"error", "message"}, params
    too_old = (platform.ctx.end - timedelta(hours=25)).isoformat()
    stale = client.get("/subjects", {"updated_before": too_old})
    assert stale.status_code == 400 and "24" in stale.json()["message"]
    assert (
        client.get(
            "/subjects", {"updated_before": (platform.ctx.end - timedelta(hours=23)).isoformat()}
        ).status_code
        == 200
    )
    ahead = client.get("/subjects", {"updated_before": (platform.ctx.end + timedelta(seconds=1)).isoformat()})
    assert ahead.status_code == 400 and set(ahead.json()) == {"error", "message"}
    missing = client.get("/subjects/91110101000000000X")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get("/nothing").status_code == 404


def test_empty_parameter_values_count_as_absent(
    client: Client, served: dict[str, list[dict[str, Any]]]
) -> None:
    """credit.md writes the listing as ``/subjects?updated_since=&offset=&limit=``: empty means not given."""
    for path, name in (("/subjects?updated_since=&offset=&limit=", "subjects"),
                       ("/records?updated_since=&offset=&limit=&updated_before=", "records")):
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["total"] == len(served[name]) and page["offset"] == 0
        assert page["items"] == served[name][:100]  # the default limit
    blank = client.get("/subjects", {"updated_since": " ", "offset": " ", "limit": " "})
    assert blank.status_code == 200 and blank.json()["items"] == served["subjects"][:100]


def test_a_snapshot_in_the_platforms_future_answers_400(platform: Platform, client: Client) -> None:
    """A pin later than now would be served live and move while a load pages: the platform refuses it and
    says where its time is; the time of its Date header pins a snapshot that holds."""
    first = client.get("/subjects", {"limit": 1})
    now = parsedate_to_datetime(first.headers["Date"])
    assert now == platform.ctx.end  # the platform's clock, not the machine's
    for ahead in (timedelta(seconds=1), timedelta(hours=1), timedelta(days=3)):
        later = client.get("/records", {"updated_before": (now + ahead).isoformat()})
        assert later.status_code == 400 and set(later.json()) == {"error", "message"}
        message = later.json()["message"]
        assert platform.ctx.end.isoformat() in message and "Date header" in message, message
    pinned = client.get("/subjects", {"updated_before": now.isoformat(), "limit": 1})
    assert pinned.status_code == 200 and pinned.json()["total"] > 0


def test_a_snapshot_is_the_state_just_before_updated_before(
    platform: Platform, client: Client, served: dict[str, list[dict[str, Any]]]
) -> None:
    """A version written exactly at ``updated_before`` is not yet in its snapshot; one microsecond later it is."""
    latest = [s for s in served["subjects"] if datetime.fromisoformat(s["updated_at"]) < platform.ctx.end][-1]
    moment = datetime.fromisoformat(latest["updated_at"])
    at, after = (
        client.pages("/subjects", updated_before=pin.isoformat())[0]
        for pin in (moment, moment + timedelta(microseconds=1))
    )
    assert latest not in at and latest in after
    assert all(datetime.fromisoformat(s["updated_at"]) < moment for s in at)


def test_listings_are_ordered_and_complete(
    platform: Platform, client: Client, served: dict[str, list[dict[str, Any]]]
) -> None:
    counts = platform.truth["counts"]
    assert len(served["subjects"]) == counts["subjects_visible_at_end"]
    assert len(served["records"]) == counts["records_visible_at_end"]
    for name, items in served.items():
        keys = [_key(item) for item in items]
        assert len(keys) == len(set(keys)), name
        order = [(datetime.fromisoformat(item["updated_at"]), _key(item)) for item in items]
        assert order == sorted(order), name
    small, total = client.pages("/subjects", limit=97)
    assert small == served["subjects"] and total == len(small)
    since = served["records"][len(served["records"]) // 2]["updated_at"]
    recent, total = client.pages("/records", limit=50, updated_since=since)
    assert recent == [
        item
        for item in served["records"]
        if datetime.fromisoformat(item["updated_at"]) >= datetime.fromisoformat(since)
    ]
    assert recent[0]["updated_at"] == since and total == len(recent)


def test_dirty_subjects_and_records_match_the_truth_exactly(
    platform: Platform, served: dict[str, list[dict[str, Any]]]
) -> None:
    found: dict[str, set[str]] = defaultdict(set)
    by_name: dict[str, set[str]] = defaultdict(set)
    codes = set()
    for subject in served["subjects"]:
        code = subject["uscc"]
        codes.add(code)
        by_name[subject["name"]].add(code)
        if len(code) == 15 and code.isdigit():
            found["registration_number"].add(code)
        elif not uscc.is_valid(code):
            assert uscc.normalise(code) == code and len(code) == 18, code  # sent clean otherwise
            found["uscc_bad_check"].add(code)
        if "（" in subject["name"] or "）" in subject["name"]:
            found["name_full_width_brackets"].add(code)
        assert subject["status"] in ("active", "revoked", "cancelled")
        assert subject["credit_level"] in ("A", "B", "C", "D")
    for record in served["records"]:
        if record["uscc"] not in codes:
            found["record_of_unlisted_subject"].add(record["record_id"])
        if record["valid_until"] is not None and record["valid_until"] < record["decided_on"]:
            found["valid_until_before_decided"].add(record["record_id"])
        assert record["kind"] in ("licence", "penalty", "red_list", "black_list", "commitment")
        assert (record["penalty_cny"] is not None) == (record["kind"] == "penalty")
    dirty = platform.truth["dirty"]
    assert set(dirty) == set(DIRTY_RATES)
    shared = {name: codes_ for name, codes_ in by_name.items() if len(codes_) > 1}
    assert len(shared) == dirty["re_registration"]["count"] >= 1
    assert set(dirty["re_registration"]["ids"]) <= set().union(*shared.values())
    for kind in DIRTY_RATES:
        if kind == "re_registration":
            continue
        assert sorted(found[kind]) == dirty[kind]["ids"], kind
        assert dirty[kind]["count"] == len(found[kind]) >= 1, kind


def test_black_listed_enterprises(
    platform: Platform, client: Client, served: dict[str, list[dict[str, Any]]]
) -> None:
    today = platform.ctx.end.date()
    in_force = {
        record["record_id"]
        for record in served["records"]
        if record["kind"] == "black_list"
        and not record["revoked"]
        and (record["valid_until"] is None or date.fromisoformat(record["valid_until"]) >= today)
    }
    planted = {case.black_list_record_id for case in platform.ctx.scenario.blacklisted}
    assert in_force == planted
    for case in platform.ctx.scenario.blacklisted:
        answer = client.get(f"/subjects/{case.uscc}")
        assert answer.status_code == 200
        subject = answer.json()
        assert (
            subject["uscc"] == case.uscc and subject["name"] == case.name and subject["credit_level"] == "D"
        )
        records = {record["record_id"]: record for record in subject["records"]}
        assert all(record["uscc"] == case.uscc for record in records.values())
        black = records[case.black_list_record_id]
        assert black["kind"] == "black_list" and black["decided_on"] == case.black_listed_on.isoformat()
        for record_id, case_id, fine in zip(
            case.penalty_record_ids, case.enforcement_case_ids, case.penalties_cny
        ):
            penalty = records[record_id]
            assert (
                penalty["kind"] == "penalty"
                and penalty["penalty_cny"] == fine
                and case_id in penalty["content"]
            )


def test_enforcement_fines_become_penalty_records(
    platform: Platform, served: dict[str, list[dict[str, Any]]]
) -> None:
    records = {record["record_id"]: record for record in served["records"]}
    end = platform.ctx.end
    linked = platform.truth["enforcement_penalties"]
    expected = 0
    for row in platform.ctx.shared["enforcement_cases"].to_pylist():
        if row["case_id"] not in linked:
            continue
        record_id = linked[row["case_id"]]
        if row["decided_at"] >= end:
            assert record_id not in records  # decided later: hidden until the clock passes it
            continue
        expected += 1
        record = records[record_id]
        assert record["uscc"] == row["party_uscc"] and record["penalty_cny"] == row["penalty_cny"]
        assert (
            row["case_id"] in record["content"]
            and record["decided_on"] == row["decided_at"].date().isoformat()
        )
    assert expected > 0


def test_one_subject_with_its_records(
    platform: Platform, client: Client, served: dict[str, list[dict[str, Any]]]
) -> None:
    owners = Counter(record["uscc"] for record in served["records"])
    code = next(subject["uscc"] for subject in served["subjects"] if owners[subject["uscc"]] >= 2)
    subject = client.get(f"/subjects/{code}").json()
    assert {record["record_id"] for record in subject["records"]} == {
        record["record_id"] for record in served["records"] if record["uscc"] == code
    }
    old = next(s["uscc"] for s in served["subjects"] if len(s["uscc"]) == 15)
    assert client.get(f"/subjects/{old}").status_code == 200
    bad_check = platform.truth["dirty"]["uscc_bad_check"]["ids"][0]
    assert client.get(f"/subjects/{bad_check}").json()["uscc"] == bad_check  # served as stored


def test_one_subject_is_found_by_its_code_exactly_as_stored(
    client: Client, served: dict[str, list[dict[str, Any]]]
) -> None:
    """No leniency a connector could come to rely on: case, width and spaces are not folded."""
    code = next(s["uscc"] for s in served["subjects"] if uscc.is_valid(s["uscc"]) and not s["uscc"].isdigit())
    assert client.get(f"/subjects/{code}").json()["uscc"] == code
    full_width = code.translate({ord(char): ord(char) + 0xFEE0 for char in code})
    for variant in (code.lower(), full_width, f" {code}", f"{code[:2]} {code[2:8]} {code[8:]}"):
        missing = client.get(f"/subjects/{variant}")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found", variant


def test_faults_are_survived(
    platform: Platform, client: Client, served: dict[str, list[dict[str, Any]]]
) -> None:
    faults = platform.url.removesuffix(BASE) + "/_sim/faults"
    httpx.post(faults, json={"kind": "429", "count": 1, "path": f"{BASE}/subjects", "retry_after": 1})
    limited = httpx.get(f"{platform.url}/subjects", headers={"Authorization": f"ApiKey {API_KEY}"})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert set(limited.json()) == {"error", "message"}
    for kind in ("429", "503", "drop", "truncate", "500"):
        httpx.post(faults, json={"kind": kind, "count": 1, "path": f"{BASE}/subjects", "retry_after": 1})
    try:
        items, _ = client.pages("/subjects", limit=200)
    finally:
        httpx.delete(faults)
    assert items == served["subjects"]
    assert client.events["429"] == 1 and client.events["503"] == 1 and client.events["500"] == 1
    assert client.events["truncated"] == 1
    assert client.events["RemoteProtocolError"] + client.events["ReadError"] == 1


def test_the_platform_is_slow(platform: Platform) -> None:
    started = time.monotonic()
    answer = httpx.get(
        f"{platform.slow_url}/subjects", params={"limit": 1}, headers={"Authorization": f"ApiKey {API_KEY}"}
    )
    assert answer.status_code == 200 and time.monotonic() - started >= 0.3


def test_live_offsets_shift_but_a_snapshot_holds(platform: Platform) -> None:
    """Paging live while files change skips or repeats; paging a snapshot lands exactly its state."""
    control = platform.moving_url.removesuffix(BASE) + "/_sim/clock"
    client = Client(platform.moving_url)

    def now() -> str:
        return httpx.get(control).json()["now"]

    def advance(hours: float) -> None:
        assert httpx.post(control, json={"advance_seconds": hours * 3600}).status_code == 200

    try:
        before, total = client.pages("/subjects", limit=1000)
        pages = -(-total // 50)

        def late_move(page: int) -> None:
            if page == pages - 1:
                advance(20)

        live, _ = client.pages("/subjects", limit=50, after_page=late_move)
        live_keys = [subject["uscc"] for subject in live]
        changed = len(live_keys) != len(set(live_keys)) or set(live_keys) != {s["uscc"] for s in before}
        assert changed, "the live listing did not move while the files changed"

        pinned_at = now()
        state, _ = client.pages("/subjects", limit=1000, updated_before=pinned_at)
        records_state, records_total = client.pages("/records", limit=1000, updated_before=pinned_at)
        pages = -(-len(state) // 50)

        def mid_move(page: int) -> None:
            if page == pages // 2:
                advance(23)  # a working day of changes, and the snapshot still younger than 24 hours

        snapshot, total = client.pages("/subjects", limit=50, after_page=mid_move, updated_before=pinned_at)
        assert snapshot == state and total == len(state)
        live_now = {subject["uscc"]: subject for subject in client.pages("/subjects", limit=1000)[0]}
        changed_since = [s["uscc"] for s in snapshot if live_now[s["uscc"]]["updated_at"] != s["updated_at"]]
        assert changed_since  # files changed after the pin are answered in their version as of then
        later_records, _ = client.pages("/records", limit=1000, updated_before=pinned_at)
        assert later_records == records_state and len(later_records) == records_total
        _, live_total = client.pages("/records", limit=1000)
        assert live_total > records_total  # records were created since; the snapshot leaves them out
        advance(2)  # the snapshot is now more than 24 hours old
        stale = client.get("/subjects", {"updated_before": pinned_at})
        assert stale.status_code == 400
    finally:
        client.close()
