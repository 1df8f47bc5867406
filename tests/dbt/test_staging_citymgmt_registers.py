"""Staging of the city-management registers and the grid platform (citymgmt.md), against the raw lake.

Each model holds the latest (key, updated_at) version of each key, without the keys whose latest version is
soft-deleted; codes are normalised, the restaurants' uscc normalised but not checked, register points at (0, 0)
or outside Beijing nulled, the workers' names gone, and the dirty loops of grid cases flagged. The expectations
are computed here in Python from the raw rows, not from the SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from gridlake.lake import Lake
from gridlake.uscc import is_valid, normalise

PLATFORM = "citymgmt"
BEIJING = (39.40, 41.10, 115.40, 117.55)  # lat_min, lat_max, lon_min, lon_max (connectors/citymgmt/rules.py)


def _same(value: Any) -> Any:
    return value


def _lower(value: str | None) -> str | None:
    return None if value is None else value.strip().lower()


# raw entity → (model, raw key, staged key, how the key is staged, [(raw column, staged column, transform)])
MODELS: dict[str, tuple[str, str, str, Callable[[Any], Any], list[tuple[str, str, Callable[[Any], Any]]]]] = {
    "dust__road": ("stg_citymgmt__roads", "road_id", "road_id", _same, [
        ("name", "road_name", _same), ("street_code", "street_code_as_served", normalise),
        ("length_m", "length_m", _same), ("grade", "road_grade", _same)]),
    "fume__restaurant": ("stg_citymgmt__restaurants", "restaurant_id", "restaurant_id", _same, [
        ("name", "restaurant_name", _same), ("uscc", "uscc", normalise),
        ("street_code", "street_code_as_served", normalise),
        ("community_code", "community_code_as_served", normalise), ("seats", "seats", _same)]),
    "garbage__station": ("stg_citymgmt__garbage_stations", "station_id", "station_id", _same, [
        ("name", "station_name", _same), ("kind", "station_kind", _lower),
        ("street_code", "street_code_as_served", normalise),
        ("community_code", "community_code_as_served", normalise)]),
    "vehicle__vehicle": ("stg_citymgmt__vehicles", "vehicle_id", "vehicle_id", _same, [
        ("plate", "plate", normalise), ("kind", "vehicle_kind", _lower),
        ("street_code", "street_code_as_served", normalise)]),
    "staff__worker": ("stg_citymgmt__workers", "worker_id", "worker_id", _same, [
        ("role", "worker_role", _lower), ("street_code", "street_code_as_served", normalise)]),
    "grid__cell": ("stg_citymgmt__grid_cells", "grid_code", "grid_code", normalise, [
        ("street_code", "street_code_as_served", normalise),
        ("community_code", "community_code_as_served", normalise), ("area_m2", "area_m2", _same)]),
    "grid__case": ("stg_citymgmt__grid_cases", "case_id", "case_id", _same, [
        ("origin", "case_origin", _lower), ("kind", "case_kind", _lower), ("status", "case_status", _lower),
        ("street_code", "street_code_as_served", normalise), ("grid_code", "grid_code", normalise),
        ("responsible_unit_code", "responsible_unit_code", normalise), ("reported_at", "reported_at", _same),
        ("hotline_request_id", "hotline_request_id", _same)]),
    "grid__case_step": ("stg_citymgmt__grid_case_steps", "step_id", "step_id", _same, [
        ("case_id", "case_id", _same), ("step", "step", _lower), ("unit_code", "unit_code", normalise),
        ("occurred_at", "occurred_at", _same)]),
    "traffic__parking_lot": ("stg_citymgmt__parking_lots", "lot_id", "lot_id", _same, [
        ("name", "lot_name", _same), ("capacity", "capacity", _same),
        ("street_code", "street_code_as_served", normalise)]),
    "traffic__violation": ("stg_citymgmt__parking_violations", "violation_id", "violation_id", _same, [
        ("plate_hash", "plate_hash", _same), ("street_code", "street_code_as_served", normalise),
        ("lat", "lat", _same), ("lon", "lon", _same), ("observed_at", "observed_at", _same),
        ("source", "violation_source", _lower)]),
}
# register entity → (model, key, raw lat, raw lon, staged lat, staged lon)
POINTS = {
    "fume__restaurant": ("stg_citymgmt__restaurants", "restaurant_id", "lat", "lon", "lat", "lon"),
    "garbage__station": ("stg_citymgmt__garbage_stations", "station_id", "lat", "lon", "lat", "lon"),
    "traffic__parking_lot": ("stg_citymgmt__parking_lots", "lot_id", "lat", "lon", "lat", "lon"),
    "grid__cell": ("stg_citymgmt__grid_cells", "grid_code", "centroid_lat", "centroid_lon", "centroid_lat",
                   "centroid_lon"),
}


def _raw(lake: Lake, entity: str) -> list[dict[str, Any]]:
    table = lake.read("raw", PLATFORM, entity)
    assert table is not None, f"nothing landed for {entity}"
    return table.to_pylist()


def _latest(lake: Lake, entity: str) -> tuple[dict[Any, dict[str, Any]], dict[Any, dict[str, Any]]]:
    """(every key's newest version, the keys whose newest version is not soft-deleted), by the staged key."""
    _, raw_key, _, stage_key, _ = MODELS[entity]
    newest: dict[Any, dict[str, Any]] = {}
    for row in _raw(lake, entity):
        key = stage_key(row[raw_key])
        known = newest.get(key)
        order = (row["updated_at"], row["_ingested_at"], row["_batch_id"])
        if known is None or order > (known["updated_at"], known["_ingested_at"], known["_batch_id"]):
            newest[key] = row
    return newest, {key: row for key, row in newest.items() if row["deleted_at"] is None}


def _staged(built, model: str, key: str, columns: list[str]) -> dict[Any, dict[str, Any]]:
    cursor = built.execute(f"select {key}, {', '.join(columns)} from staging.{model}")
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}


