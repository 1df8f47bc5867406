"""Field rules of the bureau's rows: a CSV row becomes a landed row or a quarantined record.

Numbers are read as statistics.md's dirty-data list says: thousands separators (``12,345.67``) are parsed,
a blank is zero, ``-`` is "not reported" (null). A row is quarantined (never dropped, never stopping the load)
with the first rule it breaks:

- ``schema_mismatch``: not as many cells as the header has
- ``uscc_missing``, ``uscc_invalid``: no credit code, or one that fails GB 32100-2015's check character after
  normalisation (spaces, full width, case)
- ``duplicate_uscc``: the enterprise came already in this release (the first row is kept)
- ``number_unparseable``: a figure that is not a number, a blank or ``-`` (or has more than 4 decimals)
- ``employees_not_integer``: a head count with a fraction
- ``period_mismatch``: 报告期 is not the release's month

A street that does not resolve (a defunct street after a merger, a misspelling) is not a reason: the row lands
with ``street_code`` null and the name as written, and staging decides (the enterprise and its figures are
sound, and the uscc places it better than a register's old street name).

Columns are found by their header, so a release whose header differs from the spec's is still read: a column
the spec does not declare is drift (its cells land in ``extra_fields``); a declared column that is missing, or a
figure column none of whose values is a number any more (``schema_changes``), is a change of the bureau's
schema, which stops the load unless accepted (then the missing column lands as null).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from gridlake import uscc as credit_code
from gridlake.lake import QuarantinedRecord
from gridlake.records import FieldWatch
from gridlake.reference import resolve_street, streets, to_half_width

__all__ = [
    "FIELD_OF",
    "FIGURE_HEADERS",
    "HEADERS",
    "REASONS",
    "CheckedRow",
    "NumberError",
    "check_row",
    "parse_number",
    "period_label",
    "schema_changes",
    "typed_cell",
]

# (header as written, landed field): statistics.md, "Columns".
COLUMNS: tuple[tuple[str, str], ...] = (
    ("统一社会信用代码", "uscc"),
    ("企业名称", "enterprise_name"),
    ("所属街道", "street_name"),
    ("行业代码", "industry_code"),
    ("营业收入(万元)", "revenue_wan"),
    ("利润总额(万元)", "profit_wan"),
    ("应交税费(万元)", "tax_wan"),
    ("从业人员(人)", "employees"),
    ("综合能耗(吨标准煤)", "energy_tce"),
    ("报告期", "period_label"),
)
HEADERS: tuple[str, ...] = tuple(header for header, _ in COLUMNS)
FIELD_OF: dict[str, str] = dict(COLUMNS)
FIGURE_HEADERS: tuple[str, ...] = HEADERS[4:9]
REASONS = ("schema_mismatch", "uscc_missing", "uscc_invalid", "duplicate_uscc", "number_unparseable",
           "employees_not_integer", "period_mismatch")

_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")
_SEPARATED = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_MAX_DECIMALS = 4  # the landed figures' scale (schema.FIGURE)


USCC_HEADER = "统一社会信用代码"
EMPLOYEES_HEADER = "从业人员(人)"


class NumberError(ValueError):
    """A figure that is neither a number (with or without separators), a blank nor ``-``."""


def period_label(period: str) -> str:
    """The 报告期 of a period: ``202610`` → ``2026年10月``."""
    return f"{period[:4]}年{period[4:]}月"


def parse_number(text: str | None) -> tuple[Decimal | None, str]:
    """A figure as the bureau writes it, and its kind: plain, separated, blank (zero) or not_reported (None)."""
    cell = "".join(to_half_width(text or "").split())
    if cell == "":
        return Decimal(0), "blank"
    if cell == "-":
        return None, "not_reported"
    if _PLAIN.fullmatch(cell):
        kind = "plain"
    elif _SEPARATED.fullmatch(cell):
        kind, cell = "separated", cell.replace(",", "")
    else:
        raise NumberError(f"{text!r} is not a number, a blank or '-'")
    try:
        value = Decimal(cell)
    except InvalidOperation as err:  # pragma: no cover - the patterns admit only decimals
        raise NumberError(f"{text!r} is not a number") from err
    if -value.as_tuple().exponent > _MAX_DECIMALS:  # type: ignore[operator]
        raise NumberError(f"{text!r} has more than {_MAX_DECIMALS} decimals")
    return value, kind


def typed_cell(header: str, text: str) -> bool | None:
    """Whether a figure cell has its declared type (a number; for 从业人员 a whole one), or None when it says
    nothing (a blank or ``-``): what tells a column that changed type from a few dirty cells."""
    try:
        value, kind = parse_number(text)
    except NumberError:
        return False
    if value is None or kind == "blank":
        return None
    return header != EMPLOYEES_HEADER or value == value.to_integral_value()


def schema_changes(header: Sequence[str], rows: Sequence[Sequence[str]], *, min_records: int) -> dict[str, str]:
    """The spec's columns that changed in a release, by header: ``disappeared`` (not in its header, however few
    its rows: a header is the bureau's own statement) or ``changed_type`` (a figure column with at least
    ``min_records`` values and not one of them a number, by ``FieldWatch``'s rule). Rows whose cell count is not
    the header's (quarantined ``schema_mismatch``) are not counted."""
    changes = {name: "disappeared" for name in HEADERS if name not in header}
    watch = FieldWatch(HEADERS, known=HEADERS, min_records=min_records)
    positions = {name: header.index(name) for name in FIGURE_HEADERS if name in header}
    for cells in rows:
        if len(cells) != len(header):
            continue
        for name, position in positions.items():
            ok = typed_cell(name, cells[position])
            if ok is not None:
                watch.typed(name, ok=ok)
    # Only the type changes: the watch sees no records, so its own "disappeared" would mean nothing here.
    changes.update({name: how for name, how in watch.changes().items() if how == "changed_type"})
    return changes


