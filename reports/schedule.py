"""Which reports a run of the ``reports`` DAG issues, and for which dates.

A run issues the daily bulletin for its own day (the 08:00 run, or a later run when a held-back dataset is
published at last and the day's bulletin is written again with it); the weekly report on Mondays and the monthly
analysis on the 1st. A run's conf may name the dates instead: ``{"issued_on": "2026-11-23"}`` issues all three
for that date, ``{"issued_on": {"weekly": "2026-11-23"}}`` only those named.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from reports.periods import KINDS

__all__ = ["issue_dates"]


def issue_dates(run_after: datetime, conf: dict[str, Any] | None, *, timezone: str) -> dict[str, date | None]:
    """Per kind, the issue date a run writes its report for, or None when the run issues none of that kind."""
    named = (conf or {}).get("issued_on")
    if isinstance(named, str):
        return {kind: date.fromisoformat(named) for kind in KINDS}
    if isinstance(named, dict):
        unknown = set(named) - set(KINDS)
        if unknown:
            raise ValueError(f"conf issued_on names unknown report kinds {sorted(unknown)}: use {', '.join(KINDS)}")
        return {kind: date.fromisoformat(named[kind]) if kind in named else None for kind in KINDS}
    if named is not None:
        raise ValueError(f"conf issued_on must be a date (YYYY-MM-DD) or a mapping of kind to date, not {named!r}")
    day = run_after.astimezone(ZoneInfo(timezone)).date()
    return {"daily": day, "weekly": day if day.weekday() == 0 else None, "monthly": day if day.day == 1 else None}
