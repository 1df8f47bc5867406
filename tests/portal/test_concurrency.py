"""Fifty clients at once: every street office of the district (seventeen, twice over), the centre and the bureaus,
each running a handful of typical queries and downloads, started together. Every answer is right for its caller:
no request fails, and a street office's answers hold its street's rows, exactly, however the service interleaves
them with other users' (each user's row condition is its own, under every query, whatever runs beside it).
The answers are compared with the published shared zone read directly. Speed is bench/portal.py's business.
"""

from __future__ import annotations

import csv
import io
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gridlake.reference import streets
from gridlake.shared import SharedZone
from portal.policy import default_policies
from portal.tokens import TokenStore

CLIENTS = 50
ROUNDS = 2
BY_STREET = "select street_code, count(*) as orders from hotline_requests group by street_code order by street_code"


@pytest.fixture(scope="module")
def expected(service) -> dict[str, Any]:
    """What each caller should get, from the published datasets."""
    zone = SharedZone(service.home / "shared")
    requests = zone.read("hotline_requests")
    cases = zone.read("grid_case_lifecycle")
    enterprises = zone.read("enterprise_profile")
    domains = default_policies().roles["urban_management"].attributes["domains"]
    urban = requests.filter(pc.or_kleene(pc.is_in(requests["domain_code"], pa.array(domains, pa.string())),
                                         pc.equal(requests["final_unit_code"], "D01")))
    rated = enterprises.filter(pc.is_valid(enterprises["risk_level"]))
    return {
        "orders": Counter(requests["street_code"].to_pylist()),
        "cases": {street: sorted(cases.filter(pc.equal(cases["street_code"], street))["case_id"].to_pylist())
                  for street in {code for code in cases["street_code"].to_pylist() if code}},
        "enterprises": Counter(rated["street_code"].to_pylist()),
        "urban_orders": urban.num_rows,
    }


@pytest.fixture(scope="module")
def callers(service) -> list[tuple[str, str, str | None]]:
    """Fifty callers: (token, role, street): each street office twice, then the centre and the bureaus."""
    store = TokenStore(service.home / "portal" / "tokens.json")
    offices = [(store.issue(f"concurrent-{street.street_code}", "street_office",
                            {"street_code": street.street_code}).token, "street_office", street.street_code)
               for street in streets()]
    others = [(service.tokens[who], role, None) for who, role in (
        ("centre", "centre"), ("urban", "urban_management"), ("environment", "environment"),
        ("statistics", "statistics_bureau"), ("credit", "credit_office"))]
    found = (offices * 2 + others * CLIENTS)[:CLIENTS]
    assert len(found) == CLIENTS and len({street for _, _, street in found if street}) == len(streets())
    return found


def _rows(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return answer.json()["rows"]


def _street_checks(client: httpx.Client, street: str, expected: dict[str, Any]) -> list[Callable[[], None]]:
    def orders() -> None:
        rows = _rows(client.post("/api/query", json={"sql": BY_STREET}))
        assert rows == ([{"street_code": street, "orders": expected["orders"][street]}]
                        if expected["orders"][street] else [])

    def cases() -> None:  # a download, paged: every case of its street, nothing else
        found, offset = [], 0
        while True:
            answer = client.get("/api/datasets/grid_case_lifecycle/rows",
                                params={"format": "csv", "limit": 100, "offset": offset})
            assert answer.status_code == 200, answer.text
            page = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
            assert {row["street_code"] for row in page} <= {street}
            found += [row["case_id"] for row in page]
            if answer.headers["x-has-more"] != "true":
                break
            offset += 100
        assert sorted(found) == expected["cases"].get(street, [])

    def enterprises() -> None:  # a filtered select; the statistics figures empty
        rows = _rows(client.post("/api/query", json={
            "sql": "select street_code, revenue_wan_cny from enterprise_profile where risk_level is not null"}))
        assert {row["street_code"] for row in rows} <= {street}
        assert len(rows) == expected["enterprises"][street]
        assert all(row["revenue_wan_cny"] is None for row in rows)

    def kpis() -> None:
        rows = _rows(client.post("/api/query", json={
            "sql": "select distinct unit_type, unit_code from hotline_kpi_daily"}))
        assert rows in ([{"unit_type": "street", "unit_code": street}], [])

    return [orders, cases, enterprises, kpis]


def _other_checks(client: httpx.Client, role: str, expected: dict[str, Any]) -> list[Callable[[], None]]:
    def centre_orders() -> None:
        rows = _rows(client.post("/api/query", json={"sql": BY_STREET}))
        assert {row["street_code"]: row["orders"] for row in rows} == dict(expected["orders"])

    def urban_orders() -> None:
        rows = _rows(client.post("/api/query", json={"sql": "select count(*) as orders from hotline_requests"}))
        assert rows == [{"orders": expected["urban_orders"]}]

    def enterprises() -> None:
        answer = client.post("/api/query", json={"sql": "select count(*) as n from enterprise_profile"})
        if role == "urban_management":
            assert answer.status_code == 400 and answer.json()["error"] == "dataset_not_allowed"
        else:
            assert _rows(answer)[0]["n"] > 0

    checks = {"centre": [centre_orders, enterprises], "urban_management": [urban_orders, enterprises]}
    return checks.get(role, [enterprises])


def test_fifty_clients_at_once_each_get_their_own_rows(service, callers, expected) -> None:
    start = threading.Barrier(CLIENTS)
    failures: list[str] = []
    done = Counter()
    lock = threading.Lock()

    def client_run(index: int, token: str, role: str, street: str | None) -> None:
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            checks = (_street_checks(client, street, expected) if street else
                      _other_checks(client, role, expected)) * ROUNDS
            random.Random(index).shuffle(checks)
            start.wait()
            for check in checks:
                try:
                    check()
                except Exception as err:  # every failure is collected and reported below
                    with lock:
                        failures.append(f"client {index} ({role} {street or ''}) {check.__name__}: {err!r}"[:500])
                else:
                    with lock:
                        done[role] += 1

    threads = [threading.Thread(target=client_run, args=(index, *caller)) for index, caller in enumerate(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert done["street_office"] == 2 * len(streets()) * 4 * ROUNDS
    assert done["centre"] and done["urban_management"] and done["statistics_bureau"]
