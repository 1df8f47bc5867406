"""Served JSON values to declared Arrow types: what passes, what is rejected and why, what is drift."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from gridlake.records import TZ, Checked, Converter, FieldWatch, Rejected, SchemaChanged, parse_local, to_micros


def test_times_without_an_offset_are_the_districts_and_are_noticed() -> None:
    assert parse_local("2026-11-20T08:00:00") == (datetime(2026, 11, 20, 8, tzinfo=TZ), True)
    moment, naive = parse_local("2026-11-20T00:00:00Z")
    assert moment == datetime(2026, 11, 20, 8, tzinfo=TZ) and not naive
    convert = Converter()
    convert.value("t", "2026-11-20T08:00:00+08:00", pa.timestamp("us", tz="UTC"))
    assert not convert.without_offset
    convert.value("t", "2026-11-20T08:00:00", pa.timestamp("us", tz="UTC"))
    assert convert.without_offset


def test_microseconds_are_exact() -> None:
    moment = datetime(2026, 11, 20, 8, 0, 0, 123457, tzinfo=timezone(timedelta(hours=8)))
    assert to_micros(moment) % 1_000_000 == 123457


@pytest.mark.parametrize(("raw", "kind", "reason"), [
    (1, pa.string(), "schema_mismatch"),
    ("yes", pa.bool_(), "schema_mismatch"),
    (True, pa.float64(), "schema_mismatch"),
    ("39.9", pa.float64(), "schema_mismatch"),
    (float("nan"), pa.float64(), "schema_mismatch"),
    ("2026-13-40", pa.timestamp("us", tz="UTC"), "time_unparseable"),
    ("", pa.timestamp("us", tz="UTC"), "time_unparseable"),
    ("20 Nov", pa.date32(), "time_unparseable"),
    (["a", 1], pa.list_(pa.string()), "schema_mismatch"),
])
def test_values_of_the_wrong_kind_are_rejected_with_the_field_and_reason(raw, kind, reason) -> None:
    with pytest.raises(Rejected) as caught:
        Converter().value("x.y", raw, kind)
    assert (caught.value.field, caught.value.reason) == ("x.y", reason)


def test_lenient_options_for_platforms_that_write_numbers_as_text_or_blank_times() -> None:
    convert = Converter(numbers_from_text=True, blank_time_is_null=True)
    assert convert.value("lat", "39.91", pa.float64()) == 39.91
    assert convert.value("t", " ", pa.timestamp("us", tz="UTC")) is None
    assert Converter().value("d", "2026-11-20", pa.date32()) == date(2026, 11, 20)
    assert Converter().value("m", ["fine"], pa.list_(pa.string())) == ["fine"]


def test_undeclared_fields_are_drift_kept_aside_or_only_reported() -> None:
    convert = Converter()
    row = convert.obj("visit", {"ok": "1", "new": 2}, {"ok": pa.string()})
    convert.unknown("", {"secret": "x"}, {}, land=False)
    assert row == {"ok": "1"}
    assert convert.drift == ["visit.new", "secret"] and convert.extra == {"visit.new": 2}


def test_a_rejected_record_goes_to_quarantine_with_its_reason() -> None:
    checked = Checked.rejected(42, Rejected("lat", "outside_beijing"), '{"lat": 1}', drift=["z"])
    assert checked.row is None and checked.drift == ["z"]
    assert (checked.quarantined.record_id, checked.quarantined.field, checked.quarantined.reason) == \
        ("42", "lat", "outside_beijing")


# ---------------------------------------------------------------- FieldWatch: a changed source vs dirty records

def _watched(records: list[dict], *, known: tuple[str, ...] = ("id", "lat")) -> FieldWatch:
    watch = FieldWatch(("id", "lat"), known=known, min_records=5)
    for record in records:
        watch.record(record)
        convert = Converter(watch=watch)
        for name in ("id", "lat"):
            try:
                convert.value(name, record.get(name), pa.string() if name == "id" else pa.float64())
            except Rejected:
                pass
    return watch


def test_a_field_known_before_and_absent_from_every_record_has_disappeared() -> None:
    watch = _watched([{"id": str(n)} for n in range(6)])
    assert watch.changes() == {"lat": "disappeared"}
    with pytest.raises(SchemaChanged, match="lat disappeared"):
        watch.check("hotline", "requests")
    assert watch.check("hotline", "requests", accept=True) == {"lat": "disappeared"}
    assert watch.seen() == ["id"]  # accepted: the next load no longer expects it


def test_a_field_never_seen_before_is_not_missed_and_too_few_records_prove_nothing() -> None:
    assert _watched([{"id": str(n)} for n in range(6)], known=("id",)).changes() == {}
    assert _watched([{"id": str(n)} for n in range(4)]).changes() == {}


def test_every_value_of_another_type_is_a_change_a_few_are_dirty_records() -> None:
    changed = _watched([{"id": str(n), "lat": f"{39.9 + n / 100:.2f}"} for n in range(6)])
    assert changed.changes() == {"lat": "changed_type"}
    dirty = _watched([{"id": str(n), "lat": "x" if n < 2 else 39.9} for n in range(6)])
    assert dirty.changes() == {}
    assert dirty.seen() == ["id", "lat"]
