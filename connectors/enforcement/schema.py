"""The Arrow schemas the enforcement connector lands in the raw zone, declared here, never inferred.

A case version is one row: the spec's fields in its order, ``party`` a struct. Times are instants (UTC in the
file). Personal data is not landed: the party's ``id_number`` never, and its ``name`` only when the party is an
enterprise (an individual's or an unknown party's name is a person's name). ``matter_code`` and
``party.uscc`` land normalised (full width to half width, spaces removed, upper case): the rules check them in
that form, so that is the form the lake can join on.

Fields a source sends that this schema does not declare (schema drift) land in ``extra_fields`` as JSON text,
keyed by their path; undeclared fields inside ``party`` are reported but never landed (they may be personal).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["CASE_FIELDS", "CASE_SCHEMA", "MATTER_SCHEMA", "PARTY_TYPE", "TIME"]

TIME = pa.timestamp("us", tz="UTC")

PARTY_TYPE = pa.struct([
    pa.field("type", pa.string()),
    pa.field("uscc", pa.string()),
    pa.field("name", pa.string()),  # enterprises only
])

CASE_FIELDS: dict[str, pa.DataType] = {
    "case_id": pa.string(),
    "origin": pa.string(),
    "grid_case_id": pa.string(),
    "hotline_request_id": pa.string(),
    "matter_code": pa.string(),
    "party": PARTY_TYPE,
    "street_code": pa.string(),
    "address": pa.string(),
    "lat": pa.float64(),
    "lon": pa.float64(),
    "filed_at": TIME,
    "investigated_at": TIME,
    "decided_at": TIME,
    "closed_at": TIME,
    "status": pa.string(),
    "penalty_cny": pa.float64(),
    "measures": pa.list_(pa.string()),
    "result_text": pa.string(),
    "team_code": pa.string(),
    "updated_at": TIME,
}

_NOT_NULL = {"case_id", "updated_at"}

CASE_SCHEMA = pa.schema(
    [pa.field(name, kind, nullable=name not in _NOT_NULL) for name, kind in CASE_FIELDS.items()]
    + [pa.field("extra_fields", pa.string())],  # schema drift: undeclared fields as JSON text
    metadata={"source": "enforcement GET /api/v1/cases", "grain": "one case version (case_id, updated_at)"},
)

MATTER_SCHEMA = pa.schema(
    [
        pa.field("matter_code", pa.string(), nullable=False),
        pa.field("matter_name", pa.string()),
        pa.field("matter_name_en", pa.string()),
        pa.field("category_code", pa.string(), nullable=False),
        pa.field("category_name", pa.string()),
        pa.field("category_name_en", pa.string()),
    ],
    metadata={"source": "enforcement GET /api/v1/matters", "grain": "one matter per snapshot"},
)
