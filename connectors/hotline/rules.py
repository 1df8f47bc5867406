"""Field rules of the hotline's records: a record as served becomes a landed row or a quarantined record.

A record is quarantined (never dropped, never stopping the load) when it breaks the declared schema (a field
of the wrong JSON type, a missing id or updated time) or a field rule of specs/hotline.md's dirty-data list.
The reason is a short stable code, counted per batch; the first rule a record breaks is the one reported:

- ``schema_mismatch``: not an object, a missing ``service_request_id``/``updated_datetime``, a wrong JSON type
- ``time_unparseable``: a datetime that is not ISO 8601 (one without an offset is fine: it is +08:00)
- ``time_in_future``: ``updated_datetime`` later than the platform's now (it would push the cursor past
  versions not yet read)
- ``lat_long_zero``, ``lat_long_swapped``, ``outside_beijing``: coordinates (WGS84) that cannot be the place
- ``unknown_service_code``: a ``service_code`` (after full-width/space normalisation) not in /services.json
- ``description_control_chars``, ``description_too_long``: the citizen's words, broken
- ``unknown_status``: a status other than open/closed

What is dirty but usable is landed as served and left to staging: full-width codes, a street code missing or
of another district (the coordinates and the community still place the order), times without an offset.

A load's ``RequestWatch`` (in ``RequestRules.watch``) is told of every value's type, so a field whose values all
changed type is told apart from a few dirty records (gridlake.records.FieldWatch).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from connectors.hotline.schema import DISPATCH_TYPE, EXTENSION_FIELDS, OPEN311_FIELDS, RETURN_VISIT_TYPE, SERVICE_FIELDS
from gridlake.records import TZ, Checked, Converter, FieldWatch, Rejected, parse_instant

__all__ = [
    "BEIJING_BOX",
    "MAX_DESCRIPTION",
    "REASONS",
    "REQUEST_FIELDS",
    "Checked",
    "RequestRules",
    "RequestWatch",
    "check_request",
    "check_service",
    "hash_phone",
    "normalise_code",
    "parse_instant",
    "version_key",
]

# Beijing municipality's extent (WGS84: lat_min, lat_max, lon_min, lon_max), with a small margin: a point
# outside it is not a Beijing hotline matter's place. The district's own box is narrower (settings), but a
# point a few hundred metres past the district line is a call taker's pin, not dirty data.
BEIJING_BOX = (39.40, 41.10, 115.40, 117.55)
MAX_DESCRIPTION = 4000
STATUSES = frozenset({"open", "closed"})
REASONS = (
    "schema_mismatch", "time_unparseable", "time_in_future", "lat_long_zero", "lat_long_swapped",
    "outside_beijing", "unknown_service_code", "description_control_chars", "description_too_long",
    "unknown_status",
)
# C0 controls but tab and newline (which are text), DEL, and the C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_DISPATCH_FIELDS = {f.name: f.type for f in DISPATCH_TYPE}
_VISIT_FIELDS = {f.name: f.type for f in RETURN_VISIT_TYPE}
_EXTENSIONS_SERVED = (set(EXTENSION_FIELDS) - {"complainant_phone_hash"}) | {"complainant"}
_COMPLAINANT_FIELDS = {"name", "phone"}
_INDEX = re.compile(r"\[\d+\]")
# The declared top-level fields of a work order as served: the Open311 fields and the 12345 extensions' object.
REQUEST_FIELDS = (*OPEN311_FIELDS, "extended_attributes")


class RequestWatch(FieldWatch):
    """The load's ``FieldWatch`` over work orders: every dispatch of a list counts under one path
    (``extended_attributes.dispatches[].unit_code``), so a dispatch field that changed type is seen as one field
    over all orders, not as one field per list position."""

    def typed(self, path: str, *, ok: bool) -> None:
        super().typed(_INDEX.sub("[]", path), ok=ok)


@dataclass(frozen=True)
class RequestRules:
    """What the rules of a work order need: the known service codes, the platform's now, the PII salt, and the
    load's field watch (told of every value's type; None: not watched)."""

    service_codes: frozenset[str]
    now: datetime
    pii_salt: bytes
    future_tolerance: timedelta = timedelta(minutes=5)
    watch: FieldWatch | None = field(default=None, compare=False)


def version_key(item: Any) -> tuple[str, str]:
    """(service_request_id, updated instant) of a record as served: what makes a version one version.

    Two spellings of one instant (``Z`` and ``+08:00``) are one version; an unparseable time keys by its text.
    """
    if not isinstance(item, dict):
        return ("", json.dumps(item, ensure_ascii=False, default=str))
    record_id = str(item.get("service_request_id"))
    updated = item.get("updated_datetime")
    if isinstance(updated, str):
        try:
            return (record_id, parse_instant(updated).astimezone(TZ).isoformat())
        except ValueError:
            pass
    return (record_id, f"raw:{updated!r}")


def normalise_code(value: str) -> str:
    """A code as the platform meant it: full-width to half-width, spaces (any width) removed."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def hash_phone(phone: str | None, salt: bytes) -> str | None:
    """A keyed hash of a phone number (digits only, +86 dropped), so one complainant hashes alike everywhere."""
    if phone is None:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone) if ch.isdigit())
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not digits:
        return None
    return hmac.new(salt, digits.encode(), hashlib.sha256).hexdigest()


