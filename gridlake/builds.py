"""The warehouse's builds as kept in the store, for tasks that share nothing else: a build and a publication may
run on machines that share only the store.

Each successful build puts its files (the DuckDB file, its records and dbt's manifest) under
``warehouse/<build_id>/`` and then names that build in one pointer, ``warehouse/current.json``: one PUT on an
object store, one rename on disk, so the pointer is the commit point. A reader (the next build, a publisher) reads
the pointer, then that build's files, which never change once named: it gets one build's warehouse with that
build's records, never a mix of two builds nor a file another task is writing. A build killed during its uploads
leaves a folder no pointer names, removed by a later build's pruning.

Builds other than the newest ``keep`` are pruned by the build that commits. A reader that lost the race with
pruning (its build removed between reading the pointer and fetching the files: ``keep - 1`` whole builds
committed meanwhile) reads the pointer again.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from gridlake.storage import Store

__all__ = ["FILES", "POINTER", "Build", "WarehouseBuilds"]

log = logging.getLogger(__name__)

POINTER = "current.json"
# What a build leaves: the warehouse, the record of its last whole build (when and which raw batches), the
# settings it was built with, and dbt's manifest (the columns' descriptions and lineage the catalog shows).
FILES = ("gridlake.duckdb", "last_build.json", "build_vars.json", "manifest.json")
_BUILD_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")
_FETCH_ATTEMPTS = 3


@dataclass(frozen=True)
class Build:
    """A committed build: its id (sortable by commit time), the files it holds, when it was committed."""

    build_id: str
    files: tuple[str, ...]
    committed_at: str


def _new_build_id(now: datetime) -> str:
    return f"{now.astimezone(timezone.utc):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"


class WarehouseBuilds:
    """The builds under ``store`` (the store's ``warehouse/``), the newest ``keep`` of them kept."""

    def __init__(self, store: Store, *, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1 (the current build), not {keep}")
        self.store = store
        self.keep = keep

    def __repr__(self) -> str:
        return f"WarehouseBuilds({self.store.uri!r}, keep={self.keep})"

    def current(self) -> Build | None:
        """The build the pointer names (None before the first build)."""
        try:
            pointer = json.loads(self.store.read_text(POINTER))
        except FileNotFoundError:
            return None
        return Build(pointer["build_id"], tuple(pointer["files"]), pointer["committed_at"])

    def builds(self) -> list[str]:
        """The build folders in the store, committed or not, oldest first."""
        return [name for name in self.store.listdir() if _BUILD_ID.match(name)]

    def fetch(self, files: Mapping[str, Path]) -> Build | None:
        """The current build's files copied to the local paths ``files`` gives by name (a local file the build
        lacks is removed, so no file of another build stays beside them); None, with every local file removed,
        before the first build. Reads the pointer again when the build is pruned during the copies."""
        attempt = 1
        while True:
            build = self.current()
            try:
                for name, local in files.items():
                    if build is not None and name in build.files:
                        self.store.download(f"{build.build_id}/{name}", local)
                    else:
                        local.unlink(missing_ok=True)
                return build
            except FileNotFoundError:
                if attempt == _FETCH_ATTEMPTS:
                    raise
                attempt += 1
                log.warning("build %s was pruned while being fetched; fetching the current one",
                            build.build_id if build else None)

    def upload(self, files: Mapping[str, Path], *, now: datetime | None = None) -> Build:
        """Upload a build's files (those that exist locally) under a new build id; nothing names it yet."""
        now = now or datetime.now(timezone.utc)
        build_id = _new_build_id(now)
        present = tuple(name for name, local in files.items() if local.exists())
        for name in sorted(present, key=lambda name: name == "gridlake.duckdb"):  # the small records first
            self.store.upload(files[name], f"{build_id}/{name}")
        return Build(build_id, present, now.isoformat(timespec="seconds"))

    def point(self, build: Build) -> None:
        """Name ``build`` the current one (the commit point: the pointer is replaced whole), then prune."""
        self.store.write_bytes(POINTER, json.dumps({"build_id": build.build_id, "files": list(build.files),
                                                    "committed_at": build.committed_at}, indent=1).encode())
        self.prune(build)

    def commit(self, files: Mapping[str, Path], *, now: datetime | None = None) -> Build:
        """Upload a build's files and name it the current build: ``upload`` then ``point``."""
        build = self.upload(files, now=now)
        self.point(build)
        return build

    def prune(self, current: Build | None = None) -> list[str]:
        """Remove the builds older than the newest ``keep`` up to the current one (committed or left by a killed
        build); folders newer than the current one may be a build uploading now and stay. Returns those removed.
        ``current``: the build just named by this process (the pointer is not read again)."""
        current = current or self.current()
        if current is None:
            return []
        older = [name for name in self.builds() if name < current.build_id]
        removed = older[:max(0, len(older) - (self.keep - 1))]
        for name in removed:
            self.store.remove_tree(name)
        if removed:
            log.info("pruned warehouse builds %s", ", ".join(removed))
        return removed
