"""A load killed (SIGKILL, no clean-up) at several points of its run, then run again, leaves the lake exactly as
one clean run does: the same rows and quarantined records, each once, and the same cursors; with the lake on disk
and on an S3-compatible server (moto's, on loopback: ``GRIDLAKE_STORE=s3://...``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connectors.ingest import JOBS, run_job
from gridlake.lake import Lake

ROOT = Path(__file__).resolve().parents[2]
KILLER = Path(__file__).with_name("killed_load.py")
# A job of each platform; the statistics run commits one batch per release, citymgmt.dust two tables.
RUN = ["hotline.requests", "citymgmt.dust", "enforcement.cases", "credit.subjects", "statistics.releases"]
STAMPS = ("_batch_id", "_ingested_at")


@pytest.fixture(scope="module")
def env(served) -> dict[str, str]:
    """The environment of a load: the platforms' connections and the salt."""
    out = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW_CONN_", "GRIDLAKE_"))}
    out.update(served.environment())
    out["GRIDLAKE_PII_SALT"] = "kill-test-salt"
    out["PYTHONPATH"] = str(ROOT)
    return out


def _run(root: Path | str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every job of RUN, in this process, into the lake at ``root``."""
    with monkeypatch.context() as patch:
        for key, value in env.items():
            if key.startswith(("AIRFLOW_CONN_", "GRIDLAKE_")):
                patch.setenv(key, value)
        lake = Lake(root)
        for name in RUN:
            platform, _, job = name.partition(".")
            run_job(JOBS[(platform, job)], lake=lake)


def _state(lake: Lake) -> dict[str, Any]:
    """What a reader of the lake sees, less the batch stamps: rows (as a multiset), quarantine, cursors."""
    state: dict[str, Any] = {}
    for name in RUN:
        job = JOBS[tuple(name.split("."))]
        for entity in job.entities:
            for zone in ("raw", "quarantine"):
                table = lake.read(zone, job.platform, entity)
                rows = [] if table is None else table.drop_columns(list(STAMPS)).to_pylist()
                state[f"{zone}/{job.platform}/{entity}"] = Counter(json.dumps(row, default=str, sort_keys=True)
                                                                   for row in rows)
            state[f"cursor/{job.platform}/{entity}"] = _unstamped(lake.cursor(job.platform, entity))
            state[f"staging/{job.platform}/{entity}"] = lake.store.find(f"_staging/{job.platform}/{entity}")
    return state


def _unstamped(value: Any) -> Any:
    """A cursor less the batch ids it names (the statistics cursor records which batch landed a release)."""
    if isinstance(value, dict):
        return {key: _unstamped(item) for key, item in value.items() if key != "batch_id"}
    if isinstance(value, list):
        return [_unstamped(item) for item in value]
    return value


@pytest.fixture(scope="module")
def clean(served, env, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("clean")
    with pytest.MonkeyPatch.context() as patch:
        _run(home / "lake", env, patch)
    return _state(Lake(home / "lake"))


@pytest.mark.parametrize("where", ["disk", "s3"])
@pytest.mark.parametrize(("step", "occurrence"), [
    ("staged:raw:1", 1),  # the first file of the first load staged: nothing committed yet
    ("manifest-written", 2),  # the second load's manifest written but not yet the commit point
    ("committed", 3),  # the third batch committed, its files still in staging
    ("moved", 5),  # the fifth batch in place (a clean stop between batches: the rerun goes on from there)
    ("committed", 9),  # deep in the statistics releases: some landed, one committed and not moved
])
def test_a_load_killed_anywhere_then_run_again_ends_as_one_clean_run(
        served, env, clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
        step: str, occurrence: int, where: str) -> None:
    env = dict(env, GRIDLAKE_HOME=str(tmp_path))
    if where == "s3":
        store = request.getfixturevalue("object_store")
        env.update(store.environment, GRIDLAKE_STORE=store.root("kill"))
    killed = subprocess.run([sys.executable, str(KILLER), step, str(occurrence), *RUN],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-3000:])
    lake = Lake(f"{env['GRIDLAKE_STORE']}/lake" if where == "s3" else tmp_path / "lake")
    assert lake.store.find() != [] and (where == "disk" or not (tmp_path / "lake").exists())  # written there only
    half = _state(lake)
    assert half != clean  # the kill left the lake short of a clean run...
    _run(lake.store, env, monkeypatch)
    assert _state(lake) == clean  # ...and the rerun finished it: nothing twice, nothing missing, nothing staged
