"""Land the bureau's monthly releases from the drop folder into the raw zone, one atomic batch per release.

The cursor (committed with each batch, in its manifest) is the set of releases landed, each with its
manifest's sha256, and the releases rejected, each with a fingerprint of its folder. A run lands every release
whose manifest is there and is not in the cursor (or whose manifest changed since), oldest month and revision
first, one batch each: a release lands whole or not at all, and its rows read = rows landed + quarantined.

- No manifest yet: the release is still being copied; skipped and reported (``waiting``), read on a later run.
- Rejected (checksum, row count, header, XLSX that differs from the CSV...): nothing of it lands. A batch with
  no rows records the rejection in the cursor and in ``extra.rejected``, and it is not read again until its
  folder's files change (then it is verified afresh).
- A revision (``YYYYMM_r1``) is the full month again: it lands again with its period and revision; staging keeps
  the newest revision of each period.
- A change of the bureau's schema (a declared column missing from the header, or a figure column none of whose
  values is a number any more): ``SchemaChanged`` stops the run at that release. Nothing of it lands and it is
  neither landed nor rejected in the cursor, so the next run stops there again, until the connector follows the
  bureau or the run is told ``accept_schema_change=True`` (then it lands: a missing column as null, the cells that
  do not parse quarantined, ``extra.schema_changes`` in its manifest). Releases committed before it stay.
- A column the spec does not declare is drift, never fatal: landed in ``extra_fields``, counted in
  ``extra.schema_drift``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import pyarrow as pa

from connectors.statistics.drop import Release, ReleaseRejected, fingerprint, read_release, release_folders
from connectors.statistics.rules import FIELD_OF, check_row, schema_changes
from connectors.statistics.schema import KEY_ENTERPRISE_SCHEMA
from gridlake.connections import get_connection
from gridlake.lake import BatchManifest, Lake, QuarantinedRecord
from gridlake.records import SchemaChanged
from gridlake.settings import get_settings

__all__ = ["CONN_ID", "ENTITY", "PLATFORM", "ReleaseError", "ReleaseLoads", "StatisticsError", "load_releases"]

CONN_ID = "statistics_drop"
PLATFORM = "statistics"
ENTITY = "key_enterprises"
log = logging.getLogger(__name__)


class StatisticsError(RuntimeError):
    """The drop cannot be read at all (no path in the connection, the folder is not there)."""


@dataclass(frozen=True)
class ReleaseError:
    """A release rejected whole: which, why (a short code), and where (file, row, field)."""

    release: str
    reason: str
    detail: str


class ReleaseLoads(list[BatchManifest]):
    """The batches a run committed (one per release landed or newly rejected), oldest first, and its report:
    ``errors`` the releases rejected in this run, ``still_rejected`` those rejected before and unchanged,
    ``waiting`` the releases without their manifest yet, ``ignored`` entries of the drop that are not releases."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[ReleaseError] = []
        self.still_rejected: list[str] = []
        self.waiting: list[str] = []
        self.ignored: list[str] = []


def load_releases(lake: Lake, conn: Any = CONN_ID, *, accept_schema_change: bool = False) -> ReleaseLoads:
    """Land every release of the drop not landed yet; one committed batch per release (see the module doc).

    ``conn`` is an Airflow connection (or its id) of type fs whose extra ``path`` is the drop folder. Raises
    ``SchemaChanged`` at the first release to land whose columns changed (the batches committed before it in
    this run stay), unless ``accept_schema_change``: then such a release lands, its changes in its manifest.
    """
    drop = _drop_path(conn)
    folders, ignored = release_folders(drop)
    result = ReleaseLoads()
    result.ignored = ignored
    waiting = [path.name for _, _, path in folders if not (path / "manifest.json").exists()]
    result.waiting = waiting
    for name in waiting:
        log.info("statistics release %s has no manifest yet (still being copied): skipped", name)
    cursor = _cursor(lake.cursor(PLATFORM, ENTITY))
    min_records = get_settings().schema_change_min_records
    for period, revision, folder in folders:
        if folder.name in waiting:
            continue
        name = folder.name
        known = cursor["rejected"].get(name)
        if known is not None and known["fingerprint"] == fingerprint(folder):
            result.still_rejected.append(name)
            continue
        try:
            release = read_release(folder, period=period, revision=revision)
        except ReleaseRejected as err:
            error = ReleaseError(err.release, err.reason, err.detail)
            log.warning("statistics release %s rejected, nothing of it lands: %s: %s", name, err.reason, err.detail)
            result.errors.append(error)
            result.append(_commit_rejection(lake, cursor, folder, error, waiting=waiting, ignored=ignored))
            continue
        if release is None:  # the manifest appeared only now: the next run reads it
            result.waiting.append(name)
            continue
        landed = cursor["releases"].get(name)
        if landed is not None and landed["manifest_sha256"] == release.manifest_sha256:
            continue
        changes = schema_changes(release.header, release.rows, min_records=min_records)
        if changes and not accept_schema_change:
            error = SchemaChanged(PLATFORM, ENTITY, changes, records=len(release.rows))
            error.add_note(f"release {name} ({folder}): nothing of it landed and it stays unread in the cursor; "
                           f"{len(result)} batch(es) committed before it in this run stay committed; "
                           f"load_releases(..., accept_schema_change=True) lands it as it is")
            log.error("statistics release %s: %s", name, error)
            raise error
        if changes:
            log.warning("statistics release %s: schema change accepted, landed as it is: %s", name, changes)
        result.append(_land(lake, cursor, release, changes=changes, republished=landed is not None,
                            waiting=waiting, ignored=ignored))
    return result


