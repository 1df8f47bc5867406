"""What every connector's backfill shares: the range it re-reads, its clamp to the cursor, and what it skips.

A backfill re-reads the versions updated in [since, until) and lands only those the lake does not hold yet (raw or
quarantine zone, a version keyed (id, updated time in µs)). It never moves the cursor, and its ``until`` is clamped
to the point where the incremental loads read from, so the two never read the same version; its manifest says
``extra["backfill"] = {"since", "until" (after the clamp), "clamped"}``. An incremental load then skips the
versions of the committed backfills that reach past its start. How a platform is asked for the range, and where
exactly its incremental loads start, stay with each connector.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gridlake.lake import BatchManifest, Lake
from gridlake.records import parse_instant, to_micros

__all__ = ["Version", "Window", "backfills_reaching", "check_range", "landed_versions"]

Version = tuple[str, int]
"""A version as the lake holds it: (id as text, updated time in µs since the epoch)."""


def check_range(platform: str, entity: str, since: datetime | None, until: datetime | None) -> bool:
    """Whether ``since``/``until`` make the load a backfill; a range that cannot be read is an error (naming the
    platform, the entity and the values), not an empty load."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.utcoffset() is None:
            raise ValueError(f"{platform}.{entity} backfill: {name}={moment.isoformat()} has no offset: give an "
                             f"aware datetime")
    if since is not None and until is not None and since >= until:
        raise ValueError(f"{platform}.{entity} backfill: since={since.isoformat()} is not before "
                         f"until={until.isoformat()}")
    return since is not None or until is not None


@dataclass(frozen=True)
class Window:
    """A backfill's range of updated times, [since, until) (None: open), after the clamp to the cursor.

    ``clamped``: a given ``until`` was later than the cursor's point and was moved back to it. ``capped``: the
    range ends at that point (it was open, or ended there or later), for a connector whose incremental loads read
    strictly after the point and whose backfill must then take the point itself.
    """

    since: datetime | None
    until: datetime | None
    clamped: bool = False
    capped: bool = False

    @classmethod
    def clamped_to(cls, since: datetime | None, until: datetime | None, point: datetime | None) -> Window:
        """[since, until) with ``until`` no later than ``point``, where the incremental loads read from (so the two
        never read the same version); nothing is clamped without a cursor (``point`` None)."""
        if point is None:
            return cls(since, until)
        if until is None or until > point:
            return cls(since, point, clamped=until is not None, capped=True)
        return cls(since, until, capped=until == point)

    def manifest(self, *, tz: tzinfo | None = None) -> dict[str, Any]:
        """The manifest's ``extra["backfill"]``: the bounds as ISO text (in ``tz``, else as given) and ``clamped``."""
        return {"since": _spell(self.since, tz), "until": _spell(self.until, tz), "clamped": self.clamped}


def backfills_reaching(lake: Lake, platform: str, entity: str, start: datetime | None) -> list[BatchManifest]:
    """The committed backfill batches that may hold versions at or after ``start`` (None: any): an incremental load
    reading from ``start`` would read those versions again, so it reads them here to skip them.

    A batch reaches past ``start`` when it landed files, its ``until`` is open or later than ``start``, and, where it
    recorded the newest updated time it landed (``extra["newest_updated_at"]``), that time is not before ``start``.
    """
    reaching = []
    for manifest in lake.manifests(platform, entity):
        window = manifest.extra.get("backfill")
        if window is None or not manifest.files:
            continue
        if start is not None:
            until, newest = window.get("until"), manifest.extra.get("newest_updated_at")
            if until is not None and parse_instant(until) <= start:
                continue
            if newest is not None and parse_instant(newest) < start:
                continue
        reaching.append(manifest)
    return reaching


def landed_versions(lake: Lake, platform: str, entity: str, *, id_column: str, time_column: str = "updated_at",
                    quarantined: Callable[[str | None, Any], Version | None], since: datetime | None = None,
                    until: datetime | None = None, after: bool = False,
                    batches: Sequence[BatchManifest] | None = None) -> set[Version]:
    """The versions the lake holds, raw and quarantine zones, updated in [since, until) (``(since, until)`` when
    ``after``), of every committed batch or of ``batches`` (none: nothing to read).

    The raw zone gives them from its id and time columns, read column-wise. A quarantined record lands as served,
    so ``quarantined`` tells its version from its ``record_id`` and the record as served (parsed JSON); None: it has
    no readable version, nothing to skip.
    """
    if batches is not None and not batches:
        return set()
    low = None if since is None else to_micros(since)
    high = None if until is None else to_micros(until)

    def within(at: int) -> bool:
        return (low is None or (at > low if after else at >= low)) and (high is None or at < high)

    found: set[Version] = set()
    for part in lake.scan("raw", platform, entity, columns=[id_column, time_column], batches=batches):
        times = pc.cast(part[time_column], pa.timestamp("us", tz="UTC")).cast(pa.int64())
        ids = pc.cast(part[id_column], pa.string())
        mask = None
        for bound, compare in ((low, pc.greater if after else pc.greater_equal), (high, pc.less)):
            if bound is not None:
                test = compare(times, pa.scalar(bound, pa.int64()))
                mask = test if mask is None else pc.and_(mask, test)
        if mask is not None:
            times, ids = times.filter(mask), ids.filter(mask)
        found.update(zip(ids.to_pylist(), times.to_pylist()))
    for part in lake.scan("quarantine", platform, entity, columns=["record_id", "raw"], batches=batches):
        for record_id, raw in zip(part["record_id"].to_pylist(), part["raw"].to_pylist()):
            version = quarantined(record_id, json.loads(raw))
            if version is not None and within(version[1]):
                found.add(version)
    return found


def _spell(moment: datetime | None, tz: tzinfo | None) -> str | None:
    if moment is None:
        return None
    return (moment if tz is None else moment.astimezone(tz)).isoformat()
