"""The citymgmt connector against the simulated fusion platform (a real PostgreSQL): what it lands is exactly
what the replica shows, each (key, updated_at) version once, late commits included.

This module serves a district of its own (``served`` below): its first load happens at the clock's start, where
the generator's ground truth says what is visible, whatever the other connector tests do to their clock. The
clock only moves forward, so every later assertion compares with what the test itself reads from PostgreSQL at
the same clock.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from psycopg.conninfo import make_conninfo

from connectors.citymgmt import TABLES, CitymgmtError, RetryPolicy, load_all, load_table
from connectors.citymgmt.load import connection_uri
from gridlake.connections import ConnectionNotFoundError, get_connection
from gridlake.lake import BATCH_COLUMNS, SCHEMA_FILE, Lake, Load
from gridlake.records import SchemaChanged
from tests.support import generate_dataset, serve_dataset


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from serve_dataset(generate_dataset(tmp_path_factory, "citymgmt-district"))


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


# The generator's dirty kinds (truth.json, citymgmt.dirty) that a load rule catches: kind → table → reason
# (rules.py). A dust load below zero is negative; a fume value of 999.9 is the sentinel; speeds over 200.
CAUGHT: dict[str, dict[str, str]] = {
    "impossible_value": {"dust.reading": "negative_value", "fume.reading": "sentinel_value",
                         "vehicle.position": "speed_impossible", "diesel.obd": "speed_impossible"},
    "gps_zero": {name: "gps_zero" for name in ("vehicle.position", "staff.position", "diesel.obd")},
    "gps_outside_beijing": {name: "outside_beijing" for name in ("vehicle.position", "staff.position", "diesel.obd")},
    "device_clock_ahead": {name: "time_in_future" for name in ("dust.reading", "fume.reading", "diesel.obd")},
}
# The kinds left to staging (rules.py, README): versions, series properties, register fields, case loops.
LEFT_TO_STAGING = ("correction", "soft_delete", "stuck_sensor", "offline_gap", "uscc_dirty", "street_code_missing",
                   "case_step_out_of_order", "case_step_missing", "case_closed_twice")


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
        now = served.clock.now()
        before = {table: _visible(uri, table) for table in FEW}
        first = load_all(lake, tables=FEW, batch_rows=5_000)
        second = load_all(lake, tables=FEW, batch_rows=5_000)
        steps = []  # loads while the clock moves: late commits show up behind rows already landed
        for _ in range(STEPS):
            served.clock.advance(STEP)
            steps.append(load_all(lake, tables=FEW, batch_rows=5_000))
        after = {table: _visible(uri, table) for table in FEW}
        third = load_all(lake, tables=FEW, batch_rows=5_000)
    return {"uri": uri, "lake": lake, "now": now, "before": before, "after": after, "first": first,
            "second": second, "steps": steps, "third": third}


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


def test_quarantine_equals_the_generators_ground_truth(served, runs: dict[str, Any]) -> None:
    """Per table and reason, the first load quarantines exactly the dirty records the generator planted and a
    client sees at the clock's start (truth.json), by key where the truth lists the keys, and nothing else."""
    truth = served.dataset.truth()["citymgmt"]
    assert runs["now"] == datetime.fromisoformat(truth["end"]), "the first load must run at the clock's start"
    dirty = truth["dirty"]
    assert set(dirty) == set(CAUGHT) | set(LEFT_TO_STAGING)  # a new kind needs a decision here
    for table in FEW:
        expected_counts: Counter[str] = Counter()
        expected_keys: list[tuple[str, str]] | None = []
        for kind, reasons in CAUGHT.items():
            if table not in reasons:
                continue
            planted = dirty[kind]
            assert planted["by_table_at_end"].get(table, 0) > 0, (kind, table)  # not a vacuous equality
            expected_counts[reasons[table]] += planted["by_table_at_end"][table]
            if "ids_at_end_by_table" not in planted:  # too many to list: counts only
                expected_keys = None
            elif expected_keys is not None:
                expected_keys += [(str(pk), reasons[table]) for pk in planted["ids_at_end_by_table"][table]]
        manifest = runs["first"][table]
        _, quarantined = _landed(runs["lake"], table, batch_id=manifest.batch_id)
        assert Counter(manifest.rows_quarantined) == expected_counts, table
        assert Counter(reason for _, reason in quarantined) == expected_counts, table
        if expected_keys is not None:
            assert sorted((pk, reason) for (pk, _), reason in quarantined) == sorted(expected_keys), table


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


