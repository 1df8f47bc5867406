"""The warehouse's builds in the store (gridlake/builds.py), on disk and on an S3-compatible server (moto's, on
loopback): a reader gets one build's files, never a mix of the build being uploaded and the current one; the
pointer is the commit point; old builds are pruned, never the current one nor one being uploaded; a reader that
lost the race with pruning gets the current build."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gridlake.builds import FILES, Build, WarehouseBuilds
from gridlake.storage import Store

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["disk", "s3"])
def builds(request: pytest.FixtureRequest, tmp_path: Path) -> WarehouseBuilds:
    if request.param == "disk":
        return WarehouseBuilds(Store(tmp_path / "store").child("warehouse"))
    return WarehouseBuilds(Store(request.getfixturevalue("object_store").root("builds")).child("warehouse"))


def _made(folder: Path, label: str) -> dict[str, Path]:
    """A build's files in ``folder``, each holding ``label`` and its name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (folder / name).write_text(f"{label} {name}", encoding="utf-8")
    return {name: folder / name for name in FILES}


def _fetched(builds: WarehouseBuilds, folder: Path) -> dict[str, str]:
    files = {name: folder / name for name in FILES}
    builds.fetch(files)
    return {name: path.read_text(encoding="utf-8") for name, path in files.items() if path.exists()}


def test_a_reader_gets_one_builds_files_until_the_pointer_names_the_next(builds: WarehouseBuilds,
                                                                         tmp_path: Path) -> None:
    first = builds.commit(_made(tmp_path / "a", "A"), now=T0)
    assert builds.current() == first
    uploading = builds.upload(_made(tmp_path / "b", "B"), now=T0 + timedelta(minutes=5))
    # every file of the second build is in the store, but nothing names it yet: readers still get the first whole
    assert _fetched(builds, tmp_path / "reader") == {name: f"A {name}" for name in FILES}
    builds.point(uploading)
    assert _fetched(builds, tmp_path / "reader") == {name: f"B {name}" for name in FILES}
    assert builds.builds() == [first.build_id, uploading.build_id]


def test_a_build_without_a_file_leaves_no_file_of_another_build_beside_it(builds: WarehouseBuilds,
                                                                        tmp_path: Path) -> None:
    builds.commit(_made(tmp_path / "a", "A"), now=T0)
    reader = tmp_path / "reader"
    assert _fetched(builds, reader) == {name: f"A {name}" for name in FILES}
    partial = _made(tmp_path / "b", "B")
    partial["last_build.json"].unlink()  # a partial build before any whole one: no record
    assert set(builds.commit(partial, now=T0 + timedelta(minutes=5)).files) == set(FILES) - {"last_build.json"}
    assert _fetched(builds, reader) == {name: f"B {name}" for name in FILES if name != "last_build.json"}


def test_before_the_first_build_a_reader_gets_nothing(builds: WarehouseBuilds, tmp_path: Path) -> None:
    stale = _made(tmp_path / "reader", "stale")
    assert builds.current() is None
    assert builds.fetch(stale) is None
    assert [path for path in stale.values() if path.exists()] == []  # no stale local file taken for a build


def test_old_builds_are_pruned_never_the_current_one_nor_one_uploading(builds: WarehouseBuilds,
                                                                     tmp_path: Path) -> None:
    committed = [builds.commit(_made(tmp_path / str(n), str(n)), now=T0 + timedelta(minutes=10 * n))
                 for n in range(5)]
    # a build killed during its uploads (never named), older than the next commit
    killed = builds.upload(_made(tmp_path / "killed", "killed"), now=T0 + timedelta(minutes=45))
    last = builds.commit(_made(tmp_path / "last", "last"), now=T0 + timedelta(minutes=50))
    assert builds.builds() == [committed[4].build_id, killed.build_id, last.build_id]  # the newest keep = 3
    uploading = builds.upload(_made(tmp_path / "next", "next"), now=T0 + timedelta(minutes=60))
    assert builds.prune() == []
    assert builds.builds() == [committed[4].build_id, killed.build_id, last.build_id, uploading.build_id]
    assert builds.current() == last


class _Stale(WarehouseBuilds):
    """A reader that read the pointer once before a build was pruned: its first ``current`` is that build."""

    def __init__(self, builds: WarehouseBuilds, stale: Build) -> None:
        super().__init__(builds.store, keep=builds.keep)
        self._stale: Build | None = stale

    def current(self) -> Build | None:
        stale, self._stale = self._stale, None
        return stale or super().current()


def test_a_reader_whose_build_was_pruned_meanwhile_gets_the_current_one(builds: WarehouseBuilds,
                                                                       tmp_path: Path) -> None:
    old = builds.commit(_made(tmp_path / "old", "old"), now=T0)
    for n in range(1, 4):
        builds.commit(_made(tmp_path / str(n), str(n)), now=T0 + timedelta(minutes=10 * n))
    assert old.build_id not in builds.builds()
    assert _fetched(_Stale(builds, old), tmp_path / "reader") == {name: f"3 {name}" for name in FILES}
