"""The shared zone: the published versions of the shared district datasets, the catalog apps read to find them,
the publication ledger, and their verification.

Layout under ``$GRIDLAKE_HOME/shared/``::

    catalog.json                    every dataset: current version, schema, checks, raw batches, previous versions
    _ledger.jsonl                   every published (and retired) version, each entry chained to the one before
    _alerts.jsonl                   datasets that failed their gate or were held back, newest last
    <dataset>/v=<version>/*.parquet a published version (never changed once there)
    <dataset>/.staging-<run>/       a version being written (not visible to readers)

Publishing is two atomic steps: a staged version's folder is renamed into place (whole, fsynced), then the
catalog is replaced (written aside, fsynced, renamed over). A reader resolves a dataset through the catalog, so it
sees the version before or the version after, never part of one; a publisher killed at any point leaves at most an
unreferenced folder, which the next run removes. Versions stay readable for ``keep_versions`` after they stop being
current, so a reader can ask for a dataset as of a date.

The ledger makes a later change detectable: each entry holds the version's files with their sha256, the
version's content hash and the hash of the entry before it; ``verify`` recomputes them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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


def _write_atomically(path: Path, data: bytes) -> None:
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with aside.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(aside, path)
    fsync_dir(path.parent)


@dataclass(frozen=True)
class LedgerProblem:
    """Something ``verify`` found: where (a ledger line, a dataset version, a file) and what."""

    where: str
    problem: str


class SharedZone:
    """The shared zone at ``root`` (``$GRIDLAKE_HOME/shared`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog_path = root / "catalog.json"
        self.ledger_path = root / "_ledger.jsonl"
        self.alerts_path = root / "_alerts.jsonl"

    @classmethod
    def default(cls, settings: Settings | None = None) -> SharedZone:
        return cls((settings or get_settings()).home / "shared")

    # --- the catalog ---------------------------------------------------------------------------------------------

    def catalog(self) -> dict[str, Any]:
        """The catalog as last published (an empty one before the first publication)."""
        if not self.catalog_path.exists():
            return {"format": CATALOG_FORMAT, "updated_at": None, "datasets": {}}
        return json.loads(self.catalog_path.read_text(encoding="utf-8"))

    def write_catalog(self, catalog: dict[str, Any], *, now: datetime | None = None) -> None:
        """Replace the catalog in one step: readers see the old one or the new one."""
        catalog = {**catalog, "format": CATALOG_FORMAT, "updated_at": _iso(now or _now())}
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.catalog_path, json.dumps(catalog, ensure_ascii=False, indent=1).encode())

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

    def version_files(self, version: dict[str, Any]) -> list[Path]:
        """The Parquet files of a version (a catalog entry); [] when it is no longer kept."""
        folder = self.root / version["path"]
        return [folder / name for name in version["files"] if (folder / name).exists()]

    def files(self, dataset: str, as_of: date | datetime | None = None) -> list[Path]:
        """The Parquet files of a dataset's version current now (or as of a date); [] when never published or
        when that version is no longer kept."""
        version = self.version_entry(dataset, as_of)
        return [] if version is None else self.version_files(version)

    def read(self, dataset: str | dict[str, Any], as_of: date | datetime | None = None) -> pa.Table | None:
        """A dataset's current version (or as of a date, or a version's catalog entry) as one Arrow table."""
        files = self.version_files(dataset) if isinstance(dataset, dict) else self.files(dataset, as_of)
        if not files:
            return None
        return pa.concat_tables([pq.read_table(path) for path in files])

    # --- writing -------------------------------------------------------------------------------------------------

    def stage(self, dataset: str, run_id: str) -> Path:
        """An empty folder to write a candidate version of a dataset in (invisible to readers)."""
        folder = self.root / dataset / f".staging-{run_id}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def describe_files(self, folder: Path) -> list[dict[str, Any]]:
        """The Parquet files of a folder with their rows, bytes and sha256 (what the ledger records)."""
        out = []
        for path in sorted(folder.glob("*.parquet")):
            out.append({"name": path.name, "rows": pq.ParquetFile(path).metadata.num_rows,
                        "bytes": path.stat().st_size, "sha256": file_sha256(path)})
        return out

    def place(self, dataset: str, staged: Path, version: str) -> str:
        """Move a staged version into place, whole: its files and folder synced, then one rename. Returns the
        version's path relative to the zone."""
        for path in staged.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(staged)
        target = self.root / dataset / f"v={version}"
        os.rename(staged, target)
        fsync_dir(target.parent)
        return f"{dataset}/v={version}"

    def discard_staging(self, dataset: str | None = None) -> int:
        """Remove folders left by runs that did not finish (or by the current one, once done with them)."""
        removed = 0
        for folder in self.root.glob(f"{dataset or '*'}/.staging-*"):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        return removed

    def orphans(self) -> list[Path]:
        """Version folders the catalog does not name (a publisher killed between placing and the catalog)."""
        catalog = self.catalog()["datasets"]
        named = {version["path"] for entry in catalog.values()
                 for version in [entry.get("current"), *entry.get("previous", [])] if version}
        return [folder for folder in sorted(self.root.glob("*/v=*"))
                if f"{folder.parent.name}/{folder.name}" not in named]

    # --- the ledger ----------------------------------------------------------------------------------------------

    def ledger(self) -> list[dict[str, Any]]:
        if not self.ledger_path.exists():
            return []
        return [json.loads(line) for line in self.ledger_path.read_text(encoding="utf-8").splitlines() if line]

    def append_ledger(self, record: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
        """Append an entry chained to the last one: ``prev_hash`` is the last entry's ``entry_hash``, and
        ``entry_hash`` the sha256 of the entry's canonical JSON without it."""
        entries = self.ledger()
        entry = {"seq": len(entries) + 1, "recorded_at": _iso(now or _now()), **record,
                 "prev_hash": entries[-1]["entry_hash"] if entries else GENESIS}
        entry["entry_hash"] = hashlib.sha256(_canonical(entry)).hexdigest()
        self.root.mkdir(parents=True, exist_ok=True)
        with self.ledger_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return entry

    def verify(self) -> list[LedgerProblem]:
        """Every ledger entry's hash and link to the one before, every kept published file's sha256 against its
        entry, and every version the catalog names against the ledger. [] when all hold."""
        problems: list[LedgerProblem] = []
        previous = GENESIS
        published: dict[tuple[str, str], dict[str, Any]] = {}
        retired: set[tuple[str, str]] = set()
        if self.ledger_path.exists():
            lines = self.ledger_path.read_text(encoding="utf-8").splitlines()
        else:
            lines = []
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
            folder = self.root / entry["path"]
            where = f"{dataset} {version}"
            if content_hash(entry["files"]) != entry["content_hash"]:
                problems.append(LedgerProblem(where, "the entry's files do not give its content hash"))
            for item in entry["files"]:
                path = folder / item["name"]
                if not path.exists():
                    problems.append(LedgerProblem(f"{where} {item['name']}", "published file missing"))
                elif file_sha256(path) != item["sha256"]:
                    problems.append(LedgerProblem(f"{where} {item['name']}", "published file changed: sha256 differs"))
            extra = {path.name for path in folder.glob("*.parquet")} - {item["name"] for item in entry["files"]}
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
                shutil.rmtree(self.root / version["path"], ignore_errors=True)
                version["retired_at"] = _iso(now)
                self.append_ledger({"action": "retired", "dataset": dataset, "version": version["version"],
                                    "path": version["path"]}, now=now)
                done.append(f"{dataset} {version['version']}")
        return done

    # --- alerts --------------------------------------------------------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        if not self.alerts_path.exists():
            return []
        return [json.loads(line) for line in self.alerts_path.read_text(encoding="utf-8").splitlines() if line]

    def add_alerts(self, alerts: Iterable[dict[str, Any]]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.alerts_path.open("a", encoding="utf-8") as handle:
            for alert in alerts:
                handle.write(json.dumps(alert, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
