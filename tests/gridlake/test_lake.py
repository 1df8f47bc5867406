"""The raw zone's commit protocol: atomic loads, reconciled counts, quarantine, and recovery after SIGKILL; the same
tests on a lake on disk and on an S3-compatible server (moto's, on loopback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from gridlake.lake import SCHEMA_FILE, Lake, QuarantinedRecord, ReconciliationError
from gridlake.storage import Store

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("value", pa.float64())])

# A source of 100 records (ids 0-99); values of every 10th record are negative: a field rule quarantines them.
LOADER = textwrap.dedent('''
    import os, signal, sys
    import pyarrow as pa
    from gridlake.lake import Lake, QuarantinedRecord

    root, kill_at = sys.argv[1], sys.argv[2]
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("value", pa.float64())])

    def step(name):
        if name == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    lake = Lake(root)
    cursor = (lake.cursor("demo", "items") or {"last_id": -1})["last_id"]
    rows = [{"id": i, "value": -1.0 if i % 10 == 0 else i / 2} for i in range(cursor + 1, 100)]
    with lake.begin("demo", "items", schema, on_step=step) as load:
        good = [r for r in rows if r["value"] >= 0]
        for chunk in (good[: len(good) // 2], good[len(good) // 2 :]):
            load.write(pa.Table.from_pylist(chunk, schema=schema))
        load.quarantine(QuarantinedRecord(str(r["id"]), "value", "negative value", str(r)) for r in rows
                        if r["value"] < 0)
        load.commit(cursor_to={"last_id": rows[-1]["id"] if rows else cursor}, rows_read=len(rows))
''')


def _run(root: Path | str, kill_at: str = "") -> int:
    return subprocess.run([sys.executable, "-c", LOADER, str(root), kill_at], env=dict(os.environ),
                          timeout=120).returncode


def _state(lake: Lake) -> tuple[list[int], list[str], dict | None, int]:
    raw = lake.read("raw", "demo", "items")
    quarantine = lake.read("quarantine", "demo", "items")
    landed = sorted(raw["id"].to_pylist()) if raw is not None else []
    rejected = sorted(quarantine["record_id"].to_pylist()) if quarantine is not None else []
    in_place = sum(1 for path in lake.store.find("raw") if not path.rsplit("/", 1)[-1].startswith("_"))
    return landed, rejected, lake.cursor("demo", "items"), in_place


@pytest.fixture(params=["disk", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A lake's root of its own: a folder, or a prefix of the S3-compatible server's bucket."""
    if request.param == "disk":
        return tmp_path
    return request.getfixturevalue("object_store").root("lake")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[int], list[str], dict | None, int]:
    root = tmp_path_factory.mktemp("clean")
    assert _run(root) == 0
    return _state(Lake(root))


def test_a_clean_load_lands_good_rows_quarantines_bad_ones_and_moves_the_cursor(clean) -> None:
    landed, rejected, cursor, files = clean
    assert landed == [i for i in range(100) if i % 10]
    assert rejected == sorted(str(i) for i in range(0, 100, 10))
    assert cursor == {"last_id": 99} and files == 2


@pytest.mark.parametrize("kill_at", ["staged:raw:1", "staged:raw:2", "staged:quarantine:1", "manifest-written",
                                     "committed", "moved"])
def test_a_load_killed_at_any_point_and_run_again_leaves_the_lake_of_a_clean_run(root: Path | str, kill_at: str,
                                                                                 clean) -> None:
    assert _run(root, kill_at) == -9  # really killed
    assert _run(root) == 0
    lake = Lake(root)
    assert _state(lake) == clean
    assert lake.store.find("_staging") == []
    assert [path for path in lake.store.find("_log") if not path.endswith(".json")] == []


def test_the_manifest_records_the_load(root: Path | str) -> None:
    _run(root)
    _run(root)  # nothing new: an empty batch that keeps the cursor
    lake = Lake(root)
    first, second = lake.manifests("demo", "items")
    assert (first.rows_read, first.rows_landed, first.rows_quarantined) == (100, 90, {"negative value": 10})
    assert first.cursor_from is None and first.cursor_to == {"last_id": 99}
    assert {f["zone"] for f in first.files} == {"raw", "quarantine"} and all(len(f["sha256"]) == 64
                                                                          for f in first.files)
    assert (second.rows_read, second.files, second.cursor_from) == (0, [], {"last_id": 99})
    # Beside the data, a file without rows declares each zone's columns, for readers' globs.
    schema = lake.store.read_parquet(f"raw/demo/items/{SCHEMA_FILE}")
    assert schema.num_rows == 0 and {"id", "value", "_batch_id", "_ingested_at"} <= set(schema.column_names)
    assert lake.store.read_schema(f"quarantine/demo/items/{SCHEMA_FILE}").names[:4] == [
        "record_id", "field", "reason", "raw"]
    for item in first.files:  # the manifest's checksums are those of the files in place
        assert lake.store.sha256(item["path"]) == item["sha256"]


