"""The unified events (models/intermediate/events, marts/events/city_events) against the served test district.

Every work order, grid case, enforcement case and parking violation of the raw zone (latest versions, soft
deletes applied, recomputed here) and every exceedance episode is one event; each kind's domain is recomputed
from the seeds' mappings (reference.md); the links of the planted fume chains (the ground truth) show on the
events they join; and no column carries personal data.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

import duckdb
import pytest

from gridlake.lake import Lake
from gridlake.reference import to_half_width
from gridlake.settings import repo_root
from simulators.scenario import TZ
from tests.dbt.marts import personal_columns, rows, staging_secrets, strings

SEEDS = repo_root() / "dbt_project" / "seeds"
# reference.md's table of the nine domains: the observation table each exceedance kind is read from
SENSOR_DOMAINS = {"fume": "cooking_fume", "dust": "road_dust", "diesel_nox": "heavy_diesel",
                  "parking_saturation": "static_traffic"}


def _code(value: str | None) -> str | None:
    return None if value is None else "".join(to_half_width(value).split()).upper() or None


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _latest(lake: Lake, platform: str, entity: str, key: Callable[[dict[str, Any]], Hashable],
            updated: str = "updated_at") -> dict[Hashable, dict[str, Any]]:
    """Per key, the newest raw version (updated time, then landing); keys whose newest is soft-deleted left out."""
    table = lake.read("raw", platform, entity)
    assert table is not None, f"nothing landed in raw/{platform}/{entity}"
    newest: dict[Hashable, dict[str, Any]] = {}
    for row in table.to_pylist():
        known = newest.get(key(row))
        order = (row[updated], row["_ingested_at"], row["_batch_id"])
        if known is None or order > (known[updated], known["_ingested_at"], known["_batch_id"]):
            newest[key(row)] = row
    return {k: row for k, row in newest.items() if row.get("deleted_at") is None}


@pytest.fixture(scope="module")
def events(built: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    served = rows(built, "select * from marts.city_events")
    assert len(served) == len({row["event_id"] for row in served})
    return {row["event_id"]: row for row in served}


@pytest.fixture(scope="module")
def raw(lake: Lake) -> dict[str, dict[Hashable, dict[str, Any]]]:
    """The raw zone's latest records of the four served kinds, by their platform id."""
    return {
        "hotline_order": _latest(lake, "hotline", "requests", key=lambda r: r["service_request_id"],
                                 updated="updated_datetime"),
        "grid_case": _latest(lake, "citymgmt", "grid__case", key=lambda r: r["case_id"]),
        "enforcement_case": _latest(lake, "enforcement", "cases", key=lambda r: r["case_id"]),
        "parking_violation": _latest(lake, "citymgmt", "traffic__violation", key=lambda r: str(r["violation_id"])),
    }


