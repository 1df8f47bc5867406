"""The hotline's hotspots and patterns (models/marts/hotspots) against the served test district.

Everything is recomputed in Python from the raw zone (the latest version of each work order, the newest services
snapshot, the raw unit grids) with kpis.md's rules as the models document them, and compared exactly: the repeat
hotspots (屡治屡返), the top-N communities, unit grids and services of each month, and the orders by month, weekday
and hour per service group. Then against the generator's ground truth: every planted repeat hotspot is found, the
share of found hotspots that nothing planted stays under NOT_PLANTED_BOUND, and the hour-of-day profile follows the
truth's diurnal profiles (HOUR_CORRELATION_BOUND); the weekday profile is only judged on enough weeks of data.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pytest

from gridlake.lake import Lake
from gridlake.reference import communities, resolve_street, to_half_width
from gridlake.settings import Settings

BEIJING = ZoneInfo("Asia/Shanghai")
ANSWERED = ("satisfied", "basically_satisfied", "unsatisfied")
MAX_CELL_DISTANCE_M = 200.0
METRES_PER_DEGREE = 6371008.8 * math.pi / 180

# The share of the repeat hotspots found whose orders hold no planted order at all (background orders that meet the
# rule by chance: the generator also repeats calls about one place and matter, as citizens do). On the test
# district it is 1 of 5 (the other extra is a planted fume chain, whose calls about one restaurant meet the rule
# too); a third leaves room for another seed, not for a rule gone loose (the exact recomputation is the real check).
NOT_PLANTED_BOUND = 1 / 3
# Pearson correlation of the district's orders by hour (all groups) with the truth's expected profile. A multinomial
# sample of 150-200 orders from that profile stays above 0.69-0.74 in 99.9 % of draws, and the same orders read in
# UTC instead of Beijing time correlate at about -0.44: 0.6 separates a right clock from a wrong one.
HOUR_CORRELATION_BOUND = 0.6
# Per service group only where it has this many orders; with 30 orders a sample of the truth's profile still falls
# to 0.1-0.3 in 0.1 % of draws, so a group is only asserted to correlate positively (a shifted clock is negative).
GROUP_HOUR_MIN_ORDERS = 30
# The weekday effect is ±18 %; with each weekday seen once or twice (ten days) the noise of ~20 orders a day is as
# large, and the correlation of a true sample spreads from -0.77 to 0.9. It is judged from 8 weeks of data on.
WEEKDAY_MIN_DAYS = 8


def _code(value: str | None) -> str | None:
    return None if value is None else "".join(to_half_width(value).split()).upper() or None


def _month(moment: datetime | date) -> date:
    local = moment.astimezone(BEIJING).date() if isinstance(moment, datetime) else moment
    return local.replace(day=1)


def _previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def _latest(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable],
            updated: str) -> list[dict[str, Any]]:
    """Per key, the newest version (updated time, then landing), soft-deleted keys left out."""
    latest: dict[Hashable, dict[str, Any]] = {}
    for row in rows:
        known = latest.get(key(row))
        if known is None or (row[updated], row["_ingested_at"]) > (known[updated], known["_ingested_at"]):
            latest[key(row)] = row
    return [row for row in latest.values() if row.get("deleted_at") is None]


def _raw(lake: Lake, platform: str, entity: str) -> list[dict[str, Any]]:
    table = lake.read("raw", platform, entity)
    assert table is not None, f"nothing landed in raw/{platform}/{entity}"
    return table.to_pylist()


def _rows(built: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = built.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def _community_index() -> dict[str, tuple[str, str]]:
    """A community's code, full name and name without 居委会, as normalise_code makes them → (community, street)."""
    index: dict[str, tuple[str, str]] = {}
    for community in communities():
        for spelling in (community.community_code, community.community_name,
                         community.community_name.removesuffix("居委会")):
            index.setdefault(_code(spelling) or "", (community.community_code, community.street_code))
    return index


def _street(value: str | None) -> str | None:
    """A street by code, full name, short name or office name (东华门街道办事处), as int_street_names resolves it."""
    spelled = _code(value)
    return None if spelled is None else resolve_street(spelled) or resolve_street(spelled.removesuffix("办事处"))


