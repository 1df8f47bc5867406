"""``gridlake ingest``: the same loads as the DAGs, from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.ingest import Job, run_job
from gridlake.cli import app
from gridlake.lake import BatchManifest, Lake
from gridlake.settings import get_settings


@pytest.fixture
def home(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in served.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GRIDLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("GRIDLAKE_PII_SALT", "cli-test-salt")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _ingest(*args: str):
    return CliRunner().invoke(app, ["ingest", *args], catch_exceptions=False, env={"COLUMNS": "160"})


def test_ingest_a_platform_lands_it_and_reports_the_counts(home: Path) -> None:
    result = _ingest("enforcement")
    assert result.exit_code == 0, result.output
    lake = Lake(home / "lake")
    cases = lake.manifests("enforcement", "cases")
    assert len(cases) == 1 and cases[0].rows_landed > 0
    line = next(line for line in result.output.splitlines() if "enforcement.cases" in line and "│" in line)
    cells = [cell.strip() for cell in line.split("│") if cell.strip()]
    assert cells[:5] == ["enforcement.cases", "1", f"{cases[0].rows_read:,}", f"{cases[0].rows_landed:,}",
                         f"{sum(cases[0].rows_quarantined.values()):,}"]

    again = _ingest("enforcement", "--only", "cases")  # incremental: nothing new since
    assert again.exit_code == 0, again.output
    assert [m.rows_read for m in lake.manifests("enforcement", "cases")] == [cases[0].rows_read, 0]


def test_a_backfill_from_the_command_line_leaves_the_cursor_and_lands_nothing_twice(home: Path) -> None:
    assert _ingest("hotline", "--only", "requests").exit_code == 0
    lake = Lake(home / "lake")
    first = lake.manifests("hotline", "requests")[-1]
    result = _ingest("hotline", "--only", "requests", "--since", "2026-11-12", "--until", "2026-11-15T12:00")
    assert result.exit_code == 0, result.output
    backfill = lake.manifests("hotline", "requests")[-1]
    assert backfill.extra["backfill"]["since"] == "2026-11-12T00:00:00+08:00"
    assert backfill.rows_read == 0 and backfill.cursor_to == first.cursor_to
    assert "hotline.requests (backfill)" in result.output


def test_bad_arguments_are_named(home: Path) -> None:
    unknown = CliRunner().invoke(app, ["ingest", "weather"])
    assert unknown.exit_code == 2 and "unknown platform 'weather'" in unknown.output
    backwards = CliRunner().invoke(app, ["ingest", "hotline", "--since", "2026-11-15", "--until", "2026-11-12"])
    assert backwards.exit_code == 2 and "is not after" in backwards.output
    garbled = CliRunner().invoke(app, ["ingest", "hotline", "--since", "yesterday"])
    assert garbled.exit_code == 2 and "ISO 8601" in garbled.output


def test_a_failing_platform_does_not_stop_the_others_and_the_exit_code_says_so(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CREDIT_API")
    result = _ingest("all", "--only", "subjects", "--only", "releases")
    assert result.exit_code == 1
    assert "credit.subjects failed" in result.output and "credit_api" in result.output
    assert Lake(home / "lake").manifests("statistics", "key_enterprises"), "the job after the failed one ran"


def fake_load(lake, conn=None):
    """A loader that committed a batch with schema drift and an accepted change (for the report's test)."""
    return BatchManifest(platform="demo", entity="items", batch_id="b1", seq=1, started_at="", committed_at="",
                         cursor_from=None, cursor_to=None, rows_read=3, rows_landed=3, rows_quarantined={},
                         schema_fingerprint="", extra={"schema_drift": {"grid_code": 3},
                                                       "schema_changes": {"lat": "disappeared"}})


def test_new_fields_and_accepted_changes_are_reported(tmp_path: Path) -> None:
    job = Job("demo", "items", "tests.connectors.test_cli:fake_load", ("items",), False)
    notes = run_job(job, lake=Lake(tmp_path / "lake"), conn="unused").notes
    assert notes == ["items: new fields in the source, landed in extra_fields: grid_code (3)",
                     "items: schema change accepted: lat disappeared"]
