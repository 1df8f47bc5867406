"""``gridlake report``: a report written from the published datasets by the command, and a date it cannot read
refused with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gridlake.settings import Settings

GRIDLAKE = Path(sys.executable).with_name("gridlake")


def _run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDLAKE_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([str(GRIDLAKE), "report", *args], env=env, capture_output=True, text=True, timeout=300)


def test_the_command_writes_a_report_and_the_index(published: Settings, tmp_path: Path) -> None:
    (tmp_path / "shared").symlink_to(published.home / "shared")
    done = _run(tmp_path, "weekly", "--date", "2026-11-23", "--no-pdf")
    assert done.returncode == 0, done.stderr
    html = tmp_path / "reports" / "weekly" / "2026-W47.html"
    assert str(html) in done.stdout and "2026年11月16日至2026年11月22日" in done.stdout
    record = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["period_start"] == "2026-11-16" and record["files"] == {"html": "weekly/2026-W47.html"}
    assert not html.with_suffix(".pdf").exists()
    assert "weekly/2026-W47.html" in (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")


def test_a_date_that_is_not_one_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, "daily", "--date", "2026-13-01")
    assert done.returncode == 2
    assert "2026-13-01" in done.stderr and "YYYY-MM-DD" in done.stderr
    assert not (tmp_path / "reports").exists()
