"""Field rules of the credit platform's subjects and records: a version as served becomes a landed row or a
quarantined record (never dropped, never stopping the load). The first rule a record breaks is reported:

- ``schema_mismatch``: not an object, a missing key (``uscc``/``record_id``) or ``updated_at``, a wrong JSON type
- ``time_unparseable``: a datetime or date that is not ISO 8601 (a datetime without an offset is +08:00)
- ``registration_number``: a ``uscc`` that is the old 15-digit business registration number
- ``uscc_bad_check``: a ``uscc`` that, normalised, is not a valid code (GB 32100-2015 check character)
- ``valid_until_before_decided``: a record whose ``valid_until`` is earlier than its ``decided_on``

The uscc rules hold for a record's ``uscc`` too: it is the key that ties the record to its subject. Dirty but
usable, landed: a uscc in lower case, with spaces or in full width (normalised), names with full-width brackets,
a subject re-registered under a new code, a record of a subject the platform does not list (staging's to match).
Personal data: ``legal_representative`` is not landed, and the quarantine's copy has it masked.
"""

from __future__ import annotations

import json
from typing import Any

from connectors.credit.schema import RECORD_FIELDS, SUBJECT_FIELDS
from gridlake import uscc
from gridlake.records import TZ, Checked, Converter, FieldWatch, Rejected, parse_instant, to_micros

__all__ = ["KEYS", "PERSONAL_FIELDS", "REASONS", "Checked", "TZ", "check", "mask", "parse_instant", "to_micros",
           "version_key"]

KEYS = {"subjects": "uscc", "records": "record_id"}
PERSONAL_FIELDS = {"subjects": frozenset({"legal_representative"}), "records": frozenset()}
REASONS = ("schema_mismatch", "time_unparseable", "registration_number", "uscc_bad_check",
           "valid_until_before_decided")
_FIELDS = {"subjects": SUBJECT_FIELDS, "records": RECORD_FIELDS}
_REMOVED = "[removed]"


def version_key(entity: str, item: Any) -> tuple[str, int] | None:
    """(key as served, updated_at in µs) of a served version, or None when either is unreadable."""
    key = KEYS[entity]
    if not isinstance(item, dict) or not isinstance(item.get(key), str) or not isinstance(item.get("updated_at"), str):
        return None
    try:
        return item[key], to_micros(parse_instant(item["updated_at"]))
    except ValueError:
        return None


def mask(entity: str, item: Any) -> str:
    """The record as served for the quarantine, without personal data."""
    if isinstance(item, dict):
        item = {key: (_REMOVED if key in PERSONAL_FIELDS[entity] and value is not None else value)
                for key, value in item.items()}
    return json.dumps(item, ensure_ascii=False, default=str)


def check(entity: str, item: Any, *, watch: FieldWatch | None = None) -> Checked:
    """Check one served version of a subject or a record against the schema and the field rules; ``watch`` (the
    load's ``FieldWatch``) is told whether each value had its declared type, to tell a changed source from dirt."""
    fields, key = _FIELDS[entity], KEYS[entity]
    drift: list[str] = []
    try:
        if not isinstance(item, dict):
            raise Rejected(None, "schema_mismatch")
        for name in (key, "uscc", "updated_at"):
            value = item.get(name)
            if not isinstance(value, str) or not value.strip():
                if watch is not None and value is not None and not isinstance(value, str):
                    watch.typed(name, ok=False)
                raise Rejected(name, "schema_mismatch")
        convert = Converter(watch=watch)
        row = {name: convert.value(name, item.get(name), kind) for name, kind in fields.items()}
        extra = {name: value for name, value in item.items()
                 if name not in fields and name not in PERSONAL_FIELDS[entity]}
        drift.extend(sorted(extra))
        row["extra_fields"] = json.dumps(extra, ensure_ascii=False, default=str) if extra else None
        row["uscc"] = _uscc(row["uscc"])
        if entity == "records" and row["valid_until"] is not None and row["decided_on"] is not None \
                and row["valid_until"] < row["decided_on"]:
            raise Rejected("valid_until", "valid_until_before_decided")
    except Rejected as reject:
        return Checked.rejected(item.get(key) if isinstance(item, dict) else None, reject, mask(entity, item),
                                drift=drift)
    return Checked(row=row, drift=drift)


def _uscc(served: str) -> str:
    code = uscc.normalise(served)
    if code is not None and len(code) == 15 and code.isdigit():
        raise Rejected("uscc", "registration_number")
    if not uscc.is_valid(code):
        raise Rejected("uscc", "uscc_bad_check")
    assert code is not None
    return code


