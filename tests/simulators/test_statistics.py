"""The statistics bureau's file drop, read only as a client written from specs/statistics.md would read it."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from gridlake.reference import resolve_street, streets
from simulators.clock import SimClock
from simulators.scenario import TZ
from simulators.statistics.drop import StatisticsDrop
from simulators.statistics.generate import generate

HEADERS = ["统一社会信用代码", "企业名称", "所属街道", "行业代码", "营业收入(万元)", "利润总额(万元)", "应交税费(万元)",
           "从业人员(人)", "综合能耗(吨标准煤)", "报告期"]
NUMERIC = HEADERS[4:9]
FOLDER = re.compile(r"(?P<period>\d{6})(?:_r(?P<revision>[1-9]\d*))?")
SEPARATED = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
PLAIN = re.compile(r"-?\d+(\.\d+)?")


# ---------------------------------------------------------------------------------------------------------
# A client as statistics.md describes the drop


@dataclass
class Release:
    folder: Path
    manifest: dict[str, Any] | None
    checksums_match: bool
    title: str
    xlsx_sheets: list[str]
    xlsx_header: list[str]
    xlsx_rows: list[list[str]]  # cells as text: numbers in their plain form, blanks ""
    csv_encoding: str
    csv_header: list[str]
    csv_rows: list[list[str]]

    @property
    def name(self) -> str:
        return self.folder.name


def _xlsx_text(header: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if header == "从业人员(人)" else f"{float(value):.2f}"
    return str(value)


def read_csv(data: bytes) -> tuple[str, list[list[str]]]:
    """A CSV from the drop: GBK, unless it starts with a UTF-8 byte-order mark."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, text = "utf-8-sig", data[len(codecs.BOM_UTF8):].decode("utf-8")
    else:
        encoding, text = "gbk", data.decode("gbk")
    return encoding, list(csv.reader(io.StringIO(text, newline="")))


def read_release(folder: Path) -> Release | None:
    """A release folder, or None when it has no manifest (still being copied: not to be read)."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    period = manifest["period"]
    files = {entry["name"]: entry for entry in manifest["files"]}
    checksums_match = all(hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]
                          for name, entry in files.items())
    workbook = CalamineWorkbook.from_path(str(folder / f"key_enterprises_{period}.xlsx"))
    sheet_rows = workbook.get_sheet_by_name("企业月报").to_python(skip_empty_area=False)
    header = [str(cell) for cell in sheet_rows[1]]
    xlsx_rows = [[_xlsx_text(h, cell) for h, cell in zip(header, row)] for row in sheet_rows[2:]]
    encoding, csv_rows = read_csv((folder / f"key_enterprises_{period}.csv").read_bytes())
    return Release(folder=folder, manifest=manifest, checksums_match=checksums_match,
                   title=str(sheet_rows[0][0]), xlsx_sheets=list(workbook.sheet_names), xlsx_header=header,
                   xlsx_rows=xlsx_rows, csv_encoding=encoding, csv_header=csv_rows[0], csv_rows=csv_rows[1:])


def parse_number(text: str) -> float | None:
    """A figure as the spec's dirty-data list says to read it: blank is zero, "-" is not reported."""
    if text == "":
        return 0.0
    if text == "-":
        return None
    return float(text.replace(",", ""))


def rows_by_uscc(release: Release) -> dict[str, dict[str, str]]:
    return {row[0]: dict(zip(HEADERS, row)) for row in release.csv_rows}


# ---------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def bureau(make_context) -> SimpleNamespace:
    """Generate, publish at the start of the clock, then move the clock to the horizon."""
    ctx = make_context(name="statistics")
    result = generate(ctx)
    drop = StatisticsDrop(ctx.dataset)
    clock = SimClock(ctx.end)
    published: list[list[str]] = []
    clock.subscribe(lambda now: published.append(drop.publish_due(now)))
    folders_at_start = sorted(p.name for p in ctx.dataset.drop_dir.iterdir())
    clock.set(ctx.horizon)
    truth = result.truth
    releases = {entry["release"]: read_release(ctx.dataset.drop_dir / entry["release"])
                for entry in truth["releases"]}
    return SimpleNamespace(ctx=ctx, result=result, truth=truth, drop=drop, clock=clock, published=published,
                           folders_at_start=folders_at_start, releases=releases,
                           entries={entry["release"]: entry for entry in truth["releases"]})


