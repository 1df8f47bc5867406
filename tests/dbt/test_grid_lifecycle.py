"""The grid case lifecycle mart (grid_case_lifecycle) against the raw lake: each case's step times, durations and
on-time closure recomputed here in Python from the raw steps (latest version of each key, soft deletes applied)
with citymgmt.md's loop and kpis.md's rule; the dirty loops the generator planted (its ground truth) flagged and
handled as marts/grid/_grid__models.yml says; the return rate per street recomputed too.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import lru_cache
from typing import Any

import duckdb
import pytest

from gridlake.lake import Lake
from gridlake.reference import communities, resolve_street, to_half_width
from gridlake.settings import Settings

PLATFORM = "citymgmt"
LOOP = ("collect", "file", "dispatch", "handle", "feedback", "verify_close", "evaluate")
DIRTY = {  # the mart's flag → the generator's dirty kind
    "case_steps_out_of_order": "case_step_out_of_order",
    "case_step_missing": "case_step_missing",
    "case_closed_twice": "case_closed_twice",
}
DURATIONS = {  # the mart's duration → (from, to): each step from the previous one; dispatch after a return below
    "file_hours": ("collect", "file"),
    "dispatch_hours": ("file", "dispatch"),
    "handle_hours": ("dispatch", "handle"),
    "feedback_hours": ("handle", "feedback"),
    "verify_close_hours": ("feedback", "verify_close"),
    "evaluate_hours": ("verify_close", "evaluate"),
    "closure_hours": ("file", "verify_close"),
}


def _code(value: str | None) -> str | None:
    return None if value is None else "".join(to_half_width(value).split()).upper() or None


def _latest(lake: Lake, entity: str, key: str) -> dict[Any, dict[str, Any]]:
    """The newest version of each key (updated time, then the newest landing), keys soft-deleted left out."""
    table = lake.read("raw", PLATFORM, entity)
    assert table is not None, f"nothing landed for {entity}"
    newest: dict[Any, dict[str, Any]] = {}
    for row in table.to_pylist():
        known = newest.get(row[key])
        order = (row["updated_at"], row["_ingested_at"], row["_batch_id"])
        if known is None or order > (known["updated_at"], known["_ingested_at"], known["_batch_id"]):
            newest[row[key]] = row
    return {k: row for k, row in newest.items() if row["deleted_at"] is None}


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds() / 3600


def _loop(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A case's steps (in the order they occurred) as the mart times them: collect and file from the first round,
    the rest their first occurrence in the round after the last return."""
    rounds: list[list[dict[str, Any]]] = [[]]
    for step in steps:
        rounds[-1].append(step)
        if step["step"] == "return":
            rounds.append([])
    times: dict[str, datetime | None] = {}
    for name in LOOP:
        where = rounds[0] if name in ("collect", "file") else rounds[-1]
        times[name] = next((step["occurred_at"] for step in where if step["step"] == name), None)
    returns = [step["occurred_at"] for step in steps if step["step"] == "return"]
    return {
        "times": times,
        "return_count": len(returns),
        "last_return_at": returns[-1] if returns else None,
        "voided": any(step["step"] == "void" for step in steps),
        "closes": sorted(step["occurred_at"] for step in steps if step["step"] == "verify_close"),
    }


@pytest.fixture(scope="module")
def raw_cases(lake: Lake) -> dict[str, dict[str, Any]]:
    return _latest(lake, "grid__case", "case_id")


@pytest.fixture(scope="module")
def raw_loops(lake: Lake) -> dict[str, dict[str, Any]]:
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _latest(lake, "grid__case_step", "step_id").values():
        by_case[row["case_id"]].append({**row, "step": row["step"].strip().lower()})
    return {case_id: _loop(sorted(rows, key=lambda row: (row["occurred_at"], row["step_id"])))
            for case_id, rows in by_case.items()}


@pytest.fixture(scope="module")
def mart(built: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    cursor = built.execute("select * from marts.grid_case_lifecycle")
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 1e-6)


def test_one_row_per_case_as_served(mart, raw_cases, settings: Settings) -> None:
    assert mart.keys() == raw_cases.keys() and len(mart) > 100
    grid = settings.grid
    for case_id, raw in raw_cases.items():
        got = mart[case_id]
        served = (raw["origin"].strip().lower(), raw["kind"].strip().lower(),
                  (raw["hotline_request_id"] or "").strip() or None, raw["reported_at"])
        assert (got["case_origin"], got["case_kind"], got["hotline_request_id"], got["reported_at"]) == served, case_id
        handle = grid.handle_component if got["case_kind"] == "component" else grid.handle_event
        limits = (grid.dispatch, handle, grid.verify, grid.dispatch + handle + grid.verify)
        assert (got["dispatch_limit_hours"], got["handle_limit_hours"], got["verify_limit_hours"],
                got["closure_limit_hours"]) == tuple(limit.total_seconds() / 3600 for limit in limits), case_id
    hotline = [case for case in mart.values() if case["case_origin"] == "hotline"]
    assert hotline and all(case["hotline_request_id"] for case in hotline)
    assert not [case for case in mart.values() if case["case_origin"] != "hotline" and case["hotline_request_id"]]


def test_the_planted_dirty_loops_are_flagged(mart, district) -> None:
    """Every case the generator made dirty and served by the first load is flagged with its kind; no case is
    flagged that the generator did not make dirty (a kind's later steps may show up only with the second load)."""
    truth = district.dataset.truth()["citymgmt"]["dirty"]
    for flag, kind in DIRTY.items():
        flagged = {case_id for case_id, case in mart.items() if case[flag]}
        planted = set(truth[kind]["ids_by_table"]["grid.case_step"])
        served_at_end = set(truth[kind]["ids_at_end_by_table"].get("grid.case_step", [])) & mart.keys()
        assert served_at_end, f"the district has no {kind} to flag"
        assert served_at_end <= flagged <= planted, flag


