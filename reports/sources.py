"""The published datasets a report reads, and whether each may be shown for the report's period.

A report reads the shared zone only (never the lake or the warehouse), so it never shows what failed its checks.
For each dataset it takes the current version and judges it against the period:

- ``complete``  the version's data reach the end of the period: shown;
- ``partial``   they stop inside the period and nothing newer was held back: shown, with how far they reach;
- ``withheld``  they stop before the end of the period because the newer data failed their checks or were held
                back: the sections that need the dataset say so, with the reasons, and show nothing stale;
- ``no_data``   they stop before the period starts (nothing newer held back either): nothing to show yet;
- ``missing``   the dataset was never published.

A version's data clock is the catalog's ``data_as_of`` (the newest change any platform reported when it was built,
kept up to date while its content stays the same), else the newest ``data_as_of`` of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from gridlake.settings import Settings
from gridlake.shared import SharedZone
from reports.periods import Period

__all__ = ["Source", "Sources"]

_SHOWN = ("complete", "partial")
_STATUS_TEXT = {"complete": "已覆盖本期", "partial": "部分覆盖本期", "withheld": "未通过质量检查，暂停使用",
                "no_data": "尚无本期数据", "missing": "尚未发布"}


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


@dataclass
class Source:
    """One published dataset as a report reads it: its version, how far its data reach, and the verdict."""

    dataset: str
    status: str
    version: str | None = None
    published_at: datetime | None = None
    data_as_of: datetime | None = None
    rows: int | None = None
    attempt_status: str | None = None
    attempt_at: datetime | None = None
    reasons: list[str] = field(default_factory=list)
    table: pa.Table | None = field(default=None, repr=False)

    @property
    def shown(self) -> bool:
        return self.status in _SHOWN

    @property
    def status_text(self) -> str:
        return _STATUS_TEXT[self.status]

    def as_dict(self) -> dict[str, Any]:
        """What the report's record keeps of the source."""
        return {"dataset": self.dataset, "status": self.status, "version": self.version,
                "published_at": self.published_at.isoformat() if self.published_at else None,
                "data_as_of": self.data_as_of.isoformat() if self.data_as_of else None, "rows": self.rows,
                "attempt_status": self.attempt_status,
                "attempt_at": self.attempt_at.isoformat() if self.attempt_at else None, "reasons": self.reasons}


def _rows_clock(table: pa.Table) -> datetime | None:
    if "data_as_of" not in table.column_names or table.num_rows == 0:
        return None
    return pc.max(table["data_as_of"]).as_py()


class Sources:
    """The datasets of one report, judged against its period, registered by name in a DuckDB connection whose
    time zone is the district's (so ``cast(ts as date)`` is a Beijing day)."""

    def __init__(self, settings: Settings, period: Period, datasets: list[str]) -> None:
        self.period = period
        self.zone = SharedZone.default(settings)
        self.connection = duckdb.connect()
        self.connection.execute(f"set TimeZone = '{settings.timezone}'")
        self.tz = ZoneInfo(settings.timezone)
        catalog = self.zone.catalog()["datasets"]
        self.sources = {name: self._judge(name, catalog.get(name, {})) for name in datasets}
        for name, source in self.sources.items():
            if source.shown and source.table is not None:
                self.connection.register(name, source.table)

    def _judge(self, name: str, entry: dict[str, Any]) -> Source:
        attempt = entry.get("last_attempt") or {}
        current = entry.get("current")
        source = Source(name, "missing", attempt_status=attempt.get("status"), attempt_at=_parse(attempt.get("at")),
                        reasons=list(attempt.get("reasons") or []))
        if not current:
            return source
        table = self.zone.read(current)
        if table is None:  # the catalog names a version whose files are gone: nothing to show
            return source
        source.version = current["version"]
        source.published_at = _parse(current["published_at"])
        source.rows = current.get("rows")
        source.data_as_of = _parse(current.get("data_as_of")) or _rows_clock(table)
        source.table = table
        held = source.attempt_status in ("failed", "held_back") and (
            source.attempt_at is None or source.published_at is None or source.attempt_at >= source.published_at)
        clock = source.data_as_of
        if clock is not None and clock >= self.period.ends_at:
            source.status = "complete"
        elif held:
            source.status = "withheld"
        elif clock is not None and clock <= self.period.starts_at:
            source.status = "no_data"
        else:
            source.status = "partial"
        return source

    def __getitem__(self, name: str) -> Source:
        return self.sources[name]

    def query(self, sql: str, parameters: list[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a query on the registered datasets, as dicts (parameters ``?`` by position or ``$name``)."""
        cursor = self.connection.execute(sql, parameters or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        self.connection.close()
