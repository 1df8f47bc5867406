"""The Arrow schemas the hotline connector lands in the raw zone, declared here, never inferred.

A work order version is one row: the Open311 fields, then the 12345 extension fields flattened beside them
(``extended_attributes.channel`` lands as ``channel``). Times are instants (UTC in the file; a time sent
without an offset is read as +08:00). The two nested extension fields stay nested, as Arrow types rather
than JSON text: ``dispatches`` a list of structs, ``return_visit`` a struct. Their shape is fixed by the spec,
so typing them lets the load check every dispatch time (an unparseable one is quarantined like any other) and
lets DuckDB/dbt ``unnest`` them without parsing strings.

Personal data: ``complainant`` is not landed. Its phone lands only as ``complainant_phone_hash``, a keyed hash
(HMAC-SHA256 with the deployment's salt) that still tells "the same complainant" apart (kpis.md's repeat rule);
the name is dropped.

Fields a source sends that this schema does not declare (schema drift) land in ``extra_fields`` as JSON text,
keyed by their path (``grid_code``, ``extended_attributes.new_field``), and the load reports them.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "DISPATCH_TYPE",
    "EXTENSION_FIELDS",
    "OPEN311_FIELDS",
    "REQUEST_SCHEMA",
    "RETURN_VISIT_TYPE",
    "SERVICE_FIELDS",
    "SERVICE_SCHEMA",
]

TIME = pa.timestamp("us", tz="UTC")

DISPATCH_TYPE = pa.struct([
    pa.field("unit_code", pa.string()),
    pa.field("unit_name", pa.string()),
    pa.field("unit_type", pa.string()),
    pa.field("dispatched_at", TIME),
    pa.field("accepted_at", TIME),
    pa.field("returned_at", TIME),
    pa.field("return_reason", pa.string()),
])

RETURN_VISIT_TYPE = pa.struct([
    pa.field("visited_at", TIME),
    pa.field("is_resolved", pa.bool_()),
    pa.field("satisfaction", pa.string()),
])

# Open311 GeoReport v2 fields of a request, in the spec's order, with their landed types.
OPEN311_FIELDS: dict[str, pa.DataType] = {
    "service_request_id": pa.string(),
    "status": pa.string(),
    "status_notes": pa.string(),
    "service_name": pa.string(),
    "service_code": pa.string(),
    "description": pa.string(),
    "agency_responsible": pa.string(),
    "service_notice": pa.string(),
    "requested_datetime": TIME,
    "updated_datetime": TIME,
    "expected_datetime": TIME,
    "address": pa.string(),
    "address_id": pa.string(),
    "zipcode": pa.string(),
    "lat": pa.float64(),
    "long": pa.float64(),
    "media_url": pa.string(),
}

# The 12345 extension fields (under "extended_attributes"), as landed. ``complainant`` is read but landed only
# as ``complainant_phone_hash``.
EXTENSION_FIELDS: dict[str, pa.DataType] = {
    "channel": pa.string(),
    "request_type": pa.string(),
    "urgency": pa.string(),
    "street_code": pa.string(),
    "community_code": pa.string(),
    "dispatches": pa.list_(DISPATCH_TYPE),
    "responded_datetime": TIME,
    "resolved_datetime": TIME,
    "reply": pa.string(),
    "return_visit": RETURN_VISIT_TYPE,
    "repeat_of": pa.string(),
    "complainant_phone_hash": pa.string(),
    "is_excluded": pa.bool_(),
}

_NOT_NULL = {"service_request_id", "updated_datetime"}

REQUEST_SCHEMA = pa.schema(
    [pa.field(name, kind, nullable=name not in _NOT_NULL) for name, kind in OPEN311_FIELDS.items()]
    + [pa.field(name, kind) for name, kind in EXTENSION_FIELDS.items()]
    + [pa.field("extra_fields", pa.string())],  # schema drift: undeclared fields as JSON text
    metadata={"source": "hotline /requests.json?extensions=true", "grain": "one work order version"},
)

SERVICE_FIELDS: dict[str, pa.DataType] = {
    "service_code": pa.string(),
    "service_name": pa.string(),
    "description": pa.string(),
    "metadata": pa.bool_(),
    "type": pa.string(),
    "keywords": pa.string(),
    "group": pa.string(),
}

SERVICE_SCHEMA = pa.schema(
    [pa.field(name, kind, nullable=name != "service_code") for name, kind in SERVICE_FIELDS.items()]
    + [pa.field("extra_fields", pa.string())],
    metadata={"source": "hotline /services.json", "grain": "one service per snapshot"},
)
