"""Load rules of the fusion platform's rows: a row either lands or is quarantined with one reason.

A row is quarantined (never dropped, never stopping the load) when it breaks a field rule of citymgmt.md's
dirty-data list that makes the row unusable as a fact. The first rule broken, in this order, is the reason:

- ``gps_zero``: ``lat = 0 and lon = 0`` on an observation (a position, an OBD record, a case, a violation)
- ``outside_beijing``: an observation's point outside Beijing municipality (``BEIJING_BOX``)
- ``time_in_future``: the row's own time (``measured_at``, ``recorded_at``, ...) later than ``updated_at`` (when
  the platform wrote it) by more than ``future_tolerance``: the device's clock is off
- ``negative_value``: a load, concentration, weight, speed, NOx or occupancy below zero
- ``sentinel_value``: a fume concentration of 999 mg/m3 or more (the devices' 999.9 error value)
- ``speed_impossible``: a speed over 200 km/h

Left to staging (landed as served, cleaned or flagged in dbt, not load rules): stuck sensors and offline gaps
(properties of a series, not of a row), corrections (a later version of a key), soft deletes (``deleted_at``),
dirty ``uscc`` and missing ``street_code`` on registers, case steps out of order, missing or repeated, and
register rows (restaurants, stations, lots, grid cells) with bad coordinates: the register row still
identifies the place's readings, staging nulls its point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from connectors.citymgmt.schema import SourceTable
from gridlake.lake import QuarantinedRecord

__all__ = ["BEIJING_BOX", "REASONS", "RowRules", "split"]

# Beijing municipality's extent (WGS84: lat_min, lat_max, lon_min, lon_max) with a small margin.
BEIJING_BOX = (39.40, 41.10, 115.40, 117.55)
REASONS = ("gps_zero", "outside_beijing", "time_in_future", "negative_value", "sentinel_value", "speed_impossible")
MAX_SPEED_KMH = 200
SENTINEL_MG_M3 = 999
# Columns that can never be negative, per table (citymgmt.md's "negative loads", and their kin).
NON_NEGATIVE = {
    "dust.reading": ("dust_load_g_m2", "pm10_ug_m3"),
    "fume.reading": ("concentration_mg_m3",),
    "garbage.collection": ("weight_kg",),
    "vehicle.position": ("speed_kmh",),
    "traffic.occupancy": ("occupied",),
    "diesel.obd": ("nox_ppm", "speed_kmh"),
}
SENTINEL = {"fume.reading": ("concentration_mg_m3",)}
SPEEDS = {"vehicle.position": ("speed_kmh",), "diesel.obd": ("speed_kmh",)}


@dataclass(frozen=True)
class RowRules:
    """The rules' settings: how far a device's time may run ahead of the platform's write time."""

    future_tolerance: timedelta = timedelta(minutes=15)


def _lit(value: object, kind: pa.DataType) -> pa.Scalar:
    if pa.types.is_decimal(kind):
        return pa.scalar(Decimal(str(value)), type=kind)
    return pa.scalar(value, type=kind)


def _checks(table: SourceTable, rows: pa.Table, rules: RowRules) -> list[tuple[str, str, pa.ChunkedArray]]:
    """(reason, field, mask) in the order the reasons are reported."""
    checks: list[tuple[str, str, pa.ChunkedArray]] = []
    if table.observation:
        lat, lon = rows["lat"], rows["lon"]
        checks.append(("gps_zero", "lat,lon", pc.and_(pc.equal(lat, 0.0), pc.equal(lon, 0.0))))
        lat_min, lat_max, lon_min, lon_max = BEIJING_BOX
        outside = pc.or_(pc.or_(pc.less(lat, lat_min), pc.greater(lat, lat_max)),
                         pc.or_(pc.less(lon, lon_min), pc.greater(lon, lon_max)))
        checks.append(("outside_beijing", "lat,lon", outside))
    if table.event_time is not None:
        limit = pc.add(rows["updated_at"], pa.scalar(rules.future_tolerance, type=pa.duration("us")))
        checks.append(("time_in_future", table.event_time, pc.greater(rows[table.event_time], limit)))
    for name in NON_NEGATIVE.get(table.qualified, ()):
        checks.append(("negative_value", name, pc.less(rows[name], _lit(0, rows.schema.field(name).type))))
    for name in SENTINEL.get(table.qualified, ()):
        checks.append(("sentinel_value", name,
                       pc.greater_equal(rows[name], _lit(SENTINEL_MG_M3, rows.schema.field(name).type))))
    for name in SPEEDS.get(table.qualified, ()):
        checks.append(("speed_impossible", name,
                       pc.greater(rows[name], _lit(MAX_SPEED_KMH, rows.schema.field(name).type))))
    return checks


def split(table: SourceTable, rows: pa.Table, rules: RowRules) -> tuple[pa.Table, list[QuarantinedRecord]]:
    """The rows that land, and the quarantined records (the first rule each breaks, the row as read)."""
    if rows.num_rows == 0:
        return rows, []
    bad = pa.chunked_array([pa.array([False] * rows.num_rows)])
    quarantined: list[QuarantinedRecord] = []
    for reason, field, mask in _checks(table, rows, rules):
        mask = pc.fill_null(mask, False)
        hit = pc.and_(mask, pc.invert(bad))
        if pc.any(hit).as_py():
            for row in rows.filter(hit).to_pylist():
                quarantined.append(QuarantinedRecord(str(row[table.pk]), field, reason, _raw(row)))
            bad = pc.or_(bad, hit)
    if not quarantined:
        return rows, []
    return rows.filter(pc.invert(bad)), quarantined


def _raw(row: dict[str, object]) -> str:
    return json.dumps(row, ensure_ascii=False, default=lambda value: value.isoformat()
                      if hasattr(value, "isoformat") else str(value))
