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

Every table carries ``updated_at`` (not null) and ``deleted_at`` (a soft delete, landed as such), and lands one
more column, ``extra_fields``: the columns the replica has and this schema does not declare (schema drift), as
a JSON object in text, built in SQL (null when the table has none).

Each declared column also has the PostgreSQL type citymgmt.md gives it (``declared_sql_type``); a load compares
it with ``information_schema.columns`` before reading (``type_matches``): ``numeric`` by precision and scale,
the others by ``data_type``; coordinates, whose type the spec leaves open, may be any floating or numeric type.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["EXTRA_FIELDS", "PLATFORM", "TABLES", "SourceTable", "declared_sql_type", "served_sql_type", "source_table",
           "type_matches"]

PLATFORM = "citymgmt"
_TS = pa.timestamp("us", tz="UTC")
_F = pa.float64()
_S = pa.string()
_I = pa.int32()
_L = pa.int64()
_B = pa.bool_()
EXTRA_FIELDS = "extra_fields"  # schema drift: the undeclared columns of a row as a JSON object (text)
# The PostgreSQL type (information_schema's data_type) each Arrow type stands for; numeric carries (p, s).
_SQL_TYPES = {_S: "text", _I: "integer", _L: "bigint", _B: "boolean", _TS: "timestamp with time zone",
              _F: "double precision"}
_COORDINATE_TYPES = ("double precision", "real", "numeric")  # the spec gives coordinates no type


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
    personal: tuple[str, ...] = ()  # columns of personal data (citymgmt.md marks them): never read, never landed

    @property
    def entity(self) -> str:
        """The lake entity: ``dust.reading`` → ``dust__reading``."""
        return self.qualified.replace(".", "__")

    @property
    def source_fields(self) -> list[pa.Field]:
        """The declared columns of the table in the replica: the spec's, then ``updated_at`` and ``deleted_at``."""
        fields = [pa.field(name, kind, nullable=name != self.pk) for name, kind in self.columns]
        return fields + [pa.field("updated_at", _TS, nullable=False), pa.field("deleted_at", _TS)]

    @property
    def schema(self) -> pa.Schema:
        """What lands: the declared columns and ``extra_fields`` (schema drift, JSON text)."""
        return pa.schema([*self.source_fields, pa.field(EXTRA_FIELDS, _S)])

    def select_sql(self, *, absent: frozenset[str] = frozenset(), aside: tuple[str, ...] = ()) -> str:
        """The select list: every declared column cast in SQL to what the Arrow schema expects, ``absent`` ones
        (missing or of another type, the change accepted) as null, and the ``aside`` columns (undeclared, or
        declared with another type) gathered as a JSON object into ``extra_fields``."""
        parts = []
        for field in self.source_fields:
            value = _sql_null(field.type) if field.name in absent else _sql_cast(field.name, field.type)
            parts.append(f"{value} as {_quote(field.name)}")
        parts.append(f"{_json_sql(aside)} as {_quote(EXTRA_FIELDS)}")
        return ", ".join(parts)


def declared_sql_type(kind: pa.DataType) -> str:
    """The PostgreSQL type citymgmt.md gives a column of this Arrow type: ``numeric(8,3)``, ``text``, ..."""
    if pa.types.is_decimal(kind):
        return f"numeric({kind.precision},{kind.scale})"
    return _SQL_TYPES[kind]


def type_matches(kind: pa.DataType, served: str) -> bool:
    """Whether a column served as ``served`` (as ``served_sql_type`` spells it) is what the schema declares."""
    if kind == _F:
        return served.split("(")[0] in _COORDINATE_TYPES
    return served == declared_sql_type(kind)


def served_sql_type(data_type: str, precision: int | None, scale: int | None) -> str:
    """information_schema's ``data_type`` with numeric's precision and scale, spelled as ``declared_sql_type``."""
    if data_type == "numeric" and precision is not None:
        return f"numeric({precision},{scale or 0})"
    return data_type


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_sql(names: tuple[str, ...]) -> str:
    """A JSON object of the columns ``names`` as text, or null without any (``jsonb_build_object`` takes at most
    100 arguments, so wider sets are built in pieces and merged)."""
    if not names:
        return "null::text"
    pieces = []
    for start in range(0, len(names), 50):
        pairs = ", ".join(f"{_literal(name)}, {_quote(name)}" for name in names[start:start + 50])
        pieces.append(f"jsonb_build_object({pairs})")
    return f"({' || '.join(pieces)})::text"


def _sql_null(kind: pa.DataType) -> str:
    """A null of the type ``_sql_cast`` gives the column (decimals come as text)."""
    if pa.types.is_decimal(kind):
        return "null::text"
    return f"null::{_sql_cast_type(kind)}"


def _sql_cast_type(kind: pa.DataType) -> str:
    return {_TS: "timestamptz", _F: "float8", _S: "text", _I: "int4", _L: "int8", _B: "bool"}[kind]


def _sql_cast(name: str, kind: pa.DataType) -> str:
    column = _quote(name)
    if pa.types.is_decimal(kind):
        return f"({column})::numeric({kind.precision},{kind.scale})::text"  # parsed to the decimal in Arrow
    return f"({column})::{_sql_cast_type(kind)}"


def _t(qualified: str, columns: list[tuple[str, pa.DataType]], *, event_time: str | None = None,
       observation: bool = False, personal: tuple[str, ...] = ()) -> SourceTable:
    return SourceTable(qualified, columns[0][0], tuple(columns), event_time=event_time, observation=observation,
                       personal=personal)


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
    # citymgmt.md: a worker's name is personal. The worker id is what every other table refers to.
    _t("staff.worker", [("worker_id", _S), ("street_code", _S), ("role", _S)], personal=("name",)),
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
