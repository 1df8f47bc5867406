"""Building is repeatable and incremental: a second build changes nothing; after a day more of raw data a build
reads only the new sensor batches and gives the same marts as a full rebuild from scratch.

This module has a district and a GRIDLAKE_HOME of its own: it moves the clock and ingests again.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.ingest import PLATFORMS, run_job
from gridlake.lake import Lake
from gridlake.settings import Settings
from gridlake.transform import paths, run_dbt
from tests.support import generate_dataset, serve_dataset

# The incremental sensor models and the raw entity each reads.
INCREMENTAL = {
    "stg_citymgmt__dust_readings": "dust__reading",
    "stg_citymgmt__fume_readings": "fume__reading",
    "stg_citymgmt__vehicle_positions": "vehicle__position",
    "stg_citymgmt__staff_positions": "staff__position",
    "stg_citymgmt__diesel_obd": "diesel__obd",
}


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_dataset(generate_dataset(tmp_path_factory, "rebuild"))


def _ingest(district: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        for name, value in district.environment().items():
            patch.setenv(name, value)
        patch.setenv("GRIDLAKE_PII_SALT", "rebuild-salt")
        lake = Lake(home / "lake")
        for platform in PLATFORMS.values():
            for job in platform.jobs:
                run_job(job, lake=lake)


def _marts(settings: Settings) -> dict[str, list[str]]:
    """Each mart's rows, as sorted JSON lines (order is not content)."""
    out = {}
    with duckdb.connect(str(paths(settings).warehouse), read_only=True) as connection:
        tables = [row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        for table in tables:
            out[table] = sorted(json.dumps(row, default=str, ensure_ascii=False)
                                for row in connection.execute(f'select * from marts."{table}"').fetchall())
    return out


def _newest_batches(settings: Settings) -> dict[str, str]:
    """The newest raw batch (its ingestion time, UTC) each incremental sensor model holds."""
    with duckdb.connect(str(paths(settings).warehouse), read_only=True) as connection:
        return {model: connection.execute(
            f"select strftime(max(ingested_at) at time zone 'UTC', '%Y-%m-%d %H:%M:%S.%f') from staging.{model}"
        ).fetchone()[0] for model in INCREMENTAL}


def _compiled_bound(settings: Settings, model: str) -> str | None:
    """The raw-batch bound the last build's SQL of a model read from (None: it read every batch)."""
    path = paths(settings).target / "compiled" / "gridlake" / "models" / "staging" / "citymgmt" / f"{model}.sql"
    found = re.search(r"_ingested_at > timestamptz '([^']+)\+00'", path.read_text(encoding="utf-8"))
    return found.group(1) if found else None


def _landed_since(lake: Lake, entity: str, seq: int) -> int:
    return sum(m.rows_landed for m in lake.manifests("citymgmt", entity) if m.seq > seq)


def test_a_second_build_changes_nothing_and_a_day_more_reads_only_the_new_batches(
        district: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    lake = Lake(home / "lake")
    _ingest(district, home, monkeypatch)
    first = run_dbt(["build"], settings=settings)
    assert not first.failed()
    marts = _marts(settings)
    assert marts, "no mart was built"

    held = _newest_batches(settings)
    run_dbt(["build"], settings=settings)
    rebuilt = _marts(settings)
    assert {table: set(rows) ^ set(marts[table]) for table, rows in rebuilt.items() if rows != marts[table]} == {}
    # ...and it read no raw batch it had read before: its SQL starts after the newest batch the model held.
    assert {model: _compiled_bound(settings, model) for model in INCREMENTAL} == held

    seqs = {entity: lake.manifests("citymgmt", entity)[-1].seq for entity in INCREMENTAL.values()}
    district.clock.advance(timedelta(days=1))
    _ingest(district, home, monkeypatch)
    new_rows = {model: _landed_since(lake, entity, seqs[entity]) for model, entity in INCREMENTAL.items()}
    assert all(count > 0 for count in new_rows.values()), new_rows
    held = _newest_batches(settings)
    run_dbt(["build"], settings=settings)
    # The day's batches, and only they, were read: each model's SQL starts after the newest batch it held...
    assert {model: _compiled_bound(settings, model) for model in INCREMENTAL} == held
    # ...and what it holds now includes every version the new batches landed.
    with duckdb.connect(str(paths(settings).warehouse), read_only=True) as connection:
        for model, count in new_rows.items():
            newer = connection.execute(f"select count(*) from staging.{model} where ingested_at > "
                                       f"timestamptz '{held[model]}+00'").fetchone()[0]
            assert 0 < newer <= count, (model, newer, count)  # less only by the day's quarantined or deleted rows
    after_incremental = _marts(settings)

    fresh = Settings(home=tmp_path / "fresh")
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "lake").symlink_to(home / "lake")
    run_dbt(["build", "--full-refresh"], settings=fresh)
    assert _marts(fresh) == after_incremental
    assert after_incremental != marts  # the day more did change the marts
    shutil.rmtree(tmp_path / "fresh" / "warehouse", ignore_errors=True)


def test_a_changed_threshold_rebuilds_the_incremental_models_from_scratch(
        district: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    _ingest(district, home, monkeypatch)
    default = Settings(home=home)
    first = run_dbt(["build", "--select", "+stg_citymgmt__fume_readings"], settings=default)
    assert "--full-refresh" not in first.args  # nothing built before: nothing to compare with
    run_dbt(["build"], settings=default)  # a whole build records the settings it was built with
    same = run_dbt(["build", "--select", "stg_citymgmt__fume_readings"], settings=default)
    assert "--full-refresh" not in same.args

    stricter = default.model_copy(update={"thresholds": default.thresholds.model_copy(update={"fume_mg_m3": 0.5})})
    changed = run_dbt(["build", "--select", "stg_citymgmt__fume_readings"], settings=stricter)
    assert "--full-refresh" in changed.args
    with duckdb.connect(str(paths(default).warehouse), read_only=True) as connection:
        wrong = connection.execute(
            "select count(*) from staging.stg_citymgmt__fume_readings "
            "where is_exceedance <> (concentration_mg_m3 > 0.5)").fetchone()[0]
        between = connection.execute("select count(*) from staging.stg_citymgmt__fume_readings "
                                     "where concentration_mg_m3 > 0.5 and concentration_mg_m3 <= 1.0").fetchone()[0]
    # Every held reading is judged by the new threshold, old batches included (and some readings lie between the
    # two thresholds: an incremental run that kept the old flags would leave them wrong).
    assert wrong == 0 and between > 0
