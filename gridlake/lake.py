"""The lake's raw and quarantine zones, and the commit protocol that makes a load atomic.

Layout under ``$GRIDLAKE_HOME/lake``::

    raw/<platform>/<entity>/ingest_date=YYYY-MM-DD/<batch_id>-<n>.parquet         landed rows
    raw/<platform>/<entity>/_schema.parquet       no rows: the declared schema, for readers' globs
    quarantine/<platform>/<entity>/ingest_date=YYYY-MM-DD/<batch_id>-<n>.parquet  rejected rows, with reasons
    _log/<platform>/<entity>/<seq>.json       the committed batch manifests, in order; the newest holds the cursor
    _staging/<platform>/<entity>/<batch_id>/  files of a load not yet committed

A load writes its files into staging, then commits by creating the next manifest in the log (an atomic
create-if-absent: two loads cannot both commit the same sequence number), then moves its files into place.
Whatever kills a load (even SIGKILL), the next ``begin()`` recovers: files of a committed manifest still in
staging are moved into place (roll forward), staging without a committed manifest is deleted (roll back).
So the lake holds exactly the committed batches, and the cursor advances only with its rows.

Every landed row carries ``_batch_id`` and ``_ingested_at``; every load reconciles: rows read = rows landed +
rows quarantined, or it does not commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from gridlake.settings import get_settings

__all__ = [
    "BatchManifest",
    "Lake",
    "Load",
    "QUARANTINE_SCHEMA",
    "SCHEMA_FILE",
    "QuarantinedRecord",
    "ReconciliationError",
    "content_digest",
    "file_sha256",
    "fsync_dir",
    "schema_fingerprint",
]

_TZ = ZoneInfo("Asia/Shanghai")
BATCH_COLUMNS = [pa.field("_batch_id", pa.string(), nullable=False),
                 pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False)]
SCHEMA_FILE = "_schema.parquet"
QUARANTINE_SCHEMA = pa.schema([
    pa.field("record_id", pa.string()),
    pa.field("field", pa.string()),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("raw", pa.string(), nullable=False),
    *BATCH_COLUMNS,
])


class ReconciliationError(RuntimeError):
    """A load's counts do not add up: rows read != rows landed + rows quarantined."""


@dataclass(frozen=True)
class QuarantinedRecord:
    """A record that broke its schema or a field rule: which record, which field, why, and the record as read."""

    record_id: str | None
    field: str | None
    reason: str
    raw: str


