"""The quality gates on the real marts of a built warehouse: every shared dataset, exported as the publication
side exports it (one Parquet file per mart), passes every check of its suite."""

from __future__ import annotations

from pathlib import Path

import duckdb

from expectations import DATASETS, GateContext, validate_all
from gridlake.settings import Settings


def test_the_built_marts_pass_their_gates(built: duckdb.DuckDBPyConnection, settings: Settings, district,
                                          tmp_path: Path) -> None:
    candidates, rows = {}, {}
    for name in DATASETS:
        path = tmp_path / "candidates" / name / "part-0.parquet"
        path.parent.mkdir(parents=True)
        built.execute(f"copy (select * from marts.{name}) to '{path}' (format parquet)")
        candidates[name] = [path]
        rows[name] = built.execute(f"select count(*) from marts.{name}").fetchall()[0][0]
    # the platforms' clock is the district's now: the data reach up to it, none beyond
    now = district.clock.now()
    gate = GateContext(now=now, newest_raw_at=now, previous_rows=rows, settings=settings)

    results = validate_all(candidates, gate, results_dir=tmp_path / "results", run_id="built")

    assert list(results) == list(DATASETS)
    failures = {name: [(c.check, c.reason, c.sample[:2]) for c in result.failed] for name, result in results.items()}
    assert not any(failures.values()), failures
    for name, result in results.items():
        assert rows[name] > 0, name
        assert result.statistics["skipped"] == 0 and result.statistics["evaluated"] >= 10, (name, result.statistics)
    assert (tmp_path / "results" / "built" / "index.html").is_file()


# One fault in each of the other marts, made in the exported copy; each dataset fails exactly these checks.
BROKEN = {
    "grid_case_lifecycle": (
        "select * replace (case when case_id = (select min(case_id) from marts.grid_case_lifecycle "
        "where handle_hours is not null) then -1.0 else handle_hours end as handle_hours) from marts.{name}",
        {"duration_not_negative:handle_hours"}),
    "iot_domain_daily": (
        "select * replace (case when domain_day_key = (select min(domain_day_key) from marts.iot_domain_daily "
        "where sensors_registered > 0) then 1.2 else coverage_rate end as coverage_rate) from marts.{name}",
        {"rate_between:coverage_rate", "rate_consistent:coverage_rate"}),
    "enterprise_profile": (
        "select * replace (case when uscc = (select min(uscc) from marts.enterprise_profile "
        "where risk_rule = 'no_adverse_record') then 'high' else risk_level end as risk_level) from marts.{name}",
        {"risk_rule_from_facts"}),
    "hotspots_monthly": (
        "select * replace (case when hotspot_key = (select min(hotspot_key) from marts.hotspots_monthly "
        "where frequency_rank = 1) then 2 else frequency_rank end as frequency_rank) from marts.{name}",
        {"frequency_rank"}),
    "seasonal_patterns": (
        "select * from marts.{name} where seasonal_pattern_key <> (select min(seasonal_pattern_key) "
        "from marts.seasonal_patterns where orders = 0)",
        {"every_bucket", "row_count_band"}),
    "city_events": (
        # an order nobody links to or holds open work on: only the reconciliation with hotline_requests breaks
        "select * from marts.{name} where event_id <> (select min(event_id) from marts.city_events as events "
        "where event_kind = 'hotline_order' and status_group = 'closed' and not exists (select 1 from "
        "marts.city_events as other where list_contains(other.linked_hotline_order_ids, events.event_id)))",
        {"events_match:hotline_requests", "row_count_band"}),
    "problem_ledger": (
        "select * replace (case when ledger_key = (select min(ledger_key) from marts.problem_ledger) "
        "then (case when street_code = '110101001' then '110101002' else '110101001' end) else street_code end "
        "as street_code) from marts.{name}",
        {"street_of_community"}),
    "responsibility_chain": (
        "select * replace (case when chain_party_key = (select min(chain_party_key) from "
        "marts.responsibility_chain where party_role = 'grid') then 4 else chain_level end as chain_level) "
        "from marts.{name}",
        {"role_level"}),
}


def test_a_fault_in_a_built_mart_fails_its_check(built: duckdb.DuckDBPyConnection, settings: Settings, district,
                                                 tmp_path: Path) -> None:
    candidates, rows = {}, {}
    for name in DATASETS:
        path = tmp_path / "candidates" / name / "part-0.parquet"
        path.parent.mkdir(parents=True)
        query = BROKEN[name][0].format(name=name) if name in BROKEN else f"select * from marts.{name}"
        built.execute(f"copy ({query}) to '{path}' (format parquet)")
        candidates[name] = [path]
        rows[name] = built.execute(f"select count(*) from marts.{name}").fetchall()[0][0]
    now = district.clock.now()
    # no band at all: a dropped row fails the row count too, every other mart keeps its count exactly
    strict = settings.model_copy(update={"publish": settings.publish.model_copy(update={"row_count_band": 0.0})})
    gate = GateContext(now=now, newest_raw_at=now, previous_rows=rows, settings=strict)

    results = validate_all(candidates, gate, results_dir=tmp_path / "results", run_id="broken")

    for name, result in results.items():
        assert {check.check for check in result.failed} == (BROKEN[name][1] if name in BROKEN else set()), (
            name, [(c.check, c.reason, c.sample[:2]) for c in result.failed])