class _Cells:
    """The raw unit grids with a usable centroid, projected as macros/places_locate.sql projects them."""

    def __init__(self, lake: Lake, settings: Settings) -> None:
        index = _community_index()
        rows = [row for row in _latest(_raw(lake, "citymgmt", "grid__cell"), key=lambda r: _code(r["grid_code"]),
                                       updated="updated_at")
                if row["centroid_lat"] is not None and row["centroid_lon"] is not None
                and not (row["centroid_lat"] == 0 and row["centroid_lon"] == 0)
                and 39.40 <= row["centroid_lat"] <= 41.10 and 115.40 <= row["centroid_lon"] <= 117.55]
        rows.sort(key=lambda r: _code(r["grid_code"]) or "")  # equal distances go to the smaller grid code
        self.codes = [_code(r["grid_code"]) for r in rows]
        placed = [index.get(_code(r["community_code"]) or "") for r in rows]
        self.communities = [place[0] if place else None for place in placed]
        self.streets = [_street(r["street_code"]) or (place[1] if place else None) for r, place in zip(rows, placed)]
        self._cos = math.cos(math.radians((settings.lat_min + settings.lat_max) / 2))
        self._x = np.array([r["centroid_lon"] for r in rows]) * METRES_PER_DEGREE * self._cos
        self._y = np.array([r["centroid_lat"] for r in rows]) * METRES_PER_DEGREE

    def locate(self, lat: float | None, lon: float | None, *, community: str | None, street: str | None) -> str | None:
        """The unit grid of a hotline order's point: the nearest centroid within 200 m inside the coded community,
        else inside the coded street, else anywhere when the order codes no place (int_places_located)."""
        if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        distance = np.hypot(self._x - lon * METRES_PER_DEGREE * self._cos, self._y - lat * METRES_PER_DEGREE)
        if community is not None:
            distance = np.where([c == community for c in self.communities], distance, np.inf)
        elif street is not None:
            distance = np.where([s == street for s in self.streets], distance, np.inf)
        nearest = int(np.argmin(distance))
        return self.codes[nearest] if distance[nearest] <= MAX_CELL_DISTANCE_M else None


@pytest.fixture(scope="module")
def orders(lake: Lake, settings: Settings) -> list[dict[str, Any]]:
    """Every work order with a received time, latest version, as the hotspot models see it."""
    services = _raw(lake, "hotline", "services")
    newest = max((row["_ingested_at"], row["_batch_id"]) for row in services)
    groups: dict[str, str | None] = {}
    for row in sorted((r for r in services if (r["_ingested_at"], r["_batch_id"]) == newest),
                      key=lambda r: r["service_name"] or ""):
        groups.setdefault(_code(row["service_code"]) or "", (row["group"] or "").strip().lower() or None)
    index = _community_index()
    cells = _Cells(lake, settings)
    out = []
    for row in _latest(_raw(lake, "hotline", "requests"), key=lambda r: r["service_request_id"],
                       updated="updated_datetime"):
        if row["requested_datetime"] is None:
            continue
        place = index.get(_code(row["community_code"]) or "")
        community = place[0] if place else None
        street = _street(row["street_code"]) or (place[1] if place else None)
        visit = row["return_visit"] or {}
        refuted = visit.get("satisfaction") in ANSWERED and not visit.get("is_resolved")
        closed = row["status"] == "closed" and row["resolved_datetime"] is not None and not refuted
        received = row["requested_datetime"].astimezone(BEIJING)
        service = _code(row["service_code"])
        out.append({
            "request_id": row["service_request_id"], "received": received, "month": _month(received),
            "community": community, "service": service, "group": groups.get(service or ""),
            "grid": cells.locate(row["lat"], row["long"], community=community, street=street),
            "closed_as_resolved_at": row["resolved_datetime"] if closed else None,
        })
    assert len(out) > 100
    return out


def _repeat_hotspots(orders: list[dict[str, Any]], *, window: timedelta,
                     minimum: int) -> dict[tuple[date, str, str], set[str]]:
    """kpis.md's 屡治屡返, from scratch: per (month, community, service group), the orders of every window that makes
    it a hotspot - an order of the month and those of its place received at most `window` before it, `minimum` or
    more, one of them received before this order was closed as resolved before this order came in."""
    by_place: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for order in orders:
        if order["community"] and order["group"]:
            by_place[(order["community"], order["group"])].append(order)
    found: dict[tuple[date, str, str], set[str]] = defaultdict(set)
    for (community, group), same in by_place.items():
        for last in same:
            held = [o for o in same if last["received"] - window <= o["received"] <= last["received"]]
            came_back = any(o["received"] < last["received"] and o["closed_as_resolved_at"] is not None
                            and o["closed_as_resolved_at"] < last["received"] for o in held)
            if len(held) >= minimum and came_back:
                found[(last["month"], community, group)] |= {o["request_id"] for o in held}
    return dict(found)


