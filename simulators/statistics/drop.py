"""The statistics bureau's drop folder: releases appear in it as the clock passes their publication.

``StatisticsDrop(dataset).publish_due(now)`` writes every release due by ``now`` that is not there yet, as
statistics.md describes it:

    drop/202610/key_enterprises_202610.xlsx   one sheet 企业月报: a title row, the Chinese header row, the data
    drop/202610/key_enterprises_202610.csv    the same data, GBK (or, for the releases the truth says, UTF-8
                                              with a byte-order mark), comma separated, the header row
    drop/202610/manifest.json                 period, published_at, files [{name, sha256, rows}]: written
                                              last, atomically (a temporary name, then a rename)
    drop/202610_r1/...                        a revision: the full month again

It is a clock listener (``clock.subscribe(drop.publish_due)``). Faults on demand: a release copied without its
manifest (still being copied), a manifest whose checksum does not match; ``actions`` offers both on a new
month (one of the spare months the generator stored, never on a scheduled release, so the truth holds).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import xlsxwriter

from simulators.dataset import Dataset
from simulators.scenario import TZ
from simulators.statistics.layout import (
    FIELDS,
    HEADERS,
    MANIFEST_NAME,
    NUMERIC_FIELDS,
    PLAIN_NUMBER,
    SHEET_NAME,
    ReleaseInfo,
    csv_name,
    read_index,
    read_release,
    title,
    xlsx_name,
)

__all__ = ["StatisticsDrop", "csv_bytes", "xlsx_bytes"]

# What a release's manifest says of its files: the truth ("good"), a wrong CSV checksum ("bad"), or no manifest.
_Manifest = Literal["good", "bad"] | None
_WIDTHS = {"uscc": 22, "name": 34, "street": 12, "industry_code": 9, "period": 11}


def xlsx_bytes(info: ReleaseInfo, cells: dict[str, list[str]]) -> bytes:
    """The release's workbook: plain numbers as numbers, the rest (separators, "-") as text, blanks empty."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    heading = title(info.period, info.revision)
    # A fixed creation time keeps the file (and its checksum) the same on every run.
    workbook.set_properties({"title": heading, "author": "东城区统计局", "company": "北京市东城区统计局",
                             "created": info.published_at.astimezone(TZ).replace(tzinfo=None)})
    sheet = workbook.add_worksheet(SHEET_NAME)
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
    header_format = workbook.add_format({"bold": True, "align": "center", "valign": "vcenter", "border": 1,
                                         "text_wrap": True, "bg_color": "#DDEBF7"})
    money_format = workbook.add_format({"num_format": "0.00"})
    count_format = workbook.add_format({"num_format": "0"})
    text_right = workbook.add_format({"align": "right"})
    sheet.merge_range(0, 0, 0, len(FIELDS) - 1, heading, title_format)
    for column, (field, header) in enumerate(zip(FIELDS, HEADERS)):
        sheet.write_string(1, column, header, header_format)
        sheet.set_column(column, column, _WIDTHS.get(field, 14))
    sheet.freeze_panes(2, 0)
    for column, field in enumerate(FIELDS):
        values = cells[field]
        numeric = field in NUMERIC_FIELDS
        number_format = count_format if field == "employees" else money_format
        for row, text in enumerate(values, start=2):
            if not numeric:
                sheet.write_string(row, column, text)
            elif text == "":
                continue  # the bureau leaves zero blank
            elif PLAIN_NUMBER.fullmatch(text):
                number = int(text) if field == "employees" else float(text)
                sheet.write_number(row, column, number, number_format)
            else:
                sheet.write_string(row, column, text, text_right)
    workbook.close()
    return buffer.getvalue()


