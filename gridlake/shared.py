"""The shared zone: the published versions of the shared district datasets, the catalog apps read to find them,
the publication ledger, and their verification.

Layout under the store's ``shared/`` (``$GRIDLAKE_HOME/shared/``, or ``s3://bucket/prefix/shared/``)::

    catalog.json                    every dataset: current version, schema, checks, raw batches, previous versions
    _ledger.jsonl                   every published (and retired) version, each entry chained to the one before
    _alerts.jsonl                   datasets that failed their gate or were held back, newest last
    <dataset>/v=<version>/*.parquet a published version (never changed once there)
    <dataset>/.staging-<run>/       a version being written (not visible to readers; on disk only, see below)

Publishing is two atomic steps: a staged version's folder is renamed into place (whole, fsynced), then the
catalog is replaced (written aside, fsynced, renamed over). A reader resolves a dataset through the catalog, so it
sees the version before or the version after, never part of one; a publisher killed at any point leaves at most an
unreferenced folder, which the next run removes. Versions stay readable for ``keep_versions`` after they stop being
current, so a reader can ask for a dataset as of a date.

On an object store a folder cannot be renamed in one step: a candidate is written and validated in a local staging
folder of the publishing process (``$GRIDLAKE_HOME/staging/shared/``), then its files are uploaded to
``<dataset>/v=<version>/`` and the catalog (one PUT, replaced whole) names it. Until the catalog does, the version
is an orphan no reader resolves to, and the next run removes it, as on disk. The catalog is the only commit point
there; the ledger and the alerts, which S3 cannot append to, are rewritten whole (one publisher at a time).

The ledger makes a later change detectable: each entry holds the version's files with their sha256, the
version's content hash and the hash of the entry before it; ``verify`` recomputes them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from gridlake.lake import file_sha256, fsync_dir
from gridlake.settings import Settings, get_settings
from gridlake.storage import Store

__all__ = ["LedgerProblem", "SharedZone", "asset_uri", "content_hash", "version_id"]

CATALOG_FORMAT = 1
GENESIS = "0" * 64


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def asset_uri(dataset: str) -> str:
    """The Airflow Asset of a shared dataset: updated when a version of it is published."""
    return f"gridlake://shared/{dataset}"


def content_hash(files: Sequence[dict[str, Any]]) -> str:
    """A version's content hash: of its files' names and sha256s, in name order."""
    lines = sorted(f"{item['name']}:{item['sha256']}" for item in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def version_id(published_at: datetime, digest: str) -> str:
    """Versions sort by their time; the content hash's head keeps two in one second apart."""
    return f"{published_at.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}-{digest[:8]}"


@dataclass(frozen=True)
class LedgerProblem:
    """Something ``verify`` found: where (a ledger line, a dataset version, a file) and what."""

    where: str
    problem: str


