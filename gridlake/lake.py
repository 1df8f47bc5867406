"""The lake's raw and quarantine zones, and the commit protocol that makes a load atomic.

Layout under the store's ``lake/`` (``$GRIDLAKE_HOME/lake``, or ``s3://bucket/prefix/lake``: gridlake/storage.py)::

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

On an object store the commit point is a PUT with ``If-None-Match: *`` (the second of two loads committing the same
sequence number is refused, as ``os.link`` refuses it on disk), and a move is a copy then a delete: a load killed
during its moves may leave a committed file both in staging and in place for a moment; the roll forward copies it
again (same bytes) and deletes the staged one. Readers that go through the manifests (``files``, ``scan``,
``read``) see exactly the committed batches either way; a reader that globs the zone (dbt) may, during a load's
moves, see some of its files before the others - as on disk, where each file's rename is atomic but a batch's
several files move one after the other; ``finish_committed`` before a build completes what a killed load left.

Every landed row carries ``_batch_id`` and ``_ingested_at``; every load reconciles: rows read = rows landed +
rows quarantined, or it does not commit.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from gridlake.settings import Settings
from gridlake.storage import Store, fsync_dir, stream_sha256

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
    """The sha256 of a local file (the manifests' and the ledger's checksums)."""
    with path.open("rb") as handle:
        return stream_sha256(handle)


def content_digest(records: Iterable[Any]) -> str:
    """A digest of a snapshot's content, whatever the order the source listed it in: a snapshot load compares
    it with the one its cursor holds and lands nothing when the source has not changed."""
    lines = sorted(json.dumps(asdict(r) if isinstance(r, QuarantinedRecord) else r, sort_keys=True, default=str,
                              ensure_ascii=False) for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True)
class Lake:
    """The lake at ``root``: a folder (``$GRIDLAKE_HOME/lake`` by default), an object store's URI, or a ``Store``.

    ``observer`` is told of every file a load stages: (platform, entity, zone, rows); progress displays use it.
    ``root`` becomes what callers held before the store: a ``Path`` on disk, the URI on an object store.
    """

    root: Path | str | Store
    observer: Callable[[str, str, str, int], None] | None = field(default=None, compare=False, repr=False)
    store: Store = field(init=False, compare=False, repr=False)
    # committed manifests never change: each is read from the store once per Lake
    _manifests: dict[str, BatchManifest] = field(init=False, compare=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        store = self.root if isinstance(self.root, Store) else Store(self.root)
        object.__setattr__(self, "store", store)
        object.__setattr__(self, "root", store.root)

    def watched(self, observer: Callable[[str, str, str, int], None]) -> Lake:
        """The same lake, with an observer of what loads stage."""
        return Lake(self.store, observer)

    @classmethod
    def default(cls, settings: Settings | None = None) -> Lake:
        return cls(Store.default(settings).child("lake"))

    def _log_dir(self, platform: str, entity: str) -> str:
        return f"_log/{platform}/{entity}"

    def _staging_dir(self, platform: str, entity: str) -> str:
        return f"_staging/{platform}/{entity}"

    def zone_dir(self, zone: str, platform: str, entity: str) -> str:
        """A zone's folder of an entity, relative to the lake's root."""
        if zone not in ("raw", "quarantine"):
            raise ValueError(f"unknown zone {zone!r}: raw or quarantine")
        return f"{zone}/{platform}/{entity}"

    def url(self, relative: str = "") -> str:
        """What DuckDB reads a file or glob of the lake by (``Store.register`` the connection first)."""
        return self.store.url(relative)

    def manifests(self, platform: str, entity: str) -> list[BatchManifest]:
        """The committed batches of an entity, oldest first."""
        log = self._log_dir(platform, entity)
        out = []
        for name in self.store.listdir(log):
            if not name.endswith(".json"):
                continue
            relative = f"{log}/{name}"
            if relative not in self._manifests:
                self._manifests[relative] = BatchManifest(**json.loads(self.store.read_text(relative)))
            out.append(self._manifests[relative])
        return out

    def committed_batches(self) -> dict[str, dict[str, Any]]:
        """Per ``platform/entity``, the committed batches a reader of the zones sees now: how many, their
        sequence range, the newest one's id and commit time, rows read, landed and quarantined by reason (what a
        build read, in the shared catalog)."""
        out: dict[str, dict[str, Any]] = {}
        for platform in self.store.listdir("_log"):
            for entity in self.store.listdir(f"_log/{platform}"):
                manifests = self.manifests(platform, entity)
                if manifests:
                    out[f"{platform}/{entity}"] = {
                        "batches": len(manifests), "first_seq": manifests[0].seq, "last_seq": manifests[-1].seq,
                        "last_batch_id": manifests[-1].batch_id, "last_committed_at": manifests[-1].committed_at,
                        "rows_read": sum(m.rows_read for m in manifests),
                        "rows_landed": sum(m.rows_landed for m in manifests),
                        "rows_quarantined": dict(sum((Counter(m.rows_quarantined) for m in manifests), Counter()))}
        return dict(sorted(out.items()))

    def cursor(self, platform: str, entity: str) -> dict[str, Any] | None:
        """The cursor committed with the newest batch, or None before the first load."""
        committed = self.manifests(platform, entity)
        return committed[-1].cursor_to if committed else None

    def _finish(self, platform: str, entity: str, manifests: list[BatchManifest]) -> None:
        """Roll forward the committed batches of an entity still in staging (one listing, not a look per file)."""
        staged = set(self.store.listdir(self._staging_dir(platform, entity)))
        for manifest in manifests:
            if manifest.batch_id in staged:
                self.roll_forward(manifest)

    def files(self, zone: str, platform: str, entity: str) -> list[Path | str]:
        """The committed files of a zone, in commit order (finishing first the move of a batch whose load was
        killed between its commit and its move: committed is final, so any reader may roll it forward). Paths on
        disk, URIs on an object store."""
        return [self.store.locate(relative) for relative in self._files(zone, platform, entity)]

    def _files(self, zone: str, platform: str, entity: str) -> list[str]:
        manifests = self.manifests(platform, entity)
        self._finish(platform, entity, manifests)
        return [item["path"] for manifest in manifests for item in manifest.files if item["zone"] == zone]

    def roll_forward(self, manifest: BatchManifest) -> None:
        """Move a committed batch's files still in staging into place (safe beside a running load)."""
        batch_dir = f"{self._staging_dir(manifest.platform, manifest.entity)}/{manifest.batch_id}"
        if self.store.exists(batch_dir):
            self._move_into_place(manifest, batch_dir)
            self.store.remove_tree(batch_dir)

    def finish_committed(self) -> int:
        """Roll forward, in every entity, the committed batches whose load was killed before their files moved
        into place (a reader that globs the zones, such as dbt, sees only files in place); returns how many."""
        finished = 0
        for platform in self.store.listdir("_staging"):
            for entity in self.store.listdir(f"_staging/{platform}"):
                committed = {m.batch_id: m for m in self.manifests(platform, entity)}
                for batch in self.store.listdir(f"_staging/{platform}/{entity}"):
                    if batch in committed:
                        self.roll_forward(committed[batch])
                        finished += 1
        return finished

    def scan(self, zone: str, platform: str, entity: str, *, columns: list[str],
             batches: Iterable[BatchManifest] | None = None) -> Iterator[pa.Table]:
        """Some columns of the committed files of a zone, a file at a time (all batches, or ``batches``):
        how a connector finds the versions it landed before without reading whole rows."""
        batches = self.manifests(platform, entity) if batches is None else list(batches)
        self._finish(platform, entity, batches)
        for manifest in batches:
            for item in manifest.files:
                if item["zone"] == zone:
                    yield self.store.read_parquet(item["path"], columns=columns)

    def read(self, zone: str, platform: str, entity: str) -> pa.Table | None:
        """Everything committed in a zone for an entity (for tests and small entities)."""
        paths = self._files(zone, platform, entity)
        if not paths:
            return None
        return pa.concat_tables([self.store.read_parquet(path) for path in paths], promote_options="default")

    def recover(self, platform: str, entity: str) -> dict[str, int]:
        """Finish what a killed load left: roll committed batches forward, roll uncommitted ones back."""
        staging = self._staging_dir(platform, entity)
        moved = removed = 0
        committed = {m.batch_id: m for m in self.manifests(platform, entity)}
        for batch in self.store.listdir(staging):
            manifest = committed.get(batch)
            if manifest is not None:
                moved += self._move_into_place(manifest, f"{staging}/{batch}")
            else:
                removed += len(self.store.find(f"{staging}/{batch}"))
            self.store.remove_tree(f"{staging}/{batch}")
        log = self._log_dir(platform, entity)
        for name in self.store.listdir(log):
            if name.endswith(".tmp"):
                self.store.remove(f"{log}/{name}")
        return {"moved": moved, "removed": removed}

    def _move_into_place(self, manifest: BatchManifest, batch_dir: str) -> int:
        moved = 0
        for item in manifest.files:
            source = f"{batch_dir}/{item['staged']}"
            if self.store.exists(source):
                self.store.move(source, item["path"])
                moved += 1
            elif not self.store.exists(item["path"]):
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
        self._staging = f"{lake._staging_dir(platform, entity)}/{self.batch_id}"
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
        relative = f"{zone}/{self.platform}/{self.entity}/ingest_date={self.ingest_date}/" \
            f"{self.batch_id}-{number:04d}.parquet"
        staged = f"{zone}/{number:04d}.parquet"
        written = self.lake.store.write_parquet(f"{self._staging}/{staged}", table, compression="zstd")
        self._files.append({"zone": zone, "path": relative, "staged": staged, "rows": table.num_rows,
                            "sha256": written["sha256"]})
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
        store = self.lake.store
        log = self.lake._log_dir(self.platform, self.entity)
        manifest = BatchManifest(
            platform=self.platform, entity=self.entity, batch_id=self.batch_id,
            seq=(self._base.seq + 1) if self._base else 1,
            started_at=self.started_at.isoformat(), committed_at=datetime.now(UTC).isoformat(),
            cursor_from=self.cursor_from, cursor_to=cursor_to,
            rows_read=rows_read, rows_landed=self._landed, rows_quarantined=dict(self._quarantined),
            schema_fingerprint=schema_fingerprint(self.schema), files=self._files, extra=extra or {},
        )
        store.sync_dir(self._staging)
        data = json.dumps(asdict(manifest), ensure_ascii=False, indent=1).encode()
        try:  # create-if-absent: the commit point
            store.create(f"{log}/{manifest.seq:010d}.json", data,
                         on_written=lambda: self._on_step("manifest-written"))
        except FileExistsError:
            self.abort()
            raise RuntimeError(f"{self.platform}.{self.entity}: another load committed batch {manifest.seq} "
                               f"first; batch {self.batch_id} is abandoned") from None
        self._on_step("committed")
        if self._files:
            self.lake._move_into_place(manifest, self._staging)
            store.remove_tree(self._staging)
        self._done = True
        self._on_step("moved")
        self._write_schema_files()
        return manifest

    def _write_schema_files(self) -> None:
        """An empty file with each zone's declared schema beside the entity's data (``_schema.parquet``), so a
        reader's glob finds the columns even before any row has landed. Derived, rewritten when the schema
        changes, and never counted: it holds no row."""
        store = self.lake.store
        for zone, schema in (("raw", self.landed_schema), ("quarantine", QUARANTINE_SCHEMA)):
            path = f"{self.lake.zone_dir(zone, self.platform, self.entity)}/{SCHEMA_FILE}"
            if store.exists(path) and store.read_schema(path).equals(schema):
                continue
            store.write_parquet(path, schema.empty_table(), replace=True)

    def abort(self) -> None:
        """Drop everything staged; nothing of this load becomes visible."""
        self.lake.store.remove_tree(self._staging)
        self._done = True

    def __enter__(self) -> Load:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._done:
            self.abort()
