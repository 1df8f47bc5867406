"""A report never shows data that failed their checks. With the hotline's orders failing their gate (and the
datasets built on them held back), a report for a period the last good versions do not reach says which datasets
are withheld and why, and shows none of their figures; a report for a period those versions cover still shows
them (they are not stale for it); once the data pass again, the same report shows its figures.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import duckdb
import pytest

from expectations import DATASETS
from gridlake.settings import Settings
from gridlake.shared import SharedZone
from gridlake.transform import paths, run_dbt
from publication import publish
from reports import write_report
from tests.reports.conftest import DAILY, MONTHLY, WEEKLY
from tests.reports.pages import read_page
from tests.warehouse import copy_home


@pytest.fixture()
def broken(published: Settings, tmp_path) -> Settings:
    """A copy of the published home, then a publication whose hotline orders fail their gate (duplicate keys)."""
    home = copy_home(published, tmp_path / "home")
    shutil.copytree(published.home / "shared", home.home / "shared")
    first = SharedZone.default(home).catalog()["datasets"]["hotline_requests"]["current"]["published_at"]
    with duckdb.connect(str(paths(home).warehouse)) as connection:
        connection.execute("insert into marts.hotline_requests select * from marts.hotline_requests "
                           "order by request_id limit 3")
    outcome = publish(home, now=datetime.fromisoformat(first) + timedelta(hours=1))
    assert outcome.outcomes["hotline_requests"].status == "failed"
    return home


def test_a_report_says_which_datasets_are_withheld_instead_of_showing_stale_figures(broken: Settings) -> None:
    catalog = SharedZone.default(broken).catalog()["datasets"]
    stopped = {name for name, entry in catalog.items() if entry["last_attempt"]["status"] in ("failed", "held_back")}
    assert {"hotline_requests", "hotline_kpi_monthly", "hotspots_monthly"} <= stopped
    reason = catalog["hotline_requests"]["last_attempt"]["reasons"][0]

    # the week of 16 November runs past the data the last good versions hold: every section is withheld
    weekly = write_report("weekly", WEEKLY, broken, pdf=False)
    assert weekly.withheld == ["hotline_requests"]
    page = read_page(weekly.html)
    assert page.sources["hotline_requests"].status == "withheld"
    for key, section in page.sections.items():
        assert section.blocks == [], f"{key} shows figures of a stale version"
        notice = section.withheld_notices["hotline_requests"]
        assert "未通过质量检查" in notice and reason in notice and catalog["hotline_requests"]["current"][
            "version"] in notice
    record = json.loads(weekly.record.read_text(encoding="utf-8"))
    assert all(not section["blocks"] for section in record["sections"])
    index = (broken.home / "reports" / "index.html").read_text(encoding="utf-8")
    assert "部分数据暂停使用：hotline_requests" in index

    # the month: the sections on withheld datasets say so, the others (datasets that passed) show their figures
    monthly = write_report("monthly", MONTHLY, broken, pdf=False)
    page = read_page(monthly.html)
    for key, section in page.sections.items():
        needs = set(next(s["datasets"] for s in json.loads(monthly.record.read_text())["sections"] if s["key"] == key))
        if needs & stopped:
            assert section.blocks == [] and set(section.withheld_notices) == needs & stopped, key
            for name in needs & stopped - {"hotline_requests"}:
                status = catalog[name]["last_attempt"]["status"]
                assert ("暂缓发布" if status == "held_back" else "未通过质量检查") in section.withheld_notices[name]
        else:
            assert section.blocks and not section.withheld_notices, key
    assert any(not section.withheld_notices for section in page.sections.values())

    # a day the last good versions cover is not stale: the bulletin of 20 November shows its figures
    daily = write_report("daily", DAILY, broken, pdf=False)
    assert daily.withheld == []
    assert all(section.blocks for section in read_page(daily.html).sections.values())


def test_once_the_data_pass_again_the_report_shows_its_figures(broken: Settings) -> None:
    run_dbt(["build", "--select", "hotline_requests"], settings=broken)
    zone = SharedZone.default(broken)
    last = max(entry["last_attempt"]["at"] for entry in zone.catalog()["datasets"].values())
    outcome = publish(broken, now=datetime.fromisoformat(last) + timedelta(hours=1))
    assert outcome.ok, {name: o.status for name, o in outcome.outcomes.items()}
    weekly = write_report("weekly", WEEKLY, broken, pdf=False)
    assert weekly.withheld == []
    page = read_page(weekly.html)
    assert all(section.blocks and not section.withheld_notices for section in page.sections.values())
    assert weekly.versions["hotline_requests"] == zone.catalog()["datasets"]["hotline_requests"]["current"]["version"]
    assert set(DATASETS) >= set(weekly.versions)

