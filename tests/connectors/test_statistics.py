"""The statistics connector against the simulated bureau's drop (and a drop written here from the spec alone):
every release with a good manifest lands whole and once, a bad one lands nothing and is reported, a release
still being copied waits, a revision lands the full month again, and the figures are the truth's. A change of
the bureau's columns (one missing, one no longer numeric) stops the load until accepted; a new one is drift.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pyarrow as pa
import pytest

from connectors.statistics import (
    ENTITY,
    KEY_ENTERPRISE_SCHEMA,
    PLATFORM,
    StatisticsError,
    load_releases,
)
from gridlake import uscc
from gridlake.lake import Lake
from gridlake.records import SchemaChanged
from gridlake.reference import resolve_street
from gridlake.settings import get_settings
from simulators.dataset import Dataset
from simulators.statistics.drop import StatisticsDrop
from simulators.statistics.generate import generate

HEADERS = ["统一社会信用代码", "企业名称", "所属街道", "行业代码", "营业收入(万元)", "利润总额(万元)", "应交税费(万元)",
           "从业人员(人)", "综合能耗(吨标准煤)", "报告期"]
FIGURES = {"revenue_wan": "revenue_wan", "profit_wan": "profit_wan", "tax_wan": "tax_wan",
           "employees": "employees", "energy_tce": "energy_tce"}


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def generated(make_context) -> SimpleNamespace:
    """The bureau's releases generated once; each test publishes into its own copy of the dataset."""
    ctx = make_context(name="statistics_connector")
    result = generate(ctx)
    return SimpleNamespace(ctx=ctx, truth=result.truth,
                           entries={entry["release"]: entry for entry in result.truth["releases"]})