@pytest.mark.parametrize("entity", sorted(MODELS))
def test_each_model_is_the_latest_version_of_each_key_without_soft_deletes(built, lake: Lake, entity: str) -> None:
    model, _, key, _, columns = MODELS[entity]
    _, expected = _latest(lake, entity)
    staged = _staged(built, model, key, ["updated_at", "batch_id", *(staged for _, staged, _ in columns)])
    assert set(staged) == set(expected) and staged
    for key_value, row in expected.items():
        got = staged[key_value]
        assert (got["updated_at"], got["batch_id"]) == (row["updated_at"], row["_batch_id"]), key_value
        for raw_column, staged_column, transform in columns:
            assert got[staged_column] == transform(row[raw_column]), (entity, key_value, staged_column)


def test_the_district_exercises_versions_soft_deletes_and_dirty_codes(built, lake: Lake) -> None:
    """The comparisons above see what they are about: cases changed, a soft-deleted event, codes served dirty."""
    cases = _raw(lake, "grid__case")
    newest, _ = _latest(lake, "grid__case")
    assert len(cases) > len(newest) > 100  # many cases have several versions (one per step)
    changed = [case_id for case_id in newest if sum(row["case_id"] == case_id for row in cases) > 1]
    statuses = dict(built.execute("select case_id, case_status from staging.stg_citymgmt__grid_cases").fetchall())
    assert all(statuses[case_id] == newest[case_id]["status"] for case_id in changed)

    violations, kept = _latest(lake, "traffic__violation")
    deleted = set(violations) - set(kept)
    assert deleted
    staged = {row[0] for row in built.execute("select violation_id from staging.stg_citymgmt__parking_violations")
              .fetchall()}
    assert not deleted & staged

    restaurants = _raw(lake, "fume__restaurant")
    dirty = [row["uscc"] for row in restaurants if row["uscc"] and row["uscc"] != normalise(row["uscc"])]
    assert dirty  # lower case, spaces, full width: they reach staging normalised (compared above)


def test_restaurant_uscc_is_normalised_but_not_checked(built, lake: Lake) -> None:
    _, expected = _latest(lake, "fume__restaurant")
    staged = dict(built.execute("select restaurant_id, uscc from staging.stg_citymgmt__restaurants").fetchall())
    assert staged == {key: normalise(row["uscc"]) for key, row in expected.items()}
    # Codes failing the check (or missing) stay: the check is uscc_is_valid's, downstream.
    assert any(code is not None and not is_valid(code) for code in staged.values())
    assert any(code is None for code in staged.values())
    assert all(code is None or code == code.strip().upper() for code in staged.values())


@pytest.mark.parametrize("entity", sorted(POINTS))
def test_register_points_at_zero_or_outside_beijing_are_nulled(built, lake: Lake, entity: str) -> None:
    model, key, raw_lat, raw_lon, lat_column, lon_column = POINTS[entity]
    _, expected = _latest(lake, entity)
    staged = _staged(built, model, key, [lat_column, lon_column, "point_nulled"])
    lat_min, lat_max, lon_min, lon_max = BEIJING
    for key_value, row in expected.items():
        lat, lon = row[raw_lat], row[raw_lon]
        served = lat is not None or lon is not None
        usable = (lat is not None and lon is not None and not (lat == 0 and lon == 0)
                  and lat_min <= lat <= lat_max and lon_min <= lon <= lon_max)
        got = staged[normalise(key_value) if entity == "grid__cell" else key_value]
        assert (got[lat_column], got[lon_column], got["point_nulled"]) == (
            (lat, lon, False) if usable else (None, None, served)), (entity, key_value)


