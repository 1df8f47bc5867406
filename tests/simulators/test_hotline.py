"""The 12345 hotline simulator, seen as a connector written from specs/hotline.md sees it: over HTTP only.

The dataset is generated once for the module and served on a free loopback port. Tests run in file order
because the shared clock only moves forward: first everything at the span's end (the clock's first "now"),
then paging while orders change, then the state at the horizon, when every lifecycle has run its course.
"""

from __future__ import annotations

import itertools
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from gridlake.reference import streets
from gridlake.settings import get_settings
from simulators.clock import SimClock
from simulators.faults import FaultPlan, SimControl
from simulators.hotline.generate import BEIJING_BOX, DIRTY_RATES, generate
from simulators.hotline.server import create_app
from simulators.http import Listener, ServerGroup
from simulators.scenario import TZ

API_KEY = "test-hotline-key"
PREFIX = "/open311/v2"
OPEN311_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}
DONGCHENG_STREETS = {street.street_code for street in streets()}


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def hotline(make_context) -> SimpleNamespace:
    ctx = make_context(name="hotline")
    result = generate(ctx)
    published = ctx.shared["hotline_orders"].to_pylist()
    return SimpleNamespace(ctx=ctx, truth=result.truth, counts=result.counts,
                           orders={row["request_id"]: row for row in published})


@pytest.fixture(scope="module")
def platform(hotline) -> Iterator[str]:
    control = SimControl(clock=SimClock(hotline.ctx.end), plan=FaultPlan())
    app = create_app(hotline.ctx.dataset, control=control, api_key=API_KEY)
    with ServerGroup([Listener("hotline", app)]) as group:
        yield group.listeners["hotline"].url