@pytest.fixture
def bureau(generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A fresh copy of the generated dataset, its drop with the releases due at the span's end, a lake, and
    the ``statistics_drop`` connection pointing at the drop."""
    root = tmp_path / "dataset"
    shutil.copytree(generated.ctx.dataset.root, root)
    dataset = Dataset(root)
    drop = StatisticsDrop(dataset)
    drop.publish_due(generated.ctx.end)
    monkeypatch.setenv("AIRFLOW_CONN_STATISTICS_DROP",
                       json.dumps({"conn_type": "fs", "extra": {"path": str(dataset.drop_dir)}}))
    return SimpleNamespace(**vars(generated), dataset=dataset, drop=drop, lake=Lake(tmp_path / "lake"))


def _published(bureau) -> set[str]:
    return {path.name for path in bureau.dataset.drop_dir.iterdir() if (path / "manifest.json").exists()}


def _raw(lake: Lake) -> list[dict[str, Any]]:
    table = lake.read("raw", PLATFORM, ENTITY)
    return [] if table is None else table.to_pylist()


def _by_release(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["release"], []).append(row)
    return grouped


def _bad(bureau) -> set[str]:
    return set(bureau.truth["dirty"]["bad_checksum"]["ids"])


# ---------------------------------------------------------------- the simulated bureau

def test_each_release_with_a_good_manifest_lands_exactly_its_rows(bureau) -> None:
    loads = load_releases(bureau.lake)
    published, bad = _published(bureau), _bad(bureau)
    assert bad and bad <= published, "the bad-checksum release is published before the span ends"
    landed = {m.extra["release"]: m for m in loads if "rejected" not in m.extra}
    assert set(landed) == published - bad
    rows = _by_release(_raw(bureau.lake))
    for name, manifest in landed.items():
        expected = bureau.entries[name]["rows"]
        document = json.loads((bureau.dataset.drop_dir / name / "manifest.json").read_text(encoding="utf-8"))
        assert {entry["rows"] for entry in document["files"]} == {expected}
        assert manifest.rows_read == expected == manifest.rows_landed + sum(manifest.rows_quarantined.values())
        assert len(rows[name]) == manifest.rows_landed
        assert {row["period"] for row in rows[name]} == {bureau.entries[name]["period"]}
        assert {row["revision"] for row in rows[name]} == {bureau.entries[name]["revision"]}
        assert len({row["uscc"] for row in rows[name]}) == len(rows[name])
    table = bureau.lake.read("raw", PLATFORM, ENTITY)
    assert table.schema.remove_metadata().equals(
        pa.schema(list(KEY_ENTERPRISE_SCHEMA) + [table.schema.field("_batch_id"),
                                                 table.schema.field("_ingested_at")]).remove_metadata())


def test_the_bad_checksum_release_lands_nothing_and_is_reported(bureau) -> None:
    loads = load_releases(bureau.lake)
    bad = _bad(bureau)
    assert {error.release for error in loads.errors} == bad
    assert {error.reason for error in loads.errors} == {"checksum_mismatch"}
    assert all(".csv" in error.detail for error in loads.errors)
    rejected = [m for m in loads if "rejected" in m.extra]
    assert {m.extra["rejected"]["release"] for m in rejected} == bad
    assert all(m.rows_read == m.rows_landed == 0 and not m.files for m in rejected)
    assert not bad & set(_by_release(_raw(bureau.lake)))
    assert bureau.lake.read("quarantine", PLATFORM, ENTITY) is None
    assert set(bureau.lake.cursor(PLATFORM, ENTITY)["rejected"]) == bad


def test_a_second_run_lands_nothing_and_does_not_retry_the_rejected_release(bureau) -> None:
    load_releases(bureau.lake)
    cursor = bureau.lake.cursor(PLATFORM, ENTITY)
    rows = len(_raw(bureau.lake))
    again = load_releases(bureau.lake)
    assert list(again) == [] and again.errors == [] and again.waiting == []
    assert set(again.still_rejected) == _bad(bureau)
    assert bureau.lake.cursor(PLATFORM, ENTITY) == cursor and len(_raw(bureau.lake)) == rows


def test_a_rejected_release_is_read_again_once_its_files_change(bureau) -> None:
    load_releases(bureau.lake)
    (name,) = sorted(_bad(bureau))[:1]
    folder = bureau.dataset.drop_dir / name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:  # the bureau sends the manifest again, corrected
        entry["sha256"] = hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    loads = load_releases(bureau.lake)
    assert [m.extra["release"] for m in loads] == [name] and loads.errors == []
    assert loads[0].rows_landed == bureau.entries[name]["rows"]
    assert name not in bureau.lake.cursor(PLATFORM, ENTITY)["rejected"]
    assert name in bureau.lake.cursor(PLATFORM, ENTITY)["releases"]


def test_a_release_without_its_manifest_waits_then_lands_once_the_manifest_is_there(bureau) -> None:
    later = [e["release"] for e in bureau.truth["releases"] if e["release"] not in _published(bureau)]
    assert later, "some release is published after the span's end"
    name = later[0]
    bureau.drop.publish_without_manifest(name)
    first = load_releases(bureau.lake)
    assert name in first.waiting
    assert name not in {m.extra["release"] for m in first}
    assert name not in _by_release(_raw(bureau.lake))
    assert name not in bureau.lake.cursor(PLATFORM, ENTITY)["releases"]

    assert name in bureau.drop.publish_due(bureau.ctx.horizon)  # the copy finishes: the manifest comes last
    second = load_releases(bureau.lake)
    assert name in {m.extra["release"] for m in second} and second.waiting == []
    assert len(_by_release(_raw(bureau.lake))[name]) == bureau.entries[name]["rows"]
    assert list(load_releases(bureau.lake)) == []


def test_a_revision_lands_the_full_month_again_and_the_newest_is_distinguishable(bureau) -> None:
    load_releases(bureau.lake)
    bureau.drop.publish_due(bureau.ctx.horizon)
    load_releases(bureau.lake)
    rows = _raw(bureau.lake)
    landed = _by_release(rows)
    revisions = [e for e in bureau.truth["releases"] if e["revision"] > 0 and e["release"] in landed]
    assert revisions
    for entry in revisions:
        newer = {row["uscc"]: row for row in landed[entry["release"]]}
        assert len(newer) == entry["rows"] and {r["revision"] for r in newer.values()} == {entry["revision"]}
        if entry["replaces"] in landed:
            older = {row["uscc"]: row for row in landed[entry["replaces"]]}
            assert newer.keys() == older.keys()
            changed = {code for code in newer if newer[code]["revenue_wan"] != older[code]["revenue_wan"]}
            assert changed == set(entry["corrected"])
            assert max(r["published_at"] for r in older.values()) < min(r["published_at"] for r in newer.values())
    # What staging does: the newest revision of each period, each enterprise once per month.
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["period"], row["uscc"])
        if key not in newest or row["revision"] > newest[key]["revision"]:
            newest[key] = row
    for period in {row["period"] for row in rows}:
        top = max(e["revision"] for e in bureau.truth["releases"]
                  if e["period"] == period and e["release"] in landed)
        assert {r["revision"] for (p, _), r in newest.items() if p == period} == {top}


def test_the_figures_landed_are_the_truths_spot_checks(bureau) -> None:
    load_releases(bureau.lake)
    landed = {name: {row["uscc"]: row for row in rows} for name, rows in _by_release(_raw(bureau.lake)).items()}
    defunct = bureau.truth["defunct_streets"]
    checked = 0
    for name, expected_rows in bureau.truth["spot_checks"].items():
        if name not in landed:
            assert name in _bad(bureau) or name not in _published(bureau)
            continue
        for expected in expected_rows:
            row = landed[name][expected["uscc"]]
            assert row["street_name"] == expected["street_as_written"]
            assert (row["street_code"] or defunct.get(row["street_name"])) == expected["street_code"]
            assert row["industry_code"] == expected["industry_code"]
            for key in FIGURES:
                value, want = row[key], expected[key]
                if want is None:
                    assert value is None, (name, expected["uscc"], key)
                elif key == "employees":
                    assert value == want, (name, expected["uscc"], key)
                else:
                    assert isinstance(value, Decimal) and float(value) == pytest.approx(want, abs=1e-9), \
                        (name, expected["uscc"], key)
                checked += 1
    assert checked > 0


def test_dirty_counts_are_the_truths(bureau) -> None:
    loads = load_releases(bureau.lake)
    landed = {m.extra["release"]: m for m in loads if "rejected" not in m.extra}
    rows = _by_release(_raw(bureau.lake))
    bom = set(bureau.truth["dirty"]["csv_utf8_bom"]["ids"])
    totals: Counter[str] = Counter()
    for name, manifest in landed.items():
        truth = bureau.entries[name]["dirty"]
        extra = manifest.extra
        for kind in ("thousands_separator", "not_reported", "blank_zero", "street_short_name"):
            assert extra[kind] == truth[kind], (name, kind)
            totals[kind] += extra[kind]
        assert sum(extra["streets_unresolved"].values()) == truth["defunct_street"]
        assert set(extra["streets_unresolved"]) <= set(bureau.truth["defunct_streets"])
        assert (extra["csv_encoding"] == "utf-8-sig") is (name in bom)
        nulls = sum(row[key] is None for row in rows[name] for key in FIGURES)
        assert nulls == truth["not_reported"]
        unresolved = {row["uscc"] for row in rows[name] if row["street_code"] is None}
        assert unresolved == set(bureau.truth["dirty"]["defunct_street"]["ids"])
    # Over every release: the truth's totals less the rejected release's own.
    for kind, count in totals.items():
        rejected = sum(bureau.entries[name]["dirty"][kind] for name in _bad(bureau))
        unpublished = sum(e["dirty"][kind] for e in bureau.truth["releases"]
                          if e["release"] not in landed and e["release"] not in _bad(bureau))
        assert count == bureau.truth["dirty"][kind]["count"] - rejected - unpublished, kind
    separated = {(r, c, h) for r, c, h in bureau.truth["dirty"]["thousands_separator"]["ids"] if r in landed}
    assert separated
    for release, code, header in separated:
        key = dict(zip(HEADERS, ["uscc", "", "", "", *FIGURES]))[header]
        (row,) = [row for row in rows[release] if row["uscc"] == code]
        assert row[key] is not None and abs(row[key]) >= 1000


# ---------------------------------------------------------------- a drop written from the spec alone

def _code(n: int) -> str:
    return uscc.complete(f"91110101MA{n:07d}")


def _cell(header: str, text: str) -> Any:
    """As the bureau's workbook holds a cell: plain figures (and plain numbers in a column the spec does not
    declare) as numbers, the rest as text, blanks empty."""
    if (header in HEADERS[4:9] or header not in HEADERS) and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    return text or None


def _write_release(drop: Path, name: str, rows: list[list[str]], *, header: list[str] = HEADERS,
                   encoding: str = "gbk", xlsx_rows: list[list[str]] | None = None,
                   manifest_rows: int | None = None) -> Path:
    """A release folder as statistics.md describes it: XLSX (title row, header row), CSV, manifest last;
    ``header`` the columns as this release writes them (the spec's by default)."""
    period = name[:6]
    folder = drop / name
    folder.mkdir(parents=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "企业月报"
    sheet.append([f"东城区重点企业监测月报（{period[:4]}年{period[4:]}月）"])
    sheet.append(header)
    for row in xlsx_rows if xlsx_rows is not None else rows:
        sheet.append([_cell(h, t) for h, t in zip(header, row)])
    workbook.save(folder / f"key_enterprises_{period}.xlsx")
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([header, *rows])
    data = text.getvalue().encode("utf-8") if encoding == "utf-8-sig" else text.getvalue().encode("gbk")
    (folder / f"key_enterprises_{period}.csv").write_bytes(
        (codecs.BOM_UTF8 + data) if encoding == "utf-8-sig" else data)
    files = [{"name": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
              "rows": len(rows) if manifest_rows is None else manifest_rows} for p in sorted(folder.iterdir())]
    (folder / "manifest.json").write_text(json.dumps(
        {"period": period, "published_at": "2026-11-16T10:00:00+08:00", "files": files}), encoding="utf-8")
    return folder


@pytest.fixture
def spec_drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    drop = tmp_path / "drop"
    drop.mkdir()
    monkeypatch.setenv("AIRFLOW_CONN_STATISTICS_DROP", json.dumps({"conn_type": "fs", "extra": {"path": str(drop)}}))
    return drop


def _row(code: str, street: str = "东华门街道", revenue: str = "1,234.50", label: str = "2026年10月") -> list[str]:
    return [code, "某某科技有限公司", street, "I6510", revenue, "-", "", "12", "3.25", label]


def test_bad_rows_are_quarantined_with_a_reason_and_the_good_ones_land(spec_drop: Path, tmp_path: Path) -> None:
    good = _code(1)
    broken = good[:17] + ("0" if good[17] != "0" else "1")
    rows = [
        _row(f" {good.lower()} "),  # dirty but valid: normalised
        _row(broken),
        _row(_code(2), revenue="12.3.4"),
        _row(good),  # the same enterprise again
        _row(_code(3), label="2026年09月"),
        _row(_code(4), street="羊管街道"),  # defunct: lands without a street code
        ["", "无代码企业", "东华门", "I6510", "1", "1", "1", "1", "1", "2026年10月"],
    ]
    _write_release(spec_drop, "202610", rows, encoding="utf-8-sig")
    lake = Lake(tmp_path / "lake")
    (manifest,) = load_releases(lake)
    assert manifest.rows_read == 7 and manifest.rows_landed == 2
    assert manifest.rows_quarantined == {"uscc_invalid": 1, "number_unparseable": 1, "duplicate_uscc": 1,
                                         "period_mismatch": 1, "uscc_missing": 1}
    assert manifest.extra["csv_encoding"] == "utf-8-sig"
    landed = {row["uscc"]: row for row in _raw(lake)}
    assert landed[good]["revenue_wan"] == Decimal("1234.5") and landed[good]["profit_wan"] is None
    assert landed[good]["tax_wan"] == 0 and landed[good]["employees"] == 12
    assert landed[good]["street_code"] == resolve_street("东华门") is not None
    assert landed[_code(4)]["street_code"] is None and landed[_code(4)]["street_name"] == "羊管街道"
    quarantined = lake.read("quarantine", PLATFORM, ENTITY).to_pylist()
    assert {(q["field"], q["reason"]) for q in quarantined} >= {("营业收入(万元)", "number_unparseable"),
                                                               ("报告期", "period_mismatch")}


@pytest.mark.parametrize("fault, reason", [
    ("xlsx_differs", "xlsx_mismatch"),
    ("row_count", "row_count_mismatch"),
])
def test_a_release_that_does_not_verify_is_rejected_whole(spec_drop: Path, tmp_path: Path, fault: str,
                                                          reason: str) -> None:
    rows = [_row(_code(n)) for n in range(1, 4)]
    if fault == "xlsx_differs":
        _write_release(spec_drop, "202610", rows, xlsx_rows=[*rows[:2], _row(_code(3), revenue="9,999.00")])
    else:
        _write_release(spec_drop, "202610", rows, manifest_rows=4)
    _write_release(spec_drop, "202609", [_row(_code(1), label="2026年09月")])
    lake = Lake(tmp_path / "lake")
    loads = load_releases(lake)
    assert [(e.release, e.reason) for e in loads.errors] == [("202610", reason)]
    assert {row["release"] for row in _raw(lake)} == {"202609"}
    assert list(load_releases(lake)) == [] and load_releases(lake).still_rejected == ["202610"]


def test_a_drop_that_is_not_there_stops_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_STATISTICS_DROP",
                       json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path / "nowhere")}}))
    with pytest.raises(StatisticsError, match="nowhere"):
        load_releases(Lake(tmp_path / "lake"))
    monkeypatch.setenv("AIRFLOW_CONN_STATISTICS_DROP", json.dumps({"conn_type": "fs"}))
    with pytest.raises(StatisticsError, match="path"):
        load_releases(Lake(tmp_path / "lake"))