def _of_kind(events: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {row["source_id"]: row for row in events.values() if row["event_kind"] == kind}


# --- every record once ------------------------------------------------------------------------------------------


def test_every_served_record_is_one_event(built, events, raw) -> None:
    """The ids per kind are the raw zone's latest records (and as many as staging holds), each under
    event_kind:source_id; every episode but dust_severe (inside a dust one) is an event."""
    staged = {
        "hotline_order": "staging.stg_hotline__requests",
        "grid_case": "staging.stg_citymgmt__grid_cases",
        "enforcement_case": "staging.stg_enforcement__cases",
        "parking_violation": "staging.stg_citymgmt__parking_violations",
    }
    for kind, records in raw.items():
        found = _of_kind(events, kind)
        assert set(found) == {str(key) for key in records}, kind
        assert len(found) == built.execute(f"select count(*) from {staged[kind]}").fetchone()[0], kind
        assert all(row["event_id"] == f"{kind}:{source_id}" for source_id, row in found.items()), kind
        assert records, f"no {kind} served"
    episodes = {r["exceedance_id"]: r["exceedance_kind"] for r in rows(
        built, "select exceedance_id, exceedance_kind from intermediate.int_sensor_exceedances")}
    expected = {eid for eid, kind in episodes.items() if kind != "dust_severe"}
    found = _of_kind(events, "sensor_exceedance")
    assert set(found) == expected
    assert {kind for kind in episodes.values()} >= {"fume", "dust", "dust_severe"}
    counts = Counter(row["event_kind"] for row in events.values())
    assert sum(counts.values()) == sum(len(r) for r in raw.values()) + len(expected)


# --- domains ----------------------------------------------------------------------------------------------------


def test_the_domain_of_every_event_follows_the_seeds(built, events, raw) -> None:
    """reference.md's mappings from the seeds: an order's service group, an enforcement case's matter, a grid
    case's subcategory and category (as the links read them), an exceedance's observation table, a violation's
    static_traffic."""
    domains = {row["domain_code"]: row["domain_name"] for row in _seed("domains")}
    groups = {row["service_group"]: row["domain_code"] or None for row in _seed("service_groups")}
    matters = {row["matter_code"]: row for row in _seed("enforcement_matters")}
    matter_by_name = {row["matter_name"]: row for row in matters.values()}
    domain_by_name = {name: code for code, name in domains.items()}
    category_domains: dict[str, set[str]] = {}
    for row in matters.values():
        category_domains.setdefault(row["category_name"], set()).add(row["domain_code"])
    services = {row["service_code"]: row for row in rows(
        built, "select service_code, service_name, service_group from staging.stg_hotline__services")}
    service_domains: dict[str, set[str]] = {}
    for service in services.values():
        if groups.get(service["service_group"]) is not None:
            service_domains.setdefault(service["service_name"], set()).add(groups[service["service_group"]])

    def order_domain(row: dict[str, Any]) -> str | None:
        service = services.get(_code(row["service_code"]))
        return groups.get(service["service_group"]) if service else None

    def grid_domain(row: dict[str, Any]) -> str:
        sub, category = row["subcategory"], row["category"]
        if sub in matter_by_name:
            return matter_by_name[sub]["domain_code"]
        if len(service_domains.get(sub, ())) == 1:
            return next(iter(service_domains[sub]))
        if category in domain_by_name:
            return domain_by_name[category]
        if len(category_domains.get(category, ())) == 1:
            return next(iter(category_domains[category]))
        return "grid_supervision"

    def enforcement_domain(row: dict[str, Any]) -> str | None:
        matter = matters.get(_code(row["matter_code"])) or matter_by_name.get(_code(row["matter_code"]) or "")
        return matter["domain_code"] if matter else None

    derive = {"hotline_order": order_domain, "grid_case": grid_domain, "enforcement_case": enforcement_domain,
              "parking_violation": lambda row: "static_traffic"}
    seen: Counter[tuple[str, str | None]] = Counter()
    for kind, records in raw.items():
        found = _of_kind(events, kind)
        for source_id, record in records.items():
            domain = found[str(source_id)]["domain_code"]
            assert domain == derive[kind](record), (kind, source_id, record)
            seen[kind, domain] += 1
    for row in _of_kind(events, "sensor_exceedance").values():
        assert row["domain_code"] == SENSOR_DOMAINS[row["matter_code"]], row["event_id"]
        seen["sensor_exceedance", row["domain_code"]] += 1
    assert {domain for _, domain in seen} - {None} <= domains.keys()
    # the test district exercises the mappings: orders without a domain, grid cases of several domains
    assert seen["hotline_order", None] > 0
    assert len({domain for kind, domain in seen if kind == "grid_case"}) >= 4


# --- links ------------------------------------------------------------------------------------------------------


def test_the_links_of_the_planted_fume_chains_show_on_the_events(district, events) -> None:
    """Each complaint's order and grid case list each other, the restaurant's enterprise and its fume episode of
    that evening; the enforcement case lists the orders and grid cases and the enterprise; each such episode
    lists the order and grid case. Records not served yet (a late enforcement case) are left out."""
    chains = district.dataset.truth()["scenario"]["fume_chains"]
    assert chains
    checked = 0
    for chain in chains:
        uscc, restaurant = chain["uscc"], chain["restaurant_id"]
        case = events.get(f"enforcement_case:{chain['enforcement_case_id']}")
        if case is not None:
            assert uscc in case["linked_usccs"] and case["uscc"] == uscc, case["event_id"]
        for complaint in chain["complaints"]:
            order = events.get(f"hotline_order:{complaint['request_id']}")
            grid = events.get(f"grid_case:{complaint['grid_case_id']}")
            if order is None or grid is None:
                continue
            day = datetime.fromisoformat(complaint["requested_at"]).astimezone(TZ).date()
            episodes = [row for row in events.values()
                        if row["source_id"].startswith(f"fume:{restaurant}@")
                        and row["occurred_date"] <= day <= row["closed_at"].astimezone(TZ).date()]
            assert episodes, (restaurant, day)
            assert grid["event_id"] in order["linked_grid_case_ids"], order["event_id"]
            assert order["event_id"] in grid["linked_hotline_order_ids"], grid["event_id"]
            for report in (order, grid):
                assert uscc in report["linked_usccs"] and report["uscc"] == uscc, report["event_id"]
                assert set(report["linked_exceedance_ids"]) & {e["event_id"] for e in episodes}, report["event_id"]
                if case is not None:
                    assert case["event_id"] in report["linked_enforcement_case_ids"], report["event_id"]
            linked_episode = next(e for e in episodes if e["event_id"] in order["linked_exceedance_ids"])
            assert order["event_id"] in linked_episode["linked_hotline_order_ids"]
            assert grid["event_id"] in linked_episode["linked_grid_case_ids"]
            assert linked_episode["uscc"] == uscc
            if case is not None:
                assert order["event_id"] in case["linked_hotline_order_ids"]
                assert grid["event_id"] in case["linked_grid_case_ids"]
            checked += 1
    assert checked >= len(chains)


def test_linked_ids_are_events_and_links_go_both_ways(events) -> None:
    lists = ("linked_hotline_order_ids", "linked_grid_case_ids", "linked_enforcement_case_ids",
             "linked_exceedance_ids", "linked_violation_ids")
    kinds = dict(zip(lists, ("hotline_order", "grid_case", "enforcement_case", "sensor_exceedance",
                             "parking_violation")))
    back = {kind: column for column, kind in kinds.items()}
    total = 0
    for row in events.values():
        for column in lists:
            for linked_id in row[column]:
                linked = events[linked_id]
                assert linked["event_kind"] == kinds[column], (row["event_id"], column, linked_id)
                assert row["event_id"] in linked[back[row["event_kind"]]], (row["event_id"], linked_id)
                total += 1
        assert row["linked_event_count"] == sum(len(row[column]) for column in lists)
    assert total > 0
    assert any(row["linked_violation_ids"] for row in events.values())


# --- personal data ----------------------------------------------------------------------------------------------


def test_no_personal_data_in_the_events(built, events) -> None:
    """No column that could carry a person, a vehicle or a point, and none of the complainants' or plates' hashes
    nor the citizens' words among the values."""
    columns = [row[0] for row in built.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = 'city_events'").fetchall()]
    assert columns
    # a party is a person when it is no enterprise: city_events names none
    assert personal_columns(columns, also={"party"}) == []
    secrets = staging_secrets(built, "complainant_phone_hash", "plate_hash", "description", "address")
    assert secrets
    values = strings(value for row in events.values() for value in row.values())
    assert values & secrets == set()