def test_a_reader_finishes_a_committed_batch_left_in_staging_but_never_an_uncommitted_one(root: Path | str) -> None:
    assert _run(root, "committed") == -9  # committed, its files still in staging
    lake = Lake(root)
    data = "raw/demo/items/ingest_date=*/*.parquet"
    assert lake.store.glob(data) == []
    assert lake.finish_committed() == 1
    assert len(lake.store.glob(data)) == 2 and lake.finish_committed() == 0
    # A batch in staging with no committed manifest (a load still running, or killed before its commit) stays.
    running = "_staging/demo/items/20990101T000000-running/raw/0001.parquet"
    lake.store.write_new(running, b"not yet")
    assert lake.finish_committed() == 0 and lake.store.exists(running)
    assert len(lake.store.glob(data)) == 2


def test_counts_that_do_not_reconcile_commit_nothing(root: Path | str) -> None:
    lake = Lake(root)
    with lake.begin("demo", "items", SCHEMA) as load:
        load.write(pa.table({"id": [1, 2], "value": [1.0, 2.0]}))
        with pytest.raises(ReconciliationError, match="read 3 rows but landed 2 and quarantined 0"):
            load.commit(cursor_to={"last_id": 2}, rows_read=3)
    assert lake.read("raw", "demo", "items") is None and lake.cursor("demo", "items") is None
    assert [path for path in lake.store.find() if path.endswith(".parquet")] == []


def test_rows_that_do_not_fit_the_declared_schema_are_an_error_naming_the_entity(tmp_path: Path) -> None:
    with Lake(tmp_path).begin("demo", "items", SCHEMA) as load, pytest.raises(TypeError, match="demo.items"):
        load.write(pa.table({"id": ["not a number"], "value": [1.0]}))


def test_landed_rows_carry_their_batch(root: Path | str) -> None:
    lake = Lake(root)
    with lake.begin("demo", "items", SCHEMA) as load:
        load.write(pa.table({"id": [1], "value": [1.0]}))
        load.quarantine([QuarantinedRecord("2", "value", "missing", json.dumps({"id": 2}))])
        manifest = load.commit(cursor_to={"last_id": 2}, rows_read=2)
    raw = lake.read("raw", "demo", "items")
    assert raw["_batch_id"].to_pylist() == [manifest.batch_id]
    assert raw.schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")
    assert lake.read("quarantine", "demo", "items")["reason"].to_pylist() == ["missing"]


def test_two_loads_from_the_same_cursor_cannot_both_commit(root: Path | str) -> None:
    lake = Lake(root)
    first, second = lake.begin("demo", "items", SCHEMA), lake.begin("demo", "items", SCHEMA)
    for load in (first, second):
        load.write(pa.table({"id": [1], "value": [1.0]}))
    first.commit(cursor_to={"last_id": 1}, rows_read=1)
    with pytest.raises(RuntimeError, match="another load committed batch 1 first"):
        second.commit(cursor_to={"last_id": 1}, rows_read=1)
    assert lake.read("raw", "demo", "items")["id"].to_pylist() == [1]
    assert len(lake.manifests("demo", "items")) == 1
    assert lake.store.find(f"_staging/demo/items/{second.batch_id}") == []


def test_the_commit_point_refuses_a_second_manifest_of_the_same_sequence_number(root: Path | str) -> None:
    """The store's create-if-absent itself (the ``os.link`` on disk, the conditional PUT on S3): what keeps a
    second committer out even when it did not see the first's manifest when it began."""
    store = Store(root)
    store.create("_log/demo/items/0000000001.json", b'{"first": true}')
    with pytest.raises(FileExistsError):
        store.create("_log/demo/items/0000000001.json", b'{"second": true}')
    assert store.read_bytes("_log/demo/items/0000000001.json") == b'{"first": true}'