def check_request(item: Any, rules: RequestRules) -> Checked:
    """Check one work order as served: the row to land (declared schema, PII removed) or why not."""
    convert = Converter(numbers_from_text=True, blank_time_is_null=True, watch=rules.watch)
    try:
        row = _request_row(item, rules, convert)
        _field_rules(row, rules)
    except Rejected as reject:
        return Checked.rejected(item.get("service_request_id") if isinstance(item, dict) else None, reject,
                                _masked_json(item, rules.pii_salt), drift=convert.drift,
                                without_offset=convert.without_offset)
    return Checked(row=row, drift=convert.drift, without_offset=convert.without_offset)


def _request_row(item: Any, rules: RequestRules, convert: Converter) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise Rejected(None, "schema_mismatch")
    for required in ("service_request_id", "updated_datetime"):
        value = item.get(required)
        if value is not None and not isinstance(value, str):
            convert.value(required, value, pa.string())  # raises schema_mismatch, and tells the watch
        if not isinstance(value, str) or not value.strip():
            raise Rejected(required, "schema_mismatch")
    row = {name: convert.value(name, item.get(name), kind) for name, kind in OPEN311_FIELDS.items()}
    convert.unknown("", item, set(OPEN311_FIELDS) | {"extended_attributes"})

    ext = item.get("extended_attributes")
    if ext is None:
        ext = {}
    _typed(convert, "extended_attributes", ok=isinstance(ext, dict))
    if not isinstance(ext, dict):
        raise Rejected("extended_attributes", "schema_mismatch")
    for name, kind in EXTENSION_FIELDS.items():
        path = f"extended_attributes.{name}"
        if name == "dispatches":
            raw = ext.get(name)
            if raw is not None:
                _typed(convert, path, ok=isinstance(raw, list))
            if raw is not None and not isinstance(raw, list):
                raise Rejected(path, "schema_mismatch")
            row[name] = None if raw is None else [
                convert.obj(f"{path}[{k}]", each, _DISPATCH_FIELDS) for k, each in enumerate(raw)]
            if row[name] and any(each is None for each in row[name]):
                raise Rejected(path, "schema_mismatch")
        elif name == "return_visit":
            row[name] = convert.obj(path, ext.get(name), _VISIT_FIELDS)
        elif name == "complainant_phone_hash":
            row[name] = _phone_hash(ext.get("complainant"), rules.pii_salt, convert)
        else:
            row[name] = convert.value(path, ext.get(name), kind)
    convert.unknown("extended_attributes", ext, _EXTENSIONS_SERVED)
    row["extra_fields"] = json.dumps(convert.extra, ensure_ascii=False, default=str) if convert.extra else None
    return row