@pytest.fixture(scope="module")
def api(platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform + PREFIX, headers={"X-API-Key": API_KEY}, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def sim(platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform + "/_sim", timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def pages_at_end(api, sim, hotline) -> list[list[dict[str, Any]]]:
    """Every page of the whole listing (with extensions) at the span's end."""
    assert datetime.fromisoformat(sim.get("/clock").json()["now"]) == hotline.ctx.end
    return _pages(api, {"extensions": "true", "page_size": 50})


# ---------------------------------------------------------------- helpers

def _get(api: httpx.Client, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
    answer = api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer


def _pages(api: httpx.Client, params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    pages, page = [], 1
    while True:
        items = _get(api, "/requests.json", params | {"page": page}).json()
        if not items:
            return pages
        pages.append(items)
        page += 1


def _time(text: Any) -> datetime | None:
    """A served time as a connector reads it: ISO 8601, no offset means +08:00, else unparseable (None)."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=TZ)


def _code(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split())


def _event_times(item: dict[str, Any]) -> list[datetime]:
    ext = item["extended_attributes"]
    texts = [item["requested_datetime"], ext["responded_datetime"], ext["resolved_datetime"]]
    for dispatch in ext["dispatches"]:
        texts += [dispatch["dispatched_at"], dispatch["accepted_at"], dispatch["returned_at"]]
    texts.append((ext.get("return_visit") or {}).get("visited_at"))
    return [moment for moment in map(_time, texts) if moment is not None]


def _dirty_kinds(item: dict[str, Any], known_services: set[str]) -> set[str]:
    """The dirty kinds of hotline.md that one served order (with extensions) shows."""
    kinds: set[str] = set()
    ext = item["extended_attributes"]
    lat, lon = item["lat"], item["long"]
    if lat == 0 and lon == 0:
        kinds.add("lat_long_zero")
    elif 115 < lat < 118 and 39 < lon < 42:
        kinds.add("lat_long_swapped")
    elif not (BEIJING_BOX[0] < lat < BEIJING_BOX[1] and BEIJING_BOX[2] < lon < BEIJING_BOX[3]):
        kinds.add("outside_beijing")
    street = ext.get("street_code")
    if street in (None, ""):
        kinds.add("street_code_missing")
    elif _code(street) not in DONGCHENG_STREETS:
        kinds.add("street_code_not_dongcheng")
    codes = [street or "", ext["community_code"], item["service_code"]]
    if any(code != unicodedata.normalize("NFKC", code) for code in codes):
        kinds.add("fullwidth_codes")
    if _code(item["service_code"]) not in known_services:
        kinds.add("unknown_service_code")
    if any(unicodedata.category(char) == "Cc" for char in item["description"]):
        kinds.add("description_control_chars")
    if len(item["description"]) > 4000:
        kinds.add("description_too_long")
    stamps = [item["requested_datetime"], item["updated_datetime"], item["expected_datetime"]]
    if any(_time(stamp) is None for stamp in stamps):
        kinds.add("time_unparseable")
    elif any(datetime.fromisoformat(stamp).tzinfo is None for stamp in stamps):
        kinds.add("time_without_offset")
    updated = _time(item["updated_datetime"])
    if updated is not None and updated < max(_event_times(item)):
        kinds.add("updated_goes_backwards")
    return kinds


def _error(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["code"] == status
    return body[0]["description"]


# ---------------------------------------------------------------- generation

def test_generation_publishes_every_order_with_planted_ids_and_a_truth_section(hotline) -> None:
    truth, scenario = hotline.truth, hotline.ctx.scenario
    assert set(truth) >= {"dirty", "counts", "slow_units", "dispute_services", "transferred", "excluded",
                          "repeat_of"}
    assert set(truth["dirty"]) == set(DIRTY_RATES)
    assert len(hotline.orders) == truth["counts"]["orders"]
    assert sum(truth["counts"]["by_group"].values()) == truth["counts"]["orders"]
    assert hotline.counts["request_versions"] == truth["counts"]["versions"] > 5 * truth["counts"]["orders"]
    for request_id, order in hotline.orders.items():
        day = order["requested_at"].astimezone(TZ).strftime("%Y%m%d")
        assert request_id.startswith(day) and len(request_id) == 16, request_id
        assert (request_id[8] == "9") == (request_id in scenario.planted_request_ids()), request_id
    for chain in scenario.fume_chains:
        for complaint in chain.complaints:
            order = hotline.orders[complaint.request_id]
            assert (order["service_code"], order["community_code"], order["uscc"]) == (
                "102001", chain.community_code, chain.uscc)
            assert (order["lat"], order["lon"], order["requested_at"]) == (
                complaint.lat, complaint.lon, complaint.requested_at)
    for spot in scenario.hotspots:
        for request_id, at in zip(spot.request_ids, spot.requested_at):
            order = hotline.orders[request_id]
            assert (order["service_code"], order["community_code"], order["requested_at"]) == (
                spot.service_code, spot.community_code, at)
    assert set(truth["slow_units"]) == {"D04", "D06"}
    for section in ("transferred", "excluded", "repeat_of", "unlinked_repeats"):
        assert truth[section]["count"] == len(truth[section]["ids"]) > 0, section


# ---------------------------------------------------------------- at the span's end

def test_every_endpoint_answers_403_without_the_right_key(platform) -> None:
    for path in ("/discovery.json", "/services.json", "/requests.json", "/requests/2026111990000001.json"):
        assert "missing" in _error(httpx.get(platform + PREFIX + path), 403)
        wrong = httpx.get(platform + PREFIX + path, headers={"X-API-Key": "not-the-key"})
        assert "invalid" in _error(wrong, 403)


def test_answers_are_dated_by_the_platforms_clock(platform, api, hotline) -> None:
    for answer in (api.get("/services.json"), api.get("/requests.json", params={"page": "0"}),
                   httpx.get(platform + PREFIX + "/services.json")):
        assert parsedate_to_datetime(answer.headers["Date"]) == hotline.ctx.end, answer.status_code


def test_discovery_and_services(api) -> None:
    discovery = _get(api, "/discovery.json").json()
    assert discovery["endpoints"][0]["url"].endswith(PREFIX)
    assert "application/json" in discovery["endpoints"][0]["formats"]
    services = _get(api, "/services.json").json()
    codes = [service["service_code"] for service in services]
    assert len(codes) == len(set(codes)) > 40 and "102001" in codes
    for service in services:
        assert set(service) >= {"service_code", "service_name", "description", "metadata", "type", "keywords",
                                "group"}
    assert {service["group"] for service in services} == {
        "dust", "fume", "garbage", "cleaning", "street_order", "facilities", "parking", "heavy_vehicle",
        "property", "utilities", "social", "other"}


def test_dirty_records_are_served_exactly_as_the_truth_says(api, hotline, pages_at_end) -> None:
    known = {service["service_code"] for service in _get(api, "/services.json").json()}
    found: dict[str, set[str]] = defaultdict(set)
    for page in pages_at_end:
        for request_id, times in Counter(item["service_request_id"] for item in page).items():
            assert times <= 2
            if times == 2:
                found["duplicate_on_page"].add(request_id)
        for item in page:
            for kind in _dirty_kinds(item, known):
                found[kind].add(item["service_request_id"])
    n_orders = hotline.truth["counts"]["orders"]
    for kind, rate in DIRTY_RATES.items():
        expected = hotline.truth["dirty"][kind]
        assert expected["count"] == max(1, round(rate * n_orders)), kind
        assert sorted(found[kind]) == expected["ids"], kind
    # Every order is on the listing once (twice for the duplicated ones), planted ones with their ids.
    ids = [item["service_request_id"] for page in pages_at_end for item in page]
    assert len(set(ids)) == n_orders == len(ids) - hotline.truth["dirty"]["duplicate_on_page"]["count"]
    assert hotline.ctx.scenario.planted_request_ids() <= set(ids)


def test_without_extensions_only_the_open311_fields_come_back(api) -> None:
    for params in ({}, {"extensions": "false"}, {"extensions": ""}):
        items = _get(api, "/requests.json", params | {"page_size": 20}).json()
        assert items and all(set(item) == OPEN311_FIELDS for item in items)
    with_ext = _get(api, "/requests.json", {"page_size": 20, "extensions": "true"}).json()
    assert all(set(item) == OPEN311_FIELDS | {"extended_attributes"} for item in with_ext)
    ext = with_ext[0]["extended_attributes"]
    assert set(ext) >= {"channel", "request_type", "urgency", "street_code", "community_code", "dispatches",
                        "responded_datetime", "resolved_datetime", "reply", "repeat_of", "complainant",
                        "is_excluded"}
    assert re.fullmatch(r"1\d{10}", ext["complainant"]["phone"])


def test_one_work_order_by_id(api, hotline) -> None:
    chain = hotline.ctx.scenario.fume_chains[0]
    complaint = chain.complaints[0]
    answer = _get(api, f"/requests/{complaint.request_id}.json", {"extensions": "true"}).json()
    assert len(answer) == 1
    order = answer[0]
    assert order["service_request_id"] == complaint.request_id
    assert (order["service_code"], order["lat"], order["long"]) == ("102001", complaint.lat, complaint.lon)
    assert _time(order["requested_datetime"]) == complaint.requested_at
    assert chain.restaurant_name in order["description"]
    assert order["extended_attributes"]["community_code"] == chain.community_code
    assert order["extended_attributes"]["street_code"] == chain.street_code
    plain = _get(api, f"/requests/{complaint.request_id}.json").json()
    assert set(plain[0]) == OPEN311_FIELDS
    assert "2026010112345678" in _error(api.get("/requests/2026010112345678.json"), 404)


def test_listing_filters(api, hotline, pages_at_end) -> None:
    everything = [item for page in pages_at_end for item in page]
    total = int(_get(api, "/requests.json", {"page_size": 1}).headers["X-Total-Count"])
    assert total == hotline.truth["counts"]["orders"]

    # An empty value counts as absent.
    blank = {"start_date": "", "end_date": " ", "updated_after": "", "status": "", "service_code": "",
             "page": "", "page_size": "", "extensions": ""}
    answer = _get(api, "/requests.json", blank)
    assert int(answer.headers["X-Total-Count"]) == total
    assert len({i["service_request_id"] for i in answer.json()}) == 100  # the default page size

    # start_date / end_date on the received time (inclusive), checked against the clean published times.
    start, end = hotline.ctx.start + timedelta(days=2), hotline.ctx.start + timedelta(days=4, hours=6)
    window = _pages(api, {"start_date": start.isoformat(), "end_date": end.isoformat(), "page_size": 1000})
    got = {item["service_request_id"] for page in window for item in page}
    assert got == {rid for rid, order in hotline.orders.items() if start <= order["requested_at"] <= end}
    naive = _get(api, "/requests.json", {"start_date": start.strftime("%Y-%m-%dT%H:%M:%S"),
                                         "end_date": end.astimezone(TZ).strftime("%Y-%m-%dT%H:%M:%S")})
    assert int(naive.headers["X-Total-Count"]) == len(got)

    # updated_after is strict, updated_before inclusive.
    pivot = everything[len(everything) // 2]["updated_datetime"]
    pivot_at = _time(pivot)
    after = [i for p in _pages(api, {"updated_after": pivot, "page_size": 1000}) for i in p]
    before = [i for p in _pages(api, {"updated_before": pivot, "page_size": 1000}) for i in p]
    assert after and all(_time(i["updated_datetime"]) > pivot_at for i in after)
    assert before and all(_time(i["updated_datetime"]) <= pivot_at for i in before)
    assert any(_time(i["updated_datetime"]) == pivot_at for i in before)
    assert len({i["service_request_id"] for i in after + before}) == total

    # status: one, the other, both.
    counts = {}
    for status in ("open", "closed", "open,closed"):
        answer = _get(api, "/requests.json", {"status": status, "page_size": 1})
        counts[status] = int(answer.headers["X-Total-Count"])
    assert counts["open"] == hotline.truth["counts"]["open_at_end"]
    assert counts["open"] + counts["closed"] == counts["open,closed"] == total
    assert all(i["status"] == "open" for i in _get(api, "/requests.json", {"status": "open"}).json())

    # service_code: a comma list, on the served code.
    wanted = {"102001", "110001"}
    items = [i for p in _pages(api, {"service_code": "102001, 110001", "page_size": 1000}) for i in p]
    assert items and {i["service_code"] for i in items} == wanted
    assert len({i["service_request_id"] for i in items}) == len(
        {i["service_request_id"] for i in everything if i["service_code"] in wanted})


def test_service_request_id_overrides_every_other_filter(api, hotline, pages_at_end) -> None:
    """Open311: a comma list of ids overrides all other arguments; paging and extensions still apply."""
    everything = {i["service_request_id"]: i for page in pages_at_end for i in page}  # in listing order
    position = {rid: k for k, rid in enumerate(everything)}
    duplicates = hotline.truth["dirty"]["duplicate_on_page"]["ids"]
    duplicated = duplicates[0]
    plain = [rid for rid in everything if rid not in duplicates][:2]
    wanted = sorted([duplicated, *plain], key=position.__getitem__)
    ids = f" {plain[1]},{duplicated} ,2026010112345678,{plain[0]},{plain[1]}"  # spaces, an unknown id, a repeat
    overridden = {"status": "pending", "service_code": "000000", "start_date": "2020-01-01",
                  "end_date": "not a date", "updated_after": "2099-01-01T00:00:00+08:00"}
    answer = _get(api, "/requests.json", overridden | {"service_request_id": ids, "extensions": "true"})
    assert int(answer.headers["X-Total-Count"]) == 3
    items = answer.json()
    assert [i["service_request_id"] for i in items] == [
        rid for rid in wanted for _ in range(2 if rid == duplicated else 1)]
    assert all(i == everything[i["service_request_id"]] for i in items)
    paged = [_get(api, "/requests.json", {"service_request_id": ids, "page_size": 1, "page": page}).json()
             for page in (1, 2, 3, 4)]
    assert [list(dict.fromkeys(i["service_request_id"] for i in page)) for page in paged] == [
        [wanted[0]], [wanted[1]], [wanted[2]], []]
    assert all(set(i) == OPEN311_FIELDS for page in paged for i in page)
    unknown = _get(api, "/requests.json", {"service_request_id": "2026010112345678"})
    assert unknown.json() == [] and unknown.headers["X-Total-Count"] == "0"
    every = _get(api, "/requests.json", {"service_request_id": " ", "page_size": 1})
    assert int(every.headers["X-Total-Count"]) == hotline.truth["counts"]["orders"]  # empty: absent
    assert "service_request_id" in _error(api.get("/requests.json", params={"service_request_id": ", ,"}), 400)


def test_pages_are_ordered_and_cover_the_listing(api, hotline) -> None:
    total = hotline.truth["counts"]["orders"]
    pages = _pages(api, {"page_size": 7})
    assert len(pages) == -(-total // 7)
    keys = [(_time(i["updated_datetime"]), i["service_request_id"]) for page in pages for i in page]
    assert keys == sorted(keys)
    assert len({key[1] for key in keys}) == total
    beyond = _get(api, "/requests.json", {"page": len(pages) + 1, "page_size": 7})
    assert beyond.json() == [] and int(beyond.headers["X-Total-Count"]) == total
    assert len(_get(api, "/requests.json", {"page_size": 1000}).json()) >= min(total, 1000)


@pytest.mark.parametrize("params, field", [
    ({"start_date": "2026-13-01"}, "start_date"),
    ({"end_date": "yesterday"}, "end_date"),
    ({"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"}, "90 days"),
    ({"start_date": "2026-11-10", "end_date": "2026-11-01"}, "before start_date"),
    ({"updated_after": "2026-11-20T00:00:00 08:00"}, "%2B"),
    ({"updated_before": "11/20/2026"}, "updated_before"),
    ({"page_size": "1001"}, "page_size"),
    ({"page_size": "0"}, "page_size"),
    ({"page_size": "many"}, "page_size"),
    ({"page": "0"}, "page"),
    ({"status": "pending"}, "status"),
    ({"extensions": "yes"}, "extensions"),
])
def test_bad_parameters_answer_400_naming_the_parameter(api, params, field) -> None:
    assert field in _error(api.get("/requests.json", params=params), 400)


def test_armed_faults_are_played_and_then_the_platform_answers_again(api, sim) -> None:
    path = PREFIX + "/requests.json"
    sim.post("/faults", json={"kind": "429", "count": 2, "path": path, "retry_after": 3}).raise_for_status()
    for _ in range(2):
        answer = api.get("/requests.json")
        assert _error(answer, 429) and answer.headers["Retry-After"] == "3"
    assert api.get("/requests.json").status_code == 200
    for status in ("500", "502", "503"):
        sim.post("/faults", json={"kind": status, "path": path}).raise_for_status()
        _error(api.get("/requests.json"), int(status))
    assert api.get("/services.json").status_code == 200  # a fault on one path leaves the others alone

    sim.post("/faults", json={"kind": "slow", "delay_s": 0.6}).raise_for_status()
    started = time.monotonic()
    assert api.get("/services.json").status_code == 200
    assert time.monotonic() - started >= 0.6

    sim.post("/faults", json={"kind": "drop", "path": path}).raise_for_status()
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/requests.json", params={"page_size": 200})
    sim.post("/faults", json={"kind": "truncate", "path": path}).raise_for_status()
    truncated = api.get("/requests.json", params={"page_size": 200})
    assert truncated.status_code == 200
    with pytest.raises(ValueError):  # JSONDecodeError, or UnicodeDecodeError when cut inside a character
        truncated.json()

    served = sim.get("/faults").json()["served"]
    assert served == {"429": 2, "500": 1, "502": 1, "503": 1, "slow": 1, "drop": 1, "truncate": 1}
    sim.post("/faults", json={"kind": "500", "count": 5}).raise_for_status()
    assert sim.delete("/faults").json() == {"armed": []}
    assert api.get("/requests.json").status_code == 200


# ---------------------------------------------------------------- the clock moves

def test_changed_orders_move_to_later_pages_and_an_updated_after_loader_loses_nothing(
        api, sim, hotline) -> None:
    end = hotline.ctx.end
    assert datetime.fromisoformat(sim.get("/clock").json()["now"]) == end
    size = 10
    recent = {"start_date": (end - timedelta(days=3)).isoformat(), "page_size": size}
    first = _get(api, "/requests.json", recent | {"page": 1}).json()
    first_seen = {i["service_request_id"]: _time(i["updated_datetime"]) for i in first}

    moved = sim.post("/clock", json={"advance_seconds": 86400})
    assert datetime.fromisoformat(moved.json()["now"]) == end + timedelta(days=1)
    assert parsedate_to_datetime(api.get("/services.json").headers["Date"]) == end + timedelta(days=1)
    changed = _get(api, "/requests.json", recent | {"updated_after": end.isoformat(), "page_size": 1})
    assert int(changed.headers["X-Total-Count"]) > 0

    # A loader that goes on with page=2, 3, ...: the orders it saw change and come back on later pages,
    # and orders it had not seen yet slide into pages it already read: it loses them.
    naive: dict[str, datetime] = dict(first_seen)
    came_back = set()
    page = 2
    while items := _get(api, "/requests.json", recent | {"page": page}).json():
        for item in items:
            request_id, updated = item["service_request_id"], _time(item["updated_datetime"])
            if request_id in first_seen and updated > first_seen[request_id]:
                came_back.add(request_id)
            naive[request_id] = max(updated, naive.get(request_id, updated))
        page += 1
    assert came_back

    # A loader that goes on with updated_after from the last updated_datetime it saw (one second back, so
    # orders sharing that second are read again; it keeps the newest version of each).
    seen: dict[str, datetime] = dict(first_seen)
    cursor = max(first_seen.values())
    while True:
        since = (cursor - timedelta(seconds=1)).isoformat()
        items = _get(api, "/requests.json", recent | {"updated_after": since, "page": 1}).json()
        for item in items:
            request_id, updated = item["service_request_id"], _time(item["updated_datetime"])
            seen[request_id] = max(updated, seen.get(request_id, updated))
        if len({i["service_request_id"] for i in items}) < size:
            break
        newest = max(_time(i["updated_datetime"]) for i in items)
        assert newest > cursor, "a whole page shares one second: the loader cannot move on"
        cursor = newest

    now = {i["service_request_id"]: _time(i["updated_datetime"])
           for p in _pages(api, recent | {"page_size": 1000}) for i in p}
    assert seen == now
    lost = set(now) - set(naive)
    assert lost, "paging by page number alone should have lost orders that slid to earlier pages"


def test_at_the_horizon_lifecycles_are_complete_and_match_the_truth(api, sim, hotline) -> None:
    truth, settings = hotline.truth, get_settings()
    moved = sim.post("/clock", json={"now": hotline.ctx.horizon.isoformat()})
    assert moved.status_code == 200
    items = {i["service_request_id"]: i
             for p in _pages(api, {"extensions": "true", "page_size": 1000}) for i in p}
    assert len(items) == truth["counts"]["orders"]
    closed = [i for i in items.values() if i["status"] == "closed"]
    assert len(closed) == truth["counts"]["closed_at_horizon"]

    excluded = sorted(rid for rid, i in items.items() if i["extended_attributes"]["is_excluded"])
    assert excluded == truth["excluded"]["ids"] and len(excluded) == truth["excluded"]["count"]

    repeats = {rid: i["extended_attributes"]["repeat_of"] for rid, i in items.items()
               if i["extended_attributes"]["repeat_of"]}
    assert sorted(repeats) == truth["repeat_of"]["ids"]
    for rid, earlier in repeats.items():
        order, first = hotline.orders[rid], hotline.orders[earlier]
        assert order["community_code"] == first["community_code"]
        assert order["service_code"] == first["service_code"]
        assert first["requested_at"] < order["requested_at"]

    # The same caller about the same matter within 7 days, not linked by the call taker.
    calls: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for rid, item in items.items():
        phone = item["extended_attributes"]["complainant"]["phone"]
        calls[phone, hotline.orders[rid]["service_code"]].append(hotline.orders[rid]["requested_at"])
    unlinked = sorted(
        rid for rid, item in items.items() if not item["extended_attributes"]["repeat_of"]
        and any(timedelta(0) < hotline.orders[rid]["requested_at"] - earlier <= timedelta(days=7)
                for earlier in calls[item["extended_attributes"]["complainant"]["phone"],
                                     hotline.orders[rid]["service_code"]]))
    assert unlinked == truth["unlinked_repeats"]["ids"]

    transferred = []
    for rid, item in items.items():
        dispatches = item["extended_attributes"]["dispatches"]
        assert dispatches and dispatches[-1]["accepted_at"] and not dispatches[-1]["returned_at"]
        assert item["agency_responsible"] == dispatches[-1]["unit_name"]
        if any(d["returned_at"] for d in dispatches):
            assert len(dispatches) == 2 and dispatches[0]["return_reason"]
            assert dispatches[0]["unit_code"] != dispatches[1]["unit_code"]
            transferred.append(rid)
    assert sorted(transferred) == truth["transferred"]["ids"]

    for spot in hotline.ctx.scenario.hotspots:
        orders = [items[rid] for rid in spot.request_ids]
        for earlier, later in itertools.pairwise(orders):
            resolved = _time(earlier["extended_attributes"]["resolved_datetime"])
            assert resolved < _time(later["requested_datetime"])
        for order in orders:
            visit = order["extended_attributes"]["return_visit"]
            assert order["status"] == "closed"
            assert (visit["is_resolved"], visit["satisfaction"]) == (True, "satisfied")

    # Slow units answer in about a day; disputes leave citizens unsatisfied more often.
    respond: dict[str, list[float]] = defaultdict(list)
    satisfied: dict[bool, list[bool]] = defaultdict(list)
    for item in items.values():
        ext = item["extended_attributes"]
        received, responded = _time(item["requested_datetime"]), _time(ext["responded_datetime"])
        if received is not None:
            respond[ext["dispatches"][-1]["unit_code"]].append((responded - received).total_seconds() / 3600)
            limit = settings.hotline.for_urgency(ext["urgency"]).resolve
            assert _time(item["expected_datetime"]) == received + limit
        visit = ext["return_visit"]
        if visit["satisfaction"] == "unreachable":
            assert visit["is_resolved"] is False
        else:
            dispute = _code(item["service_code"]) in truth["dispute_services"]
            satisfied[dispute].append(visit["satisfaction"] == "satisfied")
    for unit, mean in truth["slow_units"].items():
        assert sum(respond[unit]) / len(respond[unit]) == pytest.approx(mean, abs=3.0) and mean > 20
    others = [h for unit, hours in respond.items() if unit not in truth["slow_units"] for h in hours]
    assert sum(others) / len(others) < 10
    rate = {flag: sum(values) / len(values) for flag, values in satisfied.items()}
    assert rate[True] < 0.5 < rate[False]
