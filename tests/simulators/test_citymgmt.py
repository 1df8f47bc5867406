"""The city-management fusion platform simulator, tested as a client built from citymgmt.md sees it: a
PostgreSQL database reached with the read-only login, whose rows appear as the shared clock moves.

The module generates one small district, serves it, and moves the clock forward only: the tests run in
file order (checks at the span's end first, then the incremental behaviour, then everything revealed).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from gridlake import uscc
from gridlake.settings import get_settings
from simulators.citymgmt.generate import generate
from simulators.citymgmt.schema import READER_PASSWORD
from simulators.citymgmt.server import CitymgmtDatabase
from simulators.clock import SimClock
from simulators.generate import GenContext
from simulators.scenario import TZ
from simulators.world import SERVICE_GROUP_DOMAIN

# The tables and columns of citymgmt.md (besides updated_at and deleted_at), primary key first.
SPEC: dict[str, tuple[str, ...]] = {
    "dust.road": ("road_id", "name", "street_code", "length_m", "grade"),
    "dust.reading": ("reading_id", "road_id", "sensor_id", "measured_at", "dust_load_g_m2", "pm10_ug_m3"),
    "fume.restaurant": (
        "restaurant_id",
        "name",
        "uscc",
        "street_code",
        "community_code",
        "address",
        "lat",
        "lon",
        "seats",
    ),
    "fume.reading": (
        "reading_id",
        "restaurant_id",
        "measured_at",
        "concentration_mg_m3",
        "purifier_on",
        "fan_on",
    ),
    "garbage.station": ("station_id", "name", "kind", "street_code", "community_code", "lat", "lon"),
    "garbage.collection": (
        "collection_id",
        "station_id",
        "truck_plate",
        "collected_at",
        "waste_type",
        "weight_kg",
        "mixed",
    ),
    "vehicle.vehicle": ("vehicle_id", "plate", "kind", "street_code"),
    "vehicle.position": ("position_id", "vehicle_id", "recorded_at", "lat", "lon", "speed_kmh", "working"),
    "staff.worker": ("worker_id", "name", "street_code", "role"),
    "staff.position": ("position_id", "worker_id", "recorded_at", "lat", "lon", "on_duty"),
    "grid.cell": ("grid_code", "street_code", "community_code", "area_m2", "centroid_lat", "centroid_lon"),
    "grid.case": (
        "case_id",
        "origin",
        "hotline_request_id",
        "kind",
        "category",
        "subcategory",
        "description",
        "street_code",
        "community_code",
        "grid_code",
        "lat",
        "lon",
        "reported_at",
        "status",
        "responsible_unit_code",
    ),
    "grid.case_step": ("step_id", "case_id", "step", "unit_code", "occurred_at", "note"),
    "traffic.parking_lot": ("lot_id", "name", "street_code", "capacity", "lat", "lon"),
    "traffic.occupancy": ("occupancy_id", "lot_id", "recorded_at", "occupied"),
    "traffic.violation": ("violation_id", "plate_hash", "street_code", "lat", "lon", "observed_at", "source"),
    "diesel.obd": ("obd_id", "vin_hash", "recorded_at", "lat", "lon", "nox_ppm", "speed_kmh"),
}
PK = {name: columns[0] for name, columns in SPEC.items()}
# Each reading table's own time (the moment measured), for the correction and clock rules.
OWN_TIME = {
    "dust.reading": "measured_at",
    "fume.reading": "measured_at",
    "traffic.occupancy": "recorded_at",
    "garbage.collection": "collected_at",
    "diesel.obd": "recorded_at",
}
LOOKBACK = timedelta(minutes=10)  # citymgmt.md: an incremental load looks back at least 10 minutes
# The reader's password the module serves with (serve.py passes SimSettings.citymgmt_password): not the
# default, and with characters a URI must escape.
PASSWORD = "not secret:p@ss/w%rd"


@dataclass
class Served:
    ctx: GenContext
    truth: dict[str, Any]
    db: CitymgmtDatabase
    clock: SimClock
    at_end: dict[str, dict[Any, tuple]]  # table → key → (updated_at, deleted_at, row) seen at ctx.end

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.db.uri)


@pytest.fixture(scope="module")
def served(make_context: Callable[..., GenContext]) -> Iterator[Served]:
    ctx = make_context(name="citymgmt")
    assert "hotline_orders" not in ctx.shared  # generated alone: fewer links, and still complete
    result = generate(ctx)
    db = CitymgmtDatabase(ctx.dataset, reader_password=PASSWORD).start()
    try:
        clock = SimClock(ctx.end)
        clock.subscribe(db.on_clock)
        with psycopg.connect(db.uri) as conn:
            at_end = {name: _rows_by_key(conn, name) for name in OWN_TIME | {"traffic.violation": None}}
        yield Served(ctx=ctx, truth=result.truth, db=db, clock=clock, at_end=at_end)
    finally:
        db.stop()


def _rows_by_key(conn: psycopg.Connection, name: str) -> dict[Any, tuple]:
    rows = conn.execute(f"select {PK[name]}, updated_at, deleted_at, * from {name}").fetchall()
    return {row[0]: (row[1], row[2], row[3:]) for row in rows}


def _at_end(served: Served) -> None:
    if served.clock.now() != served.ctx.end:
        pytest.skip("the clock has moved past the span's end (run the module in file order)")


# --- the database as citymgmt.md describes it -----------------------------------------------------------


def test_every_table_has_the_spec_columns_key_and_updated_at_index(served: Served) -> None:
    with served.connect() as conn:
        for name, declared in SPEC.items():
            schema, table = name.split(".")
            columns = conn.execute(
                "select column_name, is_nullable, data_type from information_schema.columns "
                "where table_schema = %s and table_name = %s",
                (schema, table),
            ).fetchall()
            assert {c[0] for c in columns} == set(declared) | {"updated_at", "deleted_at"}, name
            kinds = {c[0]: (c[1], c[2]) for c in columns}
            assert kinds["updated_at"] == ("NO", "timestamp with time zone"), name
            assert kinds["deleted_at"] == ("YES", "timestamp with time zone"), name
            key = conn.execute(
                "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
                "and a.attnum = any(i.indkey) where i.indrelid = %s::regclass and i.indisprimary",
                (name,),
            ).fetchall()
            assert [k[0] for k in key] == [PK[name]], name
            indexes = conn.execute(
                "select indexdef from pg_indexes where schemaname = %s and tablename = %s", (schema, table)
            ).fetchall()
            assert any(re.search(r"\(updated_at\)$", d[0]) for d in indexes), (
                f"{name}: no index on updated_at"
            )


def test_reader_is_read_only_and_cannot_see_the_hidden_future(served: Served) -> None:
    with served.connect() as conn:
        with pytest.raises((psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
            conn.execute("delete from dust.reading")
        conn.rollback()
        conn.execute("set transaction read write")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update grid.case set status = 'closed'")
        conn.rollback()
        conn.execute("set transaction read write")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table public.mine (x int)")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from _sim.dust__reading")
        conn.rollback()
        hidden = conn.execute("select count(*) from information_schema.tables where table_schema = '_sim'")
        assert hidden.fetchone()[0] == 0


def _reader(served: Served, *, password: str = PASSWORD, dbname: str = "citymgmt") -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=served.db.port, user="reader", password=password, dbname=dbname
    )


def test_the_reader_has_the_password_it_is_served_with(served: Served) -> None:
    assert psycopg.conninfo.conninfo_to_dict(served.db.uri)["password"] == PASSWORD
    with _reader(served) as conn:
        assert conn.execute("select current_user, current_database()").fetchone() == ("reader", "citymgmt")
    for wrong in (READER_PASSWORD, "not-the-secret"):  # the generated default no longer opens it
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            _reader(served, password=wrong)


def test_the_reader_can_reach_no_other_database(served: Served) -> None:
    for other in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError, match=f'permission denied for database "{other}"'):
            _reader(served, dbname=other)


# --- at the span's end ------------------------------------------------------------------------------------


def test_rows_and_dirty_records_visible_at_the_end_match_the_truth(served: Served) -> None:
    _at_end(served)
    truth = served.truth
    with served.connect() as conn:
        for name, expected in truth["counts_at_end"].items():
            assert conn.execute(f"select count(*) from {name}").fetchone()[0] == expected, name
        assert conn.execute("select max(updated_at) from dust.reading").fetchone()[0] < served.ctx.end
        found = _row_dirt(conn)
        stuck, gaps = _stuck_spans(conn), _gaps(conn)
        steps = _case_anomalies(conn)
        ids_at_end = {kind: _dirty_ids_by_table(conn, kind) for kind in _ROW_RULES}
    for kind, by_table in found.items():
        assert sum(by_table.values()) == truth["dirty"][kind]["count_at_end"], kind
        assert by_table == truth["dirty"][kind]["by_table_at_end"], kind
        assert ids_at_end[kind] == truth["dirty"][kind]["ids_at_end_by_table"], kind
    assert len(stuck) == truth["dirty"]["stuck_sensor"]["count_at_end"]
    assert len(gaps) == truth["dirty"]["offline_gap"]["count_at_end"]
    for kind, cases in steps.items():
        assert len(cases) == truth["dirty"][kind]["count_at_end"], kind


def test_exceedances_visible_at_the_end_match_the_truth(served: Served) -> None:
    """Every threshold of reference.md is crossed by clean readings a client sees at the span's end, the
    fume limit by restaurants besides the planted chains too; the counts are the truth's."""
    _at_end(served)
    truth = served.truth["exceedances"]
    with served.connect() as conn:
        found = _exceedances(conn)
    assert set(found) == set(truth)
    for kind, (count, sensors) in found.items():
        assert count > 0, f"no legitimate {kind} exceedance visible at the end"
        assert (count, sensors) == (truth[kind]["count_at_end"], truth[kind]["sensors_at_end"]), kind
    chains = {chain.restaurant_id for chain in served.ctx.scenario.fume_chains}
    assert set(found["fume"][1]) - chains, "only the planted chains exceed the fume limit"


