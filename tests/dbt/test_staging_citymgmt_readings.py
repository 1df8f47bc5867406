"""Staging of the city-management observation tables (dust, fume, occupancy, positions, OBD, pick-ups):
incremental models (macros/citymgmt_readings.sql) checked three ways.

- Against the raw zone computed here in Python: the latest version of each key, soft deletes gone, and every flag
  (stuck runs, spikes, exceedances, offline gaps) by the rule its model documents.
- Against the generator's truth, with every version revealed (the district's clock at its horizon): the stuck
  spans reading for reading, the exceedance counts and sensors.
- Incrementally: the same versions landed again in four batches, cut inside stuck spans (a run that becomes stuck
  only when the next batch extends it) and with corrections and deletes arriving batches after their readings,
  and a late reading inside an offline gap (its next neighbour is no longer after a gap), built after each batch;
  before the last build the earlier batches are turned into tombstones, so a run that read them would lose rows.
  The result equals a full build of the whole lake.
"""

from __future__ import annotations

import math
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.citymgmt.schema import TABLES
from connectors.ingest import PLATFORMS, run_job
from gridlake.lake import Lake
from gridlake.settings import Settings, get_settings
from gridlake.transform import paths, run_dbt

PLATFORM = "citymgmt"
T = Settings().thresholds
STUCK_SECONDS = T.stuck_sensor.total_seconds()
OFFLINE_GAP_MINUTES = T.offline_gap.total_seconds() / 60


@dataclass(frozen=True)
class Model:
    """A staging model of an observation table: its raw entity and key, how a series is formed, its flags."""

    name: str
    entity: str
    raw_key: str
    key: str
    series_by: str | None
    at: str
    value: str | None = None  # the measured value of a scalar series (spikes, stuck runs)
    stuck: bool = False
    position: bool = False
    gaps: bool = False  # gap_before_minutes and is_after_gap (the fixed sensors)

    @property
    def table(self) -> str:
        return f"staging.{self.name}"


MODELS = (
    Model("stg_citymgmt__dust_readings", "dust__reading", "reading_id", "dust_reading_id", "sensor_id",
          "measured_at", "dust_load_g_m2", stuck=True, gaps=True),
    Model("stg_citymgmt__fume_readings", "fume__reading", "reading_id", "fume_reading_id", "restaurant_id",
          "measured_at", "concentration_mg_m3", stuck=True, gaps=True),
    Model("stg_citymgmt__parking_occupancy", "traffic__occupancy", "occupancy_id", "occupancy_id", "lot_id",
          "recorded_at", "occupied", gaps=True),
    Model("stg_citymgmt__vehicle_positions", "vehicle__position", "position_id", "vehicle_position_id",
          "vehicle_id", "recorded_at", position=True),
    Model("stg_citymgmt__staff_positions", "staff__position", "position_id", "staff_position_id", "worker_id",
          "recorded_at", position=True),
    Model("stg_citymgmt__diesel_obd", "diesel__obd", "obd_id", "obd_id", "vin_hash", "recorded_at", position=True),
    Model("stg_citymgmt__garbage_collections", "garbage__collection", "collection_id", "collection_id", None,
          "collected_at"),
)
BY_NAME = {model.name: model for model in MODELS}
SELECT = " ".join(model.name for model in MODELS)
JOBS = [job for job in PLATFORMS[PLATFORM].jobs if set(job.entities) & {model.entity for model in MODELS}]

# The spike rules the models document (macros/citymgmt_readings.sql and each model), restated here.
SCALAR_SPIKES: dict[str, tuple[Callable[[Any, Any], float], timedelta]] = {
    "dust__reading": (lambda prev, nxt: 1.0, timedelta(minutes=15)),
    "fume__reading": (lambda prev, nxt: 2.0, timedelta(minutes=30)),
    "traffic__occupancy": (lambda prev, nxt: max(100.0, 0.5 * max(prev, nxt)), timedelta(minutes=45)),
}
POSITION_MAX_KMH, POSITION_MIN_KM = 150.0, 0.5
MAX_PICKUP_KG = 20_000
TOMBSTONE = datetime.fromisoformat("2099-01-01T00:00:00+00:00")


