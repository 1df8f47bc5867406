"""The backfill mechanics every connector shares: the range, its clamp, the batches that reach, the versions held."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from gridlake.backfill import Window, backfills_reaching, check_range, landed_versions
from gridlake.lake import BatchManifest, Lake, QuarantinedRecord
from gridlake.records import to_micros

TZ = ZoneInfo("Asia/Shanghai")
SCHEMA = pa.schema([pa.field("item_id", pa.string(), nullable=False),
                    pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False)])
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=TZ)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _version(item_id: str, minutes: int) -> tuple[str, int]:
    return item_id, to_micros(_at(minutes))


def _land(lake: Lake, landed: dict[str, int], quarantined: dict[str | None, Any] | None = None, *,
          backfill: Window | None = None, extra: dict[str, Any] | None = None) -> BatchManifest:
    """Commit a batch: ``landed`` (id -> minutes after T0) in raw, ``quarantined`` (record_id -> record as served)."""
    quarantined = quarantined or {}
    with lake.begin("demo", "items", SCHEMA) as load:
        load.write(pa.Table.from_pylist([{"item_id": key, "updated_at": _at(minutes)}
                                         for key, minutes in landed.items()], schema=SCHEMA))
        load.quarantine(QuarantinedRecord(record_id, "updated_at", "bad", json.dumps(served))
                        for record_id, served in quarantined.items())
        info = dict(extra or {})
        if backfill is not None:
            info["backfill"] = backfill.manifest(tz=TZ)
        return load.commit(cursor_to=None, rows_read=len(landed) + len(quarantined), extra=info)


def _served_at(record_id: str | None, served: Any) -> tuple[str, int] | None:
    """A quarantined record's version: its record_id and its ``at`` (minutes after T0); None when unreadable."""
    if record_id is None or not isinstance(served.get("at"), int):
        return None
    return _version(record_id, served["at"])


def _held(lake: Lake, **options: Any) -> set[tuple[str, int]]:
    return landed_versions(lake, "demo", "items", id_column="item_id", quarantined=_served_at, **options)


def test_a_range_is_checked_and_tells_a_backfill_from_an_incremental_load() -> None:
    assert check_range("demo", "items", None, None) is False
    assert check_range("demo", "items", _at(0), None) is True
    assert check_range("demo", "items", None, _at(0)) is True
    with pytest.raises(ValueError, match=r"demo\.items backfill: since=2026-11-20T08:00:00 has no offset"):
        check_range("demo", "items", datetime(2026, 11, 20, 8), None)
    with pytest.raises(ValueError, match=r"demo\.items backfill: since=.*08:10.* is not before until=.*08:10"):
        check_range("demo", "items", _at(10), _at(10))


def test_a_window_is_clamped_to_the_point_the_incremental_loads_read_from() -> None:
    point = _at(60)
    assert Window.clamped_to(_at(0), _at(90), None) == Window(_at(0), _at(90))  # no cursor: nothing to clamp to
    assert Window.clamped_to(None, None, None) == Window(None, None)
    later = Window.clamped_to(_at(0), _at(90), point)
    assert (later.until, later.clamped, later.capped) == (point, True, True)
    open_ended = Window.clamped_to(_at(0), None, point)
    assert (open_ended.until, open_ended.clamped, open_ended.capped) == (point, False, True)
    at_point = Window.clamped_to(_at(0), point, point)
    assert (at_point.until, at_point.clamped, at_point.capped) == (point, False, True)
    earlier = Window.clamped_to(_at(0), _at(30), point)
    assert (earlier.until, earlier.clamped, earlier.capped) == (_at(30), False, False)


def test_a_window_spells_its_manifest_in_a_zone_or_as_given() -> None:
    window = Window.clamped_to(datetime(2026, 11, 20, 0, 0, tzinfo=UTC), None, _at(60))
    assert window.manifest(tz=TZ) == {"since": "2026-11-20T08:00:00+08:00", "until": "2026-11-20T09:00:00+08:00",
                                      "clamped": False}
    assert window.manifest() == {"since": "2026-11-20T00:00:00+00:00", "until": "2026-11-20T09:00:00+08:00",
                                 "clamped": False}
    assert Window(None, None).manifest() == {"since": None, "until": None, "clamped": False}


def test_the_versions_held_are_those_of_raw_and_quarantine_within_the_range(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    first = _land(lake, {"a": 0, "b": 10}, {"q": {"at": 10}, None: {"at": 20}, "u": {"at": "not a time"}})
    second = _land(lake, {"a": 20, "c": 30}, {"r": {"at": 40}})
    everything = {_version("a", 0), _version("b", 10), _version("q", 10), _version("a", 20), _version("c", 30),
                  _version("r", 40)}
    assert _held(lake) == everything  # without a record_id or a readable time, a quarantined one has no version
    assert _held(lake, since=_at(10), until=_at(30)) == {_version("b", 10), _version("q", 10), _version("a", 20)}
    assert _held(lake, since=_at(10), after=True) == {_version("a", 20), _version("c", 30), _version("r", 40)}
    assert _held(lake, until=_at(10)) == {_version("a", 0)}
    assert _held(lake, batches=[second]) == {_version("a", 20), _version("c", 30), _version("r", 40)}
    assert _held(lake, batches=[first], since=_at(5)) == {_version("b", 10), _version("q", 10)}
    assert _held(lake, batches=[]) == set()  # no batch: nothing, not everything


def test_the_backfills_that_reach_past_a_start_are_those_that_may_hold_its_versions(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    _land(lake, {"a": 0})  # an incremental batch: never a backfill
    closed = _land(lake, {"b": 10}, backfill=Window.clamped_to(_at(0), _at(30), None))
    open_ended = _land(lake, {"c": 20}, backfill=Window.clamped_to(_at(0), None, None))
    _land(lake, {}, backfill=Window.clamped_to(_at(0), None, None))  # landed nothing: nothing to skip
    recorded = _land(lake, {"d": 40}, backfill=Window.clamped_to(_at(0), None, None),
                     extra={"newest_updated_at": _at(40).isoformat()})

    def reaching(start: datetime | None) -> list[str]:
        return [m.batch_id for m in backfills_reaching(lake, "demo", "items", start)]

    every = [closed.batch_id, open_ended.batch_id, recorded.batch_id]
    assert reaching(None) == every
    assert reaching(_at(29)) == every
    assert reaching(_at(30)) == [open_ended.batch_id, recorded.batch_id]  # until is exclusive
    assert reaching(_at(40)) == [open_ended.batch_id, recorded.batch_id]  # its newest version is at the start
    assert reaching(_at(41)) == [open_ended.batch_id]  # nothing it landed is at or after the start
    assert reaching(_at(41).astimezone(UTC)) == [open_ended.batch_id]  # instants, whatever their zone
    assert _held(lake, batches=backfills_reaching(lake, "demo", "items", _at(30))) == {
        _version("c", 20), _version("d", 40)}
