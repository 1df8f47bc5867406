"""Where gridlake keeps what tasks share: one root, a folder or an object store's ``s3://bucket/prefix``, and the
fsspec filesystem that reaches it (fsspec's local filesystem for a folder, s3fs for ``s3://``). The lake's zones,
the shared zone, the quality results and the warehouse's copy all read and write through a ``Store``, and DuckDB
reads the same files through it (``register``).

The root is ``GRIDLAKE_STORE`` when set, else ``GRIDLAKE_HOME`` (as before: nothing moves for a lake on disk). An
object store's credentials and endpoint come from an Airflow connection (``AIRFLOW_CONN_GRIDLAKE_STORE``, an ``aws``
connection: login = access key, password = secret key, extra ``endpoint_url`` and ``region_name``), never from
code; without the connection, s3fs's own defaults (the ``AWS_*`` variables, an instance role) apply.

The operations the zones need, and what each costs on either side:

- ``create`` (create-if-absent, a commit point): on disk, a hard link of a file written aside and synced (the link
  fails when the name exists); on S3, one PUT with ``If-None-Match: *`` (refused with 412 when the key exists).
- ``write_bytes`` (replace whole): on disk, written aside, synced, renamed over; on S3, one PUT (an object is
  replaced whole, never seen half written).
- ``move`` (a file): on disk one rename; on S3 a server-side copy then a delete, not atomic: for a moment the
  file is at both places, and a process killed in between leaves it at both. The zones move only files whose
  visibility a manifest or the catalog decides, and moving again is harmless.
- ``append`` (a line to a log): on disk an append and a sync; S3 has no append: the object is read and written
  again whole, so two writers at once may lose a line (one publisher runs at a time).
- listing is not cached (``use_listings_cache=False``): another process's writes are seen at once, S3 lists being
  strongly consistent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from gridlake.settings import Settings, get_settings

if TYPE_CHECKING:
    import duckdb
    from fsspec import AbstractFileSystem

__all__ = ["STORE_CONN_ID", "Store", "fsync_dir", "store_filesystem", "stream_sha256"]

STORE_CONN_ID = "gridlake_store"


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a file created, renamed or linked in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stream_sha256(handle: BinaryIO) -> str:
    """The sha256 of what an open binary file holds, read in blocks (a file on disk or in the store)."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _split(root: str | os.PathLike[str]) -> tuple[str, str]:
    """``(protocol, path)`` of a root: ``("file", "/abs/folder")`` or ``("s3", "bucket/prefix")``."""
    text = os.fspath(root)
    if "://" in text:
        protocol, rest = text.split("://", 1)
        if protocol == "file":
            return "file", str(Path(rest).absolute())
        return protocol, rest.strip("/")
    return "file", str(Path(text).absolute())


def store_filesystem(protocol: str, conn_id: str = STORE_CONN_ID) -> AbstractFileSystem:
    """The fsspec filesystem of an object store, with the credentials and endpoint of the Airflow connection
    ``conn_id`` when it is set (one per process and connection: s3fs is not safe across a fork)."""
    from gridlake.connections import env_var_name

    return _filesystem(protocol, conn_id, os.environ.get(env_var_name(conn_id), ""), os.getpid())


@lru_cache(maxsize=8)
def _filesystem(protocol: str, conn_id: str, conn_value: str, pid: int) -> AbstractFileSystem:
    import fsspec

    options: dict[str, Any] = {"skip_instance_cache": True}
    if protocol in ("s3", "s3a"):
        options["use_listings_cache"] = False
        if conn_value:
            from gridlake.connections import get_connection

            conn = get_connection(conn_id)
            extra = conn.extra_dejson
            if conn.login:
                options["key"] = conn.login
            if conn.password:
                options["secret"] = conn.password
            if extra.get("endpoint_url"):
                options["endpoint_url"] = extra["endpoint_url"]
            if extra.get("region_name"):
                options["client_kwargs"] = {"region_name": extra["region_name"]}
    return fsspec.filesystem(protocol, **options)