def _typed(convert: Converter, path: str, *, ok: bool) -> None:
    """Tell the load's watch (if any) whether a value checked here rather than by the converter had its type."""
    if convert.watch is not None:
        convert.watch.typed(path, ok=ok)


def _phone_hash(complainant: Any, salt: bytes, convert: Converter) -> str | None:
    path = "extended_attributes.complainant"
    if complainant is None:
        return None
    _typed(convert, path, ok=isinstance(complainant, dict))
    if not isinstance(complainant, dict):
        raise Rejected(path, "schema_mismatch")
    # Unknown complainant fields are personal data too: reported as drift, never landed.
    convert.unknown(path, complainant, _COMPLAINANT_FIELDS, land=False)
    phone = complainant.get("phone")
    if phone is not None:
        _typed(convert, f"{path}.phone", ok=isinstance(phone, str | int))
    if phone is not None and not isinstance(phone, str | int):
        raise Rejected(f"{path}.phone", "schema_mismatch")
    return hash_phone(None if phone is None else str(phone), salt)


def _field_rules(row: dict[str, Any], rules: RequestRules) -> None:
    if row["updated_datetime"] > rules.now + rules.future_tolerance:
        raise Rejected("updated_datetime", "time_in_future")
    lat, lon = row["lat"], row["long"]
    if lat is not None and lon is not None:
        lat_min, lat_max, lon_min, lon_max = BEIJING_BOX
        if lat == 0 or lon == 0:
            raise Rejected("lat", "lat_long_zero")
        if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max):
            swapped = lat_min <= lon <= lat_max and lon_min <= lat <= lon_max
            raise Rejected("lat", "lat_long_swapped" if swapped else "outside_beijing")
    code = row["service_code"]
    if code is None or normalise_code(code) not in rules.service_codes:
        raise Rejected("service_code", "unknown_service_code")
    description = row["description"]
    if description is not None:
        if _CONTROL.search(description):
            raise Rejected("description", "description_control_chars")
        if len(description) > MAX_DESCRIPTION:
            raise Rejected("description", "description_too_long")
    if row["status"] not in STATUSES:
        raise Rejected("status", "unknown_status")


def _masked_json(item: Any, salt: bytes) -> str:
    """The record as served for the quarantine, with the complainant replaced by the phone's hash."""
    if isinstance(item, dict) and isinstance(item.get("extended_attributes"), dict) \
            and "complainant" in item["extended_attributes"]:
        ext = dict(item["extended_attributes"])
        complainant = ext["complainant"]
        phone = complainant.get("phone") if isinstance(complainant, dict) else None
        ext["complainant"] = {"phone_hash": hash_phone(str(phone), salt) if phone is not None else None,
                              "name": "[removed]" if complainant is not None else None}
        item = {**item, "extended_attributes": ext}
    return json.dumps(item, ensure_ascii=False, default=str)


def check_service(item: Any, *, watch: FieldWatch | None = None) -> Checked:
    """Check one service of /services.json: the row to land or why not (``watch``: the load's field watch)."""
    convert = Converter(numbers_from_text=True, blank_time_is_null=True, watch=watch)
    try:
        if not isinstance(item, dict):
            raise Rejected(None, "schema_mismatch")
        code = item.get("service_code")
        if code is not None and not isinstance(code, str):
            convert.value("service_code", code, pa.string())  # raises schema_mismatch, and tells the watch
        if not isinstance(code, str) or not code.strip():
            raise Rejected("service_code", "schema_mismatch")
        row = {name: convert.value(name, item.get(name), kind) for name, kind in SERVICE_FIELDS.items()}
        convert.unknown("", item, SERVICE_FIELDS)
        row["extra_fields"] = json.dumps(convert.extra, ensure_ascii=False, default=str) if convert.extra else None
    except Rejected as reject:
        return Checked.rejected(item.get("service_code") if isinstance(item, dict) else None, reject,
                                json.dumps(item, ensure_ascii=False, default=str), drift=convert.drift)
    return Checked(row=row, drift=convert.drift)