def test_planted_complaints_are_grid_cases_before_the_end(served: Served) -> None:
    _at_end(served)
    expected = {
        c.grid_case_id: c.request_id for chain in served.ctx.scenario.fume_chains for c in chain.complaints
    }
    with served.connect() as conn:
        rows = conn.execute(
            "select case_id, hotline_request_id from grid.case where case_id = any(%s)", (list(expected),)
        ).fetchall()
    assert dict(rows) == expected


# --- moving the clock -------------------------------------------------------------------------------------


def _recent(conn: psycopg.Connection, name: str, since: datetime) -> dict[Any, datetime]:
    rows = conn.execute(f"select {PK[name]}, updated_at from {name} where updated_at > %s", (since,))
    return dict(rows.fetchall())


def test_late_commits_need_the_look_back(served: Served) -> None:
    """Rows committed late appear with an updated_at older than rows already seen: a load that starts at
    its cursor misses them, a load that looks back 10 minutes (and de-duplicates) does not."""
    moving = [
        name
        for name in SPEC
        if name
        not in (
            "dust.road",
            "fume.restaurant",
            "garbage.station",
            "vehicle.vehicle",
            "staff.worker",
            "grid.cell",
            "traffic.parking_lot",
        )
    ]
    now = served.ctx.end + timedelta(hours=10)  # a busy morning: vehicles, workers and restaurants report
    served.clock.set(now)
    missed_without_lookback: list[tuple[str, Any]] = []
    new_rows = 0
    with served.connect() as conn:
        before = {name: _recent(conn, name, now - timedelta(days=1)) for name in moving}
        for _ in range(6):
            cursors = {
                name: max(rows.values(), default=now - timedelta(days=1)) for name, rows in before.items()
            }
            now = served.clock.advance(timedelta(minutes=5))
            for name in moving:
                after = _recent(conn, name, now - timedelta(days=1))
                arrived = {key: at for key, at in after.items() if before[name].get(key) != at}
                new_rows += len(arrived)
                naive = {key for key, at in after.items() if at > cursors[name]}
                lookback = {key for key, at in after.items() if at > cursors[name] - LOOKBACK}
                assert set(arrived) <= lookback, f"{name}: the look-back missed {set(arrived) - lookback}"
                late = set(arrived) - naive
                assert all(arrived[key] <= cursors[name] for key in late)
                missed_without_lookback += [(name, key) for key in late]
                before[name] = after
    assert new_rows > 100
    assert missed_without_lookback, "no late commit in the window: the test proves nothing"