@dataclass
class CheckedRow:
    """One CSV row checked: a row to land or a record to quarantine, and what was noticed (for the manifest)."""

    row: dict[str, Any] | None = None
    quarantined: QuarantinedRecord | None = None
    cells: dict[str, str] = field(default_factory=dict)
    noticed: list[str] = field(default_factory=list)  # separated, blank, not_reported, street_short_name...


class _Reject(Exception):
    def __init__(self, header: str | None, reason: str, detail: str) -> None:
        super().__init__(f"{header}: {reason}: {detail}")
        self.header, self.reason, self.detail = header, reason, detail


def _short_names() -> frozenset[str]:
    return frozenset(street.short_name for street in streets())


def check_row(cells: list[str], *, number: int, release: str, period: str, seen: set[str],
              header: Sequence[str] = HEADERS) -> CheckedRow:
    """Check the ``number``-th data row of a release's CSV (``cells`` in the order of the release's ``header``);
    ``seen`` the usccs so far. A declared column the header lacks lands as null (its rule is not applied); the
    cells of undeclared columns land in ``extra_fields``."""
    named = dict(zip(header, cells))
    checked = CheckedRow(cells=named)
    try:
        if len(cells) != len(header):
            raise _Reject(None, "schema_mismatch", f"{len(cells)} cells, the header has {len(header)}")
        if USCC_HEADER not in named:
            raise _Reject(USCC_HEADER, "uscc_missing", "the release has no such column")
        code = credit_code.normalise(named[USCC_HEADER])
        if code is None:
            raise _Reject(USCC_HEADER, "uscc_missing", "blank")
        if not credit_code.is_valid(code):
            raise _Reject(USCC_HEADER, "uscc_invalid", f"{named[USCC_HEADER]!r} fails its check")
        if code in seen:
            raise _Reject(USCC_HEADER, "duplicate_uscc", f"{code} came earlier in release {release}")
        row: dict[str, Any] = {"uscc": code, "source_row": number}
        for header_name in FIGURE_HEADERS:
            if header_name not in named:
                row[FIELD_OF[header_name]] = None
                continue
            try:
                value, kind = parse_number(named[header_name])
            except NumberError as err:
                raise _Reject(header_name, "number_unparseable", str(err)) from None
            if kind != "plain":
                checked.noticed.append(kind)
            if header_name == EMPLOYEES_HEADER and value is not None:
                if value != value.to_integral_value():
                    raise _Reject(header_name, "employees_not_integer", f"{named[header_name]!r}")
                value = int(value)
            row[FIELD_OF[header_name]] = value
        if "报告期" in named:
            label = "".join(to_half_width(named["报告期"]).split())
            if label != period_label(period):
                raise _Reject("报告期", "period_mismatch",
                              f"{named['报告期']!r}, the release is {period_label(period)}")
        street = named.get("所属街道", "").strip()
        row["street_name"] = street or None
        row["street_code"] = resolve_street(street) if street else None
        if street and row["street_code"] is None:
            checked.noticed.append("street_unresolved")
        elif "".join(to_half_width(street).split()) in _short_names():
            checked.noticed.append("street_short_name")
        row["enterprise_name"] = named.get("企业名称", "").strip() or None
        row["industry_code"] = "".join(to_half_width(named.get("行业代码", "")).split()) or None
        row["period_label"] = named.get("报告期")
        drift = {name: text for name, text in named.items() if name not in FIELD_OF}
        row["extra_fields"] = json.dumps(drift, ensure_ascii=False) if drift else None
    except _Reject as err:
        record_id = f"{release}:{credit_code.normalise(named.get(USCC_HEADER)) or f'row {number}'}"
        checked.quarantined = QuarantinedRecord(
            record_id=record_id, field=err.header, reason=err.reason,
            raw=json.dumps({"row": number, "cells": named if len(cells) == len(header) else cells,
                            "detail": err.detail}, ensure_ascii=False))
        return checked
    seen.add(code)
    checked.row = row
    return checked
