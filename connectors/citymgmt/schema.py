"""The declared Arrow schema of every table of specs/citymgmt.md, and how each column is read in SQL.

Types, and why:
- ``numeric(p,s)`` → ``decimal128(p, s)``: the spec declares the precision, and a decimal keeps the value the
  platform stored (0.1 stays 0.1; a threshold test such as ``> 1.0`` means the same in the lake as in the
  source). ADBC hands numeric back as an opaque string type, so SQL casts it to ``numeric(p,s)::text`` (the
  declared scale, an overflow is an error) and Arrow parses the text into the decimal: exact, no float detour.
- coordinates (``lat``, ``lon``, ``centroid_*``), for which the spec gives no type → ``float64``: measured
  WGS84 degrees, where a double's 15 digits are far below a GPS fix's error.
- ``int`` → ``int32``; ``bigint`` keys → ``int64``; ``bool`` → ``bool``; text → ``string``.
- ``timestamptz`` → ``timestamp[us, UTC]``: an instant (PostgreSQL's own resolution), zone-free in the lake.

Every table carries ``updated_at`` (not null) and ``deleted_at`` (a soft delete, landed as such).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["PLATFORM", "TABLES", "SourceTable", "source_table"]

PLATFORM = "citymgmt"
_TS = pa.timestamp("us", tz="UTC")
_F = pa.float64()
_S = pa.string()
_I = pa.int32()
_L = pa.int64()
_B = pa.bool_()


def _dec(precision: int, scale: int) -> pa.DataType:
    return pa.decimal128(precision, scale)


@dataclass(frozen=True)
class SourceTable:
    """One table of the replica: its key, its own event time (if any), what it holds, and its Arrow schema."""

    qualified: str  # schema.table as in the database
    pk: str
    columns: tuple[tuple[str, pa.DataType], ...]  # as citymgmt.md lists them, primary key first
    event_time: str | None = None  # the device's / the event's own time (checked against updated_at)
    observation: bool = False  # a measured point or event (GPS rules apply), not a register row

    @property
    def entity(self) -> str:
        """The lake entity: ``dust.reading`` → ``dust__reading``."""
        return self.qualified.replace(".", "__")

    @property
    def schema(self) -> pa.Schema:
        fields = [pa.field(name, kind, nullable=name != self.pk) for name, kind in self.columns]
        fields += [pa.field("updated_at", _TS, nullable=False), pa.field("deleted_at", _TS)]
        return pa.schema(fields)

    def select_sql(self) -> str:
        """The select list: every declared column cast in SQL to what the Arrow schema expects."""
        parts = []
        for field in self.schema:
            parts.append(f"{_sql_cast(field.name, field.type)} as {_quote(field.name)}")
        return ", ".join(parts)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_cast(name: str, kind: pa.DataType) -> str:
    column = _quote(name)
    if pa.types.is_decimal(kind):
        return f"({column})::numeric({kind.precision},{kind.scale})::text"  # parsed to the decimal in Arrow
    sql_type = {_TS: "timestamptz", _F: "float8", _S: "text", _I: "int4", _L: "int8", _B: "bool"}[kind]
    return f"({column})::{sql_type}"


def _t(qualified: str, columns: list[tuple[str, pa.DataType]], *, event_time: str | None = None,
       observation: bool = False) -> SourceTable:
    return SourceTable(qualified, columns[0][0], tuple(columns), event_time=event_time, observation=observation)


_TABLES = [
    _t("dust.road", [("road_id", _S), ("name", _S), ("street_code", _S), ("length_m", _I), ("grade", _S)]),
    _t("dust.reading", [("reading_id", _L), ("road_id", _S), ("sensor_id", _S), ("measured_at", _TS),
                        ("dust_load_g_m2", _dec(8, 3)), ("pm10_ug_m3", _dec(8, 1))], event_time="measured_at"),
    _t("fume.restaurant", [("restaurant_id", _S), ("name", _S), ("uscc", _S), ("street_code", _S),
                           ("community_code", _S), ("address", _S), ("lat", _F), ("lon", _F), ("seats", _I)]),
    _t("fume.reading", [("reading_id", _L), ("restaurant_id", _S), ("measured_at", _TS),
                        ("concentration_mg_m3", _dec(6, 3)), ("purifier_on", _B), ("fan_on", _B)],
       event_time="measured_at"),
    _t("garbage.station", [("station_id", _S), ("name", _S), ("kind", _S), ("street_code", _S),
                           ("community_code", _S), ("lat", _F), ("lon", _F)]),
    _t("garbage.collection", [("collection_id", _L), ("station_id", _S), ("truck_plate", _S), ("collected_at", _TS),
                              ("waste_type", _S), ("weight_kg", _dec(8, 1)), ("mixed", _B)],
       event_time="collected_at"),
    _t("vehicle.vehicle", [("vehicle_id", _S), ("plate", _S), ("kind", _S), ("street_code", _S)]),
    _t("vehicle.position", [("position_id", _L), ("vehicle_id", _S), ("recorded_at", _TS), ("lat", _F), ("lon", _F),
                            ("speed_kmh", _dec(5, 1)), ("working", _B)], event_time="recorded_at", observation=True),
    _t("staff.worker", [("worker_id", _S), ("name", _S), ("street_code", _S), ("role", _S)]),
    _t("staff.position", [("position_id", _L), ("worker_id", _S), ("recorded_at", _TS), ("lat", _F), ("lon", _F),
                          ("on_duty", _B)], event_time="recorded_at", observation=True),
    _t("grid.cell", [("grid_code", _S), ("street_code", _S), ("community_code", _S), ("area_m2", _I),
                     ("centroid_lat", _F), ("centroid_lon", _F)]),
    _t("grid.case", [("case_id", _S), ("origin", _S), ("hotline_request_id", _S), ("kind", _S), ("category", _S),
                     ("subcategory", _S), ("description", _S), ("street_code", _S), ("community_code", _S),
                     ("grid_code", _S), ("lat", _F), ("lon", _F), ("reported_at", _TS), ("status", _S),
                     ("responsible_unit_code", _S)], event_time="reported_at", observation=True),
    _t("grid.case_step", [("step_id", _L), ("case_id", _S), ("step", _S), ("unit_code", _S), ("occurred_at", _TS),
                          ("note", _S)], event_time="occurred_at"),
    _t("traffic.parking_lot", [("lot_id", _S), ("name", _S), ("street_code", _S), ("capacity", _I), ("lat", _F),
                               ("lon", _F)]),
    _t("traffic.occupancy", [("occupancy_id", _L), ("lot_id", _S), ("recorded_at", _TS), ("occupied", _I)],
       event_time="recorded_at"),
    _t("traffic.violation", [("violation_id", _L), ("plate_hash", _S), ("street_code", _S), ("lat", _F), ("lon", _F),
                             ("observed_at", _TS), ("source", _S)], event_time="observed_at", observation=True),
    _t("diesel.obd", [("obd_id", _L), ("vin_hash", _S), ("recorded_at", _TS), ("lat", _F), ("lon", _F),
                      ("nox_ppm", _dec(7, 1)), ("speed_kmh", _dec(5, 1))], event_time="recorded_at", observation=True),
]
TABLES: dict[str, SourceTable] = {t.qualified: t for t in _TABLES}


def source_table(qualified: str) -> SourceTable:
    """The table ``schema.table`` of citymgmt.md; an unknown name is an error naming the known ones."""
    try:
        return TABLES[qualified]
    except KeyError:
        raise KeyError(f"{PLATFORM}: no table {qualified!r} in citymgmt.md; known: {sorted(TABLES)}") from None
