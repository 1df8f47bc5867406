"""Field rules of the enforcement platform's cases: a case version as served becomes a landed row or a
quarantined record (never dropped, never stopping the load). The first rule a record breaks is reported:

- ``schema_mismatch``: not an object, a missing ``case_id``/``updated_at``, a field of the wrong JSON type
- ``time_unparseable``: a datetime that is not ISO 8601 (one without an offset is read as +08:00)
- ``unknown_matter_code``: a ``matter_code`` that is not one of ``/api/v1/matters`` after normalisation (full
  width, spaces, case). A category name sent instead of the code names six matters, not one: it cannot be
  mapped, so it is quarantined
- ``enterprise_without_uscc``: ``party.type`` enterprise with no ``party.uscc``
- ``uscc_bad_check``: an enterprise's ``party.uscc`` that, normalised, is not a valid code (GB 32100-2015)
- ``closed_before_filed``: ``closed_at`` earlier than ``filed_at``
- ``penalty_negative``: ``penalty_cny`` below zero
- ``penalty_in_wan_cny``: ``penalty_cny`` over 1,000,000 (the amount was given in 万元 by mistake)

Dirty but usable, landed normalised: a lower-case or full-width matter code, a uscc in lower case, with spaces
or in full width. Personal data (``party.id_number``, a non-enterprise party's name) is never landed, and the
quarantine's copy of the record has it masked.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from connectors.enforcement.schema import CASE_FIELDS, PARTY_TYPE
from gridlake import uscc
from gridlake.records import TZ, Checked, Converter, FieldWatch, Rejected, parse_instant, to_micros
from gridlake.reference import to_half_width

__all__ = [
    "MAX_PENALTY_CNY",
    "REASONS",
    "TZ",
    "Checked",
    "check_case",
    "mask_case",
    "matter_rows",
    "normalise_code",
    "parse_instant",
    "to_micros",
    "version_key",
]

MAX_PENALTY_CNY = 1_000_000
REASONS = (
    "schema_mismatch", "time_unparseable", "unknown_matter_code", "enterprise_without_uscc", "uscc_bad_check",
    "closed_before_filed", "penalty_negative", "penalty_in_wan_cny",
)
_PARTY_FIELDS = {f.name for f in PARTY_TYPE} | {"id_number"}
_REMOVED = "[removed]"


def normalise_code(raw: str) -> str:
    """A code as the lists write it: half width, no spaces, upper case."""
    return "".join(to_half_width(raw).split()).upper()


def version_key(item: Any) -> tuple[str, int] | None:
    """(case_id, updated_at in µs since the epoch) of a served case, or None when either is unreadable."""
    if not isinstance(item, dict) or not isinstance(item.get("case_id"), str) \
            or not isinstance(item.get("updated_at"), str):
        return None
    try:
        moment = parse_instant(item["updated_at"])
    except ValueError:
        return None
    return item["case_id"], to_micros(moment)


def mask_case(item: Any) -> str:
    """The record as served for the quarantine, without the party's personal data."""
    if isinstance(item, dict) and isinstance(item.get("party"), dict):
        party = dict(item["party"])
        if "id_number" in party and party["id_number"] is not None:
            party["id_number"] = _REMOVED
        if party.get("type") != "enterprise" and party.get("name") is not None:
            party["name"] = _REMOVED
        for key in set(party) - _PARTY_FIELDS:
            party[key] = _REMOVED
        item = {**item, "party": party}
    return json.dumps(item, ensure_ascii=False, default=str)


def check_case(item: Any, *, matter_codes: frozenset[str], watch: FieldWatch | None = None) -> Checked:
    """Check one served case version against the schema and the field rules; ``watch`` (the load's
    ``FieldWatch``) is told whether each value had its declared type, to tell a changed source from dirt."""
    drift: list[str] = []
    try:
        if not isinstance(item, dict):
            raise Rejected(None, "schema_mismatch")
        for name in ("case_id", "updated_at"):
            value = item.get(name)
            if not isinstance(value, str) or not value.strip():
                if watch is not None and value is not None and not isinstance(value, str):
                    watch.typed(name, ok=False)
                raise Rejected(name, "schema_mismatch")
        convert = Converter(watch=watch)
        row: dict[str, Any] = {}
        for name, kind in CASE_FIELDS.items():
            if name == "party":
                row[name] = _party(item.get("party"), drift, convert)
            else:
                row[name] = convert.value(name, item.get(name), kind)
        extra = {key: value for key, value in item.items() if key not in CASE_FIELDS}
        drift.extend(sorted(extra))
        row["extra_fields"] = json.dumps(extra, ensure_ascii=False, default=str) if extra else None
        _field_rules(row, matter_codes)
    except Rejected as reject:
        return Checked.rejected(item.get("case_id") if isinstance(item, dict) else None, reject, mask_case(item),
                                drift=drift)
    return Checked(row=row, drift=drift)


def _field_rules(row: dict[str, Any], matter_codes: frozenset[str]) -> None:
    code = row["matter_code"]
    if code is None or normalise_code(code) not in matter_codes:
        raise Rejected("matter_code", "unknown_matter_code")
    row["matter_code"] = normalise_code(code)
    party = row["party"]
    if party is not None and party["type"] == "enterprise":
        code = uscc.normalise(party["uscc"])
        if code is None:
            raise Rejected("party.uscc", "enterprise_without_uscc")
        if not uscc.is_valid(code):
            raise Rejected("party.uscc", "uscc_bad_check")
        party["uscc"] = code
    elif party is not None and party["uscc"] is not None:
        party["uscc"] = uscc.normalise(party["uscc"])
    if row["closed_at"] is not None and row["filed_at"] is not None and row["closed_at"] < row["filed_at"]:
        raise Rejected("closed_at", "closed_before_filed")
    penalty = row["penalty_cny"]
    if penalty is not None and penalty < 0:
        raise Rejected("penalty_cny", "penalty_negative")
    if penalty is not None and penalty > MAX_PENALTY_CNY:
        raise Rejected("penalty_cny", "penalty_in_wan_cny")


def _party(raw: Any, drift: list[str], convert: Converter) -> dict[str, Any] | None:
    if raw is None:
        return None
    if convert.watch is not None:
        convert.watch.typed("party", ok=isinstance(raw, dict))
    if not isinstance(raw, dict):
        raise Rejected("party", "schema_mismatch")
    drift.extend(f"party.{key}" for key in sorted(set(raw) - _PARTY_FIELDS))  # reported, never landed
    party = {name: convert.value(f"party.{name}", raw.get(name), pa.string()) for name in ("type", "uscc", "name")}
    if party["type"] != "enterprise":
        party["name"] = None  # a person's name: personal data
    return party


def matter_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the matter list (``GET /api/v1/matters``): one per matter, with its category."""
    rows = []
    for category in document["categories"]:
        for matter in category.get("matters") or []:
            rows.append({
                "matter_code": normalise_code(str(matter["matter_code"])),
                "matter_name": matter.get("name"),
                "matter_name_en": matter.get("name_en"),
                "category_code": normalise_code(str(category["category_code"])),
                "category_name": category.get("name"),
                "category_name_en": category.get("name_en"),
            })
    return rows
