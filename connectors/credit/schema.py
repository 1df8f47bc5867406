"""The Arrow schemas the credit connector lands in the raw zone, declared here, never inferred.

One row per version of a subject file or of a credit record (key and ``updated_at``). Times are instants (UTC
in the file), dates are dates. ``uscc`` lands normalised (full width to half width, spaces removed, upper
case; GB 32100-2015 checked). Personal data: a subject's ``legal_representative`` is not landed.
Names land as served (full-width brackets and re-registrations are staging's to reconcile).

Fields a source sends that a schema does not declare (schema drift) land in ``extra_fields`` as JSON text.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["RECORD_FIELDS", "RECORD_SCHEMA", "SCHEMAS", "SUBJECT_FIELDS", "SUBJECT_SCHEMA", "TIME"]

TIME = pa.timestamp("us", tz="UTC")

SUBJECT_FIELDS: dict[str, pa.DataType] = {
    "uscc": pa.string(),
    "name": pa.string(),
    "registered_address": pa.string(),
    "street_code": pa.string(),
    "industry_code": pa.string(),
    "registered_capital_wan_cny": pa.float64(),
    "established_on": pa.date32(),
    "status": pa.string(),
    "credit_level": pa.string(),
    "updated_at": TIME,
}

RECORD_FIELDS: dict[str, pa.DataType] = {
    "record_id": pa.string(),
    "uscc": pa.string(),
    "kind": pa.string(),
    "authority": pa.string(),
    "decision_no": pa.string(),
    "decided_on": pa.date32(),
    "valid_until": pa.date32(),
    "content": pa.string(),
    "penalty_cny": pa.float64(),
    "revoked": pa.bool_(),
    "updated_at": TIME,
}


def _schema(fields: dict[str, pa.DataType], not_null: set[str], **metadata: str) -> pa.Schema:
    return pa.schema([pa.field(name, kind, nullable=name not in not_null) for name, kind in fields.items()]
                     + [pa.field("extra_fields", pa.string())], metadata=metadata)


SUBJECT_SCHEMA = _schema(SUBJECT_FIELDS, {"uscc", "updated_at"},
                         source="credit GET /subjects", grain="one subject file version (uscc, updated_at)")
RECORD_SCHEMA = _schema(RECORD_FIELDS, {"record_id", "uscc", "updated_at"},
                        source="credit GET /records", grain="one credit record version (record_id, updated_at)")
SCHEMAS = {"subjects": SUBJECT_SCHEMA, "records": RECORD_SCHEMA}