def test_corrections_and_soft_deletes_arrive_as_updates_of_known_keys(served: Served) -> None:
    served.clock.set(max(served.clock.now(), datetime.fromisoformat(served.truth["sensors_until"])))
    dirty = served.truth["dirty"]
    corrected, deleted = set(dirty["correction"]["ids"]), set(dirty["soft_delete"]["ids"])
    seen_corrections = seen_deletes = 0
    with served.connect() as conn:
        for name, before in served.at_end.items():
            now = _rows_by_key(conn, name)
            for key, (updated, deleted_at, row) in now.items():
                if key not in before or before[key][0] == updated:
                    continue
                old_updated, old_deleted, old_row = before[key]
                assert updated > old_updated and old_deleted is None, (name, key)
                if deleted_at is not None:
                    assert key in deleted and row[:-2] == old_row[:-2], (name, key)
                    seen_deletes += 1
                else:
                    assert key in corrected and row != old_row, (name, key)
                    seen_corrections += 1
    assert seen_corrections and seen_deletes


# --- everything revealed ----------------------------------------------------------------------------------


@pytest.fixture()
def at_horizon(served: Served) -> Served:
    served.clock.set(max(served.clock.now(), served.ctx.horizon))
    return served


def test_all_rows_revealed_at_the_horizon(at_horizon: Served) -> None:
    with at_horizon.connect() as conn:
        for name, expected in at_horizon.truth["counts"].items():
            assert conn.execute(f"select count(*) from {name}").fetchone()[0] == expected, name


