"""The enforcement platform simulator, driven over HTTP as a client written from specs/enforcement.md would.

The dataset is generated once for the module (with grid cases and hotline orders shaped as the contract of
simulators/README.md says, so the links are exercised without the other generators), then served on
loopback: a server whose clock stays at the end of the span, one whose clock the tests move, and one with
one-second token and cursor lifetimes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest

from gridlake import uscc
from simulators.clock import SimClock
from simulators.enforcement.generate import DIRTY_RATES, generate
from simulators.enforcement.server import create_app
from simulators.faults import FaultPlan, SimControl
from simulators.generate import GenContext
from simulators.http import Listener, ServerGroup

CLIENT_ID = "gridlake"
CLIENT_SECRET = "s3cret"
# The 30 matters of reference.md: six categories of five.
MATTER_CODES = {f"{category}{number:02d}" for category in "ABCDEF" for number in range(1, 6)}
CATEGORY_NAMES = {"A": "街面秩序", "B": "市容环境", "C": "环境保护", "D": "施工管理", "E": "园林绿化", "F": "停车秩序"}
STAGE_KINDS = (
    "matter_code_lower_case",
    "matter_code_as_name",
    "uscc_lower_case",
    "uscc_spaces",
    "uscc_full_width",
    "uscc_bad_check",
    "enterprise_without_uscc",
    "closed_before_filed",
    "penalty_negative",
    "penalty_in_wan_cny",
)
ORIGINS = {"grid_direct", "grid_redispatch", "hotline", "patrol", "report", "superior"}
TS = pa.timestamp("us", tz="Asia/Shanghai")


# --- the dataset and the servers ----------------------------------------------------------------------------


def _sources(ctx: GenContext) -> dict[str, pa.Table]:
    """Grid cases and hotline orders as the citymgmt and hotline generators publish them (the contract)."""
    rng = np.random.default_rng(11)
    grids = ctx.world.grids.to_pylist()
    restaurants = ctx.world.restaurants["uscc"].to_pylist()
    orders: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    for chain in ctx.scenario.fume_chains:
        for complaint in chain.complaints:
            place = {
                "street_code": chain.street_code,
                "community_code": chain.community_code,
                "grid_code": None,
                "lat": complaint.lat,
                "lon": complaint.lon,
            }
            orders.append(
                {
                    "request_id": complaint.request_id,
                    "service_code": "102001",
                    "group": "fume",
                    "matter_code": "C01",
                    "requested_at": complaint.requested_at,
                    **place,
                    "resolved_at": None,
                    "uscc": chain.uscc,
                }
            )
            cases.append(
                {
                    "case_id": complaint.grid_case_id,
                    "origin": "hotline",
                    "hotline_request_id": complaint.request_id,
                    "category": "event",
                    "matter_code": "C01",
                    **place,
                    "reported_at": complaint.grid_reported_at,
                    "uscc": chain.uscc,
                }
            )
    codes = ["A01", "A02", "A03", "C01", "C02", "C04", "D05", "F01", "F03", None]
    for number in range(60):
        grid = grids[int(rng.integers(0, len(grids)))]
        at = (ctx.start + timedelta(minutes=int(rng.integers(0, (ctx.days - 1) * 1440)))).replace(
            microsecond=0
        )
        place = {
            "street_code": grid["street_code"],
            "community_code": grid["community_code"],
            "grid_code": grid["grid_code"],
            "lat": grid["centroid_lat"],
            "lon": grid["centroid_lon"],
        }
        code = codes[number % len(codes)]
        request_id = f"{at:%Y%m%d}{number:08d}"
        owner = restaurants[number % len(restaurants)] if code == "C01" else None
        orders.append(
            {
                "request_id": request_id,
                "service_code": "199001",
                "group": "street_order",
                "matter_code": code,
                "requested_at": at,
                **place,
                "resolved_at": None,
                "uscc": owner,
            }
        )
        if number % 2 == 0:
            cases.append(
                {
                    "case_id": f"GC{at:%Y%m%d}{number:07d}",
                    "origin": "hotline" if number % 4 == 0 else "patrol",
                    "hotline_request_id": request_id if number % 4 == 0 else None,
                    "category": "event",
                    "matter_code": code,
                    **place,
                    "reported_at": at + timedelta(minutes=30),
                    "uscc": owner,
                }
            )
    order_schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("service_code", pa.string()),
            ("group", pa.string()),
            ("matter_code", pa.string()),
            ("requested_at", TS),
            ("street_code", pa.string()),
            ("community_code", pa.string()),
            ("grid_code", pa.string()),
            ("lat", pa.float64()),
            ("lon", pa.float64()),
            ("resolved_at", TS),
            ("uscc", pa.string()),
        ]
    )
    case_schema = pa.schema(
        [
            ("case_id", pa.string()),
            ("origin", pa.string()),
            ("hotline_request_id", pa.string()),
            ("category", pa.string()),
            ("matter_code", pa.string()),
            ("street_code", pa.string()),
            ("community_code", pa.string()),
            ("grid_code", pa.string()),
            ("lat", pa.float64()),
            ("lon", pa.float64()),
            ("reported_at", TS),
            ("uscc", pa.string()),
        ]
    )
    return {
        "hotline_orders": pa.Table.from_pylist(orders, schema=order_schema),
        "grid_cases": pa.Table.from_pylist(cases, schema=case_schema),
    }


@dataclass
class Platform:
    ctx: GenContext
    truth: dict[str, Any]
    url: str  # clock fixed at the end of the span
    moving_url: str  # clock moved by the tests that need it
    short_url: str  # tokens and cursors live one second
    controls: dict[str, SimControl] = field(default_factory=dict)


@pytest.fixture(scope="module")
def platform(make_context: Callable[..., GenContext]) -> Iterator[Platform]:
    ctx = make_context(name="enforcement")
    ctx.shared.update(_sources(ctx))
    result = generate(ctx)
    fixed, moving = SimClock(ctx.end), SimClock(ctx.end)
    controls = {
        "main": SimControl(clock=fixed, plan=FaultPlan()),
        "moving": SimControl(clock=moving, plan=FaultPlan()),
        "short": SimControl(clock=fixed, plan=FaultPlan()),
    }
    apps = {
        "main": create_app(
            ctx.dataset, control=controls["main"], client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        ),
        "moving": create_app(
            ctx.dataset, control=controls["moving"], client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        ),
        "short": create_app(
            ctx.dataset,
            control=controls["short"],
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            token_ttl_s=1,
            cursor_ttl_s=1,
        ),
    }
    group = ServerGroup([Listener(name, app) for name, app in apps.items()]).start()
    try:
        urls = {name: listener.url for name, listener in group.listeners.items()}
        yield Platform(
            ctx=ctx,
            truth=result.truth,
            url=urls["main"],
            moving_url=urls["moving"],
            short_url=urls["short"],
            controls=controls,
        )
    finally:
        group.stop()


# --- a client written from the spec -------------------------------------------------------------------------


class Client:
    """OAuth2 client credentials, retries of what is transient, cursor paging with restart on 410."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.access_token: str | None = None
        self.events: Counter[str] = Counter()
        self.landed_order: list[str] = []

    def close(self) -> None:
        self.http.close()

    def token(self) -> str:
        answer = self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] > 0
        self.access_token = body["access_token"]
        self.events["token"] += 1
        return self.access_token

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """The answer to a GET, after retrying transient failures; a 401 gets a new token and one retry."""
        renewed = False
        for _ in range(12):
            if self.access_token is None:
                self.token()
            try:
                answer = self.http.get(
                    path, params=params, headers={"Authorization": f"Bearer {self.access_token}"}
                )
                if answer.status_code == 200:
                    answer.json()  # a truncated body is a transient failure, never a page
            except httpx.TransportError as err:
                self.events[type(err).__name__] += 1
                continue
            except ValueError:  # a truncated body: invalid JSON, or cut inside a UTF-8 character
                self.events["truncated"] += 1
                continue
            if answer.status_code == 401 and not renewed:
                self.events["401"] += 1
                renewed, self.access_token = True, None
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

    def cases(
        self,
        *,
        limit: int = 100,
        updated_since: str | None = None,
        after_page: Callable[[int], None] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Every case, the latest version landed of each; on 410 restart from the last updated_at landed."""
        landed: dict[str, dict[str, Any]] = {}
        last_updated, cursor, pages = updated_since, None, 0
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            elif last_updated is not None:
                params["updated_since"] = last_updated
            answer = self.get("/api/v1/cases", params)
            if answer.status_code == 410:
                self.events["410"] += 1
                assert answer.json()["error"]
                cursor = None
                continue
            assert answer.status_code == 200, answer.text
            page = answer.json()
            for item in page["items"]:
                self.landed_order.append(item["case_id"])
                known = landed.get(item["case_id"])
                if known is None or _at(item["updated_at"]) >= _at(known["updated_at"]):
                    landed[item["case_id"]] = item
                last_updated = item["updated_at"]
            pages += 1
            if after_page is not None:
                after_page(pages)
            cursor = page["next_cursor"]
            if cursor is None:
                return landed


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def client(platform: Platform) -> Iterator[Client]:
    with_client = Client(platform.url)
    yield with_client
    with_client.close()


@pytest.fixture(scope="module")
def served(platform: Platform) -> dict[str, dict[str, Any]]:
    """All cases as served at the end of the span."""
    reader = Client(platform.url)
    try:
        return reader.cases(limit=500)
    finally:
        reader.close()


def _dirt(case: dict[str, Any]) -> str | None:
    """The kind of dirt a served case shows, judged from the spec alone."""
    code = case["matter_code"]
    if code not in MATTER_CODES:
        if code.upper() in MATTER_CODES:
            return "matter_code_lower_case"
        return "matter_code_as_name" if code in CATEGORY_NAMES.values() else f"unexpected matter_code {code!r}"
    party = case["party"]
    if party["type"] == "enterprise":
        raw = party["uscc"]
        if raw is None:
            return "enterprise_without_uscc"
        if any(char.isspace() for char in raw):
            return "uscc_spaces"
        if any(ord(char) > 127 for char in raw):
            return "uscc_full_width"
        if raw != raw.upper():
            return "uscc_lower_case"
        if not uscc.is_valid(raw):
            return "uscc_bad_check"
    if case["closed_at"] is not None and _at(case["closed_at"]) < _at(case["filed_at"]):
        return "closed_before_filed"
    if case["penalty_cny"] is not None and case["penalty_cny"] < 0:
        return "penalty_negative"
    if case["penalty_cny"] is not None and case["penalty_cny"] > 1_000_000:
        return "penalty_in_wan_cny"
    return None


# --- tests --------------------------------------------------------------------------------------------------


def test_token_flow_and_auth_errors(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        wrong = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "nope"},
        )
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        grant = http.post(
            "/oauth/token",
            data={"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )
        assert grant.status_code == 400 and set(grant.json()) == {"error", "message"}
        assert http.get("/api/v1/cases").status_code == 401
        bad = http.get("/api/v1/cases", headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401 and set(bad.json()) == {"error", "message"}
        token = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        ).json()
        assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
        ok = http.get(
            "/api/v1/cases", params={"limit": 1}, headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert ok.status_code == 200 and len(ok.json()["items"]) == 1


def test_answers_are_dated_by_the_platforms_clock(platform: Platform, client: Client) -> None:
    for answer in (client.get("/api/v1/matters"), client.get("/api/v1/cases/ZF-2026-0000000"),
                   httpx.get(f"{platform.url}/api/v1/cases")):
        assert parsedate_to_datetime(answer.headers["Date"]) == platform.ctx.end, answer.status_code


def test_listing_pages_every_case_exactly_once(
    platform: Platform, client: Client, served: dict[str, dict[str, Any]]
) -> None:
    landed = client.cases(limit=7)
    assert len(client.landed_order) == len(set(client.landed_order)) == len(landed)
    assert landed == served
    assert len(served) == platform.truth["counts"]["cases_visible_at_end"]
    order = [(_at(case["updated_at"]), case["case_id"]) for case in (landed[i] for i in client.landed_order)]
    assert order == sorted(order)


def test_updated_since_is_inclusive_and_filters(client: Client, served: dict[str, dict[str, Any]]) -> None:
    middle = sorted(served.values(), key=lambda case: (_at(case["updated_at"]), case["case_id"]))[
        len(served) // 2
    ]
    since = middle["updated_at"]
    page = client.get("/api/v1/cases", {"updated_since": since, "limit": 500}).json()
    assert page["items"][0]["updated_at"] == since
    expected = {key for key, case in served.items() if _at(case["updated_at"]) >= _at(since)}
    assert {case["case_id"] for case in page["items"]} == expected
    # The same instant written in UTC, with Z, answers the same.
    zulu = _at(since).astimezone(UTC).isoformat().replace("+00:00", "Z")
    again = client.get("/api/v1/cases", {"updated_since": zulu, "limit": 500}).json()
    assert [case["case_id"] for case in again["items"]] == [case["case_id"] for case in page["items"]]


def test_request_errors(client: Client) -> None:
    too_many = client.get("/api/v1/cases", {"limit": 501})
    assert too_many.status_code == 400 and set(too_many.json()) == {"error", "message"}
    assert "limit" in too_many.json()["message"]
    assert client.get("/api/v1/cases", {"limit": 0}).status_code == 400
    assert client.get("/api/v1/cases", {"updated_since": "yesterday"}).status_code == 400
    assert client.get("/api/v1/cases", {"updated_since": "2026-11-10T00:00:00"}).status_code == 400
    for empty in ({"updated_since": ""}, {"limit": ""}):  # the spec does not say empty means absent
        answer = client.get("/api/v1/cases", empty)
        assert answer.status_code == 400 and next(iter(empty)) in answer.json()["message"], empty
    missing = client.get("/api/v1/cases/ZF-2026-0000000")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    nowhere = client.get("/api/v1/nothing")
    assert nowhere.status_code == 404 and set(nowhere.json()) == {"error", "message"}


def test_cursor_is_opaque_and_signed(client: Client) -> None:
    first = client.get("/api/v1/cases", {"limit": 3}).json()
    cursor = first["next_cursor"]
    assert cursor
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    answer = client.get("/api/v1/cases", {"limit": 3, "cursor": tampered})
    assert answer.status_code == 400 and set(answer.json()) == {"error", "message"}
    assert client.get("/api/v1/cases", {"limit": 3, "cursor": "garbage"}).status_code == 400
    other = client.get(
        "/api/v1/cases", {"limit": 3, "cursor": cursor, "updated_since": "2020-01-01T00:00:00Z"}
    )
    assert other.status_code == 400
    following = client.get("/api/v1/cases", {"limit": 3, "cursor": cursor}).json()
    assert not {c["case_id"] for c in following["items"]} & {c["case_id"] for c in first["items"]}


def test_one_case_and_matters(client: Client, served: dict[str, dict[str, Any]]) -> None:
    case_id, case = next(iter(served.items()))
    assert client.get(f"/api/v1/cases/{case_id}").json() == case
    matters = client.get("/api/v1/matters").json()
    assert len(matters["categories"]) == 6
    codes = {item["matter_code"] for category in matters["categories"] for item in category["matters"]}
    assert codes == MATTER_CODES
    names = {
        item["matter_code"]: item["name"]
        for category in matters["categories"]
        for item in category["matters"]
    }
    assert names["C01"] == "餐饮油烟" and names["F05"] == "非法停车场"


def test_token_expiry_mid_listing_gets_a_new_token(
    platform: Platform, client: Client, served: dict[str, dict[str, Any]]
) -> None:
    def expire(page: int) -> None:
        if page in (2, 4):
            assert httpx.post(f"{platform.url}/_sim/actions/expire_tokens").status_code == 200

    landed = client.cases(limit=9, after_page=expire)
    assert client.events["401"] == 2 and client.events["token"] == 3
    assert landed == served
    assert len(client.landed_order) == len(set(client.landed_order))


def test_cursor_expiry_restarts_from_the_last_updated_at(
    platform: Platform, client: Client, served: dict[str, dict[str, Any]]
) -> None:
    def expire(page: int) -> None:
        if page in (1, 3):
            assert httpx.post(f"{platform.url}/_sim/actions/expire_cursors").status_code == 200

    landed = client.cases(limit=8, after_page=expire)
    assert client.events["410"] == 2
    assert landed == served  # nothing lost; the restart overlaps by the inclusive bound, deduped by case_id


def test_real_expiry_of_tokens_and_cursors(platform: Platform) -> None:
    with httpx.Client(base_url=platform.short_url, timeout=10) as http:

        def token() -> str:
            return http.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                },
            ).json()["access_token"]

        old = token()
        page = http.get(
            "/api/v1/cases", params={"limit": 2}, headers={"Authorization": f"Bearer {old}"}
        ).json()
        time.sleep(1.2)
        expired = http.get("/api/v1/cases", params={"limit": 2}, headers={"Authorization": f"Bearer {old}"})
        assert expired.status_code == 401 and expired.json()["error"]
        gone = http.get(
            "/api/v1/cases",
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers={"Authorization": f"Bearer {token()}"},
        )
        assert gone.status_code == 410 and set(gone.json()) == {"error", "message"}


def test_faults_are_survived(platform: Platform, client: Client, served: dict[str, dict[str, Any]]) -> None:
    faults = f"{platform.url}/_sim/faults"
    client.token()
    headers = {"Authorization": f"Bearer {client.access_token}"}
    httpx.post(faults, json={"kind": "429", "count": 1, "path": "/api/v1/cases", "retry_after": 1})
    limited = httpx.get(f"{platform.url}/api/v1/cases", headers=headers)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert set(limited.json()) == {"error", "message"}
    httpx.post(faults, json={"kind": "503", "count": 1, "path": "/api/v1/cases"})
    failed = httpx.get(f"{platform.url}/api/v1/cases", headers=headers)
    assert failed.status_code == 503 and set(failed.json()) == {"error", "message"}
    httpx.post(faults, json={"kind": "truncate", "count": 1, "path": "/api/v1/cases"})
    cut = httpx.get(f"{platform.url}/api/v1/cases", headers=headers)
    with pytest.raises(ValueError):  # JSONDecodeError, or UnicodeDecodeError when cut inside a character
        cut.json()
    httpx.post(faults, json={"kind": "drop", "count": 1, "path": "/api/v1/cases"})
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{platform.url}/api/v1/cases", headers=headers)

    for kind in ("429", "500", "502", "drop", "truncate"):
        httpx.post(faults, json={"kind": kind, "count": 1, "path": "/api/v1/cases", "retry_after": 1})
    try:
        landed = client.cases(limit=11)
    finally:
        httpx.delete(faults)
    assert landed == served
    assert client.events["429"] == 1 and client.events["500"] == 1 and client.events["502"] == 1
    assert client.events["RemoteProtocolError"] + client.events["ReadError"] == 1
    assert client.events["truncated"] == 1


def test_dirty_cases_match_the_truth_exactly(platform: Platform, served: dict[str, dict[str, Any]]) -> None:
    found: dict[str, list[str]] = {kind: [] for kind in STAGE_KINDS}
    for case_id, case in served.items():
        kind = _dirt(case)
        if kind is not None:
            assert kind in found, (case_id, kind)
            found[kind].append(case_id)
    dirty = platform.truth["dirty"]
    assert set(dirty) == set(DIRTY_RATES)
    for kind in STAGE_KINDS:
        assert sorted(found[kind]) == dirty[kind]["ids"], kind
        assert dirty[kind]["count"] == len(found[kind]) >= 1, kind
    assert dirty["revised_same_day"]["count"] >= 1


def test_a_matter_given_by_name_is_given_by_its_category_name(
    platform: Platform, client: Client, served: dict[str, dict[str, Any]]
) -> None:
    """enforcement.md: "with the category name instead of the code", the category of the case's matter."""
    categories = client.get("/api/v1/matters").json()["categories"]
    names = {category["category_code"]: category["name"] for category in categories}
    assert names == CATEGORY_NAMES
    clean = {row["case_id"]: row["matter_code"] for row in platform.ctx.shared["enforcement_cases"].to_pylist()}
    by_name = platform.truth["dirty"]["matter_code_as_name"]["ids"]
    assert by_name
    for case_id in by_name:
        assert served[case_id]["matter_code"] == names[clean[case_id][0]], case_id


def test_clean_cases_are_clean(served: dict[str, dict[str, Any]]) -> None:
    statuses = Counter(case["status"] for case in served.values())
    assert set(statuses) <= {"filed", "investigating", "decided", "closed", "revoked"}
    assert statuses["closed"] and statuses["decided"] + statuses["closed"] > statuses["revoked"]
    for case_id, case in served.items():
        if case["party"]["type"] == "individual":
            number = case["party"]["id_number"]
            assert len(number) == 18 and number[:17].isdigit(), case_id
        if (
            case["status"] in ("decided", "closed")
            and _dirt(case) is None
            and case["penalty_cny"] is not None
        ):
            assert 100 <= case["penalty_cny"] <= 100_000 and "fine" in case["measures"], case_id
        assert len(case_id) == 15 and case_id.startswith("ZF-") and case_id[8:].isdigit(), case_id
        assert case["origin"] in ORIGINS, case_id
        assert case["status"] != "filed" or case["investigated_at"] is None, case_id


def test_planted_cases_carry_their_ids_and_links(
    platform: Platform, served: dict[str, dict[str, Any]]
) -> None:
    scenario, end = platform.ctx.scenario, platform.ctx.end
    for chain in scenario.fume_chains:
        if chain.enforcement_filed_at >= end:
            assert chain.enforcement_case_id not in served  # hidden until the clock passes its filing
            continue
        case = served[chain.enforcement_case_id]
        last = chain.complaints[-1]
        assert case["origin"] == "grid_direct" and case["matter_code"] == "C01"
        assert case["grid_case_id"] == last.grid_case_id and case["hotline_request_id"] == last.request_id
        assert case["party"] == {
            "type": "enterprise",
            "uscc": chain.uscc,
            "name": chain.restaurant_name,
            "id_number": None,
        }
        assert _at(case["filed_at"]) == chain.enforcement_filed_at.replace(microsecond=0)
        if case["decided_at"] is not None:
            assert case["penalty_cny"] == chain.penalty_cny
    for black in scenario.blacklisted:
        for case_id, filed, fine in zip(
            black.enforcement_case_ids, black.enforcement_filed_at, black.penalties_cny
        ):
            case = served[case_id]
            assert case["party"]["uscc"] == black.uscc and case["party"]["type"] == "enterprise"
            assert _at(case["filed_at"]) == filed.replace(microsecond=0)
            assert case["penalty_cny"] == fine and case["status"] in ("decided", "closed")
    planted = {chain.enforcement_case_id for chain in scenario.fume_chains}
    planted |= {case_id for black in scenario.blacklisted for case_id in black.enforcement_case_ids}
    for case_id in served:
        assert (case_id[8] == "9") == (case_id in planted), case_id


def test_cases_link_to_grid_cases_and_orders(platform: Platform, served: dict[str, dict[str, Any]]) -> None:
    grid = {row["case_id"]: row for row in platform.ctx.shared["grid_cases"].to_pylist()}
    orders = {row["request_id"]: row for row in platform.ctx.shared["hotline_orders"].to_pylist()}
    planted_orders = platform.ctx.scenario.planted_request_ids()
    origins = Counter(case["origin"] for case in served.values() if case["case_id"][8] != "9")
    assert origins["grid_direct"] + origins["grid_redispatch"] > 0 and origins["hotline"] > 0
    used_grid, used_orders = set(), set()
    for case_id, case in served.items():
        if case_id[8] == "9":
            continue
        if case["origin"] in ("grid_direct", "grid_redispatch"):
            source = grid[case["grid_case_id"]]
            assert case["hotline_request_id"] == source["hotline_request_id"]
            used_grid.add(case["grid_case_id"])
        elif case["origin"] == "hotline":
            source = orders[case["hotline_request_id"]]
            assert case["grid_case_id"] is None
            used_orders.add(case["hotline_request_id"])
        else:
            assert case["grid_case_id"] is None and case["hotline_request_id"] is None
            continue
        assert source["matter_code"] is not None and case["street_code"] == source["street_code"]
        if _dirt(case) is None:
            assert case["matter_code"] == source["matter_code"]
            assert _at(case["filed_at"]) > source.get("reported_at", source.get("requested_at"))
    assert not used_orders & planted_orders
    assert not used_orders & {row["hotline_request_id"] for row in grid.values()}


def test_revisions_show_as_the_clock_moves(platform: Platform, served: dict[str, dict[str, Any]]) -> None:
    """A case revised while a client pages comes again later in the listing; the last version wins."""
    client = Client(platform.moving_url)
    before_now = platform.ctx.end

    def move(page: int) -> None:
        if page == 2:
            answer = httpx.post(f"{platform.moving_url}/_sim/clock", json={"advance_seconds": 3 * 86400})
            assert answer.status_code == 200

    reader = Client(platform.moving_url)
    try:
        landed = client.cases(limit=10, after_page=move)
        fresh = reader.cases(limit=500)
    finally:
        client.close()
        reader.close()
    repeated = [case_id for case_id, count in Counter(client.landed_order).items() if count > 1]
    assert repeated, "no case was revised while paging"
    assert landed == fresh
    later = {case_id for case_id, case in fresh.items() if _at(case["updated_at"]) >= before_now}
    assert later and all(
        _at(served[case_id]["updated_at"]) < before_now for case_id in later if case_id in served
    )
    for chain in platform.ctx.scenario.fume_chains:  # planted cases filed after the span show up now
        if chain.enforcement_filed_at < before_now + timedelta(days=3):
            assert chain.enforcement_case_id in fresh
