"""The statistics bureau's release layout, shared by the generator and the drop.

What statistics.md fixes (the sheet, the Chinese header row, the file and folder names) lives here once,
and so does the compact store the generator writes under ``dataset.statistics_dir``:

    statistics/releases.parquet           the index: one row per release (scheduled ones and the spares)
    statistics/releases/<release>.parquet one per release: every cell as the bureau writes it (text)

A release is named as its drop folder: ``YYYYMM`` for the first release of a month, ``YYYYMM_r1``,
``YYYYMM_r2`` for its revisions. Cells are stored as text because the text is what the bureau sends
(``12,345.67``, ``-``, blank); the drop writes plain numbers as XLSX numbers and everything else as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulators.dataset import Dataset

__all__ = [
    "COLUMNS",
    "CSV_ENCODINGS",
    "FIELDS",
    "HEADERS",
    "HEADER_OF",
    "MANIFEST_NAME",
    "NUMERIC_FIELDS",
    "PLAIN_NUMBER",
    "SHEET_NAME",
    "ReleaseInfo",
    "csv_name",
    "period_label",
    "read_index",
    "read_release",
    "release_name",
    "title",
    "write_index",
    "write_release",
    "xlsx_name",
]

# (field, header as written): statistics.md, "Columns".
COLUMNS: tuple[tuple[str, str], ...] = (
    ("uscc", "统一社会信用代码"),
    ("name", "企业名称"),
    ("street", "所属街道"),
    ("industry_code", "行业代码"),
    ("revenue", "营业收入(万元)"),
    ("profit", "利润总额(万元)"),
    ("tax", "应交税费(万元)"),
    ("employees", "从业人员(人)"),
    ("energy", "综合能耗(吨标准煤)"),
    ("period", "报告期"),
)
FIELDS: tuple[str, ...] = tuple(field for field, _ in COLUMNS)
HEADERS: tuple[str, ...] = tuple(header for _, header in COLUMNS)
HEADER_OF: dict[str, str] = dict(COLUMNS)
NUMERIC_FIELDS: tuple[str, ...] = ("revenue", "profit", "tax", "employees", "energy")
SHEET_NAME = "企业月报"
MANIFEST_NAME = "manifest.json"
# How a release's CSV is encoded: the bureau's GBK, or (now and then) UTF-8 with a byte-order mark.
CSV_ENCODINGS = ("gbk", "utf-8-sig")
# A number as a clean cell holds it: no separators, no blanks, no "-".
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")

_RELEASE = re.compile(r"(?P<period>\d{6})(?:_r(?P<revision>[1-9]\d*))?")


def release_name(period: str, revision: int) -> str:
    """The folder name of a release: ``202610`` or ``202610_r1``."""
    return period if revision == 0 else f"{period}_r{revision}"


def xlsx_name(period: str) -> str:
    return f"key_enterprises_{period}.xlsx"


def csv_name(period: str) -> str:
    return f"key_enterprises_{period}.csv"


def period_label(period: str) -> str:
    """The 报告期 cell of a period: ``2026年10月``."""
    return f"{period[:4]}年{period[4:]}月"


def title(period: str, revision: int) -> str:
    """The title row of a release's sheet."""
    suffix = "" if revision == 0 else f"（第{revision}次修订）"
    return f"东城区重点企业监测月报（{period_label(period)}）{suffix}"


@dataclass(frozen=True)
class ReleaseInfo:
    """One release of the bureau, as the index records it."""

    release: str
    period: str  # YYYYMM
    revision: int
    # For a spare: when it would come (the drop publishes spares only on demand, as faults).
    published_at: datetime
    rows: int
    csv_encoding: str
    faults: tuple[str, ...]
    spare: bool  # kept for the fault actions; never published by the clock

    def __post_init__(self) -> None:
        match = _RELEASE.fullmatch(self.release)
        if match is None or match["period"] != self.period or int(match["revision"] or 0) != self.revision:
            raise ValueError(f"release {self.release!r}: name does not match period {self.period} "
                             f"revision {self.revision}")
        if self.csv_encoding not in CSV_ENCODINGS:
            raise ValueError(f"release {self.release}: csv_encoding {self.csv_encoding!r} is not one of "
                             f"{CSV_ENCODINGS}")
        if self.published_at.tzinfo is None:
            raise ValueError(f"release {self.release}: published_at must be aware")


_INDEX_SCHEMA = pa.schema([
    ("release", pa.string()),
    ("period", pa.string()),
    ("revision", pa.int8()),
    ("published_at", pa.timestamp("us", tz="Asia/Shanghai")),
    ("rows", pa.int32()),
    ("csv_encoding", pa.string()),
    ("faults", pa.list_(pa.string())),
    ("spare", pa.bool_()),
])
_RELEASE_SCHEMA = pa.schema([(field, pa.string()) for field in FIELDS])


def _index_path(dataset: Dataset) -> Path:
    return dataset.statistics_dir / "releases.parquet"


def _release_path(dataset: Dataset, release: str) -> Path:
    return dataset.statistics_dir / "releases" / f"{release}.parquet"


def write_index(dataset: Dataset, releases: list[ReleaseInfo]) -> Path:
    path = _index_path(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "release": [r.release for r in releases],
        "period": [r.period for r in releases],
        "revision": [r.revision for r in releases],
        "published_at": [r.published_at for r in releases],
        "rows": [r.rows for r in releases],
        "csv_encoding": [r.csv_encoding for r in releases],
        "faults": [list(r.faults) for r in releases],
        "spare": [r.spare for r in releases],
    }, schema=_INDEX_SCHEMA)
    pq.write_table(table, path, compression="zstd")
    return path


def read_index(dataset: Dataset) -> list[ReleaseInfo]:
    """Every release of the dataset, scheduled and spare, in order of publication."""
    path = _index_path(dataset)
    if not path.exists():
        raise FileNotFoundError(f"no statistics releases index at {path}: generate the dataset first")
    releases = [
        ReleaseInfo(release=row["release"], period=row["period"], revision=row["revision"],
                    published_at=row["published_at"], rows=row["rows"], csv_encoding=row["csv_encoding"],
                    faults=tuple(row["faults"]), spare=row["spare"])
        for row in pq.read_table(path).to_pylist()
    ]
    return sorted(releases, key=lambda r: (r.published_at, r.release))


def write_release(dataset: Dataset, release: str, cells: dict[str, list[str]]) -> Path:
    """Store one release's cells (text, as written) compactly."""
    missing = [field for field in FIELDS if field not in cells]
    if missing:
        raise ValueError(f"release {release}: cells lack the fields {missing}")
    path = _release_path(dataset, release)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({field: cells[field] for field in FIELDS}, schema=_RELEASE_SCHEMA), path,
                   compression="zstd")
    return path


def read_release(dataset: Dataset, release: str) -> dict[str, list[str]]:
    """One release's cells, column by column, in the order of its rows."""
    path = _release_path(dataset, release)
    if not path.exists():
        raise FileNotFoundError(f"release {release}: no stored cells at {path}")
    table = pq.read_table(path)
    return {field: table[field].to_pylist() for field in FIELDS}
