"""Staging: one model per raw entity, typed and normalised; the latest version of each record."""

from __future__ import annotations

from gridlake.lake import Lake


def test_hotline_requests_are_the_latest_version_of_each_order(built, lake: Lake) -> None:
    raw = lake.read("raw", "hotline", "requests").to_pylist()
    latest: dict[str, dict] = {}
    for row in raw:  # independently of the SQL: the version with the newest updated time wins
        known = latest.get(row["service_request_id"])
        if known is None or row["updated_datetime"] > known["updated_datetime"]:
            latest[row["service_request_id"]] = row
    staged = {request_id: (updated, status, dispatches) for request_id, updated, status, dispatches in built.execute(
        "select request_id, updated_at, status, dispatch_count from staging.stg_hotline__requests").fetchall()}
    assert len(raw) > len(staged) == len(latest) > 100  # many orders changed, each once here
    for request_id, row in latest.items():
        updated, status, dispatches = staged[request_id]
        assert updated == row["updated_datetime"] and status == row["status"]
        assert dispatches == len(row["dispatches"] or [])


def test_codes_are_normalised_to_half_width_upper_case(built) -> None:
    odd = built.execute(
        "select count(*) from staging.stg_hotline__requests "
        "where regexp_matches(coalesce(street_code_as_served, '') || coalesce(service_code, ''), '[^0-9A-Z_\\-]')"
    ).fetchone()[0]
    assert odd == 0
