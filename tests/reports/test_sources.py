"""How a report judges each dataset against its period (reports/sources.py), on a shared zone written by hand: the
data clock from the catalog or, for a catalog written before it kept one, from the rows; a period the data reach
is shown, one they stop inside is shown in part, one they do not reach has no data, and newer data that failed
their checks withhold the dataset from a period the last good version does not cover."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gridlake.settings import Settings
from reports import period_for
from reports.sources import Sources

UTC = timezone.utc


def _zone(home: Path, *, clock: datetime, in_catalog: bool, attempt: str = "published") -> None:
    """A shared zone with one dataset, ``hotline_requests``, whose rows' newest data_as_of is ``clock``."""
    folder = home / "shared" / "hotline_requests" / "v=1"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"request_id": ["a", "b"], "data_as_of": pa.array(
        [datetime(2026, 11, 1, tzinfo=UTC), clock], pa.timestamp("us", tz="UTC"))}), folder / "part-00000.parquet")
    current = {"version": "1", "path": "hotline_requests/v=1", "files": ["part-00000.parquet"],
               "published_at": "2026-11-20T17:00:00+00:00", "rows": 2}
    if in_catalog:
        current["data_as_of"] = clock.isoformat()
    catalog = {"format": 1, "datasets": {"hotline_requests": {"current": current, "last_attempt": {
        "status": attempt, "at": "2026-11-21T17:00:00+00:00" if attempt != "published" else current["published_at"],
        "reasons": ["主键重复：3 行 (request_id)"] if attempt != "published" else []}}}}
    (home / "shared" / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")


def _status(home: Path, issued_on: date) -> str:
    sources = Sources(Settings(home=home), period_for("daily", issued_on), ["hotline_requests", "iot_domain_daily"])
    try:
        assert sources["iot_domain_daily"].status == "missing"  # never published
        return sources["hotline_requests"].status
    finally:
        sources.close()


@pytest.mark.parametrize("in_catalog", [True, False])
def test_the_data_clock_decides_what_a_period_may_show(tmp_path: Path, in_catalog: bool) -> None:
    _zone(tmp_path, clock=datetime(2026, 11, 20, 10, tzinfo=UTC), in_catalog=in_catalog)  # 18:00 in Beijing
    assert _status(tmp_path, date(2026, 11, 20)) == "complete"  # 19 November: wholly before the clock
    assert _status(tmp_path, date(2026, 11, 21)) == "partial"  # 20 November: the data stop at 18:00
    assert _status(tmp_path, date(2026, 11, 22)) == "no_data"  # 21 November: not reached


def test_newer_data_that_failed_withhold_what_the_last_good_version_does_not_cover(tmp_path: Path) -> None:
    _zone(tmp_path, clock=datetime(2026, 11, 20, 10, tzinfo=UTC), in_catalog=True, attempt="failed")
    assert _status(tmp_path, date(2026, 11, 20)) == "complete"  # covered: not stale for it
    assert _status(tmp_path, date(2026, 11, 21)) == "withheld"
    assert _status(tmp_path, date(2026, 11, 22)) == "withheld"