def _drop_path(conn: Any) -> Path:
    conn = get_connection(conn) if isinstance(conn, str) else conn
    extra = getattr(conn, "extra_dejson", None) or {}
    path = extra.get("path")
    if not path:
        raise StatisticsError(f"{PLATFORM}: connection {conn.conn_id!r} has no extra 'path' (the drop folder)")
    drop = Path(path)
    if not drop.is_dir():
        raise StatisticsError(f"{PLATFORM}: drop folder {drop} (connection {conn.conn_id!r}) is not there: "
                              f"is the share mounted?")
    return drop


def _cursor(state: dict[str, Any] | None) -> dict[str, Any]:
    state = state or {}
    return {"releases": dict(state.get("releases", {})), "rejected": dict(state.get("rejected", {}))}


def _commit_rejection(lake: Lake, cursor: dict[str, Any], folder: Path, error: ReleaseError, *,
                      waiting: list[str], ignored: list[str]) -> BatchManifest:
    """A batch with no rows that records the rejection: reported, and not read again until the files change."""
    with lake.begin(PLATFORM, ENTITY, KEY_ENTERPRISE_SCHEMA) as load:
        cursor["rejected"][error.release] = {"fingerprint": fingerprint(folder), "reason": error.reason,
                                             "detail": error.detail}
        return load.commit(cursor_to=cursor, rows_read=0, extra={
            "release": error.release,
            "rejected": {"release": error.release, "reason": error.reason, "detail": error.detail},
            "waiting": waiting, "ignored": ignored,
        })


@dataclass
class _Tally:
    noticed: Counter[str] = field(default_factory=Counter)
    streets_unresolved: Counter[str] = field(default_factory=Counter)


def _land(lake: Lake, cursor: dict[str, Any], release: Release, *, changes: dict[str, str], republished: bool,
          waiting: list[str], ignored: list[str]) -> BatchManifest:
    drift = [name for name in release.header if name not in FIELD_OF]
    if drift:
        log.warning("statistics release %s has columns the spec does not declare (landed in extra_fields): %s",
                    release.name, drift)
    rows: list[dict[str, Any]] = []
    quarantined: list[QuarantinedRecord] = []
    tally = _Tally()
    seen: set[str] = set()
    published_at = release.published_at.astimezone(UTC)
    for number, cells in enumerate(release.rows, start=1):
        checked = check_row(cells, number=number, release=release.name, period=release.period, seen=seen,
                            header=release.header)
        if checked.row is None:
            assert checked.quarantined is not None
            quarantined.append(checked.quarantined)
            continue
        tally.noticed.update(checked.noticed)
        if "street_unresolved" in checked.noticed:
            tally.streets_unresolved[checked.row["street_name"]] += 1
        rows.append({**checked.row, "release": release.name, "period": release.period,
                     "revision": release.revision, "published_at": published_at,
                     "manifest_sha256": release.manifest_sha256})
    with lake.begin(PLATFORM, ENTITY, KEY_ENTERPRISE_SCHEMA) as load:
        load.write(pa.Table.from_pylist(rows, schema=KEY_ENTERPRISE_SCHEMA))
        load.quarantine(quarantined)
        cursor["releases"][release.name] = {
            "period": release.period, "revision": release.revision,
            "published_at": release.published_at.isoformat(), "manifest_sha256": release.manifest_sha256,
            "rows": len(release.rows), "batch_id": load.batch_id,
        }
        cursor["rejected"].pop(release.name, None)
        return load.commit(cursor_to=cursor, rows_read=len(release.rows), extra={
            "release": release.name, "period": release.period, "revision": release.revision,
            "published_at": release.published_at.isoformat(), "manifest_sha256": release.manifest_sha256,
            "csv_encoding": release.csv_encoding, "files": release.files, "republished": republished,
            "thousands_separator": tally.noticed["separated"], "blank_zero": tally.noticed["blank"],
            "not_reported": tally.noticed["not_reported"],
            "street_short_name": tally.noticed["street_short_name"],
            "streets_unresolved": dict(sorted(tally.streets_unresolved.items())),
            "schema_changes": changes, "schema_drift": {name: len(release.rows) for name in drift},
            "waiting": waiting, "ignored": ignored,
        })