# ---------------------------------------------------------------- backfills (after the loads of ``runs``)

def _start(cursor: dict[str, Any], lookback: timedelta = timedelta(minutes=10)) -> datetime:
    """Where the next incremental load reads from: the newest updated_at less the look-back, or keys_from."""
    return max(datetime.fromisoformat(cursor["updated_at"]) - lookback, datetime.fromisoformat(cursor["keys_from"]))


def test_a_backfill_over_the_loaded_range_lands_nothing_and_keeps_the_cursor(
        runs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    lake, uri = runs["lake"], runs["uri"]
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", uri)
    cursors = {table: lake.cursor("citymgmt", TABLES[table].entity) for table in FEW}
    since = datetime(2020, 1, 1, tzinfo=UTC)
    manifests = load_all(lake, tables=FEW, batch_rows=5_000, since=since)
    for table, manifest in manifests.items():
        until = _start(cursors[table])
        assert manifest.extra["backfill"] == {"since": since.isoformat(), "until": until.isoformat(),
                                              "clamped": True}, table
        assert manifest.rows_read == manifest.rows_landed == 0 and not manifest.rows_quarantined, table
        assert manifest.cursor_to == manifest.cursor_from == cursors[table], table
        assert lake.cursor("citymgmt", TABLES[table].entity) == cursors[table]
        in_range = sum(1 for _, at in _visible(uri, table) if at < until)
        assert manifest.extra["rows_already_landed"] == manifest.extra["rows_served"] == in_range, table
    assert manifests["dust.reading"].extra["rows_already_landed"] > 1_000  # it did re-read the range
    after = load_all(lake, tables=FEW, batch_rows=5_000)  # and the incremental loads go on as before
    assert all(m.rows_read == 0 and m.cursor_to == cursors[t] for t, m in after.items())


def _thirds(versions: dict[Key, str | None]) -> tuple[datetime, datetime]:
    times = sorted({at for _, at in versions})
    return times[len(times) // 3], times[2 * len(times) // 3]


@pytest.mark.parametrize("table", ["dust.reading", "grid.case"])
def test_backfills_then_an_incremental_load_land_what_one_clean_load_lands(
        served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str) -> None:
    uri = served.connections()["citymgmt_db"]
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", uri)
    visible = _visible(uri, table)
    lake, clean = Lake(tmp_path / "lake"), Lake(tmp_path / "clean")
    first, second = _thirds(visible)

    middle = load_table(lake, table, since=first, until=second)
    assert middle.extra["backfill"] == {"since": first.isoformat(), "until": second.isoformat(), "clamped": False}
    assert middle.cursor_to is None  # no cursor before, none after
    landed, quarantined = _landed(lake, table, batch_id=middle.batch_id)
    _check_exact(landed, quarantined, {key: why for key, why in visible.items() if first <= key[1] < second})
    tail = load_table(lake, table, since=second)  # up to now: with no cursor, nothing to clamp to
    assert tail.extra["backfill"] == {"since": second.isoformat(), "until": None, "clamped": False}
    landed, quarantined = _landed(lake, table, batch_id=tail.batch_id)
    _check_exact(landed, quarantined, {key: why for key, why in visible.items() if key[1] >= second})

    incremental = load_table(lake, table)  # skips what both backfills landed
    landed, quarantined = _landed(lake, table, batch_id=incremental.batch_id)
    _check_exact(landed, quarantined, {key: why for key, why in visible.items() if key[1] < first})
    assert incremental.extra["rows_already_landed"] == sum(1 for _, at in visible if at >= first)
    everything, everything_q = _landed(lake, table)
    _check_exact(everything, everything_q, visible)  # together, each version once

    reference = load_table(clean, table)
    clean_landed, clean_quarantined = _landed(clean, table)
    assert sorted(everything) == sorted(clean_landed) and sorted(everything_q) == sorted(clean_quarantined)
    assert incremental.cursor_to == reference.cursor_to
    again = load_table(lake, table)
    assert again.rows_read == 0 and again.cursor_to == reference.cursor_to


def test_a_backfill_is_clamped_to_where_the_incremental_load_reads(
        served, lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = served.connections()["citymgmt_db"]
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", uri)
    table = "dust.reading"
    visible = _visible(uri, table)
    cursor = load_table(lake, table).cursor_to
    start = _start(cursor)

    late = load_table(lake, table, until=datetime(2100, 1, 1, tzinfo=UTC))
    assert late.extra["backfill"] == {"since": None, "until": start.isoformat(), "clamped": True}
    assert late.extra["rows_served"] == sum(1 for _, at in visible if at < start) > 0  # not one row past start
    assert late.rows_read == 0 and late.cursor_to == cursor

    earlier = start - timedelta(hours=1)
    inside = load_table(lake, table, since=earlier - timedelta(hours=1), until=earlier)
    assert inside.extra["backfill"]["clamped"] is False
    assert inside.extra["backfill"]["until"] == earlier.isoformat()
    assert inside.extra["rows_served"] == sum(1 for _, at in visible if earlier - timedelta(hours=1) <= at < earlier)

    beyond = load_table(lake, table, since=start + timedelta(minutes=1))  # wholly in the incremental's range
    assert beyond.extra["backfill"]["clamped"] is True and beyond.extra["rows_served"] == 0
    assert lake.cursor("citymgmt", TABLES[table].entity) == cursor
    with pytest.raises(ValueError, match="aware"):
        load_table(lake, table, since=datetime(2026, 11, 1))
    with pytest.raises(ValueError, match="before until"):
        load_table(lake, table, since=start, until=start)


# ---------------------------------------------------------------- the replica's columns change

@dataclass(frozen=True)
class _WatchedLake(Lake):
    """A lake that counts the loads begun and passes each step of a load to ``on_step`` (with the load's number)."""

    begun: list[str] = field(default_factory=list)
    on_step: Callable[[int, str], None] | None = None

    def begin(self, platform: str, entity: str, schema: pa.Schema, *,
              on_step: Callable[[str], None] | None = None) -> Load:
        self.begun.append(entity)
        number = len(self.begun)
        hook = self.on_step
        return super().begin(platform, entity, schema,
                             on_step=None if hook is None else (lambda step: hook(number, step)))


@dataclass
class Scratch:
    """A database of the test's own in the simulated cluster: ``admin`` its superuser, ``uri`` the reader's."""

    admin: psycopg.Connection
    uri: str


_READING = ("reading_id bigint primary key, road_id text, sensor_id text, measured_at timestamptz, "
            "dust_load_g_m2 numeric(8,3), pm10_ug_m3 numeric(8,1), updated_at timestamptz not null, "
            "deleted_at timestamptz")
_T0 = "timestamptz '2026-11-10 08:00:00+08'"


@pytest.fixture
def scratch(served, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scratch]:
    """A fresh database (as the cluster's superuser) with ``dust.reading`` as citymgmt.md declares it, 30 rows,
    readable by the connector's login: a table to alter without touching the shared ones."""
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    admin_info = served.database.admin_conninfo
    with psycopg.connect(admin_info, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    uri = served.connections()["citymgmt_db"].rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", uri)
    try:
        with psycopg.connect(make_conninfo(admin_info, dbname=name), autocommit=True) as conn:
            conn.execute(f"grant connect on database {name} to reader")
            conn.execute("create schema dust")
            conn.execute("grant usage on schema dust to reader")
            conn.execute(f"create table dust.reading ({_READING})")
            conn.execute("grant select on dust.reading to reader")
            _add_readings(conn, 1, 30)
            yield Scratch(conn, uri)
    finally:
        with psycopg.connect(admin_info, autocommit=True) as admin:
            admin.execute(f"drop database {name} with (force)")


def _add_readings(conn: psycopg.Connection, first: int, last: int) -> None:
    conn.execute(f"insert into dust.reading (reading_id, road_id, sensor_id, measured_at, dust_load_g_m2, "
                 f"pm10_ug_m3, updated_at) select g, 'R' || (g % 3), 'S' || g, {_T0} + g * interval '5 minutes', "
                 f"g * 0.125, g * 1.5, {_T0} + g * interval '5 minutes' from generate_series({first}, {last}) g")


def _rows(lake: Lake) -> list[dict[str, Any]]:
    raw = lake.read("raw", "citymgmt", "dust__reading")
    return [] if raw is None else sorted(raw.to_pylist(), key=lambda row: row["reading_id"])


def test_undeclared_columns_land_in_extra_fields(scratch: Scratch, lake: Lake) -> None:
    scratch.admin.execute("alter table dust.reading add column pm25_ug_m3 numeric(8,1), add column note text")
    scratch.admin.execute("update dust.reading set pm25_ug_m3 = reading_id * 0.5, note = 'n' || reading_id "
                          "where reading_id <= 20")
    manifest = load_table(lake, "dust.reading")
    assert manifest.rows_landed == 30 and manifest.extra["schema_changes"] == {}
    assert manifest.extra["schema_drift"] == {"pm25_ug_m3": 30, "note": 30}
    rows = _rows(lake)
    assert [json.loads(row["extra_fields"]) for row in rows[:2]] == [
        {"pm25_ug_m3": 0.5, "note": "n1"}, {"pm25_ug_m3": 1.0, "note": "n2"}]
    assert json.loads(rows[-1]["extra_fields"]) == {"pm25_ug_m3": None, "note": None}
    assert rows[3]["dust_load_g_m2"] == Decimal("0.500")  # the declared columns as before
    scratch.admin.execute("alter table dust.reading drop column pm25_ug_m3, drop column note")
    _add_readings(scratch.admin, 31, 32)
    plain = load_table(lake, "dust.reading")
    assert plain.rows_landed == 2 and plain.extra["schema_drift"] == {}
    assert [row["extra_fields"] for row in _rows(lake)[-2:]] == [None, None]


def test_a_disappeared_column_stops_the_load_until_accepted(scratch: Scratch, tmp_path: Path) -> None:
    lake = _WatchedLake(tmp_path / "lake")
    first = load_table(lake, "dust.reading")
    scratch.admin.execute("alter table dust.reading drop column pm10_ug_m3")
    _add_readings_without_pm10(scratch.admin, 31, 40)
    for _ in range(2):  # it stops, and stops again
        with pytest.raises(SchemaChanged, match="pm10_ug_m3 disappeared") as stopped:
            load_table(lake, "dust.reading")
        assert stopped.value.changes == {"pm10_ug_m3": "disappeared"}
        assert "dust.reading" in str(stopped.value)
    assert len(lake.begun) == 3  # not retried
    assert [m.batch_id for m in lake.manifests("citymgmt", "dust__reading")] == [first.batch_id]
    assert lake.cursor("citymgmt", "dust__reading") == first.cursor_to and len(_rows(lake)) == 30
    assert not [p for p in (lake.root / "_staging").rglob("*") if p.is_file()]

    accepted = load_table(lake, "dust.reading", accept_schema_change=True)
    assert accepted.extra["schema_changes"] == {"pm10_ug_m3": "disappeared"}
    assert accepted.rows_landed == 10
    new = _rows(lake)[30:]
    assert [row["reading_id"] for row in new] == list(range(31, 41))
    assert all(row["pm10_ug_m3"] is None and row["dust_load_g_m2"] is not None for row in new)


def _add_readings_without_pm10(conn: psycopg.Connection, first: int, last: int) -> None:
    conn.execute(f"insert into dust.reading (reading_id, road_id, sensor_id, measured_at, dust_load_g_m2, "
                 f"updated_at) select g, 'R1', 'S' || g, {_T0} + g * interval '5 minutes', g * 0.125, "
                 f"{_T0} + g * interval '5 minutes' from generate_series({first}, {last}) g")


def test_a_column_of_another_type_stops_the_load_until_accepted(scratch: Scratch, lake: Lake) -> None:
    scratch.admin.execute("alter table dust.reading alter column dust_load_g_m2 type numeric(10,4)")
    scratch.admin.execute("update dust.reading set dust_load_g_m2 = dust_load_g_m2 + 0.0001")
    with pytest.raises(SchemaChanged, match=r"dust_load_g_m2 changed_type \(numeric\(10,4\), declared "
                                            r"numeric\(8,3\)\)") as stopped:
        load_table(lake, "dust.reading")
    assert stopped.value.changes == {"dust_load_g_m2": "changed_type"}
    assert lake.manifests("citymgmt", "dust__reading") == []
    accepted = load_table(lake, "dust.reading", accept_schema_change=True)
    assert accepted.extra["schema_changes"] == {"dust_load_g_m2": "changed_type"}
    rows = _rows(lake)
    assert len(rows) == 30 and all(row["dust_load_g_m2"] is None for row in rows)  # not rounded to (8,3)
    assert json.loads(rows[0]["extra_fields"]) == {"dust_load_g_m2": 0.1251}  # the value as served, kept
    assert rows[0]["pm10_ug_m3"] == Decimal("1.5")

    scratch.admin.execute("alter table dust.reading alter column reading_id type text")
    with pytest.raises(SchemaChanged, match="reading_id changed_type"):
        load_table(lake, "dust.reading")
    with pytest.raises(CitymgmtError, match="reading_id.*cannot be accepted"):
        load_table(lake, "dust.reading", accept_schema_change=True)


# ---------------------------------------------------------------- transient faults

def _terminate_readers(admin_info: str, table: str) -> int:
    """Terminate the backends of the reader login streaming ``table``; returns how many."""
    with psycopg.connect(admin_info, autocommit=True) as admin:
        return admin.execute("select count(*) filter (where pg_terminate_backend(pid)) from pg_stat_activity "
                             "where usename = 'reader' and query like %s", (f"%{table}%",)).fetchone()[0]


def test_a_dropped_connection_is_retried_and_lands_what_a_clean_load_lands(
        served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", served.connections()["citymgmt_db"])
    table, terminated = "vehicle.position", []

    def drop_the_connection(load_number: int, step: str) -> None:
        if load_number == 1 and step == "staged:raw:1":  # mid-stream: the first file is staged
            terminated.append(_terminate_readers(served.database.admin_conninfo, table))

    lake = _WatchedLake(tmp_path / "lake", on_step=drop_the_connection)
    policy = RetryPolicy(attempts=3, initial_wait_s=0.05, max_wait_s=0.1)
    manifest = load_table(lake, table, batch_rows=500, policy=policy)
    clean = load_table(Lake(tmp_path / "clean"), table, batch_rows=500)
    assert terminated == [1] and len(lake.begun) == 2 and manifest.extra["attempts"] == 2
    assert manifest.rows_read == clean.rows_read > 20_000 and manifest.rows_quarantined == clean.rows_quarantined
    landed, quarantined = _landed(lake, table)
    clean_landed, clean_quarantined = _landed(Lake(tmp_path / "clean"), table)
    assert len(landed) == len(set(landed)) and sorted(landed) == sorted(clean_landed)
    assert sorted(quarantined) == sorted(clean_quarantined)
    assert manifest.cursor_to == clean.cursor_to
    assert len(lake.manifests("citymgmt", "vehicle__position")) == 1
    on_disk = {p.relative_to(lake.root).as_posix() for p in (lake.root / "raw").rglob("*.parquet")
               if p.name != SCHEMA_FILE}
    assert on_disk == {item["path"] for item in manifest.files if item["zone"] == "raw"}  # the aborted one's gone
    assert not [p for p in (lake.root / "_staging").rglob("*") if p.is_file()]


def test_a_connection_that_keeps_failing_gives_up_naming_the_table(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", f"postgresql://reader:secret@127.0.0.1:{port}/citymgmt")
    lake = _WatchedLake(tmp_path / "lake")
    with pytest.raises(CitymgmtError, match=r"citymgmt: dust\.reading: the connection failed on each of 3 "
                                            r"attempts.*(refused|connect)"):
        load_table(lake, "dust.reading", policy=RetryPolicy(attempts=3, initial_wait_s=0.01, max_wait_s=0.02))
    assert len(lake.begun) == 3 and lake.manifests("citymgmt", "dust__reading") == []


def test_an_error_of_the_query_is_not_retried(scratch: Scratch, tmp_path: Path) -> None:
    # dust.reading as a view whose one row fails to compute: an SQL error mid-stream, not a lost connection.
    scratch.admin.execute("alter table dust.reading rename to reading_base")
    _add_readings_to("dust.reading_base", scratch.admin, 31, 5_000)
    scratch.admin.execute(
        "create view dust.reading as select reading_id, road_id, sensor_id, measured_at, "
        "(dust_load_g_m2 / case when reading_id = 4000 then 0 else 1 end)::numeric(8,3) as dust_load_g_m2, "
        "pm10_ug_m3, updated_at, deleted_at from dust.reading_base")
    scratch.admin.execute("grant select on dust.reading to reader")
    lake = _WatchedLake(tmp_path / "lake")
    with pytest.raises(CitymgmtError, match=r"citymgmt: dust\.reading: reading all rows failed.*division by zero"):
        load_table(lake, "dust.reading", batch_rows=200, policy=RetryPolicy(attempts=3, initial_wait_s=0.01))
    assert len(lake.begun) == 1 and lake.manifests("citymgmt", "dust__reading") == []


def _add_readings_to(table: str, conn: psycopg.Connection, first: int, last: int) -> None:
    conn.execute(f"insert into {table} (reading_id, road_id, sensor_id, measured_at, dust_load_g_m2, pm10_ug_m3, "
                 f"updated_at) select g, 'R1', 'S' || g, {_T0} + g * interval '1 minute', g * 0.001, 1.5, "
                 f"{_T0} + g * interval '1 minute' from generate_series({first}, {last}) g")


def test_a_workers_name_is_personal_and_never_landed(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = served.connections()["citymgmt_db"]
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", uri)
    with psycopg.connect(uri) as conn:  # the replica does have it
        named = conn.execute("select count(*) from staff.worker where name is not null").fetchone()[0]
        names = {row[0] for row in conn.execute("select name from staff.worker")}
    lake = Lake(tmp_path / "lake")
    manifest = load_table(lake, "staff.worker")
    raw = lake.read("raw", "citymgmt", "staff__worker")
    assert named > 0 and manifest.rows_landed == raw.num_rows > 0
    assert "name" not in raw.column_names and manifest.extra["schema_drift"] == {}
    landed_text = json.dumps(raw.to_pylist(), default=str, ensure_ascii=False)
    assert not any(name in landed_text for name in names if name)
