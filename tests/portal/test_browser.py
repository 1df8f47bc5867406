"""The portal as a street office uses it, in headless Chromium (Debian's, driven by Playwright) against the real
service: it logs in with its token through the login form, browses the catalog (its datasets only, each with its
freshness and check status), opens a dataset (the statistics figures shown as 已屏蔽, version, checks and history),
runs a query in the console and downloads the result - and sees only its street throughout. A refused query shows
the reason in Chinese on the page; the reports and alerts are the centre's, whose daily report opens.

What the pages show is compared with the published shared zone read directly (gridlake.shared), not with what the
service says of itself.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from gridlake.shared import SharedZone
from portal.labels import beijing
from portal.policy import default_policies
from reports.render import CHROMIUM_ARGS, chromium_path
from tests.portal.conftest import FAILED_PUBLICATION, STREET

ORDERS_BY_STREET = "select street_code, count(*) as orders from hotline_requests group by street_code"


@pytest.fixture(scope="module")
def browser(service) -> Iterator[Any]:
    """Chromium for the tests to drive (after the service is up: the reports it serves were written first)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, service) -> Iterator[Any]:
    """A fresh browser context (no cookie yet) on the service."""
    context = browser.new_context(base_url=service.url, accept_downloads=True, locale="zh-CN")
    context.set_default_timeout(60_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def zone(service) -> SharedZone:
    return SharedZone(service.home / "shared")


def _login(page: Any, token: str) -> None:
    page.goto("/")
    assert page.url.endswith("/login"), "a page without a login should lead to the login form"
    page.fill("#token", token)
    page.click("#login")
    page.wait_for_url("**/")


def _table(page: Any, selector: str) -> list[list[str]]:
    return [[cell.strip() for cell in row] for row in page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(row => [...row.cells].map(cell => cell.innerText))")]


def _street_rows(zone: SharedZone, dataset: str, street: str) -> Any:
    table = zone.read(dataset)
    return table.filter(pc.equal(table["street_code"], street))


def test_a_bad_token_is_refused_at_the_login_form(page) -> None:
    page.goto("/login")
    page.fill("#token", "glk_000000000000_not-a-token")
    page.click("#login")
    assert page.inner_text("#error") == "访问令牌无效"  # an unknown id and a wrong secret alike
    assert page.goto("/").url.endswith("/login")


def test_a_street_office_browses_queries_and_downloads_only_its_street(page, service, zone, tmp_path: Path) -> None:
    _login(page, service.tokens["street"])
    assert "街道办事处" in page.inner_text("#who") and STREET in page.inner_text("#who")

    # the catalog: the datasets the role may read, all published in the test zone, each fresh and checked
    catalog = zone.catalog()["datasets"]
    allowed = set(default_policies().roles["street_office"].datasets)
    listed = page.eval_on_selector_all("#catalog tbody tr[data-dataset]", "rows => rows.map(r => r.dataset.dataset)")
    assert set(listed) == allowed and "seasonal_patterns" not in listed
    for name in listed:
        row = page.locator(f'#catalog tr[data-dataset="{name}"]')
        assert row.locator(".freshness").inner_text() == beijing(catalog[name]["current"]["data_as_of"])
        checks = catalog[name]["current"]["checks"]["statistics"]
        assert row.locator(".checks").inner_text() == f"通过（{checks['successful']}/{checks['evaluated']} 项）"
        assert catalog[name]["current"]["version"] in row.inner_text()

    # a dataset: its statistics figures masked, the others visible; freshness, version, checks and history
    page.click('#catalog a[href="/datasets/enterprise_profile"]')
    page.wait_for_url("**/datasets/enterprise_profile")
    entry = catalog["enterprise_profile"]
    assert page.inner_text("#dataset-name") == "enterprise_profile"
    assert "企业" in page.inner_text("#description")
    shown = dict((name, visible) for name, _, _, visible in _table(page, "#schema"))
    policy = default_policies()
    hidden = set(policy.roles["street_office"].datasets["enterprise_profile"].mask) | policy.never
    assert list(shown) == [column["name"] for column in entry["current"]["schema"]]
    assert {name for name, visible in shown.items() if visible == "已屏蔽"} == hidden & set(shown)
    assert {"revenue_wan_cny", "tax_wan_cny"} <= {name for name, visible in shown.items() if visible == "已屏蔽"}
    assert shown["uscc"] == "可见"
    assert beijing(entry["current"]["data_as_of"]) in page.inner_text("#freshness")
    assert entry["current"]["version"] in page.inner_text("#version")
    assert page.inner_text("#checks").startswith("当前版本通过全部检查")
    assert page.inner_text("#last-attempt").startswith("已发布新版本")
    history = _table(page, "#history")
    assert [row[0] for row in history] == [entry["current"]["version"]] + [
        version["version"] for version in entry.get("previous", [])]
    assert history[0][3] == "（当前版本）"

    # the console: the datasets it may query listed beside it; a query's table holds its street only
    page.click("header nav >> text=SQL 查询")
    page.wait_for_url("**/console")
    beside = page.eval_on_selector_all("#datasets li[data-dataset]", "items => items.map(i => i.dataset.dataset)")
    assert beside == listed
    page.fill("#sql", ORDERS_BY_STREET)
    page.click("#run")
    page.wait_for_selector("#result")
    mine = _street_rows(zone, "hotline_requests", STREET)
    assert mine.num_rows > 0
    assert page.eval_on_selector_all("#result thead th", "cells => cells.map(c => c.innerText)") == [
        "street_code", "orders"]
    assert _table(page, "#result") == [[STREET, str(mine.num_rows)]]
    assert page.input_value("#sql") == ORDERS_BY_STREET

    # the download of that result: the same one row
    with page.expect_download() as started:
        page.click("#download-csv")
    download = started.value
    assert download.suggested_filename == "query.csv"
    saved = tmp_path / "orders.csv"
    download.save_as(saved)
    with saved.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.DictReader(handle)) == [{"street_code": STREET, "orders": str(mine.num_rows)}]

    # a download of its orders row by row: every one of its street's orders, and nothing else
    page.fill("#sql", "select request_id, street_code, community_code from hotline_requests")
    with page.expect_download() as started:
        page.click("#download-csv")
    saved = tmp_path / "orders-rows.csv"
    started.value.save_as(saved)
    with saved.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["street_code"] for row in rows} == {STREET}
    assert sorted(row["request_id"] for row in rows) == sorted(mine["request_id"].to_pylist())


