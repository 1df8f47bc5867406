"""The simulators' shared pieces: the world, the scenario, the clock, the version store."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from gridlake import uscc
from gridlake.reference import communities
from gridlake.settings import get_settings
from simulators.clock import SimClock, to_micros
from simulators.scenario import TZ, plan_scenario
from simulators.store import VersionStore, write_versions
from simulators.world import build_world


def test_the_world_is_reproducible_from_its_seed_and_differs_across_seeds() -> None:
    one, again = build_world(seed=1, scale=0.05), build_world(seed=1, scale=0.05)
    other = build_world(seed=2, scale=0.05)
    assert one.subjects.equals(again.subjects) and one.grids.equals(again.grids)
    assert not one.subjects.equals(other.subjects)


def test_the_world_uses_the_real_places_and_stays_inside_the_district() -> None:
    world = build_world(seed=3, scale=0.05)
    settings = get_settings()
    assert set(world.community_codes) == {c.community_code for c in communities()}
    for table in (world.grids.rename_columns(["grid_code", "street_code", "community_code", "area_m2", "lat", "lon"]),
                  world.subjects, world.restaurants):
        lat, lon = table["lat"].to_numpy(), table["lon"].to_numpy()
        assert ((lat > settings.lat_min) & (lat < settings.lat_max)).all()
        assert ((lon > settings.lon_min) & (lon < settings.lon_max)).all()
    codes = world.subjects["uscc"].to_pylist()
    assert len(set(codes)) == len(codes) and all(uscc.is_valid(code) for code in codes)
    assert all(code[2:8] == "110101" for code in codes)


def test_fleets_follow_the_scale() -> None:
    full, small = build_world(seed=1, scale=1.0), build_world(seed=1, scale=0.1)
    assert full.fleet("restaurants") == 1662 and full.fleet("roads") == 289
    assert small.fleet("restaurants") == 166 and small.restaurants.num_rows == 166


def test_planted_ids_are_in_the_reserved_range_and_inside_the_span() -> None:
    world = build_world(seed=5, scale=0.05)
    end = datetime(2026, 11, 20, tzinfo=TZ)
    start = end - timedelta(days=14)
    scenario = plan_scenario(world, start=start, end=end)
    assert scenario.fume_chains and scenario.hotspots and scenario.blacklisted
    for rid in scenario.planted_request_ids():
        assert len(rid) == 16 and rid[8] == "9"
    for chain in scenario.fume_chains:
        assert all(start <= c.requested_at < end for c in chain.complaints)
        assert chain.enforcement_filed_at > chain.complaints[-1].grid_reported_at
    for spot in scenario.hotspots:
        assert len(spot.request_ids) >= 3
        assert (spot.requested_at[-1] - spot.requested_at[0]) <= timedelta(days=30)
    json.dumps(scenario.to_truth())  # the truth file can be written


def test_long_standing_problems_are_planted_over_three_whole_enough_months_only() -> None:
    world = build_world(seed=5, scale=0.05)
    end = datetime(2026, 11, 20, tzinfo=TZ)
    weeks = plan_scenario(world, start=end - timedelta(days=14), end=end)
    assert weeks.long_standing == []
    # 25 August - 4 November: only September and October have two weeks in the span
    short = plan_scenario(world, start=datetime(2026, 8, 25, tzinfo=TZ), end=datetime(2026, 11, 5, tzinfo=TZ))
    assert short.long_standing == []
    start = end - timedelta(days=92)
    months = plan_scenario(world, start=start, end=end)
    problems = months.long_standing
    assert {problem.rule for problem in problems} == {"repeat_hotspot", "channels"}
    others = {spot.community_code for spot in months.hotspots} | {c.community_code for c in months.fume_chains}
    assert len({problem.community_code for problem in problems}) == len(problems)
    assert not {problem.community_code for problem in problems} & others
    assert months.hotspots == plan_scenario(world, start=start, end=end).hotspots  # deterministic
    for problem in problems:
        assert problem.months == (date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1))
        assert all(start <= at < end for at in problem.requested_at + problem.grid_reported_at)
        assert set(problem.request_ids) <= months.planted_request_ids()
        assert set(problem.grid_case_ids) <= months.planted_grid_case_ids()
        by_month = {month: [at for at in problem.requested_at if at.date().replace(day=1) == month]
                    for month in problem.months}
        if problem.rule == "repeat_hotspot":
            # every month has an order with two more in the 30 days before it, each 5 to 9 days after the last
            assert all(any(sum(1 for other in problem.requested_at if timedelta(0) < at - other <= timedelta(days=30))
                           >= 2 for at in orders) for orders in by_month.values()), problem
            gaps = [b - a for a, b in zip(problem.requested_at, problem.requested_at[1:])]
            assert all(timedelta(days=4) < gap < timedelta(days=10) for gap in gaps), problem
            assert problem.grid_case_ids == ()
        else:
            # an order and an inspection in every month
            inspected = {at.date().replace(day=1) for at in problem.grid_reported_at}
            assert all(by_month.values()) and inspected == set(problem.months), problem
    json.dumps(months.to_truth())


def test_the_clock_moves_forward_only_persists_and_tells_listeners(tmp_path: Path) -> None:
    start = datetime(2026, 11, 20, tzinfo=TZ)
    seen: list[datetime] = []
    clock = SimClock(start, state_path=tmp_path / "state.json")
    clock.subscribe(seen.append)
    clock.advance(timedelta(hours=2))
    with pytest.raises(ValueError, match="forward only"):
        clock.set(start)
    assert seen == [start, start + timedelta(hours=2)]
    assert SimClock(start, state_path=tmp_path / "state.json").now() == start + timedelta(hours=2)


def test_the_store_shows_each_record_as_it_was_at_the_clock(tmp_path: Path) -> None:
    t = [to_micros(datetime(2026, 11, 20, h, tzinfo=TZ)) for h in range(6)]
    versions = pa.table({
        "kind": ["order"] * 4,
        "entity_id": ["b", "a", "a", "a"],
        "visible_from": [t[1], t[0], t[2], t[4]],
        "updated": [t[1], t[0], t[2], t[4]],
        "body": [json.dumps({"v": v}) for v in ("b1", "a1", "a2", "a3")],
        "status": ["open", "open", "open", "closed"],
    })
    path = tmp_path / "s.sqlite"
    assert write_versions(path, versions, indexes=["status"]) == 4
    store = VersionStore(path)

    def at(moment: int) -> list[tuple[str, str]]:
        return [(r["entity_id"], json.loads(r["body"])["v"]) for r in store.current("order", at=moment)]

    assert at(t[0]) == [("a", "a1")]
    assert at(t[3]) == [("b", "b1"), ("a", "a2")]  # ordered by updated time
    assert at(t[5]) == [("b", "b1"), ("a", "a3")]
    assert store.count("order", at=t[5], where="status = :s", params={"s": "closed"}) == 1
    assert store.one("order", "a", at=t[2])["seq"] == 2
    assert store.one("order", "c", at=t[5]) is None
