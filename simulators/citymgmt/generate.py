"""Generate the city-management fusion platform: a real PostgreSQL database ``citymgmt`` in the dataset's
``pgdata`` (citymgmt.md), its hidden future, and its section of the ground truth.

Rows are generated per day chunk with numpy and loaded with COPY (tables first, keys and indexes after).
The days of the span ``[ctx.start, ctx.end)`` and ``FUTURE_DAYS`` more are generated; grid case lifecycles
run on to ``ctx.horizon``. What is visible at ``ctx.end`` is in the platform tables, the rest waits in
``_sim`` until the clock reveals it (``simulators.citymgmt.schema.reveal``).

Planted (scenario): every fume chain complaint is a grid case with its fixed id (origin hotline, category
餐饮油烟) and the chain restaurant's fume sensor exceeds 1.0 mg/m3 on the complaint evenings, and on no other
reading. A planted long-standing problem's inspections are grid cases with their fixed ids (origin inspector,
the category the grid files the service's orders under, the service's name). Hotline orders
(``ctx.shared["hotline_orders"]``, when the hotline was generated first) become hotline-origin cases for a share
of the orders whose service group has a domain.

Exceedances (reference.md's thresholds, ``settings.thresholds``) exist every day at any scale, from clean
readings: dust episodes past the severe load, restaurants besides the chains over the fume limit, a high
emitter over the NOx limit at speed, full parking lots. ``truth["exceedances"]`` counts them as served.

Publishes ``ctx.shared["grid_cases"]`` (simulators/README.md): every case not voided, with clean values.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from gridlake.settings import SensorThresholds, get_settings
from simulators.citymgmt._events import garbage_day, violation_day
from simulators.citymgmt._grid import GridCases, cases_day, hotline_cases_by_day
from simulators.citymgmt._loader import Loader
from simulators.citymgmt._masters import USCC_FORMS, build_masters
from simulators.citymgmt._series import SeriesState, dust_day, fume_day, occupancy_day
from simulators.citymgmt._tracks import diesel_day, staff_day, vehicle_day
from simulators.citymgmt._util import DirtyLedger, ExceedanceLedger, Ids, LateCommits, Quota, Run, iso
from simulators.citymgmt.postgres import LocalPostgres
from simulators.citymgmt.schema import DATABASE, READER_PASSWORD, READER_USER, finish_tables, grant_reader
from simulators.generate import GenContext, PlatformResult
from simulators.world import rng_for

__all__ = ["DIRTY_RATES", "DIRTY_RULES", "FUTURE_DAYS", "LEGITIMATE", "exceedance_rules", "generate"]

# Sensor readings and positions are generated this many days past the span's end (the near future the
# clock can move into); grid case lifecycles run on to the horizon.
FUTURE_DAYS = 2

DIRTY_RATES: dict[str, float] = {
    # share of the rows of each table the kind applies to (see DIRTY_RULES)
    "impossible_value": 0.0003,
    "gps_zero": 0.0002,
    "gps_outside_beijing": 0.0001,
    "device_clock_ahead": 0.0002,
    "correction": 0.002,
    "soft_delete": 0.001,
    # share of sensor-days (planted in the span's days but the last)
    "stuck_sensor": 0.01,
    "offline_gap": 0.02,
    # share of register rows (restaurants, stations), of violations and of grid cases
    "uscc_dirty": 0.06,
    "street_code_missing": 0.02,
    # share of grid cases whose loop completes (in the span's days but the last)
    "case_step_out_of_order": 0.01,
    "case_step_missing": 0.008,
    "case_closed_twice": 0.004,
}

# How each kind shows in what the database serves (at the horizon, everything revealed). Clean rows never
# match these rules: the counts in the truth are exact.
DIRTY_RULES: dict[str, str] = {
    "impossible_value": "dust.reading dust_load_g_m2 < 0; fume.reading concentration_mg_m3 = 999.9; "
    "vehicle.position and diesel.obd speed_kmh > 200",
    "gps_zero": "lat = 0 and lon = 0 (vehicle.position, staff.position, diesel.obd)",
    "gps_outside_beijing": "not (0, 0) and outside lat 39.44-41.06, lon 115.42-117.51 (same tables)",
    "device_clock_ahead": "measured_at / recorded_at more than 1 hour after updated_at "
    "(dust.reading, fume.reading, diesel.obd)",
    "correction": "deleted_at is null and updated_at more than 30 minutes after the reading's own time "
    "(dust.reading, fume.reading, traffic.occupancy, garbage.collection)",
    "soft_delete": "deleted_at is not null "
    "(dust.reading, fume.reading, garbage.collection, traffic.violation)",
    "stuck_sensor": "a run of one value over 6 hours or more, per sensor ordered by measured_at, over the "
    "readings not deleted and not clock-ahead (dust.reading by sensor_id, fume.reading by "
    "restaurant_id); count = spans",
    "offline_gap": "consecutive readings of a sensor (not deleted, not clock-ahead) more than 30 minutes "
    "(dust.reading) / 45 minutes (traffic.occupancy) apart; count = gaps",
    "uscc_dirty": "fume.restaurant uscc: missing (null), full_width, spaces, lower, wrong_check",
    "street_code_missing": "street_code is null "
    "(fume.restaurant, garbage.station, grid.case, traffic.violation)",
    "case_step_out_of_order": "a case whose steps ordered by occurred_at break the loop, all of them there",
    "case_step_missing": "a case whose loop skips a step (a later step is there, an earlier one is not)",
    "case_closed_twice": "a case with two verify_close steps",
}


# Which served readings an exceedance counts (truth "exceedances"): the latest version of each row as served
# (a correction's value), not soft-deleted, matching none of the row rules of DIRTY_RULES of its table.
# Stuck spans stay below every threshold.
LEGITIMATE = (
    "deleted_at is null and no row rule of DIRTY_RULES (impossible_value, device_clock_ahead, gps_zero, "
    "gps_outside_beijing) matches; corrected rows count with their served value"
)


def exceedance_rules(thresholds: SensorThresholds) -> dict[str, tuple[str, str]]:
    """Kind → (table, rule) of the legitimate readings over a threshold of reference.md."""
    t = thresholds
    return {
        "fume": ("fume.reading", f"concentration_mg_m3 > {t.fume_mg_m3}"),
        "dust": ("dust.reading", f"dust_load_g_m2 > {t.dust_load_g_m2}"),
        "dust_severe": ("dust.reading", f"dust_load_g_m2 > {t.dust_load_severe_g_m2}"),
        "diesel_nox": (
            "diesel.obd",
            f"nox_ppm > {t.diesel_nox_ppm} and speed_kmh > {t.diesel_min_speed_kmh}",
        ),
        "parking_saturation": (
            "traffic.occupancy",
            f"occupied > {t.parking_saturation} * traffic.parking_lot.capacity (by lot_id)",
        ),
    }


def generate(ctx: GenContext) -> PlatformResult:
    """Build the ``citymgmt`` database in ``ctx.dataset.pgdata``; the server is stopped when done."""
    pgdata = ctx.dataset.pgdata
    if (pgdata / "PG_VERSION").exists():
        raise FileExistsError(f"{pgdata} already holds a PostgreSQL cluster; generate into a fresh dataset")
    started = time.monotonic()
    pg = LocalPostgres(pgdata)
    pg.start()
    try:
        with psycopg.connect(pg.admin_conninfo(), autocommit=True) as admin:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
            admin.execute(
                sql.SQL("alter database {} set timezone to 'Asia/Shanghai'").format(sql.Identifier(DATABASE))
            )
        end_us = int(ctx.end.timestamp()) * 1_000_000
        horizon_us = int(ctx.horizon.timestamp()) * 1_000_000
        rules = exceedance_rules(get_settings().thresholds)
        run = Run(
            ctx=ctx,
            future_days=FUTURE_DAYS,
            ledger=DirtyLedger(end_us=end_us),
            quota=Quota(),
            ids=Ids(),
            late=LateCommits(rng_for(ctx.seed, "citymgmt.late"), end_us=end_us),
            exceedances=ExceedanceLedger(end_us=end_us, horizon_us=horizon_us),
        )
        run.ledger.declare(DIRTY_RATES)
        run.exceedances.declare(rules)
        hotline_orders = ctx.shared.get("hotline_orders")
        hotline_by_day = hotline_cases_by_day(run, hotline_orders)
        grid = GridCases()
        state = SeriesState()
        with Loader(pg.admin_conninfo(DATABASE), end_us=end_us) as loader:
            masters = build_masters(run, loader, rates=DIRTY_RATES)
            for day in range(run.days):
                dust_day(run, loader, masters, state, day, rates=DIRTY_RATES)
                fume_day(run, loader, masters, state, day, rates=DIRTY_RATES)
                occupancy_day(run, loader, masters, state, day, rates=DIRTY_RATES)
                vehicle_day(run, loader, masters, day, rates=DIRTY_RATES)
                staff_day(run, loader, masters, day, rates=DIRTY_RATES)
                diesel_day(run, loader, masters, day, rates=DIRTY_RATES)
                garbage_day(run, loader, masters, day, rates=DIRTY_RATES)
                violation_day(run, loader, masters, day, rates=DIRTY_RATES)
                cases_day(
                    run, loader, masters, day, orders=hotline_by_day.get(day, []), rates=DIRTY_RATES, out=grid
                )
                if (day + 1) % 7 == 0 or day == run.days - 1:
                    ctx.log(
                        f"citymgmt: {day + 1}/{run.days} days, {sum(loader.rows_total.values()):,} rows, "
                        f"{time.monotonic() - started:.0f} s"
                    )
        loaded = time.monotonic()
        with psycopg.connect(pg.admin_conninfo(DATABASE), autocommit=True) as conn:
            finish_tables(conn)
            grant_reader(conn)
            conn.execute("analyze")
        ctx.log(f"citymgmt: keys and indexes in {time.monotonic() - loaded:.0f} s")
    finally:
        pg.stop()

    ctx.shared["grid_cases"] = pa.concat_tables(grid.shared) if grid.shared else _empty_grid_cases()
    truth: dict[str, Any] = {
        "database": DATABASE,
        "reader": {"user": READER_USER, "password": READER_PASSWORD},
        "end": ctx.end.isoformat(),
        "sensors_until": iso(run.day_start(run.days)),
        "horizon": ctx.horizon.isoformat(),
        "counts": dict(sorted(loader.rows_total.items())),
        "counts_at_end": dict(sorted(loader.rows_at_end.items())),
        "versions_hidden_at_end": dict(sorted(loader.versions_hidden.items())),
        "late_commits": run.late.to_truth(),
        "dirty": run.ledger.to_truth(),
        "dirty_rules": DIRTY_RULES,
        "uscc_forms": list(USCC_FORMS),
        "exceedances": run.exceedances.to_truth(rules),
        "exceedance_rule": LEGITIMATE,
        "planted": {"fume_chains": _planted_chains(ctx, grid, state)},
        "hotline": {"orders_available": hotline_orders is not None, "hotline_cases": grid.hotline_cases},
        "seconds": round(time.monotonic() - started, 1),
    }
    return PlatformResult(counts=dict(sorted(loader.rows_total.items())), truth=truth)


def _planted_chains(ctx: GenContext, grid: GridCases, state: SeriesState) -> list[dict[str, Any]]:
    out = []
    for k, chain in enumerate(ctx.scenario.fume_chains):
        out.append(
            {
                "restaurant_id": chain.restaurant_id,
                "uscc": chain.uscc,
                "grid_case_ids": [c.grid_case_id for c in chain.complaints],
                "hotline_request_ids": [c.request_id for c in chain.complaints],
                "exceed_days": [d.isoformat() for d in chain.exceed_days],
                "exceeding_readings": state.exceeding.get(k, 0),
                "grid_cases": [
                    grid.planted[c.grid_case_id] for c in chain.complaints if c.grid_case_id in grid.planted
                ],
            }
        )
    return out


def _empty_grid_cases() -> pa.Table:
    return pa.table(
        {
            "case_id": pa.array([], pa.string()),
            "origin": pa.array([], pa.string()),
            "hotline_request_id": pa.array([], pa.string()),
            "category": pa.array([], pa.string()),
            "matter_code": pa.array([], pa.string()),
            "street_code": pa.array([], pa.string()),
            "community_code": pa.array([], pa.string()),
            "grid_code": pa.array([], pa.string()),
            "lat": pa.array([], pa.float64()),
            "lon": pa.array([], pa.float64()),
            "reported_at": pa.array([], pa.timestamp("us", tz="Asia/Shanghai")),
            "uscc": pa.array([], pa.string()),
        }
    )
