"""The bureau's drop folder, read as statistics.md describes it: release folders, manifests, the two files.

A release folder is ``YYYYMM/`` or ``YYYYMM_rN/``. Its ``manifest.json`` is written last, so a folder without
one is still being copied and is not read. A release with a manifest is verified whole before a row of it is
used: the manifest names the period of its folder and both files, every file's sha256 and row count match, the
CSV has a header row (no blank or repeated column name), the XLSX has the same header and carries the same rows
as the CSV. Anything else rejects the release whole (``ReleaseRejected``, with a reason code and the file and row
at fault). The header is read as written, not held to the spec's: a column added or missing is a schema change
the loader judges (``rules.schema_changes``), not a broken release.

The CSV is the source of truth: it is text exactly as the bureau writes it (``12,345.67``, ``-``, a blank), in
GBK, or UTF-8 when it starts with a byte-order mark. The XLSX stores clean figures as binary floats and the
dirty ones as text, so it is read (python-calamine) only to verify it says the same thing.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.statistics.rules import FIELD_OF, FIGURE_HEADERS, NumberError, parse_number
from gridlake.lake import file_sha256

__all__ = [
    "MANIFEST_NAME",
    "RELEASE_FOLDER",
    "SHEET_NAME",
    "Release",
    "ReleaseRejected",
    "fingerprint",
    "read_release",
    "release_folders",
]

TZ = ZoneInfo("Asia/Shanghai")
MANIFEST_NAME = "manifest.json"
SHEET_NAME = "企业月报"
RELEASE_FOLDER = re.compile(r"(?P<period>\d{4}(?:0[1-9]|1[0-2]))(?:_r(?P<revision>[1-9]\d*))?")


class ReleaseRejected(Exception):
    """A release that cannot be read as a whole: nothing of it lands. ``reason`` is a short stable code."""

    def __init__(self, release: str, reason: str, detail: str) -> None:
        super().__init__(f"statistics release {release}: {reason}: {detail}")
        self.release, self.reason, self.detail = release, reason, detail


@dataclass(frozen=True)
class Release:
    """A verified release: its manifest, the CSV's header as written and its data rows (cells as text, in the
    header's order)."""

    name: str
    period: str
    revision: int
    published_at: datetime
    manifest_sha256: str
    csv_name: str
    csv_encoding: str
    header: tuple[str, ...]
    rows: list[list[str]]
    files: list[dict[str, Any]]


def release_folders(drop: Path) -> tuple[list[tuple[str, int, Path]], list[str]]:
    """The release folders of the drop as (period, revision, path), oldest month and revision first; and the
    names of the other entries (not releases: reported, never read)."""
    releases, others = [], []
    for entry in sorted(drop.iterdir()):
        match = RELEASE_FOLDER.fullmatch(entry.name)
        if entry.is_dir() and match is not None:
            releases.append((match["period"], int(match["revision"] or 0), entry))
        elif not entry.name.startswith("."):
            others.append(entry.name)
    return sorted(releases, key=lambda item: (item[0], item[1])), others


def _manifest(folder: Path, data: bytes, period: str) -> tuple[datetime, dict[str, dict[str, Any]]]:
    name = folder.name
    try:
        document = json.loads(data.decode("utf-8-sig"))
        files = {entry["name"]: entry for entry in document["files"]}
        published = datetime.fromisoformat(str(document["published_at"]))
        declared = str(document["period"])
        for entry in files.values():
            if not isinstance(entry["sha256"], str) or not isinstance(entry["rows"], int):
                raise TypeError(f"file entry {entry!r} needs a sha256 text and an integer rows")
    except (ValueError, KeyError, TypeError) as err:
        raise ReleaseRejected(name, "manifest_invalid", f"{MANIFEST_NAME}: {type(err).__name__}: {err}") from None
    if declared != period:
        raise ReleaseRejected(name, "manifest_invalid", f"{MANIFEST_NAME} says period {declared}, the folder {period}")
    if published.tzinfo is None:  # a bare local time: the district's
        published = published.replace(tzinfo=TZ)
    return published, files


def _header_problem(header: list[str]) -> str | None:
    """Why a header row cannot name the columns (None: it can)."""
    if not header:
        return "there is no header row"
    if "" in header:
        return f"column {header.index('') + 1} has no name"
    repeated = sorted({name for name in header if header.count(name) > 1})
    return f"{', '.join(repeated)} named twice" if repeated else None


def _read_csv(release: str, path: Path) -> tuple[str, tuple[str, ...], list[list[str]]]:
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        encoding, raw = "utf-8-sig", data[len(codecs.BOM_UTF8):]
    else:
        encoding, raw = "gbk", data
    try:
        text = raw.decode("utf-8" if encoding == "utf-8-sig" else "gbk")
    except UnicodeDecodeError as err:
        raise ReleaseRejected(release, "csv_undecodable", f"{path.name} is not {encoding}: {err}") from None
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    header = [cell.strip() for cell in rows[0]] if rows else []
    problem = _header_problem(header)
    if problem is not None:
        raise ReleaseRejected(release, "header_mismatch", f"{path.name} header {header}: {problem}")
    return encoding, tuple(header), rows[1:]


