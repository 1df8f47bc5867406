"""The long-standing problem ledger and the responsibility chain (models/marts/ledger) against the served test district.

Both marts are recomputed in Python from their inputs as the warehouse holds them (the unified events, their
places and links, the repeat hotspots of hotspots_monthly, the sensors' register places, the seeds), with kpis.md's
rules as the models document them, and compared exactly: which pairs are listed, the months observed, each rule's
verdict (true, false or undecided) and the lists; every party of every chain with its open work, the frontage
enterprises found by a plain distance search. Then against the generator's ground truth: every planted fume chain's
restaurant is a frontage enterprise of its community's cooking-fume chain. And neither mart carries personal data.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pytest

from gridlake.settings import Settings
from tests.dbt.ledger_rules import (
    BEIJING,
    expected_ledger,
    ledger_events,
    month_index,
    rows,
    seed,
)
from tests.dbt.marts import ID_NUMBER, PHONE, personal_columns, staging_secrets, strings

# macros/ledger_rules.sql: the department of each domain, and how recent a recent exceedance is
DEPARTMENTS = {"road_dust": "D04", "cooking_fume": "D03", "garbage_sorting": "D01", "sanitation_vehicle": "D01",
               "personnel": "D01", "enforcement": "D02", "grid_supervision": "D01", "static_traffic": "D06",
               "heavy_diesel": "D03"}
RECENT = timedelta(days=30)
METRES_PER_DEGREE = 6371008.8 * math.pi / 180


@pytest.fixture(scope="module")
def events(built: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return ledger_events(built)


@pytest.fixture(scope="module")
def now(events: list[dict[str, Any]]) -> datetime:
    return max(event["occurred_at"] for event in events)


# --- the ledger -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ledger(built: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    return {row["ledger_key"]: row for row in rows(built, "select * from marts.problem_ledger")}


def test_the_ledger_equals_a_recomputation_of_its_rules(built, ledger, events, settings: Settings) -> None:
    hotspots = {(row["community_code"], row["service_group"], row["period_month"]) for row in rows(
        built, "select * from marts.hotspots_monthly where hotspot_kind = 'repeat_hotspot'")}
    expected = expected_ledger(events, hotspots, settings)
    assert expected, "no pair is on its way to the ledger: nothing to compare"
    assert ledger.keys() == expected.keys()
    for key, values in expected.items():
        row = ledger[key]
        assert {name: row[name] for name in values} == values, key
        assert row["entry_rule"] == (
            "both" if row["is_hotspot_rule_met"] and row["is_channel_rule_met"] else
            "repeat_hotspot" if row["is_hotspot_rule_met"] else "channels" if row["is_channel_rule_met"] else None)
        assert row["orders"] == len(row["request_ids"]) and row["exceedances"] == len(row["exceedance_ids"])


def test_weeks_of_data_judge_no_pair_on_months(ledger, settings: Settings) -> None:
    """The test district spans weeks: no rule of three months can be met, and the rows say so rather than no."""
    assert max(row["months_observed"] for row in ledger.values()) < settings.repeats.ledger_channel_months
    assert {row["ledger_status"] for row in ledger.values()} == {"undecided"}
    assert not any(row["is_ledger_entry"] for row in ledger.values())
    # both ways onto the ledger are represented among the pairs on their way
    assert any(row["hotspot_months"] for row in ledger.values())
    assert any(row["channel_months"] for row in ledger.values())


# --- the responsibility chain ----------------------------------------------------------------------------------


def _frontage(built: duckdb.DuckDBPyConnection, chain_events: list[dict[str, Any]], events: list[dict[str, Any]],
              settings: Settings) -> set[tuple[str, str, str]]:
    """(community, group, uscc): an enterprise point (its restaurants, its enforcement cases' places) within the
    frontage radius of a chain event's point, and a sensor or an open enforcement case on the group."""
    cos = math.cos(math.radians((settings.lat_min + settings.lat_max) / 2))

    def metres(lat: float, lon: float) -> tuple[float, float]:
        return lon * METRES_PER_DEGREE * cos, lat * METRES_PER_DEGREE

    domain_group = {row["domain_code"]: row["service_group"] for row in seed("service_groups") if row["domain_code"]}
    sensors = rows(built, """
        select sensors.uscc, sensors.domain_code, places.lat, places.lon
        from intermediate.int_sensor_places_resolved as sensors
        left join intermediate.int_places_located as places
            on places.event_kind = 'restaurant' and places.event_id = sensors.place_id
        where sensors.uscc is not null""")
    qualified = {(row["uscc"], domain_group[row["domain_code"]]) for row in sensors}
    qualified |= {(e["carried_uscc"], e["group"]) for e in events
                  if e["channel"] == "enforcement" and e["is_open"] and e["carried_uscc"] and e["group"]}
    points = [(row["uscc"], metres(row["lat"], row["lon"])) for row in sensors
              if row["domain_code"] == "cooking_fume" and row["lat"] is not None]
    points += [(e["carried_uscc"], metres(e["lat"], e["lon"])) for e in events
               if e["channel"] == "enforcement" and e["carried_uscc"] and e["status_group"] != "cancelled"
               and e["lat"] is not None]
    radius = settings.repeats.frontage_radius_m
    found = set()
    for event in chain_events:
        if event["lat"] is None:
            continue
        x, y = metres(event["lat"], event["lon"])
        for uscc, (px, py) in points:
            if (uscc, event["group"]) in qualified and math.hypot(px - x, py - y) <= radius:
                found.add((event["community_code"], event["group"], uscc))
    return found


def _expected_chain(built: duckdb.DuckDBPyConnection, events: list[dict[str, Any]], now: datetime,
                    settings: Settings) -> dict[str, dict[str, Any]]:
    lookback = settings.repeats.ledger_lookback_months
    current = now.astimezone(BEIJING).date().replace(day=1)
    chain_events = [e for e in events
                    if e["counted"] and (month_index(e["month"], current) < lookback or e["is_open"])]
    street_of = {row["community_code"]: row["street_code"] for row in _seed_communities(built)}
    domain_of = {row["service_group"]: row["domain_code"] or None for row in seed("service_groups")}
    teams: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["channel"] == "enforcement" and e["responsible_unit_type"] == "enforcement_team" and e["street_code"]:
            teams[e["street_code"]].add(e["responsible_unit_code"])
    parties: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for community, group in {(e["community_code"], e["group"]) for e in chain_events}:
        street = street_of[community]
        parties[(community, group, "street_office", street)] = []
        parties[(community, group, "community", community)] = []
        if domain_of[group]:
            parties[(community, group, "department", DEPARTMENTS[domain_of[group]])] = []
        for team in teams.get(street, ()):
            parties[(community, group, "enforcement_team", team)] = []
    for e in chain_events:
        if e["grid_code"]:
            parties[(e["community_code"], e["group"], "grid", e["grid_code"])] = []
    for community, group, uscc in _frontage(built, chain_events, events, settings):
        parties[(community, group, "frontage_enterprise", uscc)] = []
    for e in chain_events:
        recent = e["channel"] == "sensor" and e["occurred_at"] >= now - RECENT
        if not (e["is_open"] or recent):
            continue
        holders = [("community", e["community_code"]), ("grid", e["grid_code"])]
        if e["is_open"] and e["channel"] in ("hotline", "grid"):
            unit = {"street": "street_office", "department": "department"}.get(e["responsible_unit_type"] or "")
            holders.append((unit, e["responsible_unit_code"]))
        if e["is_open"] and e["channel"] == "enforcement":
            holders.append(("enforcement_team", e["responsible_unit_code"]))
        holders.append(("frontage_enterprise", e["carried_uscc"] if e["channel"] in ("enforcement", "sensor")
                        else e["uscc"]))
        for role, code in holders:
            if (e["community_code"], e["group"], role, code) in parties:
                parties[(e["community_code"], e["group"], role, code)].append(e | {"recent": recent})
    expected = {}
    for (community, group, role, code), held in parties.items():
        held.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        expected[f"{community}|{group}|{role}|{code}"] = {
            "open_orders": sum(1 for e in held if e["channel"] == "hotline" and e["is_open"]),
            "open_grid_cases": sum(1 for e in held if e["channel"] == "grid" and e["is_open"]),
            "open_enforcement_cases": None if role in ("street_office", "department") else sum(
                1 for e in held if e["channel"] == "enforcement" and e["is_open"]),
            "recent_exceedances": sum(1 for e in held if e["recent"])
            if role in ("community", "grid", "frontage_enterprise") else None,
            "open_work_event_ids": [e["event_id"] for e in held],
        }
    return expected


def _seed_communities(built: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return rows(built, "select community_code, street_code from reference.dongcheng_communities")


@pytest.fixture(scope="module")
def chain(built: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    return {row["chain_party_key"]: row for row in rows(built, "select * from marts.responsibility_chain")}


def test_the_chain_equals_a_recomputation_of_its_parties_and_open_work(built, chain, events, now,
                                                                       settings: Settings) -> None:
    expected = _expected_chain(built, events, now, settings)
    assert chain.keys() == expected.keys()
    for key, values in expected.items():
        assert {name: chain[key][name] for name in values} == values, key
    roles = {row["party_role"] for row in chain.values()}
    assert roles == {"street_office", "community", "grid", "department", "enforcement_team", "frontage_enterprise"}
    # the open work is not trivial: every kind of it is held somewhere
    for column in ("open_orders", "open_grid_cases", "open_enforcement_cases", "recent_exceedances"):
        assert sum(row[column] or 0 for row in chain.values()) > 0, column
    names = {row["uscc"]: row["enterprise_name"] for row in rows(
        built, "select uscc, enterprise_name from intermediate.int_enterprises_resolved")}
    for row in chain.values():
        if row["party_role"] == "frontage_enterprise":
            assert row["party_name"] == names[row["party_code"]]
            assert row["frontage_distance_m"] <= settings.repeats.frontage_radius_m


def test_every_planted_fume_chain_names_its_restaurant_at_the_frontage(district, chain) -> None:
    planted = district.dataset.truth()["scenario"]["fume_chains"]
    assert planted
    for spot in planted:
        key = f"{spot['community_code']}|fume|frontage_enterprise|{spot['uscc']}"
        assert key in chain, spot["restaurant_id"]
        assert chain[key]["frontage_qualified_by"] in ("sensor", "sensor_and_open_case"), spot["restaurant_id"]
        # the community's cooking-fume chain names the place's units too
        assert f"{spot['community_code']}|fume|department|D03" in chain
        assert f"{spot['community_code']}|fume|street_office|{spot['street_code']}" in chain


# --- personal data ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mart", ["problem_ledger", "responsibility_chain"])
def test_no_personal_data(built: duckdb.DuckDBPyConnection, mart: str) -> None:
    """No column that could carry a person or a point; no phone or ID number, and none of the complainants' hashes,
    the citizens' words or the enforcement teams' texts among the values."""
    served = rows(built, f"select * from marts.{mart}")
    assert served
    columns = list(served[0])
    assert personal_columns(columns) == []
    values = strings(value for row in served for value in row.values())
    assert [v for v in values if PHONE.search(v) or ID_NUMBER.search(v)] == []
    secrets = staging_secrets(built, "complainant_phone_hash", "description", "address", "result_text")
    assert secrets
    assert values & secrets == set()
