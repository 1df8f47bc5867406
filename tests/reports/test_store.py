"""Reports on a store that is an object store (moto's S3-compatible server on loopback): written by one process
(a worker) from the shared zone there, they land in the store's ``reports/`` and nothing on the writer's disk, the
index lists every report in the store, whoever wrote it, and the portal of another home serves them from the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gridlake.settings import Settings
from gridlake.storage import Store
from reports import write_report
from tests.portal.conftest import issue_tokens, serving
from tests.reports.conftest import DAILY, WEEKLY


@pytest.fixture(scope="module")
def store(published: Settings, object_store) -> str:
    """A prefix of the S3 server holding the published shared zone."""
    root = object_store.root("reports")
    Store(root).upload_tree(published.home / "shared", "shared")
    return root


def _home(store: str, folder: Path) -> Settings:
    folder.mkdir(parents=True)
    return Settings(home=folder, store=store)


def test_reports_written_on_two_machines_are_in_the_store_and_served_by_a_third(store: str, tmp_path: Path) -> None:
    first, second, portal = (_home(store, tmp_path / name) for name in ("worker-1", "worker-2", "portal"))
    daily = write_report("daily", DAILY, first, pdf=False)
    weekly = write_report("weekly", WEEKLY, second, pdf=False)
    reports = Store(store).child("reports")
    daily_html, weekly_html = f"daily/{daily.period.slug}.html", f"weekly/{weekly.period.slug}.html"
    assert (daily.html, weekly.html) == (reports.url(daily_html), reports.url(weekly_html))
    assert reports.find() == sorted([daily_html, daily_html.replace(".html", ".json"), weekly_html,
                                     weekly_html.replace(".html", ".json"), "index.html"])
    index = reports.read_text("index.html")
    assert daily_html in index and weekly_html in index  # the second writer's index has the first one's report
    assert [path for home in (first, second) for path in home.home.rglob("*") if path.is_file()] == []

    tokens = issue_tokens(portal)
    with serving(portal) as url, httpx.Client(base_url=url, timeout=60,
                                              headers={"Authorization": f"Bearer {tokens['centre']}"}) as client:
        listed = client.get("/api/reports")
        assert listed.status_code == 200
        assert sorted(item["files"]["html"] for item in listed.json()["reports"]) == [daily_html, weekly_html]
        page = client.get(f"/reports/{daily_html}")
        assert page.status_code == 200 and page.content == reports.read_bytes(daily_html)
        assert client.get(f"/reports/daily/.{daily.period.slug}.html").status_code == 404  # no hidden names
        assert client.get(f"/reports/daily/{daily.period.slug}.json").status_code == 404  # records are not pages
    record = json.loads(reports.read_text(daily_html.replace(".html", ".json")))
    assert record["files"] == {"html": daily_html}