def test_planted_fume_chains_are_grid_cases_and_sensor_exceedances(at_horizon: Served) -> None:
    chains = at_horizon.ctx.scenario.fume_chains
    assert chains
    with at_horizon.connect() as conn:
        for chain in chains:
            for complaint in chain.complaints:
                case = conn.execute(
                    "select origin, hotline_request_id, category, street_code, community_code, lat, lon, "
                    "reported_at, status from grid.case where case_id = %s",
                    (complaint.grid_case_id,),
                ).fetchone()
                assert case is not None, complaint.grid_case_id
                assert case[:5] == (
                    "hotline",
                    complaint.request_id,
                    "餐饮油烟",
                    chain.street_code,
                    chain.community_code,
                )
                assert (case[5], case[6]) == (complaint.lat, complaint.lon)
                assert case[7] == complaint.grid_reported_at
                steps = conn.execute(
                    "select step from grid.case_step where case_id = %s order by occurred_at",
                    (complaint.grid_case_id,),
                ).fetchall()
                assert [s[0] for s in steps][:3] == ["collect", "file", "dispatch"]
            days = conn.execute(
                "select (measured_at at time zone 'Asia/Shanghai')::date, count(*) filter "
                "(where concentration_mg_m3 > 1.0), count(*) from fume.reading where restaurant_id = %s "
                "group by 1",
                (chain.restaurant_id,),
            ).fetchall()
            exceeding = {day for day, over, _ in days if over}
            assert exceeding == set(chain.exceed_days), chain.restaurant_id
            evenings = conn.execute(
                "select min(measured_at) from fume.reading "
                "where restaurant_id = %s and concentration_mg_m3 > 1.0 "
                "and (measured_at at time zone 'Asia/Shanghai')::date = %s",
                (chain.restaurant_id, chain.exceed_days[0]),
            ).fetchone()[0]
            assert evenings.astimezone(TZ).hour >= 18
    planted = {c.grid_case_id for chain in chains for c in chain.complaints}
    truth_planted = {
        cid for chain in at_horizon.truth["planted"]["fume_chains"] for cid in chain["grid_case_ids"]
    }
    assert truth_planted == planted
    shared = at_horizon.ctx.shared["grid_cases"]
    assert planted <= set(shared["case_id"].to_pylist())


def test_dirty_records_served_match_the_truth_exactly(at_horizon: Served) -> None:
    dirty = at_horizon.truth["dirty"]
    with at_horizon.connect() as conn:
        found = _row_dirt(conn)
        for kind, by_table in found.items():
            assert by_table == dirty[kind]["by_table"], kind
            assert sum(by_table.values()) == dirty[kind]["count"] > 0, kind
        for kind in ("correction", "soft_delete", "device_clock_ahead", "impossible_value"):
            assert _dirty_ids(conn, kind) == sorted(dirty[kind]["ids"]), kind
        for kind in _ROW_RULES:  # the keys by table (those of two tables overlap)
            assert _dirty_ids_by_table(conn, kind) == dirty[kind]["ids_by_table"], kind

        stuck = _stuck_spans(conn)
        assert stuck == sorted(
            (s["table"], s["sensor"], s["from"], s["to"], s["readings"])
            for s in dirty["stuck_sensor"]["spans"]
        )
        assert {s[0] for s in stuck} == {"dust.reading", "fume.reading"}
        assert not _stuck_spans(conn, tables={"traffic.occupancy": ("lot_id", "recorded_at", "occupied")})
        gaps = _gaps(conn)
        assert gaps == sorted(
            (s["table"], s["sensor"], s["from"], s["to"]) for s in dirty["offline_gap"]["spans"]
        )

        forms = _uscc_forms(conn)
        assert {form: len(ids) for form, ids in forms.items()} == {
            form: n for form, n in dirty["uscc_dirty"]["by_form"].items() if n
        }
        assert sorted(i for ids in forms.values() for i in ids) == sorted(dirty["uscc_dirty"]["ids"])
        assert all(len(ids) for ids in forms.values()) and len(forms) == 5

        missing = {}
        for name, key in (
            ("fume.restaurant", "restaurant_id"),
            ("garbage.station", "station_id"),
            ("grid.case", "case_id"),
            ("traffic.violation", "violation_id"),
        ):
            missing[name] = [
                r[0] for r in conn.execute(f"select {key} from {name} where street_code is null")
            ]
        assert {k: len(v) for k, v in missing.items()} == dirty["street_code_missing"]["by_table"]
        assert sorted(map(str, sum(missing.values(), []))) == sorted(
            map(str, dirty["street_code_missing"]["ids"])
        )

        anomalies = _case_anomalies(conn)
        for kind, cases in anomalies.items():
            assert sorted(cases) == sorted(dirty[kind]["ids"]), kind
            assert cases, kind