@pytest.mark.parametrize(("sql", "reason"), [
    ("select * from seasonal_patterns", "无权读取 'seasonal_patterns'"),
    ("select * from read_parquet('shared/hotline_requests/*/*.parquet')", "不允许"),
    ("select street_code from hotline_requests; drop table hotline_requests", "只允许一条查询语句"),
])
def test_a_refused_query_shows_the_reason_in_chinese(page, service, sql: str, reason: str) -> None:
    _login(page, service.tokens["street"])
    page.goto("/console")
    page.fill("#sql", sql)
    page.click("#run")
    page.wait_for_selector("#error")
    assert page.inner_text("#error").startswith("查询未执行：") and reason in page.inner_text("#error")
    assert page.locator("#result").count() == 0
    assert page.input_value("#sql") == sql
    # downloading it is refused the same way, on the page, with nothing downloaded
    page.click("#download-csv")
    page.wait_for_selector("#error")
    assert reason in page.inner_text("#error") and page.url.endswith("/console/download")


def test_reports_and_alerts_are_the_centres(page, service, zone) -> None:
    _login(page, service.tokens["street"])
    assert page.locator('header nav a[href="/reports"]').count() == 0
    assert page.locator('header nav a[href="/alerts"]').count() == 0
    for path, what in (("/reports", "分析报告"), ("/alerts", "发布告警")):
        answer = page.goto(path)
        assert answer.status == 403
        assert page.inner_text("#error") == f"角色「街道办事处」无权查看{what}"
    report = service.home / "reports" / "daily"
    answer = page.goto(f"/reports/daily/{next(report.glob('*.html')).name}")
    assert answer.status == 403 and "无权查看分析报告" in page.content()

    page.context.clear_cookies()
    _login(page, service.tokens["centre"])
    page.click('header nav a[href="/reports"]')
    page.wait_for_url("**/reports")
    record = json.loads(next(report.glob("*.json")).read_text(encoding="utf-8"))
    rows = _table(page, "#reports")
    assert [row[:4] for row in rows] == [["东城区市民热线每日专报", record["label"], record["issued_on"], "完整"]]
    page.click("#reports >> text=网页")
    page.wait_for_url(f"**/reports/{record['files']['html']}")
    assert page.title().startswith("东城区市民热线每日专报")
    assert page.locator("h1").first.inner_text().startswith("东城区市民热线每日专报")

    page.goto("/")
    assert set(page.eval_on_selector_all("#catalog tbody tr[data-dataset]", "rows => rows.map(r => r.dataset.dataset)")
               ) == set(zone.catalog()["datasets"])
    page.click('header nav a[href="/alerts"]')
    page.wait_for_url("**/alerts")
    entry = zone.catalog()["datasets"]["hotline_kpi_daily"]
    assert _table(page, "#alerts") == [[beijing(FAILED_PUBLICATION["at"]), "hotline_kpi_daily\n接诉即办日考核指标",
                                        "hotline_kpi_daily：未通过质量检查，未发布", "主键重复：3 行 (unit_day_key)",
                                        entry["current"]["version"]]]
