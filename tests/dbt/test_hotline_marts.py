"""The hotline marts (接诉即办): the monthly rates per street recomputed in Python from the raw zone with kpis.md's
rules, no personal data in hotline_requests, ranks 1..n per kind and period, and the street lookup agreeing with
gridlake.reference."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest

from gridlake.lake import Lake
from gridlake.reference import resolve_street, streets, to_half_width
from gridlake.settings import Settings

BEIJING = ZoneInfo("Asia/Shanghai")
ANSWERED = ("satisfied", "basically_satisfied", "unsatisfied")


def _code(value: str | None) -> str | None:
    return None if value is None else "".join(to_half_width(value).split()).upper() or None


def _latest_orders(lake: Lake) -> list[dict[str, Any]]:
    """The latest version of each work order as landed (newest updated time, then the newest landing)."""
    table = lake.read("raw", "hotline", "requests")
    assert table is not None, "nothing landed in raw/hotline/requests"
    latest: dict[str, dict[str, Any]] = {}
    for row in table.to_pylist():
        known = latest.get(row["service_request_id"])
        if known is None or (row["updated_datetime"], row["_ingested_at"]) > (
                known["updated_datetime"], known["_ingested_at"]):
            latest[row["service_request_id"]] = row
    return list(latest.values())


def _repeats(orders: list[dict[str, Any]], window: timedelta) -> set[str]:
    """kpis.md: repeat_of set, or the same complainant phone and service within the window of the previous one."""
    repeats = {order["service_request_id"] for order in orders if order["repeat_of"]}
    by_caller: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for order in orders:
        if order["complainant_phone_hash"] and _code(order["service_code"]) and order["requested_datetime"]:
            by_caller[(order["complainant_phone_hash"], _code(order["service_code"]))].append(order)
    for same in by_caller.values():
        same.sort(key=lambda order: (order["requested_datetime"], order["service_request_id"]))
        for before, after in zip(same, same[1:]):
            if after["requested_datetime"] - before["requested_datetime"] <= window:
                repeats.add(after["service_request_id"])
    return repeats


def _final_unit(order: dict[str, Any]) -> dict[str, Any] | None:
    held = [d for d in order["dispatches"] or [] if d["accepted_at"] is not None and d["returned_at"] is None]
    return held[-1] if held else None


def _street_rates(lake: Lake, settings: Settings) -> dict[tuple[str, date], dict[str, float | None]]:
    """Per (street, month), the three rates and the composite, from the raw records alone."""
    orders = _latest_orders(lake)
    now = max(order["updated_datetime"] for order in orders)
    repeats = _repeats(orders, settings.repeats.repeat_window)
    tally: dict[tuple[str, date], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for order in orders:
        unit = _final_unit(order)
        if unit is None or unit["unit_type"] != "street" or order["requested_datetime"] is None:
            continue
        limit = settings.hotline.for_urgency(order["urgency"])
        deadline = order["requested_datetime"] + limit.resolve
        if deadline > now:
            continue  # not due yet: in no period's rates
        local = deadline.astimezone(BEIJING)
        counts = tally[(_code(unit["unit_code"]), date(local.year, local.month, 1))]
        counts["orders"] += 1
        if (order["is_excluded"] or order["request_type"] in ("consult", "praise")
                or order["service_request_id"] in repeats):
            continue
        counts["counted"] += 1
        responded = order["responded_datetime"]
        counts["responded"] += responded is not None and responded <= order["requested_datetime"] + limit.respond
        visit = order["return_visit"] or {}
        if visit.get("satisfaction") in ANSWERED:
            counts["answered"] += 1
            counts["resolved"] += bool(visit.get("is_resolved"))
            counts["satisfied"] += visit["satisfaction"] == "satisfied"
            counts["basically"] += visit["satisfaction"] == "basically_satisfied"
    kpi = settings.kpi
    rates: dict[tuple[str, date], dict[str, float | None]] = {}
    for key, counts in tally.items():
        response = counts["responded"] / counts["counted"] if counts["counted"] else None
        answered = counts["answered"]
        resolution = counts["resolved"] / answered if answered else None
        satisfaction = (counts["satisfied"] + kpi.basically_satisfied * counts["basically"]) / answered \
            if answered else None
        composite = None
        if None not in (response, resolution, satisfaction):
            composite = 100 * (kpi.response * response + kpi.resolution * resolution
                               + kpi.satisfaction * satisfaction) / (kpi.response + kpi.resolution + kpi.satisfaction)
        rates[key] = {"orders": counts["orders"], "response": response, "resolution": resolution,
                      "satisfaction": satisfaction, "composite": composite}
    return rates


def _close(a: float | None, b: float | None, tolerance: float = 1e-9) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= tolerance)


def test_monthly_street_rates_equal_a_recomputation_from_the_raw_records(
        built: duckdb.DuckDBPyConnection, lake: Lake, settings: Settings) -> None:
    expected = _street_rates(lake, settings)
    rows = built.execute(
        "select unit_code, period_month, orders, response_rate, resolution_rate, satisfaction_rate, composite_score "
        "from marts.hotline_kpi_monthly where unit_type = 'street' and orders > 0").fetchall()
    got = {(code, month): {"orders": orders, "response": response, "resolution": resolution,
                           "satisfaction": satisfaction, "composite": composite}
           for code, month, orders, response, resolution, satisfaction, composite in rows}
    assert len(expected) >= 10, "too few street-months to say anything"
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        have = got[key]
        assert have["orders"] == want["orders"], key
        for rate in ("response", "resolution", "satisfaction"):
            assert _close(have[rate], want[rate]), (key, rate, have[rate], want[rate])
        assert _close(have["composite"], want["composite"], 1e-5), (key, have["composite"], want["composite"])
    # the recomputation is not trivially satisfied: the rates differ between streets
    assert len({round(want["composite"], 6) for want in expected.values() if want["composite"] is not None}) > 3


def test_hotline_requests_carries_no_personal_data(built: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    columns = [name for name, *_ in built.execute("describe marts.hotline_requests").fetchall()]
    personal = ("phone", "complainant", "hash", "person", "description", "address", "lat", "lon")
    assert not [name for name in columns if set(name.split("_")) & set(personal)]
    hashes = {order["complainant_phone_hash"] for order in _latest_orders(lake) if order["complainant_phone_hash"]}
    assert hashes, "the raw orders carry no complainant hash: nothing to look for"
    text_columns = [name for name, kind, *_ in built.execute("describe marts.hotline_requests").fetchall()
                    if kind == "VARCHAR"]
    values = {value for column in text_columns
              for (value,) in built.execute(f"select distinct {column} from marts.hotline_requests").fetchall()}
    assert not hashes & values
    assert built.execute("select count(*) from marts.hotline_requests").fetchone()[0] == len(_latest_orders(lake))


@pytest.mark.parametrize(("mart", "period"), [("hotline_kpi_monthly", "period_month"),
                                              ("hotline_kpi_daily", "kpi_date")])
def test_ranks_are_a_permutation_per_kind_and_period(built: duckdb.DuckDBPyConnection, mart: str, period: str) -> None:
    rows = built.execute(
        f"select unit_type, {period}, unit_rank, units_ranked, composite_score, resolution_rate, orders_counted "
        f"from marts.{mart}").fetchall()
    groups: dict[tuple[str, Any], list[tuple]] = defaultdict(list)
    for unit_type, when, rank, ranked, composite, resolution, volume in rows:
        assert (rank is None) == (composite is None), (unit_type, when)
        groups[(unit_type, when)].append((rank, ranked, composite, resolution, volume))
    assert {unit_type for unit_type, _ in groups} == {"street", "department"}
    for key, units in groups.items():
        ranked = sorted(unit for unit in units if unit[0] is not None)
        assert [unit[0] for unit in ranked] == list(range(1, len(ranked) + 1)), key
        assert all(unit[1] == len(ranked) for unit in units), key
        for better, worse in zip(ranked, ranked[1:]):  # composite, then resolution, then volume
            assert (better[2], better[3], better[4]) >= (worse[2], worse[3], worse[4]), key


def test_every_street_spelling_resolves_as_gridlake_reference_does(built: duckdb.DuckDBPyConnection) -> None:
    lookup = dict(built.execute("select street_spelling, street_code from intermediate.int_street_names").fetchall())
    spellings = [(s.street_code, value) for s in streets() for value in (s.street_code, s.street_name, s.short_name)]
    assert len(spellings) == 3 * 17
    for street_code, value in spellings:
        assert lookup[_code(value)] == resolve_street(value) == street_code, value


def test_orders_resolve_to_dongcheng_streets(built: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """An order whose street was served as a Dongcheng spelling resolves to it; the others are flagged."""
    served = {order["service_request_id"]: resolve_street(order["street_code"]) for order in _latest_orders(lake)}
    rows = built.execute(
        "select request_id, street_code, street_resolved_by from intermediate.int_hotline_requests_enriched"
    ).fetchall()
    assert rows
    for request_id, street_code, how in rows:
        if served[request_id] is not None:
            assert street_code == served[request_id] and how in ("code", "name", "short_name"), request_id
        else:
            assert how in ("community", "unresolved"), request_id