def test_exceedances_at_the_horizon_match_the_truth_and_stay_clear_of_dirty_values(at_horizon: Served) -> None:
    truth = at_horizon.truth["exceedances"]
    limits = get_settings().thresholds
    with at_horizon.connect() as conn:
        found = _exceedances(conn)
        for kind, (count, sensors) in found.items():
            assert count >= truth[kind]["count_at_end"] > 0, kind
            assert (count, sensors) == (truth[kind]["count"], truth[kind]["sensors"]), kind
        # Far from the impossible values (999.9 mg/m3, negative loads, speeds over 200 km/h).
        fume = conn.execute(
            f"select min(concentration_mg_m3), max(concentration_mg_m3) from fume.reading "
            f"where {_legitimate('fume.reading')} and concentration_mg_m3 > %s",
            (limits.fume_mg_m3,),
        ).fetchone()
        assert limits.fume_mg_m3 < fume[0] and fume[1] < 3
        dust = conn.execute(
            f"select max(dust_load_g_m2) from dust.reading where {_legitimate('dust.reading')}"
        ).fetchone()[0]
        assert limits.dust_load_severe_g_m2 < dust < 2
        diesel = conn.execute(
            f"select max(speed_kmh), max(nox_ppm) from diesel.obd where {_legitimate('diesel.obd')}"
        ).fetchone()
        assert diesel[0] <= 60 and limits.diesel_nox_ppm < diesel[1] <= 1800


def test_clean_values_stay_in_plausible_ranges(at_horizon: Served) -> None:
    with at_horizon.connect() as conn:
        load = conn.execute(
            "select percentile_cont(array[0.05, 0.95]) within group (order by dust_load_g_m2), "
            "max(dust_load_g_m2) from dust.reading where dust_load_g_m2 >= 0"
        ).fetchone()
        assert 0.03 <= load[0][0] and load[0][1] <= 0.5 and load[1] < 2
        fume = conn.execute(
            "select percentile_cont(array[0.05, 0.95]) within group (order by concentration_mg_m3) "
            "from fume.reading where concentration_mg_m3 < 999"
        ).fetchone()[0]
        assert 0.05 <= fume[0] and fume[1] <= 1.0
        assert (
            conn.execute("select max(speed_kmh) from vehicle.position where speed_kmh <= 200").fetchone()[0]
            <= 60
        )
        over = conn.execute(
            "select count(*) from traffic.occupancy o join traffic.parking_lot l using (lot_id) "
            "where o.occupied > l.capacity or o.occupied < 0"
        ).fetchone()[0]
        assert over == 0
        names = [r[0] for r in conn.execute("select name from staff.worker")]
        assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", name) for name in names)


@pytest.mark.parametrize("seed", [8, 9])
def test_every_threshold_is_crossed_in_a_three_day_span(make_context: Callable[..., GenContext], seed: int) -> None:
    """The smallest span and scale still give the analysis downstream every kind of exceedance."""
    ctx = make_context(name=f"citymgmt-3d-{seed}", seed=seed, days=3)
    truth = generate(ctx).truth["exceedances"]
    chains = {chain.restaurant_id for chain in ctx.scenario.fume_chains}
    with CitymgmtDatabase(ctx.dataset) as db:
        for now, count, sensors in ((ctx.end, "count_at_end", "sensors_at_end"), (ctx.horizon, "count", "sensors")):
            db.on_clock(now)
            with psycopg.connect(db.uri) as conn:
                found = _exceedances(conn)
            for kind, (n, names) in found.items():
                assert n > 0, f"no legitimate {kind} exceedance at {now}"
                assert (n, names) == (truth[kind][count], truth[kind][sensors]), (kind, now)
            assert set(found["fume"][1]) - chains, now