def test_worker_names_never_pass_staging(built, district) -> None:
    """The names as the platform holds them (read from the served database: the connector does not land them)
    appear in no staged register, and the workers' model has no name column nor extra_fields' values."""
    import psycopg

    with psycopg.connect(district.connections()["citymgmt_db"]) as connection:
        names = {name for (name,) in connection.execute("select name from staff.worker") if name}
    assert names
    columns = [d[0] for d in built.execute("select * from staging.stg_citymgmt__workers limit 0").description]
    assert "name" not in columns and "extra_fields" not in columns
    for model, *_ in MODELS.values():
        cursor = built.execute(f"select * from staging.{model}")
        values = {value for row in cursor.fetchall() for value in row if isinstance(value, str)}
        assert values and not values & names, model


# The seven-step loop as citymgmt.md names it; a void stands for file, a return comes after feedback.
LOOP = ("collect", "file", "dispatch", "handle", "feedback", "verify_close", "evaluate")


def _rank(step: str) -> float:
    """Where a step stands in the loop when ordering: a void stands for file, a return follows feedback."""
    off_loop = {"void": LOOP.index("file"), "return": LOOP.index("feedback") + 0.5}
    return off_loop[step] if step in off_loop else LOOP.index(step)


def _expected_loops(steps: list[dict[str, Any]]) -> tuple[dict[int, dict[str, Any]], dict[str, dict[str, bool]]]:
    """Per step (position, number, round, out of order, repeat close) and per case the three dirty kinds,
    walking each case's steps in the order they occurred."""
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in steps:
        by_case[row["case_id"]].append(row)
    per_step: dict[int, dict[str, Any]] = {}
    per_case: dict[str, dict[str, bool]] = {}
    for case_id, rows in by_case.items():
        rows.sort(key=lambda row: (row["occurred_at"], row["step_id"]))
        rounds: list[list[dict[str, Any]]] = [[]]
        closes = 0
        for number, row in enumerate(rows, start=1):
            rounds[-1].append(row)
            here = len(rounds) - 1
            rank = _rank(row["step"])
            earlier = [_rank(other["step"]) for other in rounds[-1][:-1]]
            closes += row["step"] == "verify_close"
            per_step[row["step_id"]] = {
                "loop_position": LOOP.index(row["step"]) + 1 if row["step"] in LOOP else None,
                "step_number": number, "loop_round": here,
                "is_out_of_order": any(rank < other for other in earlier),
                "is_repeat_close": row["step"] == "verify_close" and closes > 1,
            }
            if row["step"] == "return":
                rounds.append([])
        missing = False
        for here, members in enumerate(rounds):
            names = {row["step"] for row in members}
            reach = max(({"return": "feedback", "void": "collect"}.get(name, name) for name in names),
                        key=LOOP.index, default=None)
            if reach is not None:
                start = 0 if here == 0 else LOOP.index("dispatch")
                missing |= any(LOOP[i] not in names for i in range(start, LOOP.index(reach) + 1))
        per_case[case_id] = {
            "case_steps_out_of_order": any(per_step[row["step_id"]]["is_out_of_order"] for row in rows),
            "case_step_missing": missing,
            "case_closed_twice": closes > 1,
        }
    return per_step, per_case


def test_grid_case_step_flags_follow_the_seven_step_loop(built, lake: Lake, district) -> None:
    _, steps = _latest(lake, "grid__case_step")
    per_step, per_case = _expected_loops([{**row, "step": _lower(row["step"])} for row in steps.values()])
    flags = ["loop_position", "step_number", "loop_round", "is_out_of_order", "is_repeat_close"]
    kinds = ["case_steps_out_of_order", "case_step_missing", "case_closed_twice"]
    staged = _staged(built, "stg_citymgmt__grid_case_steps", "step_id", ["case_id", *flags, *kinds])
    assert set(staged) == set(per_step)
    for step_id, expected in per_step.items():
        got = staged[step_id]
        assert {name: got[name] for name in flags} == expected, step_id
        assert {name: got[name] for name in kinds} == per_case[got["case_id"]], step_id

    # Each kind is in the district, and only on cases the generator made dirty that way (its ground truth).
    truth = district.dataset.truth()["citymgmt"]["dirty"]
    for flag, kind in zip(kinds, ("case_step_out_of_order", "case_step_missing", "case_closed_twice")):
        flagged = {case_id for case_id, case in per_case.items() if case[flag]}
        assert flagged and flagged <= set(truth[kind]["ids_by_table"]["grid.case_step"]), flag
