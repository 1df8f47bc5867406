"""The fusion platform's tables (citymgmt.md), the hidden future (``_sim``), the reader role, ``reveal``.

Every platform table has its primary key, ``updated_at timestamptz not null`` (indexed) and ``deleted_at``.
Rows the platform writes after the clock's "now" wait in the private schema ``_sim`` (one table per platform
table, same columns plus ``visible_at``; never granted to ``reader``); ``reveal(conn, now)`` moves the due
rows into the platform tables: new keys are inserted, known keys updated (corrections, soft deletes, a grid
case's status), each key to its latest due version.

``visible_at`` is when the platform's batch commit makes a row visible: usually its ``updated_at``, for a
share of rows a few minutes later (late commits), which is why an incremental load needs a look-back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

__all__ = [
    "DATABASE",
    "READER_PASSWORD",
    "READER_USER",
    "SCHEMAS",
    "SIM_SCHEMA",
    "TABLES",
    "Column",
    "Table",
    "create_tables",
    "finish_tables",
    "grant_reader",
    "restrict_reader",
    "reveal",
    "table",
]

DATABASE = "citymgmt"
READER_USER = "reader"
READER_PASSWORD = "secret"  # the default; CitymgmtDatabase sets the one it is given when it starts
SIM_SCHEMA = "_sim"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql_type: str

    @property
    def is_time(self) -> bool:
        return self.sql_type == "timestamptz"


@dataclass(frozen=True, slots=True)
class Table:
    schema: str
    name: str
    pk: str
    declared: tuple[Column, ...]  # the columns citymgmt.md lists, primary key first

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sim_name(self) -> str:
        """The table's hidden future in ``_sim``."""
        return f"{self.schema}__{self.name}"

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.declared + (Column("updated_at", "timestamptz"), Column("deleted_at", "timestamptz"))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def _t(schema: str, name: str, columns: str) -> Table:
    """A table from 'name type, name type, ...' (the first column is the primary key)."""
    parts = re.split(r",(?![^()]*\))", columns)  # not the comma inside numeric(8,3)
    parsed = tuple(Column(*part.strip().split(" ", 1)) for part in parts)
    return Table(schema, name, parsed[0].name, parsed)


_TS = "timestamptz"
_F = "double precision"
TABLES: tuple[Table, ...] = (
    _t("dust", "road", "road_id text, name text, street_code text, length_m integer, grade text"),
    _t(
        "dust",
        "reading",
        f"reading_id bigint, road_id text, sensor_id text, measured_at {_TS}, "
        "dust_load_g_m2 numeric(8,3), pm10_ug_m3 numeric(8,1)",
    ),
    _t(
        "fume",
        "restaurant",
        f"restaurant_id text, name text, uscc text, street_code text, community_code text, "
        f"address text, lat {_F}, lon {_F}, seats integer",
    ),
    _t(
        "fume",
        "reading",
        f"reading_id bigint, restaurant_id text, measured_at {_TS}, "
        "concentration_mg_m3 numeric(6,3), purifier_on boolean, fan_on boolean",
    ),
    _t(
        "garbage",
        "station",
        f"station_id text, name text, kind text, street_code text, community_code text, lat {_F}, lon {_F}",
    ),
    _t(
        "garbage",
        "collection",
        f"collection_id bigint, station_id text, truck_plate text, collected_at {_TS}, "
        "waste_type text, weight_kg numeric(8,1), mixed boolean",
    ),
    _t("vehicle", "vehicle", "vehicle_id text, plate text, kind text, street_code text"),
    _t(
        "vehicle",
        "position",
        f"position_id bigint, vehicle_id text, recorded_at {_TS}, lat {_F}, lon {_F}, "
        "speed_kmh numeric(5,1), working boolean",
    ),
    _t("staff", "worker", "worker_id text, name text, street_code text, role text"),
    _t(
        "staff",
        "position",
        f"position_id bigint, worker_id text, recorded_at {_TS}, lat {_F}, lon {_F}, on_duty boolean",
    ),
    _t(
        "grid",
        "cell",
        f"grid_code text, street_code text, community_code text, area_m2 integer, "
        f"centroid_lat {_F}, centroid_lon {_F}",
    ),
    _t(
        "grid",
        "case",
        "case_id text, origin text, hotline_request_id text, kind text, category text, "
        "subcategory text, description text, street_code text, community_code text, "
        f"grid_code text, lat {_F}, lon {_F}, reported_at {_TS}, status text, "
        "responsible_unit_code text",
    ),
    _t(
        "grid",
        "case_step",
        f"step_id bigint, case_id text, step text, unit_code text, occurred_at {_TS}, note text",
    ),
    _t(
        "traffic",
        "parking_lot",
        f"lot_id text, name text, street_code text, capacity integer, lat {_F}, lon {_F}",
    ),
    _t("traffic", "occupancy", f"occupancy_id bigint, lot_id text, recorded_at {_TS}, occupied integer"),
    _t(
        "traffic",
        "violation",
        f"violation_id bigint, plate_hash text, street_code text, lat {_F}, lon {_F}, "
        f"observed_at {_TS}, source text",
    ),
    _t(
        "diesel",
        "obd",
        f"obd_id bigint, vin_hash text, recorded_at {_TS}, lat {_F}, lon {_F}, "
        "nox_ppm numeric(7,1), speed_kmh numeric(5,1)",
    ),
)
_BY_NAME = {t.qualified: t for t in TABLES}
SCHEMAS: tuple[str, ...] = tuple(dict.fromkeys(t.schema for t in TABLES))