# ---------------------------------------------------------------------------------------------------------
# Tests


def test_thirteen_months_end_with_the_last_complete_month_each_published_mid_next_month(bureau) -> None:
    end = bureau.ctx.end.astimezone(TZ)
    last = end.year * 12 + end.month - 2  # the month before the one the span ends in
    expected = [f"{m // 12}{m % 12 + 1:02d}" for m in range(last - 12, last + 1)]
    firsts = [entry for entry in bureau.truth["releases"] if entry["revision"] == 0]
    periods = [entry["period"] for entry in firsts]
    assert periods == bureau.truth["months"]
    assert bureau.truth["last_complete_month"] == expected[-1]
    # The current month comes too when its release falls before the horizon.
    assert periods[:13] == expected and len(periods) in (13, 14)
    for entry in firsts:
        published = datetime.fromisoformat(entry["published_at"]).astimezone(TZ)
        year, month = int(entry["period"][:4]), int(entry["period"][4:])
        following = (year + month // 12, month % 12 + 1)
        assert (published.year, published.month) == following
        assert 13 <= published.day <= 19 and published.weekday() < 5 and 9 <= published.hour <= 17
    revisions = [entry for entry in bureau.truth["releases"] if entry["revision"] > 0]
    assert revisions and any(entry["revision"] == 2 for entry in revisions)
    for entry in revisions:
        before = bureau.entries[entry["replaces"]]
        gap = datetime.fromisoformat(entry["published_at"]) - datetime.fromisoformat(before["published_at"])
        assert gap >= timedelta(days=7)


def test_the_clock_publishes_each_release_when_it_is_due_and_only_once(bureau) -> None:
    end, horizon = bureau.ctx.end, bureau.ctx.horizon
    due_at_start = [name for name, entry in bureau.entries.items()
                    if datetime.fromisoformat(entry["published_at"]) <= end]
    later = [name for name, entry in bureau.entries.items()
             if end < datetime.fromisoformat(entry["published_at"])]
    assert later, "some release (a revision of the last month) is published after the span ends"
    assert bureau.published[0] == due_at_start
    assert bureau.folders_at_start == sorted(due_at_start)
    assert bureau.published[1] == later
    assert bureau.drop.publish_due(horizon) == []
    assert all(bureau.releases[name] is not None for name in bureau.entries)


def test_each_release_has_its_files_sheet_title_and_header_rows(bureau) -> None:
    for name, release in bureau.releases.items():
        match = FOLDER.fullmatch(name)
        assert match is not None
        period = match["period"]
        assert release.manifest["period"] == period
        assert release.manifest["published_at"] == bureau.entries[name]["published_at"]
        assert sorted(entry["name"] for entry in release.manifest["files"]) == [
            f"key_enterprises_{period}.csv", f"key_enterprises_{period}.xlsx"]
        assert sorted(p.name for p in release.folder.iterdir()) == [
            f"key_enterprises_{period}.csv", f"key_enterprises_{period}.xlsx", "manifest.json"]
        assert release.xlsx_sheets == ["企业月报"]
        assert f"{period[:4]}年{period[4:]}月" in release.title
        assert release.xlsx_header == HEADERS and release.csv_header == HEADERS
        assert {row[-1] for row in release.csv_rows} == {f"{period[:4]}年{period[4:]}月"}


def test_rows_match_the_manifest_and_checksums_match_except_in_the_bad_release(bureau) -> None:
    bad = set(bureau.truth["dirty"]["bad_checksum"]["ids"])
    assert bad
    for name, release in bureau.releases.items():
        counts = {entry["rows"] for entry in release.manifest["files"]}
        assert counts == {len(release.csv_rows)} == {len(release.xlsx_rows)} == {bureau.entries[name]["rows"]}
        assert release.checksums_match is (name not in bad), name
        assert bureau.entries[name]["rows"] == bureau.truth["enterprises"]


def test_csv_files_are_gbk_except_the_utf8_bom_releases(bureau) -> None:
    bom = set(bureau.truth["dirty"]["csv_utf8_bom"]["ids"])
    assert bom
    for name, release in bureau.releases.items():
        data = (release.folder / f"key_enterprises_{release.manifest['period']}.csv").read_bytes()
        assert release.csv_encoding == bureau.entries[name]["csv_encoding"]
        if name in bom:
            assert data.startswith(codecs.BOM_UTF8)
        else:
            assert data.decode("gbk").startswith("统一社会信用代码,")
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")


def test_xlsx_and_csv_carry_the_same_data(bureau) -> None:
    for name, release in bureau.releases.items():
        assert release.xlsx_rows == release.csv_rows, name


def test_openpyxl_reads_the_workbook_as_calamine_does(bureau) -> None:
    release = bureau.releases[bureau.truth["releases"][-1]["release"]]
    period = release.manifest["period"]
    workbook = openpyxl.load_workbook(release.folder / f"key_enterprises_{period}.xlsx", read_only=True)
    rows = list(workbook["企业月报"].iter_rows(values_only=True))
    workbook.close()
    assert rows[0][0] == release.title and list(rows[1]) == HEADERS
    assert [[_xlsx_text(h, cell) for h, cell in zip(HEADERS, row)] for row in rows[2:]] == release.xlsx_rows


def _dirty_from_files(bureau, *, source: str) -> dict[str, dict[str, Any]]:
    short_names = {street.short_name for street in streets()}
    found: dict[str, dict[str, Any]] = {kind: {"count": 0, "ids": set()} for kind in bureau.truth["dirty"]}
    for name, release in bureau.releases.items():
        if release.csv_encoding == "utf-8-sig":
            found["csv_utf8_bom"]["ids"].add(name)
        if not release.checksums_match:
            found["bad_checksum"]["ids"].add(name)
        for row in release.csv_rows if source == "csv" else release.xlsx_rows:
            cells = dict(zip(HEADERS, row))
            code = cells["统一社会信用代码"]
            street = cells["所属街道"]
            if street in short_names:
                found["street_short_name"]["count"] += 1
                found["street_short_name"]["ids"].add(code)
            elif resolve_street(street) is None:
                found["defunct_street"]["count"] += 1
                found["defunct_street"]["ids"].add(code)
            for header in NUMERIC:
                text = cells[header]
                if SEPARATED.fullmatch(text):
                    kind, key = "thousands_separator", (name, code, header)
                elif text == "-":
                    kind, key = "not_reported", (name, code, header)
                elif text == "":
                    kind, key = "blank_zero", (code, header)
                else:
                    assert PLAIN.fullmatch(text) and float(text) != 0, (name, code, header, text)
                    continue
                found[kind]["count"] += 1
                found[kind]["ids"].add(key)
    for kind in ("csv_utf8_bom", "bad_checksum"):
        found[kind]["count"] = len(found[kind]["ids"])
    return found


@pytest.mark.parametrize("source", ["csv", "xlsx"])
def test_dirty_counts_read_from_the_files_equal_the_truth(bureau, source: str) -> None:
    found = _dirty_from_files(bureau, source=source)
    for kind, truth in bureau.truth["dirty"].items():
        assert truth["count"] > 0, kind
        assert found[kind]["count"] == truth["count"], kind
        expected = {tuple(i) if isinstance(i, list) else i for i in truth["ids"]}
        assert found[kind]["ids"] == expected, kind
    defunct = bureau.truth["defunct_streets"]
    for release in bureau.releases.values():
        for cells in rows_by_uscc(release).values():
            if cells["统一社会信用代码"] in bureau.truth["dirty"]["defunct_street"]["ids"]:
                assert cells["所属街道"] in defunct


def test_revisions_carry_the_full_month_again_and_the_newest_replaces_the_older(bureau) -> None:
    for entry in bureau.truth["releases"]:
        if entry["revision"] == 0:
            continue
        newer = rows_by_uscc(bureau.releases[entry["release"]])
        older = rows_by_uscc(bureau.releases[entry["replaces"]])
        assert newer.keys() == older.keys()
        corrected = set(entry["corrected"])
        assert corrected
        for code in newer:
            before, after = (parse_number(older[code]["营业收入(万元)"]), parse_number(newer[code]["营业收入(万元)"]))
            assert (before != after) is (code in corrected), (entry["release"], code)
        for code, header in entry["filled_in"]:
            assert older[code][header] == "-" and newer[code][header] != "-"
    # The newest revision of each month: one release per month, each enterprise once.
    newest: dict[str, str] = {}
    for entry in sorted(bureau.truth["releases"], key=lambda e: (e["period"], e["revision"])):
        newest[entry["period"]] = entry["release"]
    assert sorted(newest) == bureau.truth["months"]
    for release_name in newest.values():
        codes = [row[0] for row in bureau.releases[release_name].csv_rows]
        assert len(codes) == len(set(codes)) == bureau.truth["enterprises"]


def test_spot_checks_of_the_truth_are_what_the_files_say(bureau) -> None:
    defunct = bureau.truth["defunct_streets"]
    for name, expected_rows in bureau.truth["spot_checks"].items():
        rows = rows_by_uscc(bureau.releases[name])
        assert expected_rows
        for expected in expected_rows:
            cells = rows[expected["uscc"]]
            street = cells["所属街道"]
            assert street == expected["street_as_written"]
            assert (resolve_street(street) or defunct.get(street)) == expected["street_code"]
            assert cells["行业代码"] == expected["industry_code"]
            for header, key in (("营业收入(万元)", "revenue_wan"), ("利润总额(万元)", "profit_wan"),
                                ("应交税费(万元)", "tax_wan"), ("从业人员(人)", "employees"),
                                ("综合能耗(吨标准煤)", "energy_tce")):
                assert parse_number(cells[header]) == expected[key], (name, expected["uscc"], header)


def test_year_to_date_figures_grow_month_by_month_and_restart_in_january(bureau) -> None:
    newest: dict[str, str] = {}
    for entry in sorted(bureau.truth["releases"], key=lambda e: (e["period"], e["revision"])):
        newest[entry["period"]] = entry["release"]
    periods = sorted(newest)
    tables = {period: rows_by_uscc(bureau.releases[newest[period]]) for period in periods}
    checked = 0
    for earlier, later in zip(periods, periods[1:]):
        for code, before in tables[earlier].items():
            after = tables[later][code]
            for header in ("营业收入(万元)", "应交税费(万元)", "综合能耗(吨标准煤)"):
                a, b = parse_number(before[header]), parse_number(after[header])
                if a is None or b is None or (a == 0 and b == 0):
                    continue
                if later.endswith("01"):
                    assert b < a, (earlier, later, code, header)
                elif header == "营业收入(万元)":
                    assert b > a, (earlier, later, code, header)
                else:
                    assert b >= a, (earlier, later, code, header)
                checked += 1
            employees = parse_number(after["从业人员(人)"])
            assert employees is None or (employees >= 1 and employees == int(employees))
    assert checked > 0


def test_a_release_without_its_manifest_is_recognisable_and_a_bad_checksum_rejectable(bureau) -> None:
    known = set(bureau.entries)
    missing = bureau.drop.actions["statistics_missing_manifest"]()
    folder = Path(missing["folder"])
    assert missing["manifest"] is False and folder.name not in known
    assert sorted(p.name for p in folder.iterdir()) == [f"key_enterprises_{folder.name}.csv",
                                                        f"key_enterprises_{folder.name}.xlsx"]
    assert read_release(folder) is None

    bad = bureau.drop.actions["statistics_bad_checksum"]()
    folder = Path(bad["folder"])
    assert bad["manifest"] is True and folder.name not in known and folder.name != missing["release"]
    release = read_release(folder)
    assert release is not None and not release.checksums_match

    with pytest.raises(FileExistsError):
        bureau.drop.publish_bad_checksum(bureau.truth["releases"][0]["release"])
    with pytest.raises(KeyError):
        bureau.drop.publish_without_manifest("199901")
    # The clock does not touch the fault folders, nor publish anything twice.
    assert bureau.drop.publish_due(bureau.clock.now()) == []


def test_generation_is_reproducible_from_the_seed(bureau, make_context) -> None:
    again = make_context(name="statistics_again")
    result = generate(again)
    assert result.truth == bureau.truth
    drop = StatisticsDrop(again.dataset)
    first = bureau.truth["releases"][0]["release"]
    drop.publish_due(again.end)
    # Same bytes, so the same checksums: the files do not depend on when or where they are written.
    assert (again.dataset.drop_dir / first / "manifest.json").read_bytes() \
        == (bureau.releases[first].folder / "manifest.json").read_bytes()