@dataclass
class BatchManifest:
    platform: str
    entity: str
    batch_id: str
    seq: int
    started_at: str
    committed_at: str
    cursor_from: dict[str, Any] | None
    cursor_to: dict[str, Any] | None
    rows_read: int
    rows_landed: int
    rows_quarantined: dict[str, int]
    schema_fingerprint: str
    files: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def schema_fingerprint(schema: pa.Schema) -> str:
    """A stable digest of an Arrow schema's field names, types and nullability."""
    text = "\n".join(f"{f.name}:{f.type}:{f.nullable}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks (the manifests' checksums)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_digest(records: Iterable[Any]) -> str:
    """A digest of a snapshot's content, whatever the order the source listed it in: a snapshot load compares
    it with the one its cursor holds and lands nothing when the source has not changed."""
    lines = sorted(json.dumps(asdict(r) if isinstance(r, QuarantinedRecord) else r, sort_keys=True, default=str,
                              ensure_ascii=False) for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a file created, renamed or linked in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Lake:
    """The lake at ``root`` (``$GRIDLAKE_HOME/lake`` by default).

    ``observer`` is told of every file a load stages: (platform, entity, zone, rows); progress displays use it.
    """

    root: Path
    observer: Callable[[str, str, str, int], None] | None = field(default=None, compare=False, repr=False)

    def watched(self, observer: Callable[[str, str, str, int], None]) -> Lake:
        """The same lake, with an observer of what loads stage."""
        return Lake(self.root, observer)

    @classmethod
    def default(cls) -> Lake:
        return cls(get_settings().home / "lake")

    def _log_dir(self, platform: str, entity: str) -> Path:
        return self.root / "_log" / platform / entity

    def _staging_dir(self, platform: str, entity: str) -> Path:
        return self.root / "_staging" / platform / entity

    def zone_dir(self, zone: str, platform: str, entity: str) -> Path:
        if zone not in ("raw", "quarantine"):
            raise ValueError(f"unknown zone {zone!r}: raw or quarantine")
        return self.root / zone / platform / entity

    def manifests(self, platform: str, entity: str) -> list[BatchManifest]:
        """The committed batches of an entity, oldest first."""
        log = self._log_dir(platform, entity)
        if not log.exists():
            return []
        return [BatchManifest(**json.loads(path.read_text(encoding="utf-8")))
                for path in sorted(log.glob("*.json"))]

    def committed_batches(self) -> dict[str, dict[str, Any]]:
        """Per ``platform/entity``, the committed batches a reader of the zones sees now: how many, their
        sequence range, the newest one's id and commit time, rows read, landed and quarantined by reason (what a
        build read, in the shared catalog)."""
        out: dict[str, dict[str, Any]] = {}
        for log in sorted(p for p in (self.root / "_log").glob("*/*") if p.is_dir()):
            manifests = self.manifests(log.parent.name, log.name)
            if manifests:
                out[f"{log.parent.name}/{log.name}"] = {
                    "batches": len(manifests), "first_seq": manifests[0].seq, "last_seq": manifests[-1].seq,
                    "last_batch_id": manifests[-1].batch_id, "last_committed_at": manifests[-1].committed_at,
                    "rows_read": sum(m.rows_read for m in manifests),
                    "rows_landed": sum(m.rows_landed for m in manifests),
                    "rows_quarantined": dict(sum((Counter(m.rows_quarantined) for m in manifests), Counter()))}
        return out

    def cursor(self, platform: str, entity: str) -> dict[str, Any] | None:
        """The cursor committed with the newest batch, or None before the first load."""
        committed = self.manifests(platform, entity)
        return committed[-1].cursor_to if committed else None

    def files(self, zone: str, platform: str, entity: str) -> list[Path]:
        """The committed files of a zone, in commit order (finishing first the move of a batch whose load was
        killed between its commit and its move: committed is final, so any reader may roll it forward)."""
        manifests = self.manifests(platform, entity)
        for manifest in manifests:
            if any(not (self.root / item["path"]).exists() for item in manifest.files):
                self.roll_forward(manifest)
        return [self.root / item["path"] for manifest in manifests for item in manifest.files if item["zone"] == zone]

    def roll_forward(self, manifest: BatchManifest) -> None:
        """Move a committed batch's files still in staging into place (safe beside a running load)."""
        batch_dir = self._staging_dir(manifest.platform, manifest.entity) / manifest.batch_id
        if batch_dir.exists():
            self._move_into_place(manifest, batch_dir)
            shutil.rmtree(batch_dir, ignore_errors=True)

    def finish_committed(self) -> int:
        """Roll forward, in every entity, the committed batches whose load was killed before their files moved
        into place (a reader that globs the zones, such as dbt, sees only files in place); returns how many."""
        staging = self.root / "_staging"
        finished = 0
        if not staging.exists():
            return 0
        for entity_dir in sorted(p for p in staging.glob("*/*") if p.is_dir()):
            platform, entity = entity_dir.parent.name, entity_dir.name
            committed = {m.batch_id: m for m in self.manifests(platform, entity)}
            for batch_dir in sorted(p for p in entity_dir.iterdir() if p.is_dir()):
                if batch_dir.name in committed:
                    self.roll_forward(committed[batch_dir.name])
                    finished += 1
        return finished

    def scan(self, zone: str, platform: str, entity: str, *, columns: list[str],
             batches: Iterable[BatchManifest] | None = None) -> Iterator[pa.Table]:
        """Some columns of the committed files of a zone, a file at a time (all batches, or ``batches``):
        how a connector finds the versions it landed before without reading whole rows."""
        for manifest in self.manifests(platform, entity) if batches is None else batches:
            for item in manifest.files:
                if item["zone"] == zone:
                    if not (self.root / item["path"]).exists():
                        self.roll_forward(manifest)
                    yield pq.read_table(self.root / item["path"], columns=columns)

    def read(self, zone: str, platform: str, entity: str) -> pa.Table | None:
        """Everything committed in a zone for an entity (for tests and small entities)."""
        paths = self.files(zone, platform, entity)
        if not paths:
            return None
        return pa.concat_tables([pq.read_table(path) for path in paths], promote_options="default")

    def recover(self, platform: str, entity: str) -> dict[str, int]:
        """Finish what a killed load left: roll committed batches forward, roll uncommitted ones back."""
        staging = self._staging_dir(platform, entity)
        moved = removed = 0
        committed = {m.batch_id: m for m in self.manifests(platform, entity)}
        if staging.exists():
            for batch_dir in sorted(p for p in staging.iterdir() if p.is_dir()):
                manifest = committed.get(batch_dir.name)
                if manifest is not None:
                    moved += self._move_into_place(manifest, batch_dir)
                else:
                    removed += sum(1 for p in batch_dir.rglob("*") if p.is_file())
                shutil.rmtree(batch_dir)
        for tmp in self._log_dir(platform, entity).glob("*.tmp") if self._log_dir(platform, entity).exists() else []:
            tmp.unlink()
        return {"moved": moved, "removed": removed}

    def _move_into_place(self, manifest: BatchManifest, batch_dir: Path) -> int:
        moved = 0
        for item in manifest.files:
            source = batch_dir / item["staged"]
            target = self.root / item["path"]
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                moved += 1
            elif not target.exists():
                raise FileNotFoundError(
                    f"batch {manifest.batch_id} of {manifest.platform}.{manifest.entity} is committed but its file "
                    f"{item['path']} is neither staged nor in place")
        return moved

    def begin(
        self,
        platform: str,
        entity: str,
        schema: pa.Schema,
        *,
        on_step: Callable[[str], None] | None = None,
    ) -> Load:
        """Start a load of an entity with its declared schema (after recovering what a killed load left)."""
        self.recover(platform, entity)
        return Load(self, platform, entity, schema, on_step=on_step)


class Load:
    """One load of one entity: stage files, quarantine what is bad, then commit with the new cursor."""

    def __init__(self, lake: Lake, platform: str, entity: str, schema: pa.Schema, *,
                 on_step: Callable[[str], None] | None = None) -> None:
        self.lake = lake
        self.platform = platform
        self.entity = entity
        self.schema = schema
        self.batch_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.started_at = datetime.now(UTC)
        self.ingest_date = self.started_at.astimezone(_TZ).date().isoformat()
        self.landed_schema = pa.schema(list(schema) + BATCH_COLUMNS)
        self._staging = lake._staging_dir(platform, entity) / self.batch_id
        self._files: list[dict[str, Any]] = []
        self._landed = 0
        self._quarantined: Counter[str] = Counter()
        self._on_step = on_step or (lambda step: None)
        self._done = False
        # The batch this load follows: it commits the next sequence number or not at all, so two loads
        # started from the same cursor cannot both land (the second would duplicate the first's rows).
        committed = lake.manifests(platform, entity)
        self._base = committed[-1] if committed else None

    @property
    def cursor_from(self) -> dict[str, Any] | None:
        """The cursor this load starts from (committed by the batch before it)."""
        return self._base.cursor_to if self._base else None

    def _stage(self, zone: str, table: pa.Table) -> None:
        number = sum(1 for item in self._files if item["zone"] == zone) + 1
        relative = Path(zone) / self.platform / self.entity / f"ingest_date={self.ingest_date}" \
            / f"{self.batch_id}-{number:04d}.parquet"
        staged = self._staging / zone / f"{number:04d}.parquet"
        staged.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, staged, compression="zstd")
        self._files.append({"zone": zone, "path": str(relative), "staged": str(staged.relative_to(self._staging)),
                            "rows": table.num_rows, "sha256": file_sha256(staged)})
        self._on_step(f"staged:{zone}:{number}")
        if self.lake.observer is not None:
            self.lake.observer(self.platform, self.entity, zone, table.num_rows)

    def _stamp(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        at = pa.array([self.started_at] * n, type=pa.timestamp("us", tz="UTC"))
        return table.append_column(BATCH_COLUMNS[0], pa.array([self.batch_id] * n, type=pa.string())) \
            .append_column(BATCH_COLUMNS[1], at)

    def write(self, table: pa.Table) -> None:
        """Stage rows that conform to the declared schema (cast to it: a mismatch is an error, not a guess)."""
        if table.num_rows == 0:
            return
        try:
            table = table.select(self.schema.names).cast(self.schema)
        except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
            raise TypeError(f"{self.platform}.{self.entity}: rows do not fit the declared schema: {err}") from err
        self._stage("raw", self._stamp(table))
        self._landed += table.num_rows

    def quarantine(self, records: Iterable[QuarantinedRecord]) -> None:
        """Stage rejected records, each with its reason."""
        records = list(records)
        if not records:
            return
        table = pa.Table.from_pylist([asdict(r) for r in records],
                                     schema=pa.schema(list(QUARANTINE_SCHEMA)[:4]))
        self._stage("quarantine", self._stamp(table))
        self._quarantined.update(r.reason for r in records)

    def commit(self, *, cursor_to: dict[str, Any] | None, rows_read: int,
               extra: dict[str, Any] | None = None) -> BatchManifest:
        """Make the load visible with its cursor, atomically; refuse if the counts do not reconcile."""
        if self._done:
            raise RuntimeError(f"load {self.batch_id} is already finished")
        quarantined = sum(self._quarantined.values())
        if rows_read != self._landed + quarantined:
            raise ReconciliationError(
                f"{self.platform}.{self.entity} batch {self.batch_id}: read {rows_read} rows but landed "
                f"{self._landed} and quarantined {quarantined}")
        log = self.lake._log_dir(self.platform, self.entity)
        log.mkdir(parents=True, exist_ok=True)
        manifest = BatchManifest(
            platform=self.platform, entity=self.entity, batch_id=self.batch_id,
            seq=(self._base.seq + 1) if self._base else 1,
            started_at=self.started_at.isoformat(), committed_at=datetime.now(UTC).isoformat(),
            cursor_from=self.cursor_from, cursor_to=cursor_to,
            rows_read=rows_read, rows_landed=self._landed, rows_quarantined=dict(self._quarantined),
            schema_fingerprint=schema_fingerprint(self.schema), files=self._files, extra=extra or {},
        )
        if self._staging.exists():
            fsync_dir(self._staging)
        tmp = log / f"{manifest.seq:010d}.{self.batch_id}.tmp"
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(asdict(manifest), handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        self._on_step("manifest-written")
        final = log / f"{manifest.seq:010d}.json"
        try:
            os.link(tmp, final)  # create-if-absent: the commit point
        except FileExistsError:
            tmp.unlink()
            self.abort()
            raise RuntimeError(f"{self.platform}.{self.entity}: another load committed batch {manifest.seq} "
                               f"first; batch {self.batch_id} is abandoned") from None
        tmp.unlink()
        fsync_dir(log)
        self._on_step("committed")
        if self._staging.exists():
            self.lake._move_into_place(manifest, self._staging)
            shutil.rmtree(self._staging)
        self._done = True
        self._on_step("moved")
        self._write_schema_files()
        return manifest

    def _write_schema_files(self) -> None:
        """An empty file with each zone's declared schema beside the entity's data (``_schema.parquet``), so a
        reader's glob finds the columns even before any row has landed. Derived, rewritten when the schema
        changes, and never counted: it holds no row."""
        for zone, schema in (("raw", self.landed_schema), ("quarantine", QUARANTINE_SCHEMA)):
            path = self.lake.zone_dir(zone, self.platform, self.entity) / SCHEMA_FILE
            if path.exists() and pq.read_schema(path).equals(schema):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{self.batch_id}.tmp")
            pq.write_table(schema.empty_table(), tmp)
            os.replace(tmp, path)

    def abort(self) -> None:
        """Drop everything staged; nothing of this load becomes visible."""
        if self._staging.exists():
            shutil.rmtree(self._staging)
        self._done = True

    def __enter__(self) -> Load:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._done:
            self.abort()