@pytest.fixture(scope="module")
def repeat_rows(built: duckdb.DuckDBPyConnection) -> dict[tuple[date, str, str], dict[str, Any]]:
    return {(row["period_month"], row["community_code"], row["service_group"]): row for row in _rows(
        built, "select * from marts.hotspots_monthly where hotspot_kind = 'repeat_hotspot'")}


def test_repeat_hotspots_equal_a_recomputation_from_the_raw_records(repeat_rows, orders, settings: Settings) -> None:
    repeats = settings.repeats
    expected = _repeat_hotspots(orders, window=repeats.hotspot_window, minimum=repeats.hotspot_min_orders)
    assert repeat_rows.keys() == expected.keys()
    received = {order["request_id"]: order["received"] for order in orders}
    for key, request_ids in expected.items():
        row = repeat_rows[key]
        assert set(row["request_ids"]) == request_ids, key
        assert row["request_ids"] == sorted(request_ids, key=lambda r: (received[r], r))
        assert row["hotspot_orders"] == len(request_ids) >= repeats.hotspot_min_orders
        assert 1 <= row["returned_orders"] < row["hotspot_orders"]


def test_every_planted_repeat_hotspot_is_found_and_few_others(district, repeat_rows) -> None:
    truth = district.dataset.truth()["scenario"]
    planted = truth["repeat_hotspots"]
    assert planted
    for spot in planted:
        found = [row for (_, community, group), row in repeat_rows.items()
                 if (community, group) == (spot["community_code"], spot["group"])]
        assert found, spot
        assert set(spot["request_ids"]) <= {rid for row in found for rid in row["request_ids"]}, spot
        assert {_month(datetime.fromisoformat(at)) for at in spot["requested_at"][2:]} <= {
            row["period_month"] for row in found}, spot
    planted_ids = {rid for spot in planted for rid in spot["request_ids"]}
    chain_ids = {c["request_id"] for chain in truth["fume_chains"] for c in chain["complaints"]}
    not_planted = [key for key, row in repeat_rows.items() if not set(row["request_ids"]) & planted_ids]
    background = [key for key in not_planted if not set(repeat_rows[key]["request_ids"]) & chain_ids]
    print(f"repeat hotspots found: {len(repeat_rows)}, not planted as repeat hotspots: {len(not_planted)} "
          f"({len(not_planted) / len(repeat_rows):.0%}), of which background only: {len(background)} "
          f"({len(background) / len(repeat_rows):.0%})")
    assert len(background) / len(repeat_rows) <= NOT_PLANTED_BOUND, background


def _covered_months(orders: list[dict[str, Any]]) -> tuple[dict[date, int], set[date]]:
    """The days the data cover per month (first to last received day), and the months covered wholly."""
    first = min(order["received"].date() for order in orders)
    last = max(order["received"].date() for order in orders)
    days = Counter(first + timedelta(days=k) for k in range((last - first).days + 1))
    per_month = Counter(day.replace(day=1) for day in days)
    complete = {month for month, count in per_month.items()
                if count == ((month + timedelta(days=32)).replace(day=1) - month).days}
    return dict(per_month), complete


@pytest.mark.parametrize(("kind", "field"), [("high_frequency_community", "community"),
                                             ("high_frequency_grid", "grid"),
                                             ("high_frequency_service", "service")])
def test_top_n_areas_and_matters_equal_a_recomputation_from_the_raw_records(
        built: duckdb.DuckDBPyConnection, orders, settings: Settings, kind: str, field: str) -> None:
    counts = Counter((order["month"], order[field]) for order in orders if order[field] is not None)
    per_month_days, complete = _covered_months(orders)
    expected: dict[tuple[date, str], tuple[Any, ...]] = {}
    for (month, subject), count in counts.items():
        rank = 1 + sum(1 for (m, _), other in counts.items() if m == month and other > count)
        if rank > settings.repeats.top_n:
            continue
        previous = _previous_month(month)
        year_before = month.replace(year=month.year - 1)
        expected[(month, subject)] = (
            count, rank, sum(1 for m, _ in counts if m == month),
            counts.get((previous, subject), 0) if previous in complete else None,
            counts.get((year_before, subject), 0) if year_before in complete else None,
            per_month_days[month], month in complete)
    got = {(row["period_month"], row[f"{field}_code"]): (
        row["orders"], row["frequency_rank"], row["subjects_with_orders"], row["previous_month_orders"],
        row["previous_year_orders"], row["days_observed"], row["is_period_complete"])
        for row in _rows(built, f"select * from marts.hotspots_monthly where hotspot_kind = '{kind}'")}
    assert got == expected
    # ties at the cut-off are all kept, and the ranking is not trivial: the counts differ
    assert len({value[0] for value in expected.values()}) > 2
    assert max(value[1] for value in expected.values()) <= settings.repeats.top_n