def table(qualified: str) -> Table:
    """The table ``schema.name``."""
    try:
        return _BY_NAME[qualified]
    except KeyError:
        raise KeyError(f"no citymgmt table {qualified!r}; known: {sorted(_BY_NAME)}") from None


def _column_defs(t: Table, *, extra: str = "") -> sql.Composable:
    defs = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql_type)) for c in t.columns]
    defs[-2] = sql.SQL("{} timestamptz not null").format(sql.Identifier("updated_at"))
    if extra:
        defs.append(sql.SQL(extra))
    return sql.SQL(", ").join(defs)


def create_tables(conn: psycopg.Connection) -> None:
    """Create the schemas and tables without keys or indexes (they are built after the bulk load)."""
    for schema in (*SCHEMAS, SIM_SCHEMA):
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    for t in TABLES:
        conn.execute(
            sql.SQL("create table {}.{} ({})").format(
                sql.Identifier(t.schema), sql.Identifier(t.name), _column_defs(t)
            )
        )
        conn.execute(
            sql.SQL("create table {}.{} ({})").format(
                sql.Identifier(SIM_SCHEMA),
                sql.Identifier(t.sim_name),
                _column_defs(t, extra="visible_at timestamptz not null"),
            )
        )


def finish_tables(conn: psycopg.Connection) -> None:
    """Primary keys, the ``updated_at`` indexes and the ``_sim`` indexes, then fresh statistics."""
    for t in TABLES:
        conn.execute(
            sql.SQL("alter table {}.{} add primary key ({})").format(
                sql.Identifier(t.schema), sql.Identifier(t.name), sql.Identifier(t.pk)
            )
        )
        conn.execute(
            sql.SQL("create index {} on {}.{} (updated_at)").format(
                sql.Identifier(f"{t.name}_updated_at_idx"), sql.Identifier(t.schema), sql.Identifier(t.name)
            )
        )
        conn.execute(
            sql.SQL("create index {} on {}.{} (visible_at)").format(
                sql.Identifier(f"{t.sim_name}_visible_at_idx"),
                sql.Identifier(SIM_SCHEMA),
                sql.Identifier(t.sim_name),
            )
        )


def grant_reader(conn: psycopg.Connection, *, database: str = DATABASE) -> None:
    """The read-only login ``reader``: SELECT on the platform schemas, nothing on ``_sim``, no writes, no
    other database; its password is ``READER_PASSWORD`` until a server sets another."""
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (READER_USER,)).fetchone()
    if exists is None:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(READER_USER)))
    conn.execute(
        sql.SQL("alter role {} set default_transaction_read_only = on").format(sql.Identifier(READER_USER))
    )
    conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(database)))
    conn.execute(
        sql.SQL("grant connect on database {} to {}").format(
            sql.Identifier(database), sql.Identifier(READER_USER)
        )
    )
    conn.execute("revoke all on schema public from public")
    for schema in SCHEMAS:
        conn.execute(
            sql.SQL("grant usage on schema {} to {}").format(
                sql.Identifier(schema), sql.Identifier(READER_USER)
            )
        )
        conn.execute(
            sql.SQL("grant select on all tables in schema {} to {}").format(
                sql.Identifier(schema), sql.Identifier(READER_USER)
            )
        )
    conn.execute(sql.SQL("revoke all on schema {} from public").format(sql.Identifier(SIM_SCHEMA)))
    restrict_reader(conn, password=READER_PASSWORD, database=database)


def restrict_reader(conn: psycopg.Connection, *, password: str, database: str = DATABASE) -> None:
    """Give ``reader`` this password and keep it out of every database but ``database`` (PostgreSQL grants
    CONNECT on new databases, ``postgres`` and ``template1`` included, to PUBLIC). Idempotent."""
    conn.execute(
        sql.SQL("alter role {} password {}").format(sql.Identifier(READER_USER), sql.Literal(password))
    )
    others = conn.execute(
        "select datname from pg_database where datname <> %s and datallowconn", (database,)
    ).fetchall()
    for (other,) in others:
        conn.execute(sql.SQL("revoke connect on database {} from public").format(sql.Identifier(other)))


def _reveal_statement(t: Table) -> sql.Composed:
    cols = sql.SQL(", ").join(sql.Identifier(name) for name in t.column_names)
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(name)) for name in t.column_names if name != t.pk
    )
    return sql.SQL(
        "with due as (delete from {sim}.{sim_table} where visible_at <= %(now)s returning *), "
        "latest as (select distinct on ({pk}) * from due order by {pk}, updated_at desc, visible_at desc) "
        "insert into {schema}.{name} as t ({cols}) select {cols} from latest "
        "on conflict ({pk}) do update set {updates} where t.updated_at <= excluded.updated_at"
    ).format(
        sim=sql.Identifier(SIM_SCHEMA),
        sim_table=sql.Identifier(t.sim_name),
        pk=sql.Identifier(t.pk),
        schema=sql.Identifier(t.schema),
        name=sql.Identifier(t.name),
        cols=cols,
        updates=updates,
    )


def reveal(conn: psycopg.Connection, now: datetime) -> dict[str, int]:
    """Make every row due at ``now`` visible, in one transaction; returns the keys inserted or updated
    per table (a key with several due versions counts once, at its latest).

    ``conn`` is a superuser (or owner) connection to the citymgmt database, not in a transaction.
    """
    if now.tzinfo is None:
        raise ValueError(f"reveal needs an aware time, got {now!r}")
    moved: dict[str, int] = {}
    with conn.transaction():
        for t in TABLES:
            cursor = conn.execute(_reveal_statement(t), {"now": now})
            if cursor.rowcount:
                moved[t.qualified] = cursor.rowcount
    return moved
