"""Which period a report issued on a date covers, and which reports a run of the reports DAG issues."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from reports import period_for
from reports.model import display
from reports.schedule import issue_dates


@pytest.mark.parametrize(("kind", "issued_on", "start", "end", "slug", "label"), [
    ("daily", date(2026, 11, 20), date(2026, 11, 19), date(2026, 11, 20), "2026-11-19", "2026年11月19日"),
    ("daily", date(2027, 1, 1), date(2026, 12, 31), date(2027, 1, 1), "2026-12-31", "2026年12月31日"),
    # a Monday issues the week before it; any other day the last whole week
    ("weekly", date(2026, 11, 23), date(2026, 11, 16), date(2026, 11, 23), "2026-W47",
     "2026年11月16日至2026年11月22日"),
    ("weekly", date(2026, 11, 26), date(2026, 11, 16), date(2026, 11, 23), "2026-W47",
     "2026年11月16日至2026年11月22日"),
    ("weekly", date(2027, 1, 4), date(2026, 12, 28), date(2027, 1, 4), "2026-W53",
     "2026年12月28日至2027年1月3日"),
    ("monthly", date(2026, 12, 1), date(2026, 11, 1), date(2026, 12, 1), "2026-11", "2026年11月"),
    ("monthly", date(2027, 1, 15), date(2026, 12, 1), date(2027, 1, 1), "2026-12", "2026年12月"),
    ("monthly", date(2026, 3, 1), date(2026, 2, 1), date(2026, 3, 1), "2026-02", "2026年2月"),
])
def test_a_report_covers_the_period_that_ended_before_its_issue_date(kind, issued_on, start, end, slug, label) -> None:
    period = period_for(kind, issued_on)
    assert (period.start, period.end, period.slug, period.label) == (start, end, slug, label)
    assert period.ends_at.isoformat() == f"{end.isoformat()}T00:00:00+08:00"  # midnight in Beijing


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="quarterly"):
        period_for("quarterly", date(2026, 11, 20))


def _beijing(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00").astimezone(timezone.utc)


def test_a_run_issues_the_daily_every_day_the_weekly_on_mondays_and_the_monthly_on_the_first() -> None:
    tuesday = issue_dates(_beijing("2026-11-24", 8), None, timezone="Asia/Shanghai")
    assert tuesday == {"daily": date(2026, 11, 24), "weekly": None, "monthly": None}
    monday_first = issue_dates(_beijing("2027-03-01", 8), {}, timezone="Asia/Shanghai")
    assert monday_first == dict.fromkeys(("daily", "weekly", "monthly"), date(2027, 3, 1))
    # 00:30 in Beijing is still the day before in UTC: the day is Beijing's
    assert issue_dates(_beijing("2026-11-23", 0), None, timezone="Asia/Shanghai")["weekly"] == date(2026, 11, 23)


def test_a_run_conf_names_the_dates() -> None:
    run_after = _beijing("2026-11-24", 8)
    assert issue_dates(run_after, {"issued_on": "2026-11-23"}, timezone="Asia/Shanghai") == dict.fromkeys(
        ("daily", "weekly", "monthly"), date(2026, 11, 23))
    assert issue_dates(run_after, {"issued_on": {"monthly": "2026-12-01"}}, timezone="Asia/Shanghai") == {
        "daily": None, "weekly": None, "monthly": date(2026, 12, 1)}
    with pytest.raises(ValueError, match="yearly"):
        issue_dates(run_after, {"issued_on": {"yearly": "2026-12-01"}}, timezone="Asia/Shanghai")
    with pytest.raises(ValueError, match="must be a date"):
        issue_dates(run_after, {"issued_on": 20261201}, timezone="Asia/Shanghai")


@pytest.mark.parametrize(("value", "kind", "shown"), [
    (None, "rate", "—"), (0.87654, "rate", "87.7%"), (1234, "int", "1,234"), (93.333, "score", "93.3"),
    (3, "delta", "+3"), (-2, "delta", "-2"), (0, "delta", "0"), (2, "rank_change", "↑2"),
    (-1, "rank_change", "↓1"), (0, "rank_change", "持平"), (-0.125, "rate_delta", "-12.5个百分点"),
])
def test_values_are_written_as_the_centre_reads_them(value, kind, shown) -> None:
    assert display(value, kind) == shown