def test_a_release_republished_in_place_lands_again_marked_so(spec_drop: Path, tmp_path: Path) -> None:
    folder = _write_release(spec_drop, "202609", [_row(_code(1), label="2026年09月")])
    lake = Lake(tmp_path / "lake")
    (first,) = load_releases(lake)
    assert first.extra["republished"] is False
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["published_at"] = "2026-11-17T09:30:00+08:00"
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (again,) = load_releases(lake)
    assert again.extra["republished"] is True and again.rows_landed == 1
    assert sorted(str(row["published_at"]) for row in _raw(lake)) == [
        "2026-11-16 02:00:00+00:00", "2026-11-17 01:30:00+00:00"]


# ---------------------------------------------------------------- the bureau's columns change

def _without(column: str, rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """A header and rows as a release that no longer has ``column``."""
    index = HEADERS.index(column)
    return [h for h in HEADERS if h != column], [row[:index] + row[index + 1:] for row in rows]


def test_a_missing_column_stops_the_load_at_its_release_until_the_change_is_accepted(spec_drop: Path,
                                                                                       tmp_path: Path) -> None:
    _write_release(spec_drop, "202609", [_row(_code(1), label="2026年09月")])
    header, rows = _without("综合能耗(吨标准煤)", [_row(_code(n)) for n in (1, 2, 3)])  # fewer rows than the
    _write_release(spec_drop, "202610", rows, header=header)  # type rule needs: a header says it alone
    _write_release(spec_drop, "202611", [_row(_code(1), label="2026年11月")])
    lake = Lake(tmp_path / "lake")
    for _ in range(2):  # not marked done nor rejected: the next run meets it and stops again
        with pytest.raises(SchemaChanged, match="综合能耗") as caught:
            load_releases(lake)
        assert (caught.value.platform, caught.value.entity) == (PLATFORM, ENTITY)
        assert caught.value.changes == {"综合能耗(吨标准煤)": "disappeared"}
        assert any("202610" in note for note in caught.value.__notes__)
        assert len(lake.manifests(PLATFORM, ENTITY)) == 1  # 202609, committed before it, stays
        assert {row["release"] for row in _raw(lake)} == {"202609"}
        assert lake.read("quarantine", PLATFORM, ENTITY) is None
        cursor = lake.cursor(PLATFORM, ENTITY)
        assert set(cursor["releases"]) == {"202609"} and cursor["rejected"] == {}

    accepted = load_releases(lake, accept_schema_change=True)
    assert [m.extra["release"] for m in accepted] == ["202610", "202611"]
    assert accepted[0].extra["schema_changes"] == {"综合能耗(吨标准煤)": "disappeared"}
    assert accepted[0].rows_landed == 3 and accepted[1].extra["schema_changes"] == {}
    landed = _by_release(_raw(lake))
    assert all(row["energy_tce"] is None and row["revenue_wan"] == Decimal("1234.5") and row["employees"] == 12
               and row["period_label"] == "2026年10月" for row in landed["202610"])
    assert landed["202611"][0]["energy_tce"] == Decimal("3.25")
    assert list(load_releases(lake)) == []  # landed: the change is not met again


@pytest.mark.parametrize("column, text, reason", [
    ("营业收入(万元)", "一千二百", "number_unparseable"),
    ("从业人员(人)", "12.5", "employees_not_integer"),
])
def test_a_column_whose_every_value_changed_type_stops_the_load(spec_drop: Path, tmp_path: Path, column: str,
                                                               text: str, reason: str) -> None:
    count = get_settings().schema_change_min_records
    index = HEADERS.index(column)
    rows = [_row(_code(n)) for n in range(1, count + 3)]
    for number, row in enumerate(rows):
        row[index] = "-" if number < 2 else text  # "not reported" says nothing about the type
    _write_release(spec_drop, "202610", rows)
    lake = Lake(tmp_path / "lake")
    with pytest.raises(SchemaChanged) as caught:
        load_releases(lake)
    assert caught.value.changes == {column: "changed_type"}
    assert lake.manifests(PLATFORM, ENTITY) == [] and lake.cursor(PLATFORM, ENTITY) is None

    (manifest,) = load_releases(lake, accept_schema_change=True)
    assert manifest.extra["schema_changes"] == {column: "changed_type"}
    assert manifest.rows_read == count + 2
    assert manifest.rows_quarantined == {reason: count} and manifest.rows_landed == 2
    assert {q["field"] for q in lake.read("quarantine", PLATFORM, ENTITY).to_pylist()} == {column}


def test_a_few_values_of_the_wrong_type_are_only_quarantined(spec_drop: Path, tmp_path: Path) -> None:
    count = get_settings().schema_change_min_records
    rows = [_row(_code(n), label="2026年09月") for n in range(1, count + 6)]
    for row in rows[:3]:
        row[4] = "待核实"  # dirty cells among numbers
    _write_release(spec_drop, "202609", rows)
    few = [_row(_code(n), revenue="待核实") for n in range(1, count)]  # all text, but too few to tell
    _write_release(spec_drop, "202610", few)
    lake = Lake(tmp_path / "lake")
    first, second = load_releases(lake)
    assert first.rows_quarantined == {"number_unparseable": 3} and first.rows_landed == count + 2
    assert second.rows_quarantined == {"number_unparseable": count - 1} and second.rows_landed == 0
    assert first.extra["schema_changes"] == second.extra["schema_changes"] == {}


def test_a_column_the_spec_does_not_declare_lands_in_extra_fields_and_is_reported(spec_drop: Path,
                                                                                  tmp_path: Path) -> None:
    new = "研发投入(万元)"
    header = [*HEADERS[:5], new, *HEADERS[5:]]  # in the middle: columns are found by their header
    rows = [[*row[:5], spent, *row[5:]] for row, spent in ((_row(_code(1)), "88.5"), (_row(_code(2)), ""),
                                                            (_row(_code(3)), "1,200.00"))]
    _write_release(spec_drop, "202610", rows, header=header)
    lake = Lake(tmp_path / "lake")
    (manifest,) = load_releases(lake)
    assert manifest.rows_landed == 3 and manifest.rows_quarantined == {}
    assert manifest.extra["schema_drift"] == {new: 3} and manifest.extra["schema_changes"] == {}
    landed = {row["uscc"]: row for row in _raw(lake)}
    assert [json.loads(landed[_code(n)]["extra_fields"]) for n in (1, 2, 3)] == [
        {new: "88.5"}, {new: ""}, {new: "1,200.00"}]
    assert all(row["revenue_wan"] == Decimal("1234.5") and row["profit_wan"] is None and row["tax_wan"] == 0
               and row["employees"] == 12 for row in landed.values())


def test_a_release_with_the_spec_columns_has_no_extra_fields(spec_drop: Path, tmp_path: Path) -> None:
    _write_release(spec_drop, "202610", [_row(_code(1))])
    lake = Lake(tmp_path / "lake")
    (manifest,) = load_releases(lake)
    assert manifest.extra["schema_drift"] == {} and [row["extra_fields"] for row in _raw(lake)] == [None]