def csv_bytes(info: ReleaseInfo, cells: dict[str, list[str]]) -> bytes:
    """The release's CSV in its encoding; a cell GBK cannot hold is an error naming it."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADERS)
    rows = list(zip(*(cells[field] for field in FIELDS)))
    writer.writerows(rows)
    try:
        return text.getvalue().encode(info.csv_encoding)
    except UnicodeEncodeError:
        for number, row in enumerate(rows, start=1):
            for header, value in zip(HEADERS, row):
                try:
                    value.encode(info.csv_encoding)
                except UnicodeEncodeError as err:
                    raise ValueError(f"release {info.release}, row {number} ({row[0]}), {header}: {value!r} "
                                     f"cannot be written in {info.csv_encoding}: {err.reason}") from None
        raise


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class StatisticsDrop:
    """Publishes a generated dataset's statistics releases into its drop folder."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._releases = {info.release: info for info in read_index(dataset)}
        self._lock = threading.RLock()

    @property
    def drop_dir(self) -> Path:
        return self.dataset.drop_dir

    @property
    def releases(self) -> list[ReleaseInfo]:
        """The scheduled releases, in order of publication (spares excluded)."""
        return [info for info in self._releases.values() if not info.spare]

    @property
    def spares(self) -> list[ReleaseInfo]:
        return [info for info in self._releases.values() if info.spare]

    def publish_due(self, now: datetime) -> list[str]:
        """Publish every scheduled release due by ``now`` and not yet there; the names published, in order."""
        if now.tzinfo is None:
            raise ValueError(f"publish_due: naive datetime {now!r}; the simulators keep aware times only")
        published = []
        with self._lock:
            for info in self.releases:
                if info.published_at <= now and not self._manifest_path(info).exists():
                    self._publish(info, manifest="bad" if "bad_checksum" in info.faults else "good")
                    published.append(info.release)
        return published

    def publish_without_manifest(self, release: str) -> Path:
        """Copy a release's files without its manifest: a release still being copied. Its folder."""
        with self._lock:
            return self._publish(self._unpublished(release), manifest=None)

    def publish_bad_checksum(self, release: str) -> Path:
        """Publish a release whose manifest gives a sha256 the CSV does not have. Its folder."""
        with self._lock:
            return self._publish(self._unpublished(release), manifest="bad")

    @property
    def actions(self) -> dict[str, Callable[[], Any]]:
        """Zero-argument actions for the control API, each on a new month (the next spare not in the drop)."""
        return {
            "statistics_missing_manifest": lambda: self._on_new_month(manifest=None),
            "statistics_bad_checksum": lambda: self._on_new_month(manifest="bad"),
        }

    def _on_new_month(self, *, manifest: _Manifest) -> dict[str, Any]:
        with self._lock:
            for info in self.spares:
                if not (self.drop_dir / info.release).exists():
                    folder = self._publish(info, manifest=manifest)
                    return {"release": info.release, "folder": str(folder), "manifest": manifest is not None}
        raise RuntimeError(f"no new month left for a statistics fault: the spare months "
                           f"{[info.release for info in self.spares]} are all in {self.drop_dir}")

    def _unpublished(self, release: str) -> ReleaseInfo:
        info = self._releases.get(release)
        if info is None:
            raise KeyError(f"no statistics release {release!r}; known: {sorted(self._releases)}")
        if self._manifest_path(info).exists():
            raise FileExistsError(f"release {release} is already published (with its manifest) in "
                                  f"{self.drop_dir}")
        return info

    def _manifest_path(self, info: ReleaseInfo) -> Path:
        return self.drop_dir / info.release / MANIFEST_NAME

    def _publish(self, info: ReleaseInfo, *, manifest: _Manifest) -> Path:
        """Write a release's files, then (unless None) its manifest: "good", or "bad" (a wrong CSV sha256)."""
        cells = read_release(self.dataset, info.release)
        rows = len(cells[FIELDS[0]])
        if rows != info.rows:
            raise ValueError(f"release {info.release}: {rows} stored rows, the index says {info.rows}")
        folder = self.drop_dir / info.release
        folder.mkdir(parents=True, exist_ok=True)
        files = [(xlsx_name(info.period), xlsx_bytes(info, cells)),
                 (csv_name(info.period), csv_bytes(info, cells))]
        for name, data in files:
            _write_atomically(folder / name, data)
        if manifest is None:
            return folder
        entries = []
        for name, data in files:
            digest = hashlib.sha256(data).hexdigest()
            if manifest == "bad" and name.endswith(".csv"):
                # The checksum of an earlier copy of the file, one line short.
                digest = hashlib.sha256(data[: data.rstrip(b"\r\n").rfind(b"\r\n") + 2]).hexdigest()
            entries.append({"name": name, "sha256": digest, "rows": rows})
        document = {"period": info.period, "published_at": info.published_at.astimezone(TZ).isoformat(),
                    "files": entries}
        _write_atomically(folder / MANIFEST_NAME, json.dumps(document, ensure_ascii=False, indent=2).encode())
        return folder
