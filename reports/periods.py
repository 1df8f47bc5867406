"""The period a report covers, from the date it is issued on.

Each report is issued for the period that ended before its date: the daily bulletin of 27 November covers 26
November, the weekly report of a Monday the week (Monday to Sunday) before it, the monthly analysis of 1 December
November. Any issue date works (a report can be issued again for an earlier date); the Airflow schedule issues the
daily at 08:00, the weekly on Mondays and the monthly on the 1st.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["KINDS", "TITLES", "Period", "period_for"]

KINDS = ("daily", "weekly", "monthly")
TITLES = {"daily": "东城区市民热线每日专报", "weekly": "东城区接诉即办回访周报",
          "monthly": "东城区接诉即办月度分析报告"}


@dataclass(frozen=True)
class Period:
    """A report's period: the days ``start`` to ``end`` (exclusive), in the district's time zone."""

    kind: str
    issued_on: date
    start: date
    end: date
    timezone: str

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def slug(self) -> str:
        """The report's name in file names and the index: the day, the ISO week or the month covered."""
        if self.kind == "daily":
            return self.start.isoformat()
        if self.kind == "weekly":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start:%Y-%m}"

    @property
    def label(self) -> str:
        """The period in Chinese, as the report's heading gives it."""
        if self.kind == "daily":
            return _cn_date(self.start)
        if self.kind == "weekly":
            return f"{_cn_date(self.start)}至{_cn_date(self.last_day)}"
        return f"{self.start.year}年{self.start.month}月"

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def instant(self, day: date) -> datetime:
        """Midnight at the start of ``day`` in the district's time zone."""
        return datetime.combine(day, time(0), ZoneInfo(self.timezone))

    @property
    def starts_at(self) -> datetime:
        return self.instant(self.start)

    @property
    def ends_at(self) -> datetime:
        return self.instant(self.end)

    def previous(self) -> Period:
        """The period of the same kind just before this one (for comparisons)."""
        return period_for(self.kind, self.start, timezone=self.timezone)


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def period_for(kind: str, issued_on: date, *, timezone: str = "Asia/Shanghai") -> Period:
    """The period a report of ``kind`` issued on ``issued_on`` covers."""
    if kind == "daily":
        start = issued_on - timedelta(days=1)
        end = issued_on
    elif kind == "weekly":
        end = issued_on - timedelta(days=issued_on.weekday())  # the Monday of the issue date's week
        start = end - timedelta(days=7)
    elif kind == "monthly":
        end = issued_on.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    else:
        raise ValueError(f"unknown report kind {kind!r}: one of {', '.join(KINDS)}")
    return Period(kind, issued_on, start, end, timezone)