# --- the raw zone, independently of the SQL ------------------------------------------------------------------------

def latest_live(rows: list[dict[str, Any]], key: str) -> tuple[dict[Any, dict[str, Any]], set[Any]]:
    """The newest version of each key (updated time, then ingestion, then batch), and the keys it deletes."""
    latest: dict[Any, dict[str, Any]] = {}
    for row in rows:
        known = latest.get(row[key])
        rank = (row["updated_at"], row["_ingested_at"], row["_batch_id"])
        if known is None or rank > (known["updated_at"], known["_ingested_at"], known["_batch_id"]):
            latest[row[key]] = row
    deleted = {k for k, row in latest.items() if row["deleted_at"] is not None}
    return {k: row for k, row in latest.items() if k not in deleted}, deleted


def _series(model: Model, live: dict[Any, dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in live.values():
        if row[model.series_by] is not None and row[model.at] is not None:
            groups[row[model.series_by]].append(row)
    for rows in groups.values():
        yield sorted(rows, key=lambda r: (r[model.at], r[model.raw_key]))


def _km(a: dict[str, Any], b: dict[str, Any]) -> float:
    p1, p2 = math.radians(a["lat"]), math.radians(b["lat"])
    dlon = math.radians(b["lon"] - a["lon"])
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def expected_flags(model: Model, live: dict[Any, dict[str, Any]]) -> dict[str, set[Any]]:
    """The keys each flag of the model should mark, computed from the raw rows."""
    flags: dict[str, set[Any]] = defaultdict(set)
    if model.series_by is None:  # pick-ups
        flags["is_spike"] = {k for k, r in live.items() if (r["weight_kg"] or 0) > MAX_PICKUP_KG}
        return flags
    for rows in _series(model, live):
        for prev, row, nxt in zip([None, *rows[:-1]], rows, [*rows[1:], None]):
            if model.gaps and prev is not None and gap_minutes(prev, row, model) > OFFLINE_GAP_MINUTES:
                flags["is_after_gap"].add(row[model.raw_key])
            if prev is None or nxt is None:
                continue
            if model.position:
                spike = all(_km(a, b) > max(POSITION_MIN_KM, POSITION_MAX_KMH * _hours(b[model.at] - a[model.at]))
                            for a, b in ((prev, row), (row, nxt)))
            else:
                bound_of, max_gap = SCALAR_SPIKES[model.entity]
                v, p, n = (r[model.value] for r in (row, prev, nxt))
                if None in (v, p, n):
                    continue
                bound = bound_of(p, n)
                spike = (row[model.at] - prev[model.at] <= max_gap and nxt[model.at] - row[model.at] <= max_gap
                         and ((v - p > bound and v - n > bound) or (p - v > bound and n - v > bound)))
            if spike:
                flags["is_spike"].add(row[model.raw_key])
        if model.stuck:
            start = 0
            for end in range(1, len(rows) + 1):
                if end == len(rows) or rows[end][model.value] != rows[start][model.value]:
                    run = rows[start:end]
                    if run[0][model.value] is not None and \
                            (run[-1][model.at] - run[0][model.at]).total_seconds() >= STUCK_SECONDS:
                        flags["is_stuck"].update(r[model.raw_key] for r in run)
                    start = end
    for key, row in live.items():
        if model.entity == "dust__reading" and row["dust_load_g_m2"] is not None:
            if row["dust_load_g_m2"] > Decimal(str(T.dust_load_g_m2)):
                flags["is_exceedance"].add(key)
            if row["dust_load_g_m2"] > Decimal(str(T.dust_load_severe_g_m2)):
                flags["is_severe"].add(key)
        elif model.entity == "fume__reading" and row["concentration_mg_m3"] is not None:
            if row["concentration_mg_m3"] > Decimal(str(T.fume_mg_m3)):
                flags["is_exceedance"].add(key)
        elif model.entity == "diesel__obd" and row["nox_ppm"] is not None and row["speed_kmh"] is not None:
            if row["nox_ppm"] > Decimal(str(T.diesel_nox_ppm)) \
                    and row["speed_kmh"] > Decimal(str(T.diesel_min_speed_kmh)):
                flags["is_exceedance"].add(key)
    return flags


def gap_minutes(prev: dict[str, Any], row: dict[str, Any], model: Model) -> float:
    return (row[model.at] - prev[model.at]).total_seconds() / 60


def expected_gaps(model: Model, live: dict[Any, dict[str, Any]]) -> dict[Any, float | None]:
    """gap_before_minutes of every live key: minutes since its series' previous reading, None for the first (and
    for a reading in no series)."""
    gaps: dict[Any, float | None] = dict.fromkeys(live)
    for rows in _series(model, live):
        for prev, row in zip(rows, rows[1:]):
            gaps[row[model.raw_key]] = gap_minutes(prev, row, model)
    return gaps


def _flag_names(model: Model) -> list[str]:
    names = ["is_spike"]
    if model.gaps:
        names.append("is_after_gap")
    if model.stuck:
        names.append("is_stuck")
    if model.entity in ("dust__reading", "fume__reading", "diesel__obd"):
        names.append("is_exceedance")
    if model.entity == "dust__reading":
        names.append("is_severe")
    return names


def staged_flags(connection: duckdb.DuckDBPyConnection, model: Model) -> dict[str, set[Any]]:
    flags = {}
    for name in _flag_names(model):
        rows = connection.execute(f"select {model.key} from {model.table} where {name}").fetchall()
        flags[name] = {key for (key,) in rows}
    return flags


# --- fixtures ------------------------------------------------------------------------------------------------------

def _ingest(district: Any, lake: Lake) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in district.environment().items():
            patch.setenv(name, value)
        patch.setenv("GRIDLAKE_PII_SALT", "dbt-test-salt")
        for job in JOBS:
            run_job(job, lake=lake)


def _build(home: Path, *extra: str) -> None:
    run_dbt(["build", "--select", SELECT, *extra], settings=Settings(home=home))
    get_settings.cache_clear()


def _land(lake: Lake, entity: str, table: pa.Table) -> None:
    """One batch of ``entity``'s versions, as a connector commits it (stamped with a new batch id and time)."""
    schema = TABLES[entity.replace("__", ".", 1)].schema
    with lake.begin(PLATFORM, entity, schema) as load:
        load.write(table.select(schema.names))
        load.commit(cursor_to=None, rows_read=table.num_rows)


def _plant_spikes(lake: Lake, at: datetime) -> dict[str, Any]:
    """One correction per table that makes a reading a spike (its value or point far from both neighbours),
    committed with the versions of the horizon: key per entity. The readings chosen have both neighbours close
    in time, are not stuck, and do not exceed (so the exceedance counts of the truth still hold for readings
    that are not spikes)."""
    planted = {}
    for model in MODELS:
        raw = lake.read("raw", PLATFORM, model.entity)
        live, _ = latest_live(raw.to_pylist(), model.raw_key)
        flags = expected_flags(model, live)
        excluded = set().union(*flags.values())
        chosen = None
        if model.series_by is None:
            chosen = next(row for key, row in sorted(live.items()) if key not in excluded)
            row = dict(chosen, weight_kg=Decimal("25000.0"))
        else:
            for rows in sorted(_series(model, live), key=lambda rs: rs[0][model.series_by]):
                middle = len(rows) // 2
                for prev, row, nxt in zip(rows[middle - 1:], rows[middle:], rows[middle + 1:]):
                    close = nxt[model.at] - prev[model.at] <= timedelta(minutes=30)
                    if close and not {r[model.raw_key] for r in (prev, row, nxt)} & excluded:
                        chosen = row
                        break
                if chosen is not None:
                    break
            assert chosen is not None, model.entity
            if model.position:
                row = dict(chosen, lat=chosen["lat"] + 0.05)  # 5.5 km north, and back
            elif model.entity == "traffic__occupancy":
                row = dict(chosen, occupied=chosen["occupied"] + 1000)
            else:
                row = dict(chosen, **{model.value: chosen[model.value] + Decimal("2.5")})
        row["updated_at"] = at
        schema = TABLES[model.entity.replace("__", ".", 1)].schema
        _land(lake, model.entity, pa.Table.from_pylist([row], schema=pa.schema(list(schema))))
        planted[model.name] = chosen[model.raw_key]
    return planted


def _plant_gap_fillers(lake: Lake, at: datetime, spans: list[dict[str, Any]], end: datetime) -> dict[str, Any]:
    """A late reading inside an offline gap of dust and of occupancy (one reading interval before the gap's end,
    committed with the versions of the horizon: the replay lands it in its last batch, after the gap's readings):
    the reading after the gap then follows it closely. entity → (the filler's key, the key of the reading after
    the gap). The filler's value differs from both neighbours and exceeds nothing."""
    planted = {}
    for entity, interval, low in (("dust__reading", timedelta(minutes=5), Decimal("0.010")),
                                  ("traffic__occupancy", timedelta(minutes=15), 1)):
        model = next(m for m in MODELS if m.entity == entity)
        span = next(s for s in sorted(spans, key=lambda s: s["from"])
                    if s["table"] == entity.replace("__", ".", 1) and _instant(s["to"]) < end - timedelta(days=1))
        live, _ = latest_live(lake.read("raw", PLATFORM, entity).to_pylist(), model.raw_key)
        after = next(row for row in live.values()
                     if row[model.series_by] == span["sensor"] and row[model.at] == _instant(span["to"]))
        before = next(row for row in live.values()
                      if row[model.series_by] == span["sensor"] and row[model.at] == _instant(span["from"]))
        value = next(v for v in (low, low * 2, low * 3) if v not in (after[model.value], before[model.value]))
        key = max(live) + 1_000_000
        row = dict(after, **{model.raw_key: key, model.at: after[model.at] - interval, model.value: value,
                             "updated_at": at, "deleted_at": None})
        schema = TABLES[entity.replace("__", ".", 1)].schema
        _land(lake, entity, pa.Table.from_pylist([row], schema=pa.schema(list(schema))))
        planted[entity] = (key, after[model.raw_key])
    return planted


@dataclass
class Horizon:
    home: Path
    truth: dict[str, Any]
    planted: dict[str, Any]  # model name → key of the reading made a spike
    fillers: dict[str, tuple[Any, Any]]  # entity → (a late reading inside a gap, the reading after the gap)


@pytest.fixture(scope="module")
def horizon(built, lake_home: Path, district, tmp_path_factory: pytest.TempPathFactory) -> Horizon:
    """lake_home's lake, then every version the platform will ever serve (the district's clock moved to its
    horizon, the observation tables ingested once more) and a planted spike per table; built from scratch."""
    home = tmp_path_factory.mktemp("readings-horizon")
    shutil.copytree(lake_home / "lake", home / "lake")
    truth = district.dataset.truth()["citymgmt"]
    horizon_at = datetime.fromisoformat(truth["horizon"])
    district.clock.set(max(district.clock.now(), horizon_at))
    lake = Lake(home / "lake")
    _ingest(district, lake)
    planted = _plant_spikes(lake, horizon_at)
    fillers = _plant_gap_fillers(lake, horizon_at, truth["dirty"]["offline_gap"]["spans"],
                                 datetime.fromisoformat(truth["end"]))
    _build(home)
    return Horizon(home, truth, planted, fillers)


@pytest.fixture(scope="module")
def at_horizon(horizon: Horizon) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(paths(Settings(home=horizon.home)).warehouse), read_only=True)
    connection.execute("set TimeZone = 'Asia/Shanghai'")
    yield connection
    connection.close()


@dataclass
class Replay:
    home: Path
    straddling: dict[str, list[dict[str, Any]]]  # entity → the truth's stuck spans cut in two
    flagged_after_first: dict[str, int]  # entity → readings of the straddling spans flagged after the first build
    tombstoned: int
    after_gap_before_filler: dict[str, bool]  # entity → is_after_gap of the filled gap's end before the filler


def _tombstone(files: list[Path]) -> int:
    """Rewrite raw files as tombstones dated 2099: every version in them deleted, and newer than anything real."""
    rows = 0
    for path in files:
        table = pq.read_table(path)
        at = pa.array([TOMBSTONE] * table.num_rows, type=table.schema.field("updated_at").type)
        table = table.set_column(table.schema.get_field_index("updated_at"), "updated_at", at)
        table = table.set_column(table.schema.get_field_index("deleted_at"), "deleted_at", at)
        pq.write_table(table, path)
        rows += table.num_rows
    return rows


@pytest.fixture(scope="module")
def replay(horizon: Horizon, tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """The horizon's raw versions landed again in four batches per table (cut by updated_at) and built after each
    batch: the first build is a full one, the next three incremental; the last one with the batches before it
    turned into tombstones."""
    home = tmp_path_factory.mktemp("readings-replay")
    source, lake = Lake(horizon.home / "lake"), Lake(home / "lake")
    spans = horizon.truth["dirty"]["stuck_sensor"]["spans"]
    end = datetime.fromisoformat(horizon.truth["end"])
    batches: dict[str, list[pa.Table]] = {}
    straddling: dict[str, list[dict[str, Any]]] = {}
    for model in MODELS:
        table = source.read("raw", PLATFORM, model.entity)
        table = table.drop_columns([c for c in table.column_names if c.startswith("_") or c == "ingest_date"])
        updated = table["updated_at"].to_pylist()
        own = sorted((s for s in spans if s["table"] == model.entity.replace("__", ".", 1)),
                     key=lambda s: s["from"])[:2]
        # cut in the middle of (up to two) stuck spans: each half shorter than the stuck rule
        cuts = [_instant(s["from"]) + (_instant(s["to"]) - _instant(s["from"])) / 2 for s in own]
        if own:
            straddling[model.entity] = own
        ordered = sorted(updated)
        cuts = sorted([*cuts, ordered[len(ordered) // 4], ordered[len(ordered) // 2]][:2])
        bounds = [None, *cuts, end, None]
        batches[model.entity] = [
            table.filter(pa.array([(low is None or u >= low) and (high is None or u < high) for u in updated]))
            for low, high in zip(bounds[:-1], bounds[1:])]
    flagged_after_first: dict[str, int] = {}
    after_gap_before_filler: dict[str, bool] = {}
    tombstoned = 0
    for number in range(4):
        built_before = {model.entity: lake.files("raw", PLATFORM, model.entity) for model in MODELS}
        for model in MODELS:
            _land(lake, model.entity, batches[model.entity][number])
        if number == 3:  # what was built already becomes tombstones: reading it again would delete its keys
            tombstoned = _tombstone([path for files in built_before.values() for path in files])
        _build(home)
        if number == 0:
            with duckdb.connect(str(paths(Settings(home=home)).warehouse), read_only=True) as connection:
                for entity, own in straddling.items():
                    model = next(m for m in MODELS if m.entity == entity)
                    flagged_after_first[entity] = connection.execute(
                        f"select count(*) from {model.table} where is_stuck and {model.series_by} = ? "
                        f"and measured_at between ? and ?",
                        [own[0]["sensor"], _instant(own[0]["from"]), _instant(own[0]["to"])]).fetchone()[0]
        if number == 2:  # the fillers land in the last batch
            with duckdb.connect(str(paths(Settings(home=home)).warehouse), read_only=True) as connection:
                for entity, (filler, after) in horizon.fillers.items():
                    model = next(m for m in MODELS if m.entity == entity)
                    assert connection.execute(f"select count(*) from {model.table} where {model.key} = ?",
                                              [filler]).fetchone()[0] == 0
                    after_gap_before_filler[entity] = connection.execute(
                        f"select is_after_gap from {model.table} where {model.key} = ?", [after]).fetchone()[0]
    return Replay(home, straddling, flagged_after_first, tombstoned, after_gap_before_filler)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- tests ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_each_key_is_its_latest_version_and_deleted_keys_are_gone(built, lake: Lake, model: Model) -> None:
    raw = lake.read("raw", PLATFORM, model.entity).to_pylist()
    live, deleted = latest_live(raw, model.raw_key)
    staged = dict(built.execute(f"select {model.key}, updated_at from {model.table}").fetchall())
    assert len(staged) == len(live) > 100
    assert set(staged) == set(live)
    assert not set(staged) & deleted
    assert all(staged[key] == row["updated_at"] for key, row in live.items())
    if model.entity in ("dust__reading", "fume__reading"):  # the generator corrects and deletes these
        assert deleted and len(raw) > len(live) + len(deleted)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_flags_follow_the_documented_rules(built, lake: Lake, model: Model) -> None:
    live, _ = latest_live(lake.read("raw", PLATFORM, model.entity).to_pylist(), model.raw_key)
    expected = expected_flags(model, live)
    staged = staged_flags(built, model)
    for name, keys in staged.items():
        assert keys == expected.get(name, set()), name
    if model.gaps:
        assert staged["is_after_gap"]  # planted offline gaps (dust, occupancy), closed kitchens (fume)
    if model.stuck or model.entity == "diesel__obd":
        assert staged.get("is_stuck") or staged.get("is_exceedance")  # the generator plants both


@pytest.mark.parametrize("model", [m for m in MODELS if m.gaps], ids=lambda m: m.name)
def test_gap_before_minutes_is_the_time_since_the_series_previous_reading(built, lake: Lake, model: Model) -> None:
    live, _ = latest_live(lake.read("raw", PLATFORM, model.entity).to_pylist(), model.raw_key)
    expected = expected_gaps(model, live)
    staged = dict(built.execute(f"select {model.key}, gap_before_minutes from {model.table}").fetchall())
    assert set(staged) == set(expected)
    wrong = {key: (staged[key], gap) for key, gap in expected.items()
             if not (gap is None and staged[key] is None
                     or gap is not None and staged[key] is not None and math.isclose(staged[key], gap, abs_tol=1e-9))}
    assert not wrong, list(wrong.items())[:5]
    assert sum(gap is None for gap in expected.values()) == len({r[model.series_by] for r in live.values()})
    assert any(gap is not None and gap > OFFLINE_GAP_MINUTES for gap in expected.values())  # planted (or closed)


@pytest.mark.parametrize("name", ["stg_citymgmt__dust_readings", "stg_citymgmt__fume_readings"])
def test_stuck_readings_are_exactly_the_generators_stuck_spans(built, district, name: str) -> None:
    model = BY_NAME[name]
    spans = [s for s in district.dataset.truth()["citymgmt"]["dirty"]["stuck_sensor"]["spans"]
             if s["table"] == model.entity.replace("__", ".", 1)]
    assert spans
    flagged = built.execute(
        f"select {model.series_by}, min(measured_at), max(measured_at), count(*), min(value_unchanged_since) "
        f"from {model.table} where is_stuck group by {model.series_by}, value_unchanged_since order by all").fetchall()
    expected = sorted((s["sensor"], datetime.fromisoformat(s["from"]), datetime.fromisoformat(s["to"]), s["readings"])
                      for s in spans)
    assert [row[:4] for row in flagged] == expected
    assert all(row[4] == row[1] for row in flagged)  # the run's first reading is where its value began


def test_exceedances_match_the_generators_truth_with_every_version_revealed(horizon: Horizon, at_horizon) -> None:
    truth = horizon.truth["exceedances"]
    for kind, name, flag in (("dust", "stg_citymgmt__dust_readings", "is_exceedance"),
                             ("dust_severe", "stg_citymgmt__dust_readings", "is_severe"),
                             ("fume", "stg_citymgmt__fume_readings", "is_exceedance"),
                             ("diesel_nox", "stg_citymgmt__diesel_obd", "is_exceedance")):
        model = BY_NAME[name]
        # what marts count: exceedances of readings neither stuck nor spiking (the planted spikes exceed too)
        count, sensors = at_horizon.execute(
            f"select count(*), list(distinct {model.series_by} order by {model.series_by}) from {model.table} "
            f"where {flag} and not is_spike {'and not is_stuck' if model.stuck else ''}").fetchone()
        assert count == truth[kind]["count"] > 0, kind
        assert sensors == sorted(truth[kind]["sensors"]), kind


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_planted_spikes_are_flagged_and_their_neighbours_are_not(horizon: Horizon, at_horizon,
                                                                  model: Model) -> None:
    live, _ = latest_live(Lake(horizon.home / "lake").read("raw", PLATFORM, model.entity).to_pylist(),
                          model.raw_key)
    expected = expected_flags(model, live)
    assert expected["is_spike"] == {horizon.planted[model.name]}
    assert staged_flags(at_horizon, model)["is_spike"] == expected["is_spike"]


def test_a_stuck_span_cut_by_a_batch_is_flagged_once_the_next_batch_completes_it(replay: Replay,
                                                                                  at_horizon) -> None:
    assert set(replay.straddling) == {"dust__reading", "fume__reading"}
    assert replay.flagged_after_first == {"dust__reading": 0, "fume__reading": 0}  # half a span is not stuck
    with duckdb.connect(str(paths(Settings(home=replay.home)).warehouse), read_only=True) as connection:
        for entity, spans in replay.straddling.items():
            model = next(m for m in MODELS if m.entity == entity)
            for span in spans:
                flagged = connection.execute(
                    f"select count(*) from {model.table} where is_stuck and {model.series_by} = ? "
                    f"and measured_at between ? and ?",
                    [span["sensor"], _instant(span["from"]), _instant(span["to"])]).fetchone()[0]
                assert flagged == span["readings"], (entity, span)


def test_a_late_reading_inside_an_offline_gap_re_flags_the_reading_after_it(replay: Replay, horizon: Horizon) -> None:
    assert replay.after_gap_before_filler == {"dust__reading": True, "traffic__occupancy": True}
    with duckdb.connect(str(paths(Settings(home=replay.home)).warehouse), read_only=True) as connection:
        for entity, (filler, after) in horizon.fillers.items():
            model = next(m for m in MODELS if m.entity == entity)
            flagged, gap = connection.execute(
                f"select is_after_gap, gap_before_minutes from {model.table} where {model.key} = ?",
                [after]).fetchone()
            interval = 5 if entity == "dust__reading" else 15
            assert (flagged, gap) == (False, interval), entity  # the filler is its previous neighbour now
            assert connection.execute(f"select gap_before_minutes > {interval} from {model.table} "
                                      f"where {model.key} = ?", [filler]).fetchone()[0], entity


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_incremental_builds_of_new_batches_only_equal_a_full_build(replay: Replay, horizon: Horizon,
                                                                   model: Model) -> None:
    assert replay.tombstoned > 0
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'Asia/Shanghai'")
    connection.execute(f"attach '{paths(Settings(home=replay.home)).warehouse}' as replayed (read_only)")
    connection.execute(f"attach '{paths(Settings(home=horizon.home)).warehouse}' as whole (read_only)")
    columns = "* exclude (batch_id, ingested_at)"  # the replay landed the same versions in batches of its own
    counts = connection.execute(
        f"select (select count(*) from replayed.{model.table}), (select count(*) from whole.{model.table})").fetchone()
    assert counts[0] == counts[1] > 100
    for a, b in (("replayed", "whole"), ("whole", "replayed")):
        differ = connection.execute(
            f"select count(*) from (select {columns} from {a}.{model.table} "
            f"except all select {columns} from {b}.{model.table})").fetchone()[0]
        assert differ == 0, f"{differ} rows of {a}.{model.table} are not in {b}"
    connection.close()
