"""The test district's warehouse, for every test that needs one (a plugin of the root conftest, so the dbt tests and
the reports' tests share one build per session): ``lake_home`` ingests every platform twice, a day apart (the
connectors' own code, as the DAGs run it) into a lake of its own; ``built`` runs ``dbt build`` on it and hands the
tests a read-only connection to the warehouse.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.ingest import PLATFORMS, run_job
from gridlake.lake import Lake
from gridlake.settings import Settings, get_settings
from tests.support import generate_dataset, serve_dataset


@pytest.fixture(scope="session")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from serve_dataset(generate_dataset(tmp_path_factory, "dbt"))


def ingest(district: Any, home: Path, *, loads: int) -> Path:
    """Fill ``home``'s lake from a served district with ``loads`` incremental loads of every platform, a day apart
    (orders and cases change in between: the raw zone holds several versions of many)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in district.environment().items():
            patch.setenv(name, value)
        patch.setenv("GRIDLAKE_PII_SALT", "dbt-test-salt")
        lake = Lake(home / "lake")
        for load in range(loads):
            if load:
                district.clock.advance(timedelta(days=1))
            for platform in PLATFORMS.values():
                for job in platform.jobs:
                    run_job(job, lake=lake)
    return home


def build(settings: Settings) -> duckdb.DuckDBPyConnection:
    """``dbt build`` on ``settings.home``'s lake; a read-only connection to the warehouse it made."""
    from gridlake.transform import paths, run_dbt

    run_dbt(["build"], settings=settings)
    get_settings.cache_clear()
    connection = duckdb.connect(str(paths(settings).warehouse), read_only=True)
    connection.execute("set TimeZone = 'Asia/Shanghai'")
    return connection


@pytest.fixture(scope="session")
def lake_home(district, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRIDLAKE_HOME whose lake holds two loads of every platform of ``district``, a day apart."""
    return ingest(district, tmp_path_factory.mktemp("dbt-home"), loads=2)


@pytest.fixture(scope="session")
def settings(lake_home: Path) -> Settings:
    return Settings(home=lake_home)


@pytest.fixture(scope="session")
def built(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """``dbt build`` on the lake; a read-only connection to the warehouse it made."""
    connection = build(settings)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def lake(lake_home: Path) -> Lake:
    return Lake(lake_home / "lake")


def copy_home(settings: Settings, target: Path) -> Settings:
    """A GRIDLAKE_HOME with a copy of the built warehouse and dbt's manifest, reading the same lake (for tests that
    change the warehouse or publish from it)."""
    from gridlake.transform import paths

    shutil.copytree(settings.home / "warehouse", target / "warehouse")
    (target / "dbt" / "target").mkdir(parents=True)
    shutil.copy2(paths(settings).target / "manifest.json", target / "dbt" / "target" / "manifest.json")
    (target / "lake").symlink_to(settings.home / "lake")
    return Settings(home=target)


def store_home(settings: Settings, target: Path, store: str) -> Settings:
    """A GRIDLAKE_HOME of its own whose store is ``store`` (an object store's URI), holding what a build on another
    machine committed there: the built warehouse, its records and dbt's manifest (for tests that publish from it)."""
    from gridlake.builds import WarehouseBuilds
    from gridlake.storage import Store
    from gridlake.transform import build_record_path, paths

    where = paths(settings)
    WarehouseBuilds(Store(store).child("warehouse")).commit({
        "gridlake.duckdb": where.warehouse, "last_build.json": build_record_path(where),
        "build_vars.json": where.warehouse.parent / "build_vars.json",
        "manifest.json": where.target / "manifest.json"})
    target.mkdir(parents=True, exist_ok=True)
    return Settings(home=target, store=store)


@pytest.fixture(scope="session")
def published(built, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A home whose shared zone holds every dataset, published from the test district's warehouse."""
    from publication import publish

    home = copy_home(settings, tmp_path_factory.mktemp("published-home"))
    outcome = publish(home)
    assert outcome.ok, {name: o.status for name, o in outcome.outcomes.items()}
    return home