def _read_xlsx(release: str, path: Path, header: tuple[str, ...]) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook  # only when a release is read

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if SHEET_NAME not in workbook.sheet_names:
            raise ReleaseRejected(release, "xlsx_mismatch",
                                  f"{path.name} has sheets {workbook.sheet_names}, not {SHEET_NAME}")
        rows = workbook.get_sheet_by_name(SHEET_NAME).to_python(skip_empty_area=False)
    except ReleaseRejected:
        raise
    except Exception as err:  # calamine raises its own errors for a file that is not a workbook
        raise ReleaseRejected(release, "xlsx_unreadable", f"{path.name}: {type(err).__name__}: {err}") from None
    while rows and all(cell in (None, "") for cell in rows[-1]):
        rows.pop()
    sheet_header = ["" if cell is None else str(cell).strip() for cell in rows[1]] if len(rows) >= 2 else []
    while sheet_header and sheet_header[-1] == "":
        sheet_header.pop()
    if sheet_header != list(header):
        raise ReleaseRejected(release, "header_mismatch",
                              f"{path.name} sheet {SHEET_NAME}: row 2 {sheet_header} is not the CSV's header "
                              f"{list(header)}")
    return rows[2:]


def _same(header: str, xlsx: Any, text: str) -> bool:
    """Whether an XLSX cell says what the CSV cell says (numbers by value, text as text). A number is allowed in
    a figure column and in a column the spec does not declare (its type is unknown); not in a declared text one."""
    if xlsx is None or xlsx == "":
        return text.strip() == ""
    if isinstance(xlsx, (int, float)) and not isinstance(xlsx, bool):
        if header in FIELD_OF and header not in FIGURE_HEADERS:
            return False
        try:
            value, _ = parse_number(text)
        except NumberError:
            return False
        return value is not None and abs(Decimal(repr(float(xlsx))) - value) < Decimal("0.000001")
    return str(xlsx).strip() == text.strip()


def _verify_xlsx(release: str, path: Path, header: tuple[str, ...], xlsx_rows: list[list[Any]],
                 csv_rows: list[list[str]]) -> None:
    width = len(header)
    for number, (sheet_row, csv_row) in enumerate(zip(xlsx_rows, csv_rows), start=1):
        cells = list(sheet_row[:width]) + [None] * (width - len(sheet_row))
        for name, xlsx, text in zip(header, cells, csv_row + [""] * (width - len(csv_row))):
            if not _same(name, xlsx, text):
                raise ReleaseRejected(release, "xlsx_mismatch",
                                      f"{path.name} data row {number}, {name}: {xlsx!r} but the CSV has {text!r}")


def read_release(folder: Path, *, period: str, revision: int) -> Release | None:
    """A release verified whole, or None when it has no manifest yet (still being copied).

    Raises ``ReleaseRejected`` when the manifest, a checksum, a row count, a header or the XLSX does not hold;
    a header that differs from the spec's is not a rejection (``Release.header`` says what came).
    """
    name = folder.name
    manifest_path = folder / MANIFEST_NAME
    try:
        manifest_bytes = manifest_path.read_bytes()
    except FileNotFoundError:
        return None
    published_at, files = _manifest(folder, manifest_bytes, period)
    csv_name, xlsx_name = f"key_enterprises_{period}.csv", f"key_enterprises_{period}.xlsx"
    for expected in (csv_name, xlsx_name):
        if expected not in files:
            raise ReleaseRejected(name, "manifest_invalid", f"{MANIFEST_NAME} does not list {expected}")
    listed = []
    for file_name, entry in files.items():
        path = folder / file_name
        if not path.is_file():
            raise ReleaseRejected(name, "file_missing", f"{file_name} is in the manifest but not in the folder")
        actual = file_sha256(path)
        if actual != entry["sha256"].lower():
            raise ReleaseRejected(name, "checksum_mismatch",
                                  f"{file_name}: sha256 {actual}, the manifest says {entry['sha256']}")
        listed.append({"name": file_name, "sha256": actual, "rows": entry["rows"]})
    encoding, header, csv_rows = _read_csv(name, folder / csv_name)
    xlsx_rows = _read_xlsx(name, folder / xlsx_name, header)
    for file_name, count in ((csv_name, len(csv_rows)), (xlsx_name, len(xlsx_rows))):
        if count != files[file_name]["rows"]:
            raise ReleaseRejected(name, "row_count_mismatch",
                                  f"{file_name} has {count} data rows, the manifest says {files[file_name]['rows']}")
    _verify_xlsx(name, folder / xlsx_name, header, xlsx_rows, csv_rows)
    return Release(name=name, period=period, revision=revision, published_at=published_at,
                   manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(), csv_name=csv_name,
                   csv_encoding=encoding, header=header, rows=csv_rows, files=listed)


def fingerprint(folder: Path) -> str:
    """A digest of everything in a release folder (names and contents): a rejected release is read again only
    once this changes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        digest.update(path.name.encode() + b"\0" + file_sha256(path).encode() + b"\0")
    return digest.hexdigest()
