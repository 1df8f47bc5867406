"""The long-standing problem ledger (marts.problem_ledger) on months of data, against the generator's ground truth.

The shared test district spans ten days: no rule of three months can be judged there (test_ledger). This module
has a district of its own, three months long at a quarter of the scale (so that it stays quick), in which the
generator plants long-standing problems (simulators/scenario.py): pairs that are repeat hotspots in each of the
last three months, and pairs that reach the district by two channels every month (hotline orders and an
inspector's grid cases). It is ingested once and built, and then:
- the ledger equals the recomputation of its rules (tests/dbt/ledger_rules.py), now with verdicts on months;
- every planted problem is an entry by its rule, in its months, listing its planted orders and grid cases;
- few other pairs enter: of the (community, service group) pairs with counted events that were not planted, at most
  NOT_PLANTED_ENTRY_RATE are entries (the background's own long-standing problems: the generator's everyday cases
  recur by chance, and the rule cannot tell a planted recurrence from a real one).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from gridlake.settings import Settings
from tests.dbt.ledger_rules import expected_ledger, ledger_events, rows
from tests.support import TEST_SCALE, generate_dataset, serve_dataset
from tests.warehouse import build, ingest

# Three calendar months and more (from late August to 19 November) at a quarter of the shared district's scale.
MONTHS_DAYS = 92
MONTHS_SCALE = TEST_SCALE / 4
# The share of the pairs with events, not planted, that the ledger may take in (measured: 4 of 643, 0.6%).
NOT_PLANTED_ENTRY_RATE = 0.02


@pytest.fixture(scope="module")
def months_district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_dataset(generate_dataset(tmp_path_factory, "ledger-months", scale=MONTHS_SCALE,
                                              days=MONTHS_DAYS))


@pytest.fixture(scope="module")
def months_settings(months_district, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home: Path = ingest(months_district, tmp_path_factory.mktemp("ledger-months-home"), loads=1)
    return Settings(home=home)


@pytest.fixture(scope="module")
def months_built(months_settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = build(months_settings)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def months_ledger(months_built: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    return {row["ledger_key"]: row for row in rows(months_built, "select * from marts.problem_ledger")}


@pytest.fixture(scope="module")
def months_events(months_built: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return ledger_events(months_built)


@pytest.fixture(scope="module")
def planted(months_district) -> list[dict[str, Any]]:
    problems = months_district.dataset.truth()["scenario"]["long_standing_problems"]
    assert {problem["rule"] for problem in problems} == {"repeat_hotspot", "channels"}
    return problems


def test_the_ledger_equals_a_recomputation_of_its_rules_over_months(months_built, months_ledger, months_events,
                                                                    months_settings: Settings) -> None:
    hotspots = {(row["community_code"], row["service_group"], row["period_month"]) for row in rows(
        months_built, "select * from marts.hotspots_monthly where hotspot_kind = 'repeat_hotspot'")}
    expected = expected_ledger(months_events, hotspots, months_settings)
    assert months_ledger.keys() == expected.keys()
    for key, values in expected.items():
        assert {name: months_ledger[key][name] for name in values} == values, key
    # months of data: the rules are judged, both ways
    assert max(row["months_complete"] for row in months_ledger.values()) >= 2
    verdicts = {row["is_channel_rule_met"] for row in months_ledger.values()}
    assert {True, False} <= verdicts
    assert any(row["is_hotspot_rule_met"] for row in months_ledger.values())


def test_every_planted_long_standing_problem_is_on_the_ledger_by_its_rule(months_ledger, planted) -> None:
    for problem in planted:
        row = months_ledger.get(f"{problem['community_code']}|{problem['group']}")
        assert row is not None and row["is_ledger_entry"], problem
        months = {date.fromisoformat(month) for month in problem["months"]}
        if problem["rule"] == "repeat_hotspot":
            assert row["entry_rule"] in ("repeat_hotspot", "both"), row
            assert months <= set(row["repeat_hotspot_months"]), row
        else:
            assert row["entry_rule"] in ("channels", "both"), row
            assert months <= set(row["channel_months"]), row
            assert {"hotline", "grid"} <= set(row["channels"]), row
        assert set(problem["request_ids"]) <= set(row["request_ids"]), row
        assert set(problem["grid_case_ids"]) <= set(row["grid_case_ids"]), row


def test_few_pairs_enter_the_ledger_unplanted(months_ledger, months_events, planted) -> None:
    planted_pairs = {f"{problem['community_code']}|{problem['group']}" for problem in planted}
    pairs = {f"{event['community_code']}|{event['group']}" for event in months_events if event["counted"]}
    others = [key for key, row in months_ledger.items() if row["is_ledger_entry"] and key not in planted_pairs]
    rate = len(others) / len(pairs - planted_pairs)
    print(f"ledger entries: {len(planted_pairs)} planted, {len(others)} others of {len(pairs - planted_pairs)} "
          f"pairs with events ({rate:.1%}): {sorted(others)}")
    assert rate <= NOT_PLANTED_ENTRY_RATE, others
