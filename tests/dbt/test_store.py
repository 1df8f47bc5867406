"""The dbt build on a lake on an object store: the test district's raw zone, as the connectors landed it, put in an
S3-compatible server (moto's, on loopback), built by a process whose GRIDLAKE_HOME holds no lake at all. The
sources read the raw zone there through the store's filesystem, and the marts are those of the build on disk; the
build commits its warehouse, records and manifest to the store as a build (``warehouse/<build_id>/``, named by
``warehouse/current.json``), for a publisher on another machine; a build on another machine starts from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import duckdb
import pytest

from gridlake.builds import FILES as BUILD_FILES
from gridlake.builds import WarehouseBuilds
from gridlake.lake import Lake
from gridlake.settings import Settings
from gridlake.storage import Store
from gridlake.transform import run_dbt


@pytest.fixture(scope="module")
def on_s3(built, settings: Settings, object_store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A home of its own whose store is a prefix of the S3 server's bucket, its lake a copy of the test district's,
    built there by ``dbt build``."""
    root = object_store.root("dbt")
    Store(root).upload_tree(settings.home / "lake", "lake")
    home = Settings(home=tmp_path_factory.mktemp("s3-home"), store=root)
    run_dbt(["build"], settings=home)
    yield home


@pytest.fixture(scope="module")
def s3_warehouse(on_s3: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse the build put in the store, as a publisher elsewhere would fetch it."""
    local = tmp_path_factory.mktemp("fetched") / "gridlake.duckdb"
    assert WarehouseBuilds(Store(on_s3.store).child("warehouse")).fetch({"gridlake.duckdb": local}) is not None
    return local


def _marts(connection: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [name for (name,) in connection.execute(
        "select table_name from information_schema.tables where table_catalog = ? and table_schema = 'marts' "
        "order by table_name", [catalog]).fetchall()]


@pytest.fixture()
def both(built: duckdb.DuckDBPyConnection, s3_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The disk build's warehouse with the S3 build's attached as ``s3build``."""
    built.execute(f"attach '{s3_warehouse}' as s3build (read_only)")
    try:
        yield built
    finally:
        built.execute("detach s3build")


def test_the_build_reads_the_raw_zone_on_the_object_store(on_s3: Settings) -> None:
    assert not (on_s3.home / "lake").exists()  # nothing of the lake on this machine's disk
    builds = WarehouseBuilds(Store(on_s3.store).child("warehouse"))
    build = builds.current()
    assert build is not None and set(build.files) == {"gridlake.duckdb", "last_build.json", "build_vars.json",
                                                      "manifest.json"}
    assert builds.builds() == [build.build_id]
    record = json.loads(builds.store.read_text(f"{build.build_id}/last_build.json"))
    lake = Lake(Store(on_s3.store).child("lake"))
    assert record["raw_batches"] == lake.committed_batches() and "hotline/requests" in record["raw_batches"]


def test_every_mart_built_on_the_object_store_has_the_rows_of_the_build_on_disk(
        both: duckdb.DuckDBPyConnection) -> None:
    disk, s3 = _marts(both, "gridlake"), _marts(both, "s3build")
    assert disk == s3 and len(disk) >= 10
    counts = {name: (both.execute(f"select count(*) from gridlake.marts.{name}").fetchone()[0],
                     both.execute(f"select count(*) from s3build.marts.{name}").fetchone()[0]) for name in disk}
    assert {name: a for name, (a, b) in counts.items() if a != b} == {}, counts
    assert all(a > 0 for a, _ in counts.values()), counts


@pytest.mark.parametrize("mart", ["hotline_kpi_daily", "enterprise_profile", "iot_domain_daily"])
def test_a_mart_built_on_the_object_store_equals_the_build_on_disk_row_for_row(both: duckdb.DuckDBPyConnection,
                                                                              mart: str) -> None:
    differ = both.execute(
        f"select count(*) from ((select * from gridlake.marts.{mart} except all select * from s3build.marts.{mart}) "
        f"union all (select * from s3build.marts.{mart} except all select * from gridlake.marts.{mart}))").fetchone()[0]
    assert differ == 0


def test_a_build_on_another_machine_starts_from_the_current_build_and_its_builder_downloads_nothing_next(
        on_s3: Settings, tmp_path: Path) -> None:
    """A build on a machine that shares only the store starts from the build the pointer names (a table that only
    that build holds is in the next one), and commits a new build; built again there, it downloads nothing (its
    working copy is the current build). Old builds go once three newer are committed."""
    builds = WarehouseBuilds(Store(on_s3.store).child("warehouse"))
    first = builds.current()
    files = {name: tmp_path / "fetched" / name for name in BUILD_FILES}
    builds.fetch(files)
    with duckdb.connect(str(files["gridlake.duckdb"])) as connection:
        connection.execute("create table main.left_by_the_last_build as select 42 as answer")
    marked = builds.commit(files)

    other = Settings(home=tmp_path / "other-machine", store=on_s3.store)
    run_dbt(["seed"], settings=other)  # the quickest command that changes the warehouse: a build all the same
    second = builds.current()
    assert second is not None and second.build_id not in (first.build_id, marked.build_id)
    fetched = tmp_path / "second.duckdb"
    builds.fetch({"gridlake.duckdb": fetched})
    with duckdb.connect(str(fetched), read_only=True) as connection:
        assert connection.execute("select answer from main.left_by_the_last_build").fetchall() == [(42,)]

    with patch.object(Store, "download", side_effect=AssertionError("the builder downloaded its own build")):
        run_dbt(["seed"], settings=other)
    third = builds.current()
    assert third is not None and third.build_id != second.build_id
    assert builds.builds() == [marked.build_id, second.build_id, third.build_id]  # the first pruned
    assert set(third.files) == set(BUILD_FILES)  # the records of the last whole build carried along