class SharedZone:
    """The shared zone at ``root``: a folder (``$GRIDLAKE_HOME/shared`` by default), an object store's URI, or a
    ``Store``. ``staging`` is where a publisher writes candidates when the zone is on an object store."""

    CATALOG, LEDGER, ALERTS = "catalog.json", "_ledger.jsonl", "_alerts.jsonl"

    def __init__(self, root: Path | str | Store, *, staging: Path | None = None) -> None:
        self.store = root if isinstance(root, Store) else Store(root)
        self.root = self.store.root
        # Paths on disk, URIs on an object store (what callers print)
        self.catalog_path = self.store.locate(self.CATALOG)
        self.ledger_path = self.store.locate(self.LEDGER)
        self.alerts_path = self.store.locate(self.ALERTS)
        self._local_staging = None if self.store.local else (
            staging or Path(tempfile.gettempdir()) / "gridlake-staging"
            / hashlib.sha256(self.store.uri.encode()).hexdigest()[:12]) / "shared"

    @classmethod
    def default(cls, settings: Settings | None = None) -> SharedZone:
        settings = settings or get_settings()
        return cls(Store.default(settings).child("shared"), staging=settings.home / "staging")

    # --- the catalog ---------------------------------------------------------------------------------------------

    def catalog(self) -> dict[str, Any]:
        """The catalog as last published (an empty one before the first publication)."""
        try:
            text = self.store.read_text(self.CATALOG)
        except FileNotFoundError:
            return {"format": CATALOG_FORMAT, "updated_at": None, "datasets": {}}
        return json.loads(text)

    def catalog_signature(self) -> tuple[Any, ...] | None:
        """What changes whenever the catalog is replaced (None before the first): a reader caching the parsed
        catalog compares it (on disk the file's inode, time and size; on S3 the object's ETag and size)."""
        try:
            if self.store.local:
                stat = Path(self.store.path(self.CATALOG)).stat()
                return (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            info = self.store.fs.info(self.store.path(self.CATALOG))
        except FileNotFoundError:
            return None
        return (info.get("ETag"), info.get("LastModified"), info.get("size"))

    def write_catalog(self, catalog: dict[str, Any], *, now: datetime | None = None) -> None:
        """Replace the catalog in one step: readers see the old one or the new one."""
        catalog = {**catalog, "format": CATALOG_FORMAT, "updated_at": _iso(now or _now())}
        self.store.write_bytes(self.CATALOG, json.dumps(catalog, ensure_ascii=False, indent=1).encode())

    # --- reading -------------------------------------------------------------------------------------------------

    def version_entry(self, dataset: str, as_of: date | datetime | None = None) -> dict[str, Any] | None:
        """The catalog's entry of the version current now, or at the end of a day (a date) or at an instant."""
        entry = self.catalog()["datasets"].get(dataset)
        if entry is None or entry.get("current") is None:
            return None
        if as_of is None:
            return entry["current"]
        if isinstance(as_of, datetime):
            moment = as_of
        else:
            moment = datetime.combine(as_of + timedelta(days=1), time(0), ZoneInfo(get_settings().timezone))
        for version in [entry["current"], *entry.get("previous", [])]:
            if _parse(version["published_at"]) < moment and (
                    version.get("superseded_at") is None or _parse(version["superseded_at"]) >= moment):
                return version
        return None

    def _version_files(self, version: dict[str, Any]) -> list[str]:
        kept = [f"{version['path']}/{name}" for name in version["files"]]
        return [relative for relative in kept if self.store.exists(relative)]

    def version_files(self, version: dict[str, Any]) -> list[Path | str]:
        """The Parquet files of a version (a catalog entry); [] when it is no longer kept. Paths on disk, URIs
        on an object store (read them with ``read``, or a DuckDB connection given to ``store.register``)."""
        return [self.store.locate(relative) for relative in self._version_files(version)]

    def files(self, dataset: str, as_of: date | datetime | None = None) -> list[Path | str]:
        """The Parquet files of a dataset's version current now (or as of a date); [] when never published or
        when that version is no longer kept."""
        version = self.version_entry(dataset, as_of)
        return [] if version is None else self.version_files(version)

    def read(self, dataset: str | dict[str, Any], as_of: date | datetime | None = None) -> pa.Table | None:
        """A dataset's current version (or as of a date, or a version's catalog entry) as one Arrow table."""
        version = dataset if isinstance(dataset, dict) else self.version_entry(dataset, as_of)
        files = [] if version is None else self._version_files(version)
        if not files:
            return None
        return pa.concat_tables([self.store.read_parquet(relative) for relative in files])

    def read_schema(self, relative: str) -> pa.Schema:
        """The schema of a file of the zone (``<dataset>/v=<version>/<name>``)."""
        return self.store.read_schema(relative)

    # --- writing -------------------------------------------------------------------------------------------------

    def _staging_root(self) -> Path:
        return Path(self.store.path()) if self._local_staging is None else self._local_staging

    def stage(self, dataset: str, run_id: str) -> Path:
        """An empty local folder to write a candidate version of a dataset in (invisible to readers): in the
        zone on disk, in the publisher's staging folder when the zone is on an object store."""
        folder = self._staging_root() / dataset / f".staging-{run_id}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def staging_folders(self) -> list[Path]:
        """The candidates' folders now (of a run going on, or left by one killed)."""
        root = self._staging_root()
        return sorted(root.glob("*/.staging-*")) if root.exists() else []

    def describe_files(self, folder: Path) -> list[dict[str, Any]]:
        """The Parquet files of a folder with their rows, bytes and sha256 (what the ledger records)."""
        out = []
        for path in sorted(folder.glob("*.parquet")):
            out.append({"name": path.name, "rows": pq.ParquetFile(path).metadata.num_rows,
                        "bytes": path.stat().st_size, "sha256": file_sha256(path)})
        return out

    def place(self, dataset: str, staged: Path, version: str) -> str:
        """Move a staged version into place, whole: on disk, its files and folder synced, then one rename; on an
        object store, its files uploaded (the catalog makes it visible). Returns the version's path in the zone."""
        path = f"{dataset}/v={version}"
        if self.store.local:
            for file in staged.iterdir():
                with file.open("rb") as handle:
                    os.fsync(handle.fileno())
            fsync_dir(staged)
            os.rename(staged, self.store.path(path))
            fsync_dir(Path(self.store.path(dataset)))
        else:
            self.store.upload_tree(staged, path)
            shutil.rmtree(staged)
        return path

    def discard_staging(self, dataset: str | None = None) -> int:
        """Remove folders left by runs that did not finish (or by the current one, once done with them)."""
        removed = 0
        root = self._staging_root()
        for folder in root.glob(f"{dataset or '*'}/.staging-*") if root.exists() else []:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        return removed

    def orphans(self) -> list[str]:
        """Version folders the catalog does not name (a publisher killed between placing and the catalog),
        as paths in the zone (``<dataset>/v=<version>``)."""
        catalog = self.catalog()["datasets"]
        named = {version["path"] for entry in catalog.values()
                 for version in [entry.get("current"), *entry.get("previous", [])] if version}
        return [folder for folder in self.store.glob("*/v=*") if folder not in named]

    def remove(self, relative: str) -> None:
        """Remove a version folder of the zone (an orphan, a retired version)."""
        self.store.remove_tree(relative)

    # --- the ledger ----------------------------------------------------------------------------------------------

    def _lines(self, name: str) -> list[str]:
        try:
            return self.store.read_text(name).splitlines()
        except FileNotFoundError:
            return []

    def ledger(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._lines(self.LEDGER) if line]

    def append_ledger(self, record: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
        """Append an entry chained to the last one: ``prev_hash`` is the last entry's ``entry_hash``, and
        ``entry_hash`` the sha256 of the entry's canonical JSON without it."""
        entries = self.ledger()
        entry = {"seq": len(entries) + 1, "recorded_at": _iso(now or _now()), **record,
                 "prev_hash": entries[-1]["entry_hash"] if entries else GENESIS}
        entry["entry_hash"] = hashlib.sha256(_canonical(entry)).hexdigest()
        self.store.append(self.LEDGER, (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode())
        return entry

    def verify(self) -> list[LedgerProblem]:
        """Every ledger entry's hash and link to the one before, every kept published file's sha256 against its
        entry, and every version the catalog names against the ledger. [] when all hold."""
        problems: list[LedgerProblem] = []
        previous = GENESIS
        published: dict[tuple[str, str], dict[str, Any]] = {}
        retired: set[tuple[str, str]] = set()
        lines = self._lines(self.LEDGER)
        for number, line in enumerate(lines, start=1):
            where = f"_ledger.jsonl:{number}"
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(LedgerProblem(where, "not a JSON entry"))
                previous = ""
                continue
            claimed = entry.pop("entry_hash", None)
            if hashlib.sha256(_canonical(entry)).hexdigest() != claimed:
                problems.append(LedgerProblem(where, "entry changed: its hash does not match its content"))
            if entry.get("prev_hash") != previous:
                problems.append(LedgerProblem(where, "chain broken: prev_hash is not the previous entry's hash"))
            if entry.get("seq") != number:
                problems.append(LedgerProblem(where, f"sequence {entry.get('seq')} where {number} was expected"))
            previous = claimed or ""
            key = (entry.get("dataset", ""), entry.get("version", ""))
            if entry.get("action") == "published":
                published[key] = entry
            elif entry.get("action") == "retired":
                retired.add(key)
        for (dataset, version), entry in sorted(published.items()):
            if (dataset, version) in retired:
                continue
            folder = entry["path"]
            where = f"{dataset} {version}"
            if content_hash(entry["files"]) != entry["content_hash"]:
                problems.append(LedgerProblem(where, "the entry's files do not give its content hash"))
            for item in entry["files"]:
                path = f"{folder}/{item['name']}"
                if not self.store.exists(path):
                    problems.append(LedgerProblem(f"{where} {item['name']}", "published file missing"))
                elif self.store.sha256(path) != item["sha256"]:
                    problems.append(LedgerProblem(f"{where} {item['name']}", "published file changed: sha256 differs"))
            extra = {path.rsplit("/", 1)[-1] for path in self.store.glob(f"{folder}/*.parquet")} \
                - {item["name"] for item in entry["files"]}
            for name in sorted(extra):
                problems.append(LedgerProblem(f"{where} {name}", "file not in the ledger"))
        for dataset, entry in sorted(self.catalog()["datasets"].items()):
            for version in [entry.get("current"), *entry.get("previous", [])]:
                if not version or version.get("retired_at"):
                    continue
                recorded = published.get((dataset, version["version"]))
                where = f"{dataset} {version['version']}"
                if recorded is None:
                    problems.append(LedgerProblem(where, "in the catalog, not in the ledger"))
                elif recorded["content_hash"] != version.get("content_hash"):
                    problems.append(LedgerProblem(where, "the catalog's content hash differs from the ledger's"))
        return problems

    # --- retention -----------------------------------------------------------------------------------------------

    def retire(self, catalog: dict[str, Any], *, keep: timedelta, now: datetime | None = None) -> list[str]:
        """Delete the versions superseded more than ``keep`` ago (recorded in the ledger as retired) and folders
        no catalog entry names; the catalog keeps a retired version's entry, marked, for the record."""
        now = now or _now()
        done = []
        for dataset, entry in catalog["datasets"].items():
            for version in entry.get("previous", []):
                superseded = version.get("superseded_at")
                if version.get("retired_at") or superseded is None or _parse(superseded) > now - keep:
                    continue
                self.remove(version["path"])
                version["retired_at"] = _iso(now)
                self.append_ledger({"action": "retired", "dataset": dataset, "version": version["version"],
                                    "path": version["path"]}, now=now)
                done.append(f"{dataset} {version['version']}")
        return done

    # --- alerts --------------------------------------------------------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._lines(self.ALERTS) if line]

    def add_alerts(self, alerts: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(alert, ensure_ascii=False, sort_keys=True) + "\n" for alert in alerts)
        if text:
            self.store.append(self.ALERTS, text.encode())
