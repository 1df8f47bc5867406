"""A record as a platform serves it (JSON), turned into a row of a declared Arrow schema, or rejected with a reason.

The connectors' field rules build on this: a value of the wrong JSON type is ``schema_mismatch``, a time that is
not ISO 8601 is ``time_unparseable``, fields the schema does not declare are drift (landed aside and reported),
and a rejected record goes to quarantine with the field and the reason (``Checked.rejected``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from gridlake.lake import QuarantinedRecord

__all__ = ["TZ", "Checked", "Converter", "FieldWatch", "Rejected", "SchemaChanged", "parse_instant", "parse_local",
           "to_micros"]

# Platforms may send times without an offset: they mean the district's local time (specs/README.md).
TZ = ZoneInfo("Asia/Shanghai")


class Rejected(Exception):
    """A record breaks its schema or a field rule: which field (None: the record as a whole) and why."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    """A record checked: the row to land, or the record to quarantine; the undeclared fields seen; whether a
    time came without an offset."""

    row: dict[str, Any] | None = None
    quarantined: QuarantinedRecord | None = None
    drift: list[str] = field(default_factory=list)
    without_offset: bool = False

    @classmethod
    def rejected(cls, record_id: Any, rejection: Rejected, raw: str, *, drift: list[str] | None = None,
                 without_offset: bool = False) -> Checked:
        """A quarantined record; ``raw`` is the record as served, already stripped of personal data."""
        return cls(quarantined=QuarantinedRecord(record_id=None if record_id is None else str(record_id),
                                                 field=rejection.field, reason=rejection.reason, raw=raw),
                   drift=drift or [], without_offset=without_offset)


def parse_local(text: str) -> tuple[datetime, bool]:
    """An ISO 8601 datetime as an aware one, and whether it came without an offset (then it is +08:00)."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        return moment.replace(tzinfo=TZ), True
    return moment, False


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; one without an offset is the district's local time."""
    return parse_local(text)[0]


def to_micros(moment: datetime) -> int:
    """An instant as whole microseconds since the epoch (exact, unlike a float timestamp)."""
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


class SchemaChanged(RuntimeError):
    """A source changed its schema: a declared field disappeared or changed type. The entity's load stops (lands
    nothing, keeps its cursor) until the schema in code follows the source or the change is accepted."""

    def __init__(self, platform: str, entity: str, changes: dict[str, str], *, records: int) -> None:
        listed = ", ".join(f"{name} {what}" for name, what in sorted(changes.items()))
        super().__init__(f"{platform}.{entity}: the source's schema changed ({listed}, over {records} records); "
                         f"the load stops until the declared schema follows it or the change is accepted")
        self.platform = platform
        self.entity = entity
        self.changes = changes


class FieldWatch:
    """Tells a source's schema change from a dirty record, over the records of one load.

    A record with a value of the wrong type is dirty (quarantined as ``schema_mismatch``). A field is *changed*
    when, over at least ``min_records`` records, none of its values had the declared type and at least
    ``min_records`` did not; a field *disappeared* when it was present in earlier loads (``known``, kept in the
    cursor) and is absent from every one of at least ``min_records`` records of this one.
    """

    def __init__(self, fields: Iterable[str], *, known: Iterable[str] = (), min_records: int = 20) -> None:
        self.fields = tuple(fields)
        self.known = frozenset(known)
        self.min_records = min_records
        self.records = 0
        self.present: Counter[str] = Counter()
        self.good: Counter[str] = Counter()
        self.wrong: Counter[str] = Counter()

    def record(self, raw: Any) -> None:
        """Note which declared top-level fields a record (a JSON object as served) carries."""
        if not isinstance(raw, dict):
            return
        self.records += 1
        self.present.update(name for name in self.fields if name in raw)

    def typed(self, path: str, *, ok: bool) -> None:
        """Note a non-null value of a declared field that had (``ok``) or did not have its declared type."""
        (self.good if ok else self.wrong)[path] += 1

    def changes(self) -> dict[str, str]:
        """The fields that changed, with how: ``disappeared`` or ``changed_type``."""
        out: dict[str, str] = {}
        if self.records >= self.min_records:
            out.update({name: "disappeared" for name in self.fields
                        if name in self.known and self.present[name] == 0})
        out.update({path: "changed_type" for path, count in self.wrong.items()
                    if count >= self.min_records and self.good[path] == 0})
        return out

    def check(self, platform: str, entity: str, *, accept: bool = False) -> dict[str, str]:
        """Raise ``SchemaChanged`` on a change, unless ``accept``; returns the changes (for the manifest)."""
        changes = self.changes()
        if changes and not accept:
            raise SchemaChanged(platform, entity, changes, records=self.records)
        return changes

    def seen(self) -> list[str]:
        """What the next load's ``known`` is: the declared fields present in earlier loads or this one, less
        those that disappeared in this one (committed only when accepted: the source has dropped them)."""
        gone = {name for name, what in self.changes().items() if what == "disappeared"}
        return sorted((self.known | {name for name in self.fields if self.present[name]}) - gone)


