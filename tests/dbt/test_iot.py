"""The sensors' side (models/intermediate/iot, models/marts/iot): exceedances and daily figures per domain, street
and day.

- Against the generator's truth: the lake cut to what the first ingestion landed of the city-management platform
  (the district's clock at the end of the generated span, where the truth's ``count_at_end`` and
  ``sensors_at_end`` are taken), built: the exceedance readings and sensors per kind equal the truth's.
- Against a recomputation in Python from the staged readings of the session's warehouse (``built``): every row of
  iot_domain_daily and every exceedance episode, by the rules the models document.
- Incrementally: the cut lake built, then the second ingestion and a batch of late data (a deleted exceedance
  and a correction under the threshold days back, a lot's capacity halved, a late dust reading just after the
  start of an offline gap) landed and built again: the iot models equal a full build of the same lake.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest

from connectors.citymgmt.schema import TABLES
from gridlake.lake import Lake
from gridlake.reference import resolve_street
from gridlake.settings import Settings, get_settings
from gridlake.transform import paths, run_dbt

BEIJING = ZoneInfo("Asia/Shanghai")
PLATFORM = "citymgmt"
SELECT = "+iot_domain_daily"
EPISODE_GAP = timedelta(minutes=30)  # macros/iot_readings.sql, iot_episode_gap_minutes
THRESHOLD_DOMAINS = {"road_dust", "cooking_fume", "static_traffic", "heavy_diesel"}
STUCK_DOMAINS = {"road_dust", "cooking_fume"}
POSITION_DOMAINS = {"sanitation_vehicle", "personnel", "heavy_diesel"}
OFFLINE_GAP_DOMAINS = {"road_dust", "static_traffic"}  # macros/offline_gaps.sql
KIND_DOMAIN = {"dust": "road_dust", "dust_severe": "road_dust", "fume": "cooking_fume",
               "diesel_nox": "heavy_diesel", "parking_saturation": "static_traffic"}
IOT_MODELS = ("intermediate.int_sensor_days_aggregated", "intermediate.int_sensor_exceedances",
              "marts.iot_domain_daily")


# --- the staged readings, recomputed in Python --------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    domain: str
    sensor: str
    place: str | None
    reading_id: str
    at: datetime
    spike: bool
    stuck: bool
    over: bool
    severe: bool
    active: bool
    value: float | None
    fix_street: str | None
    after_gap: bool = False  # staging's is_after_gap (dust and parking; fume's gaps are closed kitchens too)

    @property
    def day(self) -> date:
        return self.at.astimezone(BEIJING).date()

    @property
    def valid(self) -> bool:
        return not self.spike and not self.stuck


def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = connection.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def staged_readings(connection: duckdb.DuckDBPyConnection, settings: Settings) -> list[Reading]:
    """Every staged reading of the seven domains, its exceedance decided here from its value and the settings
    (staging's spike and stuck flags taken as they are: test_staging_citymgmt_readings checks them)."""
    t = settings.thresholds
    out: list[Reading] = []

    def over(value: Any, limit: float) -> bool:
        return value is not None and value > Decimal(str(limit))

    for r in _rows(connection, "select * from staging.stg_citymgmt__dust_readings"):
        out.append(Reading("road_dust", r["sensor_id"], r["road_id"], str(r["dust_reading_id"]), r["measured_at"],
                           r["is_spike"], r["is_stuck"], over(r["dust_load_g_m2"], t.dust_load_g_m2),
                           over(r["dust_load_g_m2"], t.dust_load_severe_g_m2), False,
                           float(r["dust_load_g_m2"]), None, r["is_after_gap"]))
    for r in _rows(connection, "select * from staging.stg_citymgmt__fume_readings"):
        out.append(Reading("cooking_fume", r["restaurant_id"], r["restaurant_id"], str(r["fume_reading_id"]),
                           r["measured_at"], r["is_spike"], r["is_stuck"],
                           over(r["concentration_mg_m3"], t.fume_mg_m3), False, False,
                           float(r["concentration_mg_m3"]), None))
    for r in _rows(connection, "select * from staging.stg_citymgmt__garbage_collections"):
        out.append(Reading("garbage_sorting", r["station_id"], r["station_id"], str(r["collection_id"]),
                           r["collected_at"], r["is_spike"], False, False, False, False, None, None))
    for r in _rows(connection, "select * from staging.stg_citymgmt__vehicle_positions"):
        out.append(Reading("sanitation_vehicle", r["vehicle_id"], r["vehicle_id"], str(r["vehicle_position_id"]),
                           r["recorded_at"], r["is_spike"], False, False, False, bool(r["working"]), None, None))
    for r in _rows(connection, "select * from staging.stg_citymgmt__staff_positions"):
        out.append(Reading("personnel", r["worker_id"], r["worker_id"], str(r["staff_position_id"]),
                           r["recorded_at"], r["is_spike"], False, False, False, bool(r["on_duty"]), None, None))
    lots = _rows(connection, "select * from staging.stg_citymgmt__parking_lots")
    capacity = {r["lot_id"]: r["capacity"] for r in lots}
    for r in _rows(connection, "select * from staging.stg_citymgmt__parking_occupancy"):
        spaces = capacity.get(r["lot_id"])
        saturated = bool(spaces) and r["occupied"] is not None and r["occupied"] > t.parking_saturation * spaces
        out.append(Reading("static_traffic", r["lot_id"], r["lot_id"], str(r["occupancy_id"]), r["recorded_at"],
                           r["is_spike"], False, saturated, False, False,
                           r["occupied"] / spaces if spaces else None, None, r["is_after_gap"]))
    located = dict(connection.execute("select obd_id, street_code from intermediate.int_obd_fixes_located").fetchall())
    for r in _rows(connection, "select * from staging.stg_citymgmt__diesel_obd"):
        at_speed = over(r["nox_ppm"], t.diesel_nox_ppm) and over(r["speed_kmh"], t.diesel_min_speed_kmh)
        out.append(Reading("heavy_diesel", r["vin_hash"], None, str(r["obd_id"]), r["recorded_at"], r["is_spike"],
                           False, at_speed, False, False, float(r["nox_ppm"]), located[r["obd_id"]]))
    return [reading for reading in out if reading.sensor is not None]


def episodes(readings: list[Reading]) -> list[dict[str, Any]]:
    """The exceedance episodes: a sensor's valid exceeding readings of a kind, a new one after a lapse of more
    than 30 minutes."""
    series: dict[tuple[str, str], list[Reading]] = defaultdict(list)
    for r in readings:
        if r.valid and r.over:
            kind = {"road_dust": "dust", "cooking_fume": "fume", "heavy_diesel": "diesel_nox",
                    "static_traffic": "parking_saturation"}[r.domain]
            series[(kind, r.sensor)].append(r)
            if r.severe:
                series[("dust_severe", r.sensor)].append(r)
    out = []
    for (kind, sensor), rows in series.items():
        rows.sort(key=lambda r: (r.at, r.reading_id))
        start = 0
        for end in range(1, len(rows) + 1):
            if end == len(rows) or rows[end].at - rows[end - 1].at > EPISODE_GAP:
                run = rows[start:end]
                out.append({"kind": kind, "sensor": sensor, "first": run[0], "count": len(run),
                            "peak": max(r.value for r in run)})
                start = end
    return out


def expected_daily(connection: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, dict[str, Any]]:
    """iot_domain_daily recomputed: domain_day_key → figures."""
    readings = staged_readings(connection, settings)
    places = {(p["domain_code"], p["place_id"]): p["street_code"]
              for p in _rows(connection, "select * from intermediate.int_sensor_places_resolved")}
    registered: dict[tuple[str, str | None], int] = defaultdict(int)
    for (domain, _), street in places.items():
        registered[(domain, street)] += 1

    def street_of(r: Reading) -> str | None:
        return r.fix_street if r.domain == "heavy_diesel" else places.get((r.domain, r.place))

    cells: dict[tuple[str, str | None, date], dict[str, Any]] = {}

    def cell(domain: str, street: str | None, day: date) -> dict[str, Any]:
        return cells.setdefault((domain, street, day), defaultdict(int) | {
            "sensors": set(), "stuck_sensors": set(), "places": set(), "active": set()})

    for r in readings:
        c = cell(r.domain, street_of(r), r.day)
        c["readings"] += 1
        c["valid_readings"] += r.valid
        c["spike_readings"] += r.spike
        c["stuck_readings"] += r.stuck
        c["exceedance_readings"] += r.valid and r.over
        c["severe_readings"] += r.valid and r.severe
        c["sensors"].add(r.sensor)
        if r.stuck:
            c["stuck_sensors"].add(r.sensor)
        if (r.domain, r.place) in places:
            c["places"].add(r.place)
        if r.active:
            c["active"].add(r.sensor)
    # an offline gap counts on the day of the reading before it (the sensor's previous staged reading)
    series: dict[tuple[str, str], list[Reading]] = defaultdict(list)
    for r in readings:
        if r.domain in OFFLINE_GAP_DOMAINS:
            series[(r.domain, r.sensor)].append(r)
    for rows in series.values():
        rows.sort(key=lambda r: (r.at, int(r.reading_id)))
        for before, r in zip(rows, rows[1:]):
            if r.after_gap:
                cell(r.domain, street_of(before), before.day)["offline_gaps"] += 1
    for episode in episodes(readings):
        first = episode["first"]
        c = cell(first.domain, street_of(first), first.day)
        c["severe_episodes" if episode["kind"] == "dust_severe" else "exceedance_episodes"] += 1
    spans: dict[str, tuple[date, date]] = {}
    for r in readings:
        low, high = spans.get(r.domain, (r.day, r.day))
        spans[r.domain] = (min(low, r.day), max(high, r.day))
    for (domain, street), _ in registered.items():
        if domain in spans:
            day, last = spans[domain]
            while day <= last:
                cell(domain, street, day)
                day += timedelta(days=1)

    out = {}
    for (domain, street, day), c in cells.items():
        key = f"{domain}|{street or 'unresolved'}|{day.isoformat()}"
        count = registered.get((domain, street), 0)
        out[key] = {
            "readings": c["readings"], "valid_readings": c["valid_readings"], "spike_readings": c["spike_readings"],
            "stuck_readings": c["stuck_readings"] if domain in STUCK_DOMAINS else None,
            "exceedance_readings": c["exceedance_readings"] if domain in THRESHOLD_DOMAINS else None,
            "exceedance_episodes": c["exceedance_episodes"] if domain in THRESHOLD_DOMAINS else None,
            "severe_readings": c["severe_readings"] if domain == "road_dust" else None,
            "severe_episodes": c["severe_episodes"] if domain == "road_dust" else None,
            "sensors_reporting": len(c["sensors"]),
            "stuck_sensors": len(c["stuck_sensors"]) if domain in STUCK_DOMAINS else None,
            "sensors_registered": None if domain == "heavy_diesel" else count,
            "registered_sensors_reporting": None if domain == "heavy_diesel" else len(c["places"]),
            "coverage_rate": len(c["places"]) / count if domain != "heavy_diesel" and count else None,
            "gps_fixes": c["readings"] if domain in POSITION_DOMAINS else None,
            "units_active": len(c["active"]) if domain in ("sanitation_vehicle", "personnel") else None,
            "offline_gaps": c["offline_gaps"] if domain in OFFLINE_GAP_DOMAINS else None,
        }
    return out


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-9
    return a == b


# --- fixtures: the lake as the first ingestion left it, then late data ----------------------------------------------

def _build(home: Path, *extra: str) -> None:
    # models and the seeds they read; their data tests run in the session's whole build
    run_dbt(["build", "--select", SELECT, "--resource-type", "seed", "--resource-type", "model", *extra],
            settings=Settings(home=home))
    get_settings.cache_clear()


def _connect(home: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(paths(Settings(home=home)).warehouse), read_only=True)
    connection.execute("set TimeZone = 'Asia/Shanghai'")
    return connection


def _cut_to_first_ingestion(lake: Lake) -> int:
    """Leave of each city-management entity only its first batch (a load is one batch: connectors/citymgmt),
    i.e. what the ingestion at the clock's first "now" (the end of the generated span) landed; returns the
    batches taken away. The other platforms stay whole: no iot figure reads them."""
    removed = 0
    for entity_dir in sorted((lake.root / "_log" / PLATFORM).iterdir()):
        for manifest in lake.manifests(PLATFORM, entity_dir.name)[1:]:
            for item in manifest.files:
                (lake.root / item["path"]).unlink()
            (entity_dir / f"{manifest.seq:010d}.json").unlink()
            removed += 1
    return removed


def _land(lake: Lake, entity: str, rows: list[dict[str, Any]]) -> None:
    schema = TABLES[entity.replace("__", ".", 1)].schema
    with lake.begin(PLATFORM, entity, schema) as load:
        load.write(pa.Table.from_pylist(rows, schema=pa.schema(list(schema))))
        load.commit(cursor_to=None, rows_read=len(rows))


def _latest(lake: Lake, entity: str, key: str) -> dict[Any, dict[str, Any]]:
    latest: dict[Any, dict[str, Any]] = {}
    for row in lake.read("raw", PLATFORM, entity).to_pylist():
        known = latest.get(row[key])
        if known is None or (row["updated_at"], row["_ingested_at"]) > (known["updated_at"], known["_ingested_at"]):
            latest[row[key]] = row
    return {k: row for k, row in latest.items() if row["deleted_at"] is None}


@dataclass
class Late:
    deleted_dust: dict[str, Any]
    corrected_fume: dict[str, Any]
    halved_lot: dict[str, Any]
    gap_filler: dict[str, Any]


def _plant_late_data(lake: Lake, at: datetime, settings: Settings, gaps: list[dict[str, Any]]) -> Late:
    """A batch of late versions of old rows: a dust exceedance of the earliest exceeding day deleted, a fume reading
    inside an episode (not its first) corrected under the limit, a lot's capacity halved, and a new dust reading
    five minutes into the first planted offline gap the lake holds (the gap now begins at it)."""
    t = settings.thresholds
    dust = sorted((r for r in _latest(lake, "dust__reading", "reading_id").values()
                   if r["dust_load_g_m2"] > Decimal(str(t.dust_load_g_m2))), key=lambda r: r["measured_at"])
    fume = sorted((r for r in _latest(lake, "fume__reading", "reading_id").values()
                   if r["concentration_mg_m3"] > Decimal(str(t.fume_mg_m3))),
                  key=lambda r: (r["restaurant_id"], r["measured_at"]))
    inside = next(b for a, b in zip(fume, fume[1:]) if a["restaurant_id"] == b["restaurant_id"]
                  and b["measured_at"] - a["measured_at"] <= timedelta(minutes=10))
    lot = sorted(_latest(lake, "traffic__parking_lot", "lot_id").values(), key=lambda r: r["lot_id"])[0]
    readings = _latest(lake, "dust__reading", "reading_id")
    at_of = {(r["sensor_id"], r["measured_at"]): r for r in readings.values()}
    gap = next(g for g in sorted(gaps, key=lambda g: g["from"])
               if g["table"] == "dust.reading" and (g["sensor"], datetime.fromisoformat(g["to"])) in at_of)
    gap_from, gap_to = (at_of[(gap["sensor"], datetime.fromisoformat(gap[end]))] for end in ("from", "to"))
    # a value of neither neighbour (no run of one value across the gap)
    filler_load = next(gap_from["dust_load_g_m2"] + step for step in (Decimal("0.001"), Decimal("0.002"))
                       if gap_from["dust_load_g_m2"] + step != gap_to["dust_load_g_m2"])
    late = Late(
        deleted_dust=dict(dust[0], updated_at=at, deleted_at=at),
        corrected_fume=dict(inside, updated_at=at,
                            concentration_mg_m3=Decimal(str(t.fume_mg_m3)) - Decimal("0.100")),
        halved_lot=dict(lot, updated_at=at, capacity=max(1, lot["capacity"] // 2)),
        gap_filler=dict(gap_from, reading_id=max(readings) + 1_000_000, updated_at=at,
                        measured_at=gap_from["measured_at"] + timedelta(minutes=5),
                        dust_load_g_m2=filler_load),
    )
    _land(lake, "dust__reading", [late.deleted_dust])
    _land(lake, "fume__reading", [late.corrected_fume])
    _land(lake, "traffic__parking_lot", [late.halved_lot])
    _land(lake, "dust__reading", [late.gap_filler])
    return late


@dataclass
class Replay:
    first: dict[str, Any]  # what the build of the first ingestion held, queried before more landed
    incremental: Path  # built on the first ingestion, then incrementally on the rest and the late batch
    full: Path  # the same lake, built from scratch
    late: Late
    removed: int


@pytest.fixture(scope="module")
def replay(lake_home: Path, settings: Settings, district, tmp_path_factory: pytest.TempPathFactory) -> Replay:
    source = Lake(lake_home / "lake")
    incremental = tmp_path_factory.mktemp("iot-incremental")
    shutil.copytree(source.root, incremental / "lake")
    lake = Lake(incremental / "lake")
    removed = _cut_to_first_ingestion(lake)
    _build(incremental)
    with _connect(incremental) as connection:
        first = {
            "readings": dict(connection.execute(
                "select exceedance_kind, sum(exceeding_reading_count) from intermediate.int_sensor_exceedances "
                "group by 1").fetchall()),
            "sensors": dict(connection.execute(
                "select exceedance_kind, list(distinct sensor_id order by sensor_id) "
                "from intermediate.int_sensor_exceedances group by 1").fetchall()),
            "mart": dict(connection.execute(
                "select domain_code, [sum(exceedance_readings), sum(severe_readings)] from marts.iot_domain_daily "
                "group by 1").fetchall()),
        }
    shutil.copytree(source.root, lake.root, dirs_exist_ok=True)  # the second ingestion lands
    newest = max(row["updated_at"] for row in source.read("raw", PLATFORM, "dust__reading").to_pylist())
    late = _plant_late_data(lake, newest + timedelta(hours=1), settings,
                            district.dataset.truth()["citymgmt"]["dirty"]["offline_gap"]["spans"])
    _build(incremental)
    full = tmp_path_factory.mktemp("iot-full")
    shutil.copytree(lake.root, full / "lake")
    _build(full)
    return Replay(first, incremental, full, late, removed)


# --- tests -----------------------------------------------------------------------------------------------------------

def test_exceedances_at_the_first_ingestion_equal_the_generators_truth(replay: Replay, district) -> None:
    """What the lake held after the ingestion at the end of the generated span: the truth's count_at_end."""
    assert replay.removed > 0
    truth = district.dataset.truth()["citymgmt"]["exceedances"]
    assert set(truth) == set(KIND_DOMAIN)
    for kind in KIND_DOMAIN:
        assert replay.first["readings"].get(kind, 0) == truth[kind]["count_at_end"] > 0, kind
        assert replay.first["sensors"].get(kind, []) == sorted(truth[kind]["sensors_at_end"]), kind
    # the mart's per-reading figures add up to the same per domain
    for domain, (readings, severe) in replay.first["mart"].items():
        kinds = [kind for kind, d in KIND_DOMAIN.items() if d == domain and kind != "dust_severe"]
        assert readings == (sum(truth[kind]["count_at_end"] for kind in kinds) if kinds else None), domain
        assert severe == (truth["dust_severe"]["count_at_end"] if domain == "road_dust" else None), domain


def test_iot_domain_daily_equals_a_recomputation_from_the_staged_readings(built, settings: Settings) -> None:
    expected = expected_daily(built, settings)
    got = {row["domain_day_key"]: row for row in _rows(built, "select * from marts.iot_domain_daily")}
    assert got.keys() == expected.keys()
    assert {key.split("|")[0] for key in got} == {"road_dust", "cooking_fume", "garbage_sorting",
                                                   "sanitation_vehicle", "personnel", "static_traffic",
                                                   "heavy_diesel"}
    for key, want in expected.items():
        for column, value in want.items():
            assert _close(got[key][column], value), (key, column, got[key][column], value)
    # the district has exceedances, stuck sensors, streets not reporting every day
    totals = built.execute(
        "select sum(exceedance_readings), sum(exceedance_episodes), sum(stuck_sensors), "
        "count(*) filter (where coverage_rate < 1) from marts.iot_domain_daily").fetchone()
    assert all(total > 0 for total in totals)


def test_exceedance_episodes_equal_a_recomputation(built, settings: Settings) -> None:
    want = {(e["kind"], e["sensor"], e["first"].at): (e["count"], e["first"].reading_id) for e in
            episodes(staged_readings(built, settings))}
    got = {(kind, sensor, started): (count, first) for kind, sensor, started, count, first in built.execute(
        "select exceedance_kind, sensor_id, started_at, exceeding_reading_count, first_reading_id "
        "from intermediate.int_sensor_exceedances").fetchall()}
    assert got == want
    # an episode is fewer events than readings where exceedances last (dust episodes of hours, full lots)
    per_kind = built.execute("select exceedance_kind, count(*), sum(exceeding_reading_count) "
                             "from intermediate.int_sensor_exceedances group by 1").fetchall()
    assert any(events < readings for _, events, readings in per_kind)


def test_places_resolve_the_served_street(built) -> None:
    """A register row whose served street resolves (gridlake.reference) is in that street; restaurants carry
    their enterprise only with a valid uscc."""
    rows = _rows(built, """
        select places.domain_code, places.street_code, places.street_located_by, served.street_code_as_served
        from intermediate.int_sensor_places_resolved as places
        inner join (
            select 'road_dust' as domain_code, road_id as place_id, street_code_as_served
            from staging.stg_citymgmt__roads
            union all select 'garbage_sorting', station_id, street_code_as_served
            from staging.stg_citymgmt__garbage_stations
            union all select 'sanitation_vehicle', vehicle_id, street_code_as_served from staging.stg_citymgmt__vehicles
            union all select 'personnel', worker_id, street_code_as_served from staging.stg_citymgmt__workers
            union all select 'static_traffic', lot_id, street_code_as_served from staging.stg_citymgmt__parking_lots
        ) as served using (domain_code, place_id)""")
    assert len(rows) > 20
    for row in rows:
        resolved = resolve_street(row["street_code_as_served"])
        if resolved is not None:
            assert row["street_code"] == resolved, row
    fume = built.execute("select count(*), count(uscc) from intermediate.int_sensor_places_resolved "
                         "where domain_code = 'cooking_fume'").fetchone()
    assert fume[0] > fume[1] > 0  # some restaurants' codes are dirty beyond repair


def test_incremental_builds_with_late_data_equal_a_full_build(replay: Replay) -> None:
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'Asia/Shanghai'")
    connection.execute(f"attach '{paths(Settings(home=replay.incremental)).warehouse}' as incremental (read_only)")
    connection.execute(f"attach '{paths(Settings(home=replay.full)).warehouse}' as whole (read_only)")
    for table in IOT_MODELS:
        counts = connection.execute(
            f"select (select count(*) from incremental.{table}), (select count(*) from whole.{table})").fetchone()
        assert counts[0] == counts[1] > 0, table
        for a, b in (("incremental", "whole"), ("whole", "incremental")):
            differ = connection.execute(
                f"select count(*) from (select * from {a}.{table} except all select * from {b}.{table})").fetchone()[0]
            assert differ == 0, f"{differ} rows of {a}.{table} are not in {b}"
    # the late versions reached the figures: the deleted reading and the corrected one are gone from them
    dust, fume = replay.late.deleted_dust, replay.late.corrected_fume
    for reading_id, table in ((dust["reading_id"], "stg_citymgmt__dust_readings"),
                              (fume["reading_id"], "stg_citymgmt__fume_readings")):
        key = "dust_reading_id" if "dust" in table else "fume_reading_id"
        held = connection.execute(
            f"select count(*) from incremental.staging.{table} where {key} = ? and is_exceedance",
            [reading_id]).fetchone()[0]
        assert held == 0
    filler = replay.late.gap_filler
    assert connection.execute(
        "select gap_before_minutes from incremental.staging.stg_citymgmt__dust_readings where dust_reading_id = ?",
        [filler["reading_id"]]).fetchone() == (5,)
    lot = connection.execute(
        "select max(capacity) from incremental.intermediate.int_sensor_days_aggregated where sensor_id = ?",
        [replay.late.halved_lot["lot_id"]]).fetchone()[0]
    assert lot == replay.late.halved_lot["capacity"]
    connection.close()
