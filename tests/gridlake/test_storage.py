"""The store's operations the zones rely on, on disk and on an S3-compatible server (moto's, on loopback): a file
replaced whole, a name created once, lines appended, files moved and listed by paths relative to the root, and
DuckDB reading the same files through the store's filesystem."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from gridlake.shared import SharedZone
from gridlake.storage import Store


@pytest.fixture(params=["disk", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "disk":
        return Store(tmp_path / "store")
    return Store(request.getfixturevalue("object_store").root("store"))


def test_files_are_replaced_whole_created_once_and_appended_to(store: Store) -> None:
    store.write_bytes("a/catalog.json", b"old")
    store.write_bytes("a/catalog.json", b"new")
    assert store.read_bytes("a/catalog.json") == b"new"
    store.create("a/_log/1.json", b"first")
    with pytest.raises(FileExistsError):
        store.create("a/_log/1.json", b"second")
    store.append("a/ledger.jsonl", b"1\n")
    store.append("a/ledger.jsonl", b"2\n")
    assert store.read_text("a/ledger.jsonl") == "1\n2\n"
    assert store.find("a") == ["a/_log/1.json", "a/catalog.json", "a/ledger.jsonl"]  # no temporary file left


def test_files_move_and_list_relative_to_the_root(store: Store) -> None:
    for name in ("s/b1/raw/0001.parquet", "s/b1/raw/0002.parquet", "s/b2/raw/0001.parquet"):
        store.write_new(name, name.encode())
    assert store.listdir("s") == ["b1", "b2"] and store.listdir("nowhere") == []
    store.move("s/b1/raw/0001.parquet", "raw/x/0001.parquet")
    assert store.read_bytes("raw/x/0001.parquet") == b"s/b1/raw/0001.parquet"
    assert not store.exists("s/b1/raw/0001.parquet")
    store.remove_tree("s/b1")
    assert store.glob("s/*/raw/*.parquet") == ["s/b2/raw/0001.parquet"]
    assert store.child("s").find() == ["b2/raw/0001.parquet"]


def test_duckdb_reads_the_stores_files_through_it(store: Store) -> None:
    store.write_parquet("raw/e/d=1/a.parquet", pa.table({"id": [1, 2]}))
    store.write_parquet("raw/e/d=2/b.parquet", pa.table({"id": [3], "extra": ["x"]}))
    with duckdb.connect() as connection:
        store.register(connection)
        rows = connection.execute(f"select id, extra from read_parquet('{store.url('raw/e/**/*.parquet')}', "
                                  "union_by_name = true) order by id").fetchall()
    assert rows == [(1, None), (2, None), (3, "x")]


def test_a_readers_catalog_signature_changes_with_each_publication(store: Store) -> None:
    zone = SharedZone(store.child("shared"))
    assert zone.catalog_signature() is None and zone.catalog()["datasets"] == {}
    zone.write_catalog({"datasets": {"a": {}}})
    first = zone.catalog_signature()
    zone.write_catalog({"datasets": {"a": {}, "b": {}}})
    assert zone.catalog_signature() != first and set(zone.catalog()["datasets"]) == {"a", "b"}