# --- hotline orders become grid cases ----------------------------------------------------------------------


def _contract_orders(ctx: GenContext, n: int = 300) -> pa.Table:
    """Hotline orders as simulators/README.md's contract publishes them, the planted complaints included."""
    world, rng = ctx.world, np.random.default_rng(11)
    grids = world.grids.to_pylist()
    rows = []
    for i in range(n):
        service = world.services[int(rng.integers(len(world.services)))]
        grid = grids[int(rng.integers(len(grids)))]
        at = ctx.start + timedelta(minutes=int(rng.integers(0, ctx.days * 1440)))
        rows.append(
            {
                "request_id": f"{at:%Y%m%d}{i + 1:08d}",
                "service_code": service.service_code,
                "group": service.group,
                "matter_code": service.matter_code,
                "requested_at": at,
                "street_code": grid["street_code"],
                "community_code": grid["community_code"],
                "grid_code": grid["grid_code"],
                "lat": grid["centroid_lat"],
                "lon": grid["centroid_lon"],
                "resolved_at": None,
                "uscc": None,
            }
        )
    for chain in ctx.scenario.fume_chains:
        for c in chain.complaints:
            rows.append(
                {
                    "request_id": c.request_id,
                    "service_code": "102001",
                    "group": "fume",
                    "matter_code": "C01",
                    "requested_at": c.requested_at,
                    "street_code": chain.street_code,
                    "community_code": chain.community_code,
                    "grid_code": None,
                    "lat": c.lat,
                    "lon": c.lon,
                    "resolved_at": None,
                    "uscc": chain.uscc,
                }
            )
    schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("service_code", pa.string()),
            ("group", pa.string()),
            ("matter_code", pa.string()),
            ("requested_at", pa.timestamp("us", tz="Asia/Shanghai")),
            ("street_code", pa.string()),
            ("community_code", pa.string()),
            ("grid_code", pa.string()),
            ("lat", pa.float64()),
            ("lon", pa.float64()),
            ("resolved_at", pa.timestamp("us", tz="Asia/Shanghai")),
            ("uscc", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def test_hotline_orders_with_a_domain_become_hotline_cases(make_context: Callable[..., GenContext]) -> None:
    ctx = make_context(name="citymgmt-hotline", days=3)
    orders = _contract_orders(ctx)
    ctx.shared["hotline_orders"] = orders
    result = generate(ctx)
    by_id = {o["request_id"]: o for o in orders.to_pylist()}
    planted = {c.request_id for chain in ctx.scenario.fume_chains for c in chain.complaints}
    with CitymgmtDatabase(ctx.dataset) as db:
        db.on_clock(ctx.horizon)
        with psycopg.connect(db.uri) as conn:
            cases = conn.execute(
                "select case_id, hotline_request_id, street_code, community_code, reported_at "
                "from grid.case where origin = 'hotline'"
            ).fetchall()
    assert result.truth["hotline"] == {"orders_available": True, "hotline_cases": len(cases) - len(planted)}
    assert len(cases) > len(planted)
    linked = Counter(case[1] for case in cases)
    assert max(linked.values()) == 1
    assert planted <= set(linked)
    for case_id, request_id, street, community, reported in cases:
        order = by_id[request_id]
        assert SERVICE_GROUP_DOMAIN[order["group"]] is not None, request_id
        assert community == order["community_code"]
        assert street in (order["street_code"], None)
        assert reported > order["requested_at"], case_id
        if request_id not in planted:
            assert not case_id[10:].startswith("9")  # the reserved range is the scenario's
    shared = ctx.shared["grid_cases"]
    assert set(shared.column_names) == {
        "case_id",
        "origin",
        "hotline_request_id",
        "category",
        "matter_code",
        "street_code",
        "community_code",
        "grid_code",
        "lat",
        "lon",
        "reported_at",
        "uscc",
    }
    assert shared.schema.field("reported_at").type == pa.timestamp("us", tz="Asia/Shanghai")
    chain_uscc = {c.grid_case_id: chain.uscc for chain in ctx.scenario.fume_chains for c in chain.complaints}
    for row in shared.to_pylist():
        if row["case_id"] in chain_uscc:
            assert row["uscc"] == chain_uscc[row["case_id"]]


# --- how a client finds the dirty records ----------------------------------------------------------------


_OUTSIDE = "not (lat between 39.44 and 41.06 and lon between 115.42 and 117.51) and not (lat = 0 and lon = 0)"
_ROW_RULES: dict[str, dict[str, str]] = {
    "impossible_value": {
        "dust.reading": "dust_load_g_m2 < 0",
        "fume.reading": "concentration_mg_m3 = 999.9",
        "vehicle.position": "speed_kmh > 200",
        "diesel.obd": "speed_kmh > 200",
    },
    "gps_zero": {
        name: "lat = 0 and lon = 0" for name in ("vehicle.position", "staff.position", "diesel.obd")
    },
    "gps_outside_beijing": {name: _OUTSIDE for name in ("vehicle.position", "staff.position", "diesel.obd")},
    "device_clock_ahead": {
        name: f"{OWN_TIME[name]} > updated_at + interval '1 hour'"
        for name in ("dust.reading", "fume.reading", "diesel.obd")
    },
    "correction": {
        name: f"deleted_at is null and updated_at > {OWN_TIME[name]} + interval '30 minutes'"
        for name in ("dust.reading", "fume.reading", "traffic.occupancy", "garbage.collection")
    },
    "soft_delete": {
        name: "deleted_at is not null"
        for name in ("dust.reading", "fume.reading", "garbage.collection", "traffic.violation")
    },
}


def _row_dirt(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for kind, rules in _ROW_RULES.items():
        counts = {
            name: conn.execute(f"select count(*) from {name} where {rule}").fetchone()[0]
            for name, rule in rules.items()
        }
        found[kind] = {name: n for name, n in counts.items() if n}
    return found


def _dirty_ids(conn: psycopg.Connection, kind: str) -> list[int]:
    ids = []
    for name, rule in _ROW_RULES[kind].items():
        ids += [r[0] for r in conn.execute(f"select {PK[name]} from {name} where {rule}")]
    return sorted(ids)


def _dirty_ids_by_table(conn: psycopg.Connection, kind: str) -> dict[str, list[int]]:
    found = {
        name: sorted(r[0] for r in conn.execute(f"select {PK[name]} from {name} where {rule}"))
        for name, rule in _ROW_RULES[kind].items()
    }
    return {name: ids for name, ids in found.items() if ids}


def _legitimate(name: str) -> str:
    """The rows of ``name`` as served that count as readings: not soft-deleted, no row rule of dirty data
    (a corrected row counts with its served value)."""
    rules = [by_table[name] for kind, by_table in _ROW_RULES.items() if kind != "correction" and name in by_table]
    return " and ".join(["deleted_at is null", *(f"not ({rule})" for rule in rules)])


def _exceedances(conn: psycopg.Connection) -> dict[str, tuple[int, list[str]]]:
    """Kind → (legitimate readings over reference.md's threshold, the sensors or lots that have any)."""
    t = get_settings().thresholds
    lot = "join traffic.parking_lot l on l.lot_id = r.lot_id"
    kinds: dict[str, tuple[str, str, str, str, tuple[float, ...]]] = {
        "fume": ("fume.reading", "restaurant_id", "", "r.concentration_mg_m3 > %s", (t.fume_mg_m3,)),
        "dust": ("dust.reading", "sensor_id", "", "r.dust_load_g_m2 > %s", (t.dust_load_g_m2,)),
        "dust_severe": ("dust.reading", "sensor_id", "", "r.dust_load_g_m2 > %s", (t.dust_load_severe_g_m2,)),
        "diesel_nox": (
            "diesel.obd",
            "vin_hash",
            "",
            "r.nox_ppm > %s and r.speed_kmh > %s",
            (t.diesel_nox_ppm, t.diesel_min_speed_kmh),
        ),
        "parking_saturation": (
            "traffic.occupancy",
            "lot_id",
            lot,
            "r.occupied > %s * l.capacity",
            (t.parking_saturation,),
        ),
    }
    found = {}
    for kind, (name, sensor, join, over, params) in kinds.items():
        rows = conn.execute(
            f"select r.{sensor}, count(*) from (select * from {name} where {_legitimate(name)}) r {join} "
            f"where {over} group by 1",
            params,
        ).fetchall()
        found[kind] = (sum(n for _, n in rows), sorted(str(sensor_id) for sensor_id, _ in rows))
    return found


_SERIES = {
    "dust.reading": ("sensor_id", "measured_at", "dust_load_g_m2"),
    "fume.reading": ("restaurant_id", "measured_at", "concentration_mg_m3"),
}


def _series_rows(name: str, sensor: str, at: str, value: str) -> str:
    return (
        f"select {sensor} as sensor, {at} as at, {value} as v from {name} "
        f"where deleted_at is null and {at} <= updated_at + interval '1 hour'"
    )


def _stuck_spans(
    conn: psycopg.Connection, *, tables: dict[str, tuple[str, str, str]] = _SERIES
) -> list[tuple]:
    """Runs of one value lasting 6 hours or more (reference.md), per sensor ordered by time."""
    spans = []
    for name, (sensor, at, value) in tables.items():
        rows = conn.execute(
            f"with r as ({_series_rows(name, sensor, at, value)}), "
            "g as (select *, sum(case when v is distinct from p then 1 else 0 end) "
            "over (partition by sensor order by at) as island "
            "from (select *, lag(v) over (partition by sensor order by at) as p from r) x) "
            "select sensor, min(at), max(at), count(*) from g group by sensor, island "
            "having max(at) - min(at) >= interval '6 hours'"
        ).fetchall()
        spans += [
            (name, str(s), a.astimezone(TZ).isoformat(), b.astimezone(TZ).isoformat(), n)
            for s, a, b, n in rows
        ]
    return sorted(spans)


def _gaps(conn: psycopg.Connection) -> list[tuple]:
    tables = {
        "dust.reading": ("sensor_id", "measured_at", "dust_load_g_m2", "30 minutes"),
        "traffic.occupancy": ("lot_id", "recorded_at", "occupied", "45 minutes"),
    }
    gaps = []
    for name, (sensor, at, value, limit) in tables.items():
        rows = conn.execute(
            "select sensor, p, at from "
            f"(select sensor, at, lag(at) over (partition by sensor order by at) as p "
            f"from ({_series_rows(name, sensor, at, value)}) r) x where at - p > interval '{limit}'"
        ).fetchall()
        gaps += [
            (name, str(s), p.astimezone(TZ).isoformat(), a.astimezone(TZ).isoformat()) for s, p, a in rows
        ]
    return sorted(gaps)


def _uscc_forms(conn: psycopg.Connection) -> dict[str, list[str]]:
    forms: dict[str, list[str]] = defaultdict(list)
    for restaurant_id, code in conn.execute("select restaurant_id, uscc from fume.restaurant"):
        if code is None:
            forms["missing"].append(restaurant_id)
        elif not code.isascii():
            forms["full_width"].append(restaurant_id)
        elif " " in code:
            forms["spaces"].append(restaurant_id)
        elif code != code.upper():
            forms["lower"].append(restaurant_id)
        elif not uscc.is_valid(code):
            forms["wrong_check"].append(restaurant_id)
    return dict(forms)


_NEXT = {
    None: {"collect"},
    "collect": {"file", "void"},
    "file": {"dispatch"},
    "dispatch": {"handle"},
    "handle": {"feedback"},
    "feedback": {"verify_close", "return"},
    "return": {"dispatch"},
    "verify_close": {"evaluate"},
    "evaluate": set(),
    "void": set(),
}
_RANK = {
    name: k
    for k, name in enumerate(
        ("collect", "file", "dispatch", "handle", "feedback", "verify_close", "evaluate")
    )
}


def _valid(steps: list[str]) -> bool:
    previous = None
    for step in steps:
        if step not in _NEXT[previous]:
            return False
        previous = step
    return True


def _case_anomalies(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Cases whose loop (GB/T 30428) is broken: closed twice, a step missing, steps out of order."""
    steps: dict[str, list[str]] = defaultdict(list)
    for case_id, step in conn.execute(
        "select case_id, step from grid.case_step order by case_id, occurred_at, step_id"
    ):
        steps[case_id].append(step)
    found: dict[str, list[str]] = {
        "case_closed_twice": [],
        "case_step_missing": [],
        "case_step_out_of_order": [],
    }
    for case_id, sequence in steps.items():
        if sequence.count("verify_close") > 1:
            found["case_closed_twice"].append(case_id)
        elif _valid(sequence):
            continue
        elif all(s in _RANK for s in sequence) and _valid(sorted(sequence, key=_RANK.__getitem__)):
            found["case_step_out_of_order"].append(case_id)
        else:
            found["case_step_missing"].append(case_id)
    return found
