"""The citymgmt connector against the simulated fusion platform (a real PostgreSQL): what it lands is exactly
what the replica shows, each (key, updated_at) version once, late commits included.

The ``served`` platforms are shared by the session and their clock only moves forward (other tests move it
too), so every assertion compares with what the test itself reads from PostgreSQL at the same clock.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from connectors.citymgmt import TABLES, load_all, load_table
from connectors.citymgmt.load import connection_uri
from gridlake.connections import ConnectionNotFoundError, get_connection
from gridlake.lake import BATCH_COLUMNS, Lake

FEW = ("dust.reading", "vehicle.position", "grid.case", "grid.case_step", "fume.restaurant", "fume.reading",
       "diesel.obd")
STEP, STEPS = timedelta(minutes=10), 12  # two hours, loading every ten minutes
Key = tuple[str, datetime]

# The quarantine rules written again, independently, as SQL: (observation, event time, never negative,
# sentinel >= 999, speed > 200). The first that matches is the reason.
SQL_RULES: dict[str, tuple[bool, str | None, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "dust.reading": (False, "measured_at", ("dust_load_g_m2", "pm10_ug_m3"), (), ()),
    "fume.reading": (False, "measured_at", ("concentration_mg_m3",), ("concentration_mg_m3",), ()),
    "garbage.collection": (False, "collected_at", ("weight_kg",), (), ()),
    "vehicle.position": (True, "recorded_at", ("speed_kmh",), (), ("speed_kmh",)),
    "staff.position": (True, "recorded_at", (), (), ()),
    "grid.case": (True, "reported_at", (), (), ()),
    "grid.case_step": (False, "occurred_at", (), (), ()),
    "traffic.occupancy": (False, "recorded_at", ("occupied",), (), ()),
    "traffic.violation": (True, "observed_at", (), (), ()),
    "diesel.obd": (True, "recorded_at", ("nox_ppm", "speed_kmh"), (), ("speed_kmh",)),
}


def _reason_sql(table: str) -> str:
    observation, event, negatives, sentinels, speeds = SQL_RULES.get(table, (False, None, (), (), ()))
    whens = []
    if observation:
        whens.append("when lat = 0 and lon = 0 then 'gps_zero'")
        whens.append("when lat < 39.40 or lat > 41.10 or lon < 115.40 or lon > 117.55 then 'outside_beijing'")
    if event:
        whens.append(f"when {event} > updated_at + interval '15 minutes' then 'time_in_future'")
    whens += [f"when {column} < 0 then 'negative_value'" for column in negatives]
    whens += [f"when {column} >= 999 then 'sentinel_value'" for column in sentinels]
    whens += [f"when {column} > 200 then 'speed_impossible'" for column in speeds]
    return f"case {' '.join(whens)} end" if whens else "null::text"


def _visible(uri: str, table: str) -> dict[Key, str | None]:
    """Every version the replica shows now: (pk, updated_at) → the quarantine reason it deserves (None: lands)."""
    pk = TABLES[table].pk
    with psycopg.connect(uri) as conn:
        rows = conn.execute(f"select {pk}::text, updated_at, {_reason_sql(table)} from {table}").fetchall()
    return {(row[0], row[1]): row[2] for row in rows}


def _landed(lake: Lake, table: str, *, batch_id: str | None = None) -> tuple[list[Key], list[tuple[Key, str]]]:
    """The versions in the raw zone and the quarantined ones with their reasons (of one batch, or all)."""
    source = TABLES[table]
    raw = lake.read("raw", "citymgmt", source.entity)
    quarantine = lake.read("quarantine", "citymgmt", source.entity)
    landed = [] if raw is None else [
        (str(row[source.pk]), row["updated_at"])
        for row in raw.select([source.pk, "updated_at", "_batch_id"]).to_pylist()
        if batch_id is None or row["_batch_id"] == batch_id]
    quarantined = [] if quarantine is None else [
        ((row["record_id"], datetime.fromisoformat(json.loads(row["raw"])["updated_at"])), row["reason"])
        for row in quarantine.to_pylist() if batch_id is None or row["_batch_id"] == batch_id]
    return landed, quarantined


def _by_batch(lake: Lake, table: str) -> dict[str, tuple[list[Key], list[tuple[Key, str]]]]:
    """The versions landed and quarantined by each batch of a table."""
    source = TABLES[table]
    out: dict[str, tuple[list[Key], list[tuple[Key, str]]]] = {}
    raw = lake.read("raw", "citymgmt", source.entity)
    for row in [] if raw is None else raw.select([source.pk, "updated_at", "_batch_id"]).to_pylist():
        out.setdefault(row["_batch_id"], ([], []))[0].append((str(row[source.pk]), row["updated_at"]))
    quarantine = lake.read("quarantine", "citymgmt", source.entity)
    for row in [] if quarantine is None else quarantine.to_pylist():
        key = (row["record_id"], datetime.fromisoformat(json.loads(row["raw"])["updated_at"]))
        out.setdefault(row["_batch_id"], ([], []))[1].append((key, row["reason"]))
    return out


def _check_exact(landed: list[Key], quarantined: list[tuple[Key, str]], expected: dict[Key, str | None]) -> None:
    keys = landed + [key for key, _ in quarantined]
    assert len(keys) == len(set(keys)), "a version landed twice"
    assert set(keys) == set(expected)
    assert {key for key, _ in quarantined} == {key for key, reason in expected.items() if reason}
    assert Counter(reason for _, reason in quarantined) == Counter(r for r in expected.values() if r)


# ---------------------------------------------------------------- one sequence of loads, asserted below

@pytest.fixture(scope="module")
def runs(served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """First load, second load, the clock two hours on, third load: with what PostgreSQL showed at each."""
    uri = served.connections()["citymgmt_db"]
    lake = Lake(tmp_path_factory.mktemp("citymgmt") / "lake")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", uri)
        before = {table: _visible(uri, table) for table in FEW}
        first = load_all(lake, tables=FEW, batch_rows=5_000)
        second = load_all(lake, tables=FEW, batch_rows=5_000)
        steps = []  # loads while the clock moves: late commits show up behind rows already landed
        for _ in range(STEPS):
            served.clock.advance(STEP)
            steps.append(load_all(lake, tables=FEW, batch_rows=5_000))
        after = {table: _visible(uri, table) for table in FEW}
        third = load_all(lake, tables=FEW, batch_rows=5_000)
    return {"uri": uri, "lake": lake, "before": before, "after": after, "first": first, "second": second,
            "steps": steps, "third": third}


@pytest.mark.parametrize("table", FEW)
def test_first_load_lands_exactly_the_visible_versions(runs: dict[str, Any], table: str) -> None:
    manifest = runs["first"][table]
    landed, quarantined = _landed(runs["lake"], table, batch_id=manifest.batch_id)
    _check_exact(landed, quarantined, runs["before"][table])
    assert manifest.rows_read == manifest.rows_landed + sum(manifest.rows_quarantined.values()) == len(
        runs["before"][table])


def test_quarantine_reasons_match_the_rules_in_sql(runs: dict[str, Any]) -> None:
    first = runs["first"]
    for table in FEW:
        expected = Counter(reason for reason in runs["before"][table].values() if reason)
        assert Counter(first[table].rows_quarantined) == expected, table
    # The dirty kinds the platform plants do show up (not a vacuous equality of zeros).
    assert first["dust.reading"].rows_quarantined.get("negative_value", 0) > 0
    assert first["vehicle.position"].rows_quarantined.get("gps_zero", 0) + \
        first["vehicle.position"].rows_quarantined.get("outside_beijing", 0) > 0
    assert first["fume.reading"].rows_quarantined.get("sentinel_value", 0) > 0


def test_soft_deletes_land_as_rows_with_deleted_at(runs: dict[str, Any]) -> None:
    uri, lake = runs["uri"], runs["lake"]
    raw = lake.read("raw", "citymgmt", TABLES["dust.reading"].entity)
    deleted = raw.filter(pa.compute.is_valid(raw["deleted_at"])).num_rows
    with psycopg.connect(uri) as conn:
        served_deleted = conn.execute("select count(*) from dust.reading where deleted_at is not null").fetchone()[0]
    assert 0 < deleted <= served_deleted  # the ones after the first loads were landed too
    assert sum(m.extra["rows_soft_deleted"] for m in (runs["first"]["dust.reading"], runs["third"]["dust.reading"])) \
        == deleted


def test_the_declared_schema_is_landed(runs: dict[str, Any]) -> None:
    lake = runs["lake"]
    for table in FEW:
        source = TABLES[table]
        landed = lake.read("raw", "citymgmt", source.entity)
        assert landed.schema.remove_metadata() == pa.schema(list(source.schema) + BATCH_COLUMNS), table
    reading = lake.read("raw", "citymgmt", "dust__reading")
    assert reading.schema.field("dust_load_g_m2").type == pa.decimal128(8, 3)
    sample = reading.slice(0, 50).select(["reading_id", "dust_load_g_m2"]).to_pylist()
    with psycopg.connect(runs["uri"]) as conn:
        served = dict(conn.execute("select reading_id, dust_load_g_m2 from dust.reading where reading_id = any(%s)",
                                   ([row["reading_id"] for row in sample],)).fetchall())
    for row in sample:  # exact decimals, not floats
        if row["reading_id"] in served:
            assert row["dust_load_g_m2"] == served[row["reading_id"]]


@pytest.mark.parametrize("table", FEW)
def test_a_second_load_lands_nothing(runs: dict[str, Any], table: str) -> None:
    manifest = runs["second"][table]
    assert manifest.rows_read == manifest.rows_landed == 0 and not manifest.rows_quarantined
    assert manifest.files == []
    assert manifest.cursor_to == runs["first"][table].cursor_to
    if table != "fume.restaurant":  # a register changes rarely; the look-back may hold nothing
        assert manifest.extra["rows_already_landed"] > 0  # the look-back re-read them and skipped them


@pytest.mark.parametrize("table", FEW)
def test_after_two_hours_exactly_the_new_versions_land(runs: dict[str, Any], table: str) -> None:
    before, after = runs["before"][table], runs["after"][table]
    new = {key: reason for key, reason in after.items() if key not in before}
    landed: list[Key] = []
    quarantined: list[tuple[Key, str]] = []
    batches = {m.batch_id for m in [steps[table] for steps in runs["steps"]] + [runs["third"][table]]}
    for batch_id, (step_landed, step_quarantined) in _by_batch(runs["lake"], table).items():
        if batch_id in batches:
            landed += step_landed
            quarantined += step_quarantined
    assert runs["third"][table].rows_read == 0  # the clock has not moved since the last step
    # A key changed twice within the two hours (a grid case's status) left a version the steps landed and
    # the replica no longer shows: it is superseded by a later version of the same key, never lost.
    shown = {key for key, _ in quarantined} | set(landed)
    superseded = shown - set(new)
    newest_by_pk = {pk: at for pk, at in after}
    assert all(pk in newest_by_pk and at < newest_by_pk[pk] for pk, at in superseded), superseded
    _check_exact([key for key in landed if key not in superseded],
                 [(key, reason) for key, reason in quarantined if key not in superseded], new)
    everything, everything_q = _landed(runs["lake"], table)
    keys = everything + [key for key, _ in everything_q]
    assert len(keys) == len(set(keys)) and set(keys) >= set(after)


def test_late_commits_are_caught_by_the_look_back(runs: dict[str, Any]) -> None:
    late = Counter()
    for table in FEW:
        loads = [runs["first"][table]] + [steps[table] for steps in runs["steps"]]
        batches = _by_batch(runs["lake"], table)
        for previous, manifest in zip(loads, loads[1:], strict=False):
            if previous.cursor_to is None:
                continue
            newest = datetime.fromisoformat(previous.cursor_to["updated_at"])
            landed, quarantined = batches.get(manifest.batch_id, ([], []))
            late[table] += sum(1 for key in landed + [key for key, _ in quarantined] if key[1] <= newest)
    # Versions older than one the load before had landed, visible only later: a strict "updated_at > newest"
    # would have lost them; the look-back landed them (and exactly once, as the test above shows).
    print("late versions caught by the look-back:", dict(late))
    assert sum(late.values()) > 0, late


def test_memory_is_bounded_by_batch_rows(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", served.connections()["citymgmt_db"])
    lake = Lake(tmp_path / "lake")
    manifest = load_table(lake, "vehicle.position", batch_rows=500)
    raw = [item for item in manifest.files if item["zone"] == "raw"]
    assert manifest.rows_landed > 20_000
    assert all(item["rows"] <= 500 for item in raw)
    assert len(raw) == -(-manifest.rows_landed // 500)
    assert manifest.extra["driver_batches"] > 10  # streamed, not fetched whole
    assert manifest.extra["max_driver_batch_rows"] < manifest.rows_landed / 5


def test_load_all_reconciles_every_table(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = served.connections()["citymgmt_db"]
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", uri)
    manifests = load_all(Lake(tmp_path / "lake"))
    assert set(manifests) == set(TABLES)
    with psycopg.connect(uri) as conn:
        for table, manifest in manifests.items():
            count = conn.execute(f"select count(*) from {table}").fetchone()[0]
            assert manifest.rows_read == manifest.rows_landed + sum(manifest.rows_quarantined.values()) == count


def test_connection_and_options(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = Lake(tmp_path / "lake")
    monkeypatch.delenv("AIRFLOW_CONN_CITYMGMT_DB", raising=False)
    with pytest.raises(ConnectionNotFoundError, match="AIRFLOW_CONN_CITYMGMT_DB"):
        load_table(lake, "grid.cell")
    uri = served.connections()["citymgmt_db"]
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", uri)
    assert connection_uri(get_connection("citymgmt_db")) == uri
    with pytest.raises(ValueError, match="at least"):
        load_table(lake, "grid.cell", lookback=timedelta(minutes=5))
    with pytest.raises(KeyError, match="no table"):
        load_table(lake, "grid.nothing")
    assert lake.manifests("citymgmt", "grid__cell") == []