def test_step_times_durations_and_on_time_closure_equal_a_recomputation(
        mart, raw_cases, raw_loops, settings: Settings) -> None:
    """Each case's step times, durations and on-time verdict, from the raw steps. A case whose loop is out of
    order or misses a step is not timed nor judged (its times are kept as served); a case closed twice is timed by
    its first close; a voided case is not timed."""
    grid = settings.grid
    now = max(case["updated_at"] for case in raw_cases.values())
    timed = judged = 0
    for case_id, got in mart.items():
        loop = raw_loops.get(case_id)
        assert loop is not None, f"{case_id} has no steps"
        times = loop["times"]
        for name in LOOP:
            assert got[f"{name}_at"] == times[name], (case_id, name)
        assert got["last_return_at"] == loop["last_return_at"], case_id
        assert (got["is_voided"], got["is_closed"]) == (
            loop["voided"], times["verify_close"] is not None or times["evaluate"] is not None), case_id

        counted = not (loop["voided"] or got["case_steps_out_of_order"] or got["case_step_missing"])
        assert got["is_counted_in_durations"] == counted, case_id
        for column, (start, end) in DURATIONS.items():
            begin = times[start]
            if column == "dispatch_hours" and loop["return_count"]:
                begin = loop["last_return_at"]  # the final round's dispatch, from the return that opened it
            want = _hours(begin, times[end]) if counted else None
            assert _close(got[column], want), (case_id, column, got[column], want)
        if counted and got["verify_close_hours"] is not None:
            assert all(got[column] >= 0 for column in DURATIONS if got[column] is not None), case_id

        handle = grid.handle_component if got["case_kind"] == "component" else grid.handle_event
        deadline = times["file"] + grid.dispatch + handle + grid.verify if times["file"] else None
        if not counted or deadline is None:
            on_time = None
        elif times["verify_close"] is not None:
            on_time = times["verify_close"] <= deadline
        else:
            on_time = False if deadline < now else None
        assert (got["is_closed_on_time"], got["is_counted_in_on_time_rate"]) == (on_time, on_time is not None), (
            case_id, got["is_closed_on_time"], on_time)
        timed += got["closure_hours"] is not None
        judged += on_time is not None

    assert timed > 100 and judged > 100
    # the district exercises each rule: returned cases timed from their final round, closed-twice cases timed by
    # their first close, some verdicts late, dirty loops left out of the times
    returned = [case for case in mart.values() if case["is_returned"] and case["closure_hours"] is not None]
    assert returned and all(case["dispatch_at"] > case["last_return_at"] for case in returned)
    twice = [case_id for case_id, case in mart.items() if case["case_closed_twice"] and case["closure_hours"]]
    assert twice and all(mart[c]["verify_close_at"] == raw_loops[c]["closes"][0] < raw_loops[c]["closes"][1]
                         for c in twice)
    assert any(case["is_closed_on_time"] is False for case in mart.values())
    dirty = [case for case in mart.values() if case["case_steps_out_of_order"] or case["case_step_missing"]]
    assert dirty and all(case["closure_hours"] is None and not case["is_counted_in_on_time_rate"] for case in dirty)
    assert any(case["verify_close_at"] is not None for case in dirty)  # their times are still there


@lru_cache(maxsize=1)
def _community_streets() -> dict[str | None, str]:
    """Every spelling of a community (code, full name, name without 居委会), normalised → its street."""
    return {_code(spelling): community.street_code for community in communities()
            for spelling in (community.community_code, community.community_name,
                             community.community_name.removesuffix("居委会"))}


def _street(raw: dict[str, Any]) -> str | None:
    """The street of a case as served: its street spelling, else its community's street."""
    return resolve_street(_code(raw["street_code"])) or _community_streets().get(_code(raw["community_code"]))


def test_return_rate_per_street_equals_a_recomputation(mart, raw_cases, raw_loops) -> None:
    """kpis.md: cases with a return step / cases, per street; voided cases and those missing a step left out."""
    tally: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for case_id, raw in raw_cases.items():
        loop = raw_loops[case_id]
        assert mart[case_id]["street_code"] == _street(raw), case_id
        assert (mart[case_id]["is_returned"], mart[case_id]["return_count"]) == (
            loop["return_count"] > 0, loop["return_count"]), case_id
        if loop["voided"] or mart[case_id]["case_step_missing"]:
            assert not mart[case_id]["is_counted_in_return_rate"], case_id
            continue
        assert mart[case_id]["is_counted_in_return_rate"], case_id
        counts = tally[_street(raw)]
        counts[0] += loop["return_count"] > 0
        counts[1] += 1
    expected = {street: returned / cases for street, (returned, cases) in tally.items()}
    per_street: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for case in mart.values():
        if case["is_counted_in_return_rate"]:
            per_street[case["street_code"]][0] += case["is_returned"]
            per_street[case["street_code"]][1] += 1
    got = {street: returned / cases for street, (returned, cases) in per_street.items()}
    assert got.keys() == expected.keys() and len(got) >= 10
    assert all(_close(got[street], expected[street]) for street in expected)
    assert None not in got, "a case's street did not resolve"
    assert all(0 <= rate <= 1 for rate in got.values())
    assert sum(rate > 0 for rate in got.values()) >= 3  # some returns exist, in several streets
    returned, cases = map(sum, zip(*per_street.values()))
    assert 0 < returned / cases < 0.5, (returned, cases)  # returns are the exception