class Store:
    """A root and the filesystem that reaches it; every path given to a method is relative to the root, with
    ``/`` between parts."""

    def __init__(self, root: str | os.PathLike[str], *, fs: AbstractFileSystem | None = None) -> None:
        self.protocol, self._base = _split(root)
        self.local = self.protocol == "file"
        if fs is None:
            if self.local:
                from fsspec.implementations.local import LocalFileSystem

                fs = LocalFileSystem()
            else:
                fs = store_filesystem(self.protocol)
        self.fs = fs
        self.uri = self._base if self.local else f"{self.protocol}://{self._base}"
        # What callers used to hold: a Path for a folder, the URI for an object store.
        self.root: Path | str = Path(self._base) if self.local else self.uri

    @classmethod
    def default(cls, settings: Settings | None = None) -> Store:
        """The store in force: ``GRIDLAKE_STORE`` when set, else ``GRIDLAKE_HOME``."""
        settings = settings or get_settings()
        return cls(settings.store or settings.home)

    def __repr__(self) -> str:
        return f"Store({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Store) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    def child(self, *parts: str) -> Store:
        """The store rooted at a folder of this one (same filesystem)."""
        return Store(self.uri + "/" + "/".join(parts) if not self.local else Path(self._base, *parts), fs=self.fs)

    def path(self, relative: str = "") -> str:
        """The filesystem's path of ``relative`` (``bucket/prefix/...`` on S3)."""
        return f"{self._base}/{relative}".rstrip("/") if relative else self._base

    def url(self, relative: str = "") -> str:
        """What DuckDB and the portal name a file by: its absolute path on disk, its URI on an object store."""
        return self.path(relative) if self.local else f"{self.protocol}://{self.path(relative)}"

    def locate(self, relative: str) -> Path | str:
        """A file as callers hold it: a ``Path`` on disk, a URI string on an object store."""
        return Path(self.path(relative)) if self.local else self.url(relative)

    def relative(self, path: str) -> str:
        """The inverse of ``path``: a filesystem path (as listings give it) relative to the root."""
        path = self.fs._strip_protocol(path) if not self.local else path
        return path[len(self._base):].lstrip("/")

    # --- reading -------------------------------------------------------------------------------------------------

    def exists(self, relative: str) -> bool:
        return self.fs.exists(self.path(relative))

    def read_bytes(self, relative: str) -> bytes:
        return self.fs.cat_file(self.path(relative))

    def read_text(self, relative: str) -> str:
        return self.read_bytes(relative).decode("utf-8")

    def sha256(self, relative: str) -> str:
        with self.fs.open(self.path(relative), "rb") as handle:
            return stream_sha256(handle)

    def listdir(self, relative: str = "") -> list[str]:
        """The names in a folder, sorted ([] when there is no such folder)."""
        try:
            entries = self.fs.ls(self.path(relative), detail=False)
        except FileNotFoundError:
            return []
        return sorted(self.relative(entry).rsplit("/", 1)[-1] for entry in entries
                      if self.relative(entry) != relative.strip("/"))

    def glob(self, pattern: str) -> list[str]:
        """The paths matching a glob (``*``, ``**``), relative to the root, sorted."""
        return sorted(self.relative(found) for found in self.fs.glob(self.path(pattern)))

    def find(self, relative: str = "") -> list[str]:
        """Every file under a folder, relative to the root, sorted."""
        if not self.exists(relative):
            return []
        return sorted(self.relative(found) for found in self.fs.find(self.path(relative)))

    def read_parquet(self, relative: str, *, columns: list[str] | None = None) -> pa.Table:
        if self.local:
            return pq.read_table(self.path(relative), columns=columns)
        return pq.read_table(self.path(relative), columns=columns, filesystem=self.fs)

    def read_schema(self, relative: str) -> pa.Schema:
        with self.fs.open(self.path(relative), "rb") as handle:
            return pq.read_schema(handle)

    # --- writing -------------------------------------------------------------------------------------------------

    def _aside(self, target: str) -> str:
        return str(Path(target).with_name(f".{Path(target).name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"))

    def _write_local(self, target: str, data: bytes, *, sync: bool) -> str:
        aside = self._aside(target)
        Path(aside).parent.mkdir(parents=True, exist_ok=True)
        with open(aside, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        return aside

    def write_bytes(self, relative: str, data: bytes, *, sync: bool = True) -> None:
        """Replace a file whole: readers see the old content or the new, never part of it."""
        target = self.path(relative)
        if not self.local:
            self.fs.pipe_file(target, data)
            return
        aside = self._write_local(target, data, sync=sync)
        os.replace(aside, target)
        if sync:
            fsync_dir(Path(target).parent)

    def write_new(self, relative: str, data: bytes) -> None:
        """Write a file no reader looks at yet (a staged one): no temporary name, no sync (``sync_dir`` later)."""
        target = self.path(relative)
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Path(target).write_bytes(data)
        else:
            self.fs.pipe_file(target, data)

    def create(self, relative: str, data: bytes, *, on_written: Callable[[], None] | None = None) -> None:
        """Create a file that must not exist (a commit point); raises ``FileExistsError`` when it does.
        ``on_written`` is called once the data is durable aside, just before the commit point."""
        target = self.path(relative)
        if not self.local:
            if on_written is not None:
                on_written()
            self.fs.pipe_file(target, data, mode="create")
            return
        aside = self._write_local(target, data, sync=True)
        try:
            if on_written is not None:
                on_written()
            os.link(aside, target)
        finally:
            Path(aside).unlink(missing_ok=True)
        fsync_dir(Path(target).parent)

    def append(self, relative: str, data: bytes) -> None:
        """Append to a file (a log's lines); on an object store, rewritten whole (see the module docstring)."""
        target = self.path(relative)
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            with open(target, "ab") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            return
        before = self.fs.cat_file(target) if self.fs.exists(target) else b""
        self.fs.pipe_file(target, before + data)

    def write_parquet(self, relative: str, table: pa.Table, *, replace: bool = False, **options: Any) -> dict:
        """Write a table as Parquet (new, or ``replace`` an existing file whole); returns its bytes and sha256
        (computed from what was written, without reading it back)."""
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **options)
        data = sink.getvalue().to_pybytes()
        if replace:
            self.write_bytes(relative, data, sync=False)
        else:
            self.write_new(relative, data)
        return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def sync_dir(self, relative: str) -> None:
        """Make a folder's files and entries durable (on disk; an object store's PUT is durable when it returns)."""
        if not self.local:
            return
        folder = Path(self.path(relative))
        if not folder.exists():
            return
        for path in folder.rglob("*"):
            if path.is_file():
                with path.open("rb") as handle:
                    os.fsync(handle.fileno())
        for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
            fsync_dir(path)

    def move(self, source: str, target: str) -> None:
        """Move a file (replacing what is at ``target``); see the module docstring for S3."""
        if self.local:
            Path(self.path(target)).parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path(source), self.path(target))
            return
        self.fs.copy(self.path(source), self.path(target))
        self.fs.rm_file(self.path(source))

    def remove(self, relative: str) -> None:
        """Remove a file (nothing when it is not there)."""
        try:
            self.fs.rm_file(self.path(relative))
        except FileNotFoundError:
            pass

    def remove_tree(self, relative: str) -> None:
        """Remove a folder and everything under it (nothing when it is not there)."""
        if self.local:
            shutil.rmtree(self.path(relative), ignore_errors=True)
            return
        found = [self.path(name) for name in self.find(relative)]
        if found:
            self.fs.rm(found)

    def upload(self, local: Path, relative: str) -> None:
        """Copy a local file into the store (replacing it whole)."""
        if self.local:
            if Path(local).resolve() != Path(self.path(relative)).resolve():
                Path(self.path(relative)).parent.mkdir(parents=True, exist_ok=True)
                aside = self._aside(self.path(relative))
                shutil.copyfile(local, aside)
                os.replace(aside, self.path(relative))
            return
        self.fs.put_file(str(local), self.path(relative))

    def upload_tree(self, local: Path, relative: str) -> None:
        """Copy a local folder's files into the store."""
        for path in sorted(Path(local).rglob("*")):
            if path.is_file():
                self.upload(path, f"{relative}/{path.relative_to(local).as_posix()}")

    def download(self, relative: str, local: Path) -> None:
        """Copy a file of the store to a local path (written aside, then renamed into place)."""
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        aside = Path(self._aside(str(local)))
        self.fs.get_file(self.path(relative), str(aside))
        os.replace(aside, local)

    # --- engines -------------------------------------------------------------------------------------------------

    def register(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Let a DuckDB connection read the store's URIs (``read_parquet('s3://...')``) through its filesystem:
        DuckDB's own httpfs is not needed. On disk, nothing to do."""
        if not self.local:
            connection.register_filesystem(self.fs)