class Converter:
    """Converts one record's values to their declared Arrow types, noting drift and times without an offset.

    ``numbers_from_text``: a number may come as text ("39.91"); ``blank_time_is_null``: an empty time is null;
    ``watch``: the load's ``FieldWatch``, told whether each value had its declared type.
    """

    def __init__(self, *, numbers_from_text: bool = False, blank_time_is_null: bool = False,
                 watch: FieldWatch | None = None) -> None:
        self.numbers_from_text = numbers_from_text
        self.blank_time_is_null = blank_time_is_null
        self.watch = watch
        self.extra: dict[str, Any] = {}
        self.drift: list[str] = []
        self.without_offset = False

    def value(self, path: str, raw: Any, kind: pa.DataType) -> Any:
        if raw is None:
            return None
        if self.watch is None:
            return self._value(path, raw, kind)
        try:
            converted = self._value(path, raw, kind)
        except Rejected as rejection:
            if rejection.reason == "schema_mismatch":
                self.watch.typed(path, ok=False)
            raise
        self.watch.typed(path, ok=True)
        return converted

    def _value(self, path: str, raw: Any, kind: pa.DataType) -> Any:
        if pa.types.is_string(kind):
            if not isinstance(raw, str):
                raise Rejected(path, "schema_mismatch")
            return raw
        if pa.types.is_boolean(kind):
            if not isinstance(raw, bool):
                raise Rejected(path, "schema_mismatch")
            return raw
        if pa.types.is_floating(kind):
            return self._number(path, raw)
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            if not isinstance(raw, str):
                raise Rejected(path, "schema_mismatch")
            if self.blank_time_is_null and not raw.strip():
                return None
            try:
                if pa.types.is_date(kind):
                    return date.fromisoformat(raw.strip())
                moment, naive = parse_local(raw)
            except ValueError:
                raise Rejected(path, "time_unparseable") from None
            self.without_offset |= naive
            return moment
        if pa.types.is_list(kind) and pa.types.is_string(kind.value_type):
            if not isinstance(raw, list) or not all(isinstance(each, str) for each in raw):
                raise Rejected(path, "schema_mismatch")
            return list(raw)
        raise TypeError(f"no conversion for {path} of type {kind}")  # a schema this module does not know

    def _number(self, path: str, raw: Any) -> float:
        if isinstance(raw, bool) or (not self.numbers_from_text and not isinstance(raw, int | float)):
            raise Rejected(path, "schema_mismatch")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise Rejected(path, "schema_mismatch") from None
        if not math.isfinite(number):
            raise Rejected(path, "schema_mismatch")
        return number

    def obj(self, path: str, raw: Any, fields: dict[str, pa.DataType]) -> dict[str, Any] | None:
        """A nested object of declared fields; its undeclared fields are drift."""
        if raw is None:
            return None
        if self.watch is not None:
            self.watch.typed(path, ok=isinstance(raw, dict))
        if not isinstance(raw, dict):
            raise Rejected(path, "schema_mismatch")
        out = {name: self.value(f"{path}.{name}", raw.get(name), kind) for name, kind in fields.items()}
        self.unknown(path, raw, fields)
        return out

    def unknown(self, path: str, raw: dict[str, Any], known: Any, *, land: bool = True) -> None:
        """Note the fields of ``raw`` not in ``known`` as drift; keep their values (``extra``) when ``land``."""
        for name in raw:
            if name not in known:
                where = f"{path}.{name}" if path else name
                self.drift.append(where)
                if land:
                    self.extra[where] = raw[name]