# --- seasonal and periodic patterns ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def patterns(built: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _rows(built, "select * from marts.seasonal_patterns")


def test_orders_by_month_weekday_and_hour_equal_a_recomputation_from_the_raw_records(patterns, orders) -> None:
    per_month_days, complete = _covered_months(orders)
    first = min(order["received"].date() for order in orders)
    last = max(order["received"].date() for order in orders)
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    keys = {"month_of_year": lambda moment: moment.month, "day_of_week": lambda moment: moment.isoweekday(),
            "hour_of_day": lambda moment: moment.hour}
    expected_orders = Counter((order["group"], pattern, key(order["received"]))
                              for order in orders if order["group"] for pattern, key in keys.items())
    expected_days = Counter(("month_of_year", day.month) for day in days) + Counter(
        ("day_of_week", day.isoweekday()) for day in days) + Counter(
        {("hour_of_day", hour): len(days) for hour in range(24)})
    assert len(patterns) == 12 * (12 + 7 + 24)
    for row in patterns:
        key = (row["service_group"], row["pattern"], row["bucket"])
        assert row["orders"] == expected_orders.get(key, 0), key
        assert row["days_observed"] == expected_days.get((row["pattern"], row["bucket"]), 0), key
    assert sum(row["orders"] for row in patterns if row["pattern"] == "hour_of_day") == sum(
        1 for order in orders if order["group"])
    # a group is judged on two complete calendar years; on weeks of data none is, and the rows say so
    complete_years = {month.year for month in complete
                      if sum(1 for other in complete if other.year == month.year) == 12}
    assert len(complete_years) < 2, "the test district spans weeks: this test expects no judgement"
    for row in patterns:
        assert row["is_seasonal"] is None, row["seasonal_pattern_key"]
        assert row["complete_years_observed"] == len(complete_years)
        assert row["months_observed"] == len(per_month_days)
        if row["pattern"] == "month_of_year":
            assert (row["month_ratio"] is None) == (not complete_years)


def _expected_hours(truth: dict[str, Any], orders: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Per service group, the orders by hour the generator draws: each service's share × its seasonal multiplier
    of the observed days' months × its diurnal profile."""
    patterns = truth["patterns"]
    month_days = Counter(month.month for month, count in _covered_months(orders)[0].items() for _ in range(count))
    out: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(24))
    for service in patterns["services"].values():
        weights = np.array(patterns["hourly_weights"][service["hours"]], dtype=float)
        season = sum(days * patterns["monthly_multipliers"][service["season"]][month - 1]
                     for month, days in month_days.items())
        out[service["group"]] = out[service["group"]] + service["share"] * season * weights / weights.sum()
    return dict(out)


def test_the_hour_of_day_profile_follows_the_truth(district, patterns, orders) -> None:
    expected = _expected_hours(district.dataset.truth(), orders)
    observed: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(24))
    for row in patterns:
        if row["pattern"] == "hour_of_day":
            observed[row["service_group"]][row["bucket"]] = row["orders"]
    pooled = np.corrcoef(sum(observed.values()), sum(expected.values()))[0, 1]
    print(f"hour of day, all groups ({int(sum(observed.values()).sum())} orders): r = {pooled:.2f}")
    assert pooled >= HOUR_CORRELATION_BOUND
    judged = [group for group, hours in observed.items() if hours.sum() >= GROUP_HOUR_MIN_ORDERS]
    assert judged, "no group has enough orders to be judged alone"
    for group in judged:
        r = np.corrcoef(observed[group], expected[group])[0, 1]
        print(f"hour of day, {group} ({int(observed[group].sum())} orders): r = {r:.2f}")
        assert r > 0, group


def test_the_weekday_profile_follows_the_truth_given_enough_weeks(district, patterns) -> None:
    weekdays = [row for row in patterns if row["pattern"] == "day_of_week"]
    days = {row["bucket"]: row["days_observed"] for row in weekdays}
    if min(days.values()) < WEEKDAY_MIN_DAYS:
        pytest.skip(f"each weekday is observed {min(days.values())}-{max(days.values())} times: too few to judge a "
                    f"±18 % weekday effect (WEEKDAY_MIN_DAYS = {WEEKDAY_MIN_DAYS})")
    per_day = np.zeros(7)
    for row in weekdays:
        per_day[row["bucket"] - 1] += row["orders"] / row["days_observed"]
    truth = district.dataset.truth()["patterns"]["weekday_multipliers_monday_first"]
    assert np.corrcoef(per_day, truth)[0, 1] >= 0.5
